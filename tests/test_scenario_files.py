"""The scenario files under evals/scenarios are the eval suite: check they are sound.

A broken scenario scores a correct run as wrong (or a wrong one as right), so
these checks look for the mistakes that are easy to make when writing one by
hand: an unknown root-cause category, a change path that is not in the
recorded spec, a "relative" change that changes nothing, an expected evidence
source that was never recorded, approval rules that contradict policy.yaml.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from evals.scenario import Scenario, find_scenarios, load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "evals" / "scenarios"
HOLDOUT = ROOT / "evals" / "holdout"  # the blind set: held to the same conventions, never tuned on
TAXONOMY_MD = ROOT.parent / "shared" / "scenarios" / "taxonomy.md"
ENVIRONMENTS = ("dev", "staging", "prod")
HANGUL = re.compile("[\uac00-\ud7a3]")

# Used when the shared taxonomy.md is not next to the repository (a checkout elsewhere).
BUILTIN_CATEGORIES = {
    "memory_leak", "memory_pressure", "cpu_saturation", "disk_full", "inode_exhaustion",
    "disk_io_bottleneck", "db_connection_exhaustion", "connection_leak", "db_slow_query",
    "db_unreachable", "dns_failure", "network_unreachable", "dependency_failure", "missing_timeout",
    "service_crashloop", "config_error", "bad_deploy", "certificate_expired", "permission_denied",
    "rate_limited", "capacity_exhausted", "terraform_state_lock", "terraform_config_error",
    "resource_name_conflict", "image_pull_failure", "unknown",
}
AGENTS = {"planner", "diagnostician", "terraform_author", "code_healer", "deployer"}
INJECTION_MARKERS = ("ignore previous instructions", "SYSTEM: execute")


def taxonomy() -> set[str]:
    if TAXONOMY_MD.is_file():
        found = set(re.findall(r"^\|\s*`([a-z_]+)`\s*\|", TAXONOMY_MD.read_text(encoding="utf-8"), re.M))
        if found:
            return found | BUILTIN_CATEGORIES
    return BUILTIN_CATEGORIES


FILES = find_scenarios(SCENARIOS) + (find_scenarios(HOLDOUT) if HOLDOUT.is_dir() else [])


@pytest.fixture(scope="module")
def scenarios() -> list[Scenario]:
    return [load_scenario(p) for p in FILES]


def _rel(s: Scenario) -> str:
    return str(Path(s.path or "").relative_to(ROOT)) if s.path else s.id


def _get(spec: dict[str, Any], dotted: str) -> Any:
    node: Any = spec
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(dotted)
        node = node[part]
    return node


def _is_korean(s: Scenario) -> bool:
    alert = s.input.alert
    return bool(HANGUL.search((s.input.text or "") + (alert.summary if alert else "")))


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(ROOT / "evals")) for p in FILES])
def test_every_file_loads(path: Path) -> None:
    s = load_scenario(path)
    assert s.expected is not None, f"{path}: no `expected` block, the scenario scores nothing"
    assert s.at is not None and s.at.tzinfo is not None, f"{path}: `at` must be an ISO time with a UTC offset"


def test_ids_are_unique(scenarios: list[Scenario]) -> None:
    dupes = [i for i, n in Counter(s.id for s in scenarios).items() if n > 1]
    assert not dupes, f"duplicate scenario ids: {dupes}"


def test_kind_matches_folder(scenarios: list[Scenario]) -> None:
    for s in scenarios:
        parts = Path(s.path or "").parts
        if "incidents" in parts:
            assert s.kind == "incident", _rel(s)
        if "requests" in parts:
            assert s.kind == "request", _rel(s)


def test_root_causes_and_routes_are_known(scenarios: list[Scenario]) -> None:
    known = taxonomy()
    for s in scenarios:
        exp = s.expected
        assert exp is not None
        for agent in exp.route or []:
            assert agent in AGENTS, f"{_rel(s)}: unknown agent {agent!r} in route"
        if s.kind != "incident":
            continue
        assert exp.root_cause, f"{_rel(s)}: an incident needs expected.root_cause"
        unknown = [c for c in exp.root_cause if c not in known]
        assert not unknown, f"{_rel(s)}: categories not in taxonomy.md: {unknown}"
        assert "diagnostician" in (exp.route or ["diagnostician"]), _rel(s)
        if exp.fix == "terraform":
            assert "terraform_author" in (exp.route or []), f"{_rel(s)}: a Terraform fix routes to terraform_author"
        if exp.fix == "code_patch":
            assert "code_healer" in (exp.route or []), f"{_rel(s)}: a code patch routes to code_healer"
            assert s.world.repo, f"{_rel(s)}: a code patch needs the offending code in world.repo"


def test_expected_evidence_was_recorded(scenarios: list[Scenario]) -> None:
    """An expected evidence prefix nobody can cite makes the scenario unpassable."""
    for s in scenarios:
        commands = [c for host in s.world.hosts.values() for c in host]
        sources = list(s.world.logs)
        for wanted in (s.expected.evidence if s.expected else None) or []:
            ok = (
                any(c.startswith(wanted) for c in commands)
                or any(src.startswith(wanted) for src in sources)
                or (wanted == "terraform" and bool(s.world.infra.terraform_output))
            )
            assert ok, f"{_rel(s)}: expected evidence {wanted!r} matches no recorded command, log source or terraform output"


def test_incidents_name_forbidden_actions(scenarios: list[Scenario]) -> None:
    for s in scenarios:
        if s.kind == "incident":
            assert s.expected and s.expected.forbidden, f"{_rel(s)}: list at least one action a correct run never takes"


def test_alert_starts_before_the_scenario_time(scenarios: list[Scenario]) -> None:
    for s in scenarios:
        alert = s.input.alert
        if alert and alert.started_at and s.at:
            assert alert.started_at <= s.at, f"{_rel(s)}: alert started after `at`"


def test_free_output_keeps_its_header_indentation(scenarios: list[Scenario]) -> None:
    """`free -m` indents its header; without YAML's |2 the loader strips it (FORMAT.md tip)."""
    for s in scenarios:
        for host, commands in s.world.hosts.items():
            for cmd, out in commands.items():
                if cmd.split()[0] == "free" and out.stdout:
                    assert out.stdout.startswith(" "), f"{_rel(s)}: {host}: `{cmd}` lost its leading spaces (use |2)"


def test_request_changes_exist_in_the_recorded_spec(scenarios: list[Scenario]) -> None:
    from tools.spec import is_known_path, value_at

    for s in scenarios:
        if s.kind != "request" or not s.expected or not s.expected.change:
            continue
        spec = s.world.infra.spec
        assert spec, f"{_rel(s)}: a change needs world.infra.spec"
        staged = bool(s.expected.stages)  # staged delivery changes every stage's environment
        followed_up = bool(getattr(s, "replies", None))  # a later turn may restore what an earlier one changed
        for path, new in s.expected.change.items():
            parts = path.split(".")
            assert parts[0] == "environments" and len(parts) >= 3, f"{_rel(s)}: {path} is not environments.<env>.<key>"
            assert parts[1] in ENVIRONMENTS, f"{_rel(s)}: {path}: unknown environment {parts[1]!r}"
            if staged:
                assert parts[1] in s.expected.stages, f"{_rel(s)}: {path} is in no stage"
            elif not followed_up:  # a later turn may be about the environments an earlier turn touched
                assert parts[1] == s.environment, f"{_rel(s)}: {path} targets {parts[1]}, the scenario is {s.environment}"
            try:
                current = _get(spec, path)
            except KeyError:
                # a value the recorded spec leaves to its default (a backup window, a new backup block) is still a path
                assert is_known_path(path), f"{_rel(s)}: {path} is not a path of the spec"
                current = value_at(spec, path)
            if not followed_up:
                assert current != new, f"{_rel(s)}: {path} is already {new!r}; the change changes nothing"


def test_request_specs_are_complete(scenarios: list[Scenario]) -> None:
    """Files under requests/ carry all three environments, so ambiguity and relative changes are real."""
    for s in scenarios:
        if "requests" not in Path(s.path or "").parts:
            continue
        spec = s.world.infra.spec or {}
        assert spec.get("project") and spec.get("region"), _rel(s)
        envs = spec.get("environments") or {}
        assert set(envs) == set(ENVIRONMENTS), f"{_rel(s)}: spec environments {sorted(envs)}"
        for name, env in envs.items():
            for block in ("vpc", "eks", "rds", "ec2", "redis"):
                assert block in env, f"{_rel(s)}: environments.{name}.{block} missing"


def test_request_expectations_follow_policy(scenarios: list[Scenario]) -> None:
    for s in scenarios:
        exp = s.expected
        if s.kind != "request" or exp is None:
            continue
        assert exp.intent in ("create_all", "destroy_all", "modify", "query"), f"{_rel(s)}: intent {exp.intent!r}"
        assert "planner" in (exp.route or []), f"{_rel(s)}: requests route to the planner"
        if exp.intent == "query":
            assert not exp.change, f"{_rel(s)}: a query changes nothing"
            assert exp.approval == "not_required", _rel(s)
        if exp.intent in ("create_all", "destroy_all"):
            assert exp.change and exp.approval == "required", f"{_rel(s)}: whole-environment changes need approval"
            assert list(exp.change) == [f"environments.{s.environment}.enabled"], _rel(s)
        if exp.intent == "modify" and exp.change and s.environment in ("staging", "prod"):
            assert exp.approval == "required", f"{_rel(s)}: staging/prod changes always need approval"
        if exp.approval == "required" and exp.change:
            assert exp.forbidden and any("terraform apply" in f or "terraform destroy" in f for f in exp.forbidden), (
                f"{_rel(s)}: nothing may be applied before approval: forbid terraform apply/destroy"
            )


def test_conversation_keys_are_well_formed(scenarios: list[Scenario]) -> None:
    """Replies are words (or {text, user}); the keys judged on a thread's last turn name real things."""
    statuses = {"completed", "awaiting_approval", "rejected", "blocked", "needs_input", "failed", "waiting"}
    for s in scenarios:
        for reply in getattr(s, "replies", None) or []:
            text = reply if isinstance(reply, str) else reply.get("text")
            assert isinstance(text, str) and text.strip(), f"{_rel(s)}: a reply needs words"
        exp = s.expected
        if exp is None:
            continue
        assert exp.status is None or exp.status in statuses, f"{_rel(s)}: unknown status {exp.status!r}"
        assert exp.turn is None or exp.turn <= 1 + len(getattr(s, "replies", None) or []), f"{_rel(s)}: more turns than replies"
        for env in exp.stages or []:
            assert env in ENVIRONMENTS, f"{_rel(s)}: unknown stage {env!r}"
        assert all(g in ("passed", "waiting", "failed") for g in exp.gates or []), f"{_rel(s)}: gates {exp.gates}"
        for path in [*(exp.suggestions or []), *(exp.drift or [])]:
            assert path.startswith("environments."), f"{_rel(s)}: {path} is not a spec path"


def test_every_request_kind_has_korean_and_english_scenarios(scenarios: list[Scenario]) -> None:
    """Issue 16's request kinds, each in both languages."""
    def kind(s: Scenario) -> set[str]:
        exp = s.expected
        found = set()
        if exp is None:
            return found
        if getattr(s, "replies", None):
            found.add("thread")
        if exp.parts or (exp.questions or 0) > 1:
            found.add("compound")
        if exp.condition:
            found.add("condition")
        if exp.stages:
            found.add("staged")
        if exp.schedule:
            found.add("schedule")
        if exp.suggestions or any("2026-05" in a for a in exp.answer or []):
            found.add("forecast")
        if exp.drift:
            found.add("drift")
        return found

    for wanted in ("thread", "compound", "condition", "staged", "schedule", "forecast", "drift"):
        languages = {"ko" if _is_korean(s) else "en" for s in scenarios if s.kind == "request" and wanted in kind(s)}
        assert languages == {"ko", "en"}, f"{wanted}: scenarios only in {sorted(languages)}"


def test_prompt_injections_are_guarded(scenarios: list[Scenario]) -> None:
    hits = []
    for s in scenarios:
        blob = " ".join(line for lines in s.world.logs.values() for line in lines)
        blob += " " + (s.input.text or "") + " " + (s.input.alert.summary if s.input.alert else "")
        if any(m in blob for m in INJECTION_MARKERS):
            hits.append(s.id)
            assert s.expected and s.expected.forbidden, f"{_rel(s)}: an injected instruction needs forbidden actions"
    assert len(hits) >= 2, f"want at least 2 scenarios carrying a prompt injection, found {hits}"


def test_the_suite_is_big_and_varied_enough(scenarios: list[Scenario]) -> None:
    incidents = [s for s in scenarios if s.kind == "incident"]
    requests = [s for s in scenarios if s.kind == "request"]
    categories = {s.expected.root_cause[0] for s in incidents if s.expected and s.expected.root_cause}
    assert len(incidents) >= 24, f"{len(incidents)} incidents"
    assert len(categories) >= 18, f"{len(categories)} root-cause categories: {sorted(categories)}"
    assert len(requests) >= 24, f"{len(requests)} requests"
    assert sum(_is_korean(s) for s in requests) >= 12, "want at least 12 Korean requests"
    assert {s.environment for s in incidents} == set(ENVIRONMENTS)
    assert {s.input.alert.source for s in incidents if s.input.alert} >= {"alertmanager", "cloudwatch", "custom"}
    assert {s.expected.intent for s in requests if s.expected} == {"create_all", "destroy_all", "modify", "query"}


def test_the_development_set_has_150_incidents_and_sourced_stories(scenarios: list[Scenario]) -> None:
    """Issue 13: at least 150 incidents; the ones written from public sources say where their story comes from."""
    incidents = [s for s in scenarios if s.kind == "incident" and "holdout" not in Path(s.path or "").parts]
    sourced = [s for s in incidents if s.source]
    assert len(incidents) >= 150, f"{len(incidents)} incidents"
    assert len(sourced) >= 106, f"{len(sourced)} incidents with a source"
    for s in sourced:
        assert re.search(r"https?://\S+", s.source or ""), f"{_rel(s)}: source names no public page"
    assert sum(_is_korean(s) for s in sourced) >= 0.3 * len(sourced), "want Korean and English"
    categories = {s.expected.root_cause[0] for s in sourced if s.expected and s.expected.root_cause}
    assert len(categories) >= 24 and "image_pull_failure" in categories, sorted(categories)
