"""The investigation loop, driven through its branches by scripted model servers speaking Bedrock Converse and
Vertex REST: reads the playbooks did not run, bad arguments, repeated calls, budget hits, invalid answers,
and endpoints that hang or fail. The tools are the real catalogue's reads, run by the guarded executor
against the recorded world."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import pytest

from agents.context import AgentContext
from agents.diagnostician import diagnostician
from agents.investigator import budget as budget_module
from agents.llm import ModelRouter, ModelsConfig, RoleConfig
from agents.llm_config import Limits
from config.settings import Settings
from evals.scenario import load_scenario
from tests.llm_scripted import ScriptedChatModel
from tests.llm_servers import FakeModelServer
from tools.world import RecordedWorld

EXAMPLES = Path("/work/shared/scenarios/examples")
if not EXAMPLES.is_dir():
    EXAMPLES = Path(__file__).resolve().parents[1] / "evals" / "scenarios"
SONNET = "anthropic.claude-sonnet-4-20250514-v1:0"
JOURNAL = "journalctl --no-pager --unit=api.service --lines=200"  # journal.unit(unit=api), as the catalogue renders it


@pytest.fixture(autouse=True)
def aws_keys(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


def models(server: FakeModelServer, provider: str = "bedrock", limits: Limits | None = None) -> ModelRouter:
    model = "gemini-2.5-flash" if provider == "vertex" else SONNET
    config = ModelsConfig(roles={"triage": RoleConfig(provider=provider, model=model)},
                          providers={"bedrock": {"region": "us-east-1", "endpoint_url": server.url},
                                     "vertex": {"project": "shop-ops", "location": "us-central1", "endpoint": server.url}},
                          prices={SONNET: {"input": 3.0, "output": 15.0}, "gemini-2.5-flash": {"input": 0.3, "output": 2.5}},
                          limits=limits or Limits())
    return ModelRouter(config, Settings())


def memory_leak(extra_journal: bool = True):
    scn = load_scenario(EXAMPLES / "memory-leak-api.yaml")
    world = copy.deepcopy(scn.world)
    if extra_journal:
        world.hosts["web2"][JOURNAL] = world.hosts["web2"]["free -m"].model_copy(update={"stdout": (
            "Mar 03 13:40:55 web2 node[21877]: heap used 6.1 GB, pool size 212 connections, none released\n"
            "Mar 03 13:41:07 web2 systemd[1]: api.service: A process of this unit has been killed by the OOM killer.\n")})
    return scn.to_request(), world


async def diagnose(request, world, router, tmp_path) -> dict:
    ctx = AgentContext(world=RecordedWorld(world), settings=Settings(data_dir=tmp_path), models=router)
    return await diagnostician({"request": request}, {"configurable": {"ctx": ctx}})


async def next_id(request, world, tmp_path) -> str:
    """The id the loop's first read gets: the rules' evidence continues."""
    rules_only = await diagnose(request, world, None, tmp_path)
    return f"E{len(rules_only['evidence']) + 1}"


def answer(root_cause: str, citations: list[str]) -> dict:
    return {"tool": "submit_diagnosis", "args": {"summary": f"{root_cause} per {', '.join(citations)}", "root_cause": root_cause,
                                                 "confidence": 0.9, "citations": citations, "runners_up": []}}


def tool_results(server: FakeModelServer, provider: str = "bedrock") -> list[str]:
    """What the loop sent back to the model as tool results, in order."""
    last = server.requests[-1][1]
    if provider == "bedrock":
        return ["".join(c.get("text", "") for c in b["toolResult"]["content"])
                for m in last["messages"] for b in m["content"] if "toolResult" in b]
    return [json.dumps(p["functionResponse"]["response"]) for m in last["contents"] for p in m["parts"] if "functionResponse" in p]


@pytest.mark.parametrize("provider", ["bedrock", "vertex"])
async def test_the_model_reads_what_the_playbooks_did_not_and_cites_it(tmp_path, provider):
    request, world = memory_leak()
    new = await next_id(request, world, tmp_path)
    with FakeModelServer() as server:
        server.answers.append({"tool": "journal_unit", "args": {"host": "web2", "unit": "api"}})
        server.answers.append(answer("memory_leak", ["E3", "E5", new]))
        update = await diagnose(request, world, models(server, provider), tmp_path)
        first_tools = server.requests[0][1]
    rules_commands = [e.command for e in update["evidence"] if e.id != new]
    [read] = [e for e in update["evidence"] if e.id == new]
    assert JOURNAL not in rules_commands and read.command == JOURNAL and read.ok and "OOM killer" in read.excerpt
    d = update["diagnosis"]
    assert d.decided_by == "llm" and d.root_cause == "memory_leak" and new in d.citations
    assert [e.id for e in update["evidence"]] == [f"E{i}" for i in range(1, len(update["evidence"]) + 1)]
    assert any(a.action == JOURNAL and a.status == "executed" for a in update["actions"])  # audited like any guarded read
    offered = json.dumps(first_tools)
    from tools.catalogue import default_catalogue

    assert "journal_unit" in offered and not any(f'"{a.name.replace(".", "_")}"' in offered for a in default_catalogue().tools("action"))
    usage = update["usage"]["triage"]
    assert usage.calls == 2 and usage.provider == provider and usage.cost_usd > 0
    assert any("the model read: journal_unit" in n.text for n in update["notes"])


async def test_bad_arguments_and_repeated_calls_come_back_as_tool_errors(tmp_path):
    request, world = memory_leak()
    new = await next_id(request, world, tmp_path)
    with FakeModelServer() as server:
        server.answers.append({"calls": [
            {"tool": "journal_unit", "args": {"host": "web2", "unit": "api; rm -rf /"}},  # not a unit name
            {"tool": "journal_unit", "args": {"host": "db9", "unit": "api"}},  # not one of the incident's hosts
            {"tool": "journal_unit", "args": {"host": "web2", "unit": "api", "lines": 50000}},  # over the bound
            {"tool": "run_shell", "args": {"command": "reboot"}},  # no such tool
        ]})
        server.answers.append({"tool": "journal_unit", "args": {"host": "web2", "unit": "api"}})
        server.answers.append({"tool": "journal_unit", "args": {"host": "web2", "unit": "api"}})  # the same call again
        server.answers.append(answer("memory_leak", ["E3"]))
        update = await diagnose(request, world, models(server), tmp_path)
        results = tool_results(server)
    assert results[0].startswith("error:") and "unit" in results[0]
    assert "parameter 'host'" in results[1] and "is not one of" in results[1]
    assert "parameter 'lines'" in results[2] and "maximum" in results[2]
    assert "there is no tool 'run_shell'" in results[3]
    assert results[5].startswith("refused: you already called journal_unit") and f"[{new}]" in results[5]
    ran = [a.action for a in update["actions"] if a.by == "diagnostician"]
    assert ran.count(JOURNAL) == 1 and not any("rm -rf" in a or "reboot" in a for a in ran)
    assert update["diagnosis"].decided_by == "llm"


async def test_an_invalid_answer_is_sent_back_once_then_the_rules_stand(tmp_path):
    request, world = memory_leak()
    with FakeModelServer() as server:
        server.answers.append(answer("memory_leak", ["E3", "E404"]))
        server.answers.append(answer("cosmic_rays", ["E3"]))
        update = await diagnose(request, world, models(server), tmp_path)
        second = json.dumps(server.requests[1][1])
    assert "E404" in second and "do not exist" in second
    d = update["diagnosis"]
    assert d.decided_by == "rules" and d.root_cause == "memory_leak"
    assert any("the rules' diagnosis stands" in n.text and "no acceptable answer in 2 attempts" in n.text for n in update["notes"])
    assert update["usage"]["triage"].calls == 2  # both rejected answers are billed and counted


async def test_a_spent_token_budget_ends_the_loop_and_says_so(tmp_path, monkeypatch):
    tight = budget_module.InvestigationConfig(loops={"diagnosis": budget_module.LoopBudget(max_tokens=1000)})
    monkeypatch.setattr(budget_module, "load_investigation_config", lambda _: tight)
    monkeypatch.setattr("agents.investigator.diagnose.load_investigation_config", lambda _: tight)
    request, world = memory_leak()
    new = await next_id(request, world, tmp_path)
    with FakeModelServer() as server:
        server.answers.append({"tool": "journal_unit", "args": {"host": "web2", "unit": "api"}, "usage": {"input": 900, "output": 200}})
        server.answers.append(answer("memory_leak", ["E3"]))
        update = await diagnose(request, world, models(server), tmp_path)
    assert len(server.requests) == 1
    assert update["diagnosis"].decided_by == "rules"
    assert any("token budget (1,000) reached" in n.text and "the rules' diagnosis stands" in n.text for n in update["notes"])
    assert [e.id for e in update["evidence"]][-1] == new  # what it read before the budget ran out stays evidence


async def test_the_last_step_offers_only_the_answer(tmp_path, monkeypatch):
    short = budget_module.InvestigationConfig(loops={"diagnosis": budget_module.LoopBudget(max_steps=2)})
    monkeypatch.setattr("agents.investigator.diagnose.load_investigation_config", lambda _: short)
    request, world = memory_leak()
    new = await next_id(request, world, tmp_path)
    with FakeModelServer() as server:
        server.answers.append({"tool": "host_memory", "args": {"host": "web2"}})
        server.answers.append(answer("memory_leak", ["E3", new]))
        update = await diagnose(request, world, models(server), tmp_path)
        last = server.requests[-1][1]["toolConfig"]
    assert [t["toolSpec"]["name"] for t in last["tools"] if "toolSpec" in t] == ["submit_diagnosis"]
    assert last["toolChoice"] == {"tool": {"name": "submit_diagnosis"}}
    assert update["diagnosis"].decided_by == "llm"


@pytest.mark.parametrize("failure", [
    {"hang": True},
    {"error": (429, "ThrottlingException", "Too many requests")},
    {"error": (500, "InternalServerException", "internal error")},
    {"args": {"summary": "memory", "root_cause": "memory_leak"}, "tool": "submit_diagnosis", "stop": "max_tokens"},
])
async def test_a_hung_throttled_failing_or_truncating_endpoint_leaves_the_rules_with_one_line(tmp_path, failure):
    request, world = memory_leak()
    with FakeModelServer() as server:
        server.answers.extend([failure] * 3)
        router = models(server, limits=Limits(call_timeout_s=1, run_deadline_s=3, retries=1))
        router.chat_model("triage")
        started = time.monotonic()
        update = await diagnose(request, world, router, tmp_path)
        waited = time.monotonic() - started
    assert waited < 6
    d = update["diagnosis"]
    assert d.decided_by == "rules" and d.root_cause == "memory_leak"
    [line] = [n.text for n in update["notes"] if "the rules' diagnosis stands" in n.text]
    assert "\n" not in line and "the model is unavailable" in line
    assert any(word in line for word in ("did not answer", "Throttling", "internal error", "cut at max_output_tokens"))


async def test_without_a_catalogue_the_model_answers_from_the_rules_evidence_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr("agents.investigator.catalogue.load_catalogue", lambda: None)
    request, world = memory_leak()
    scripted = ScriptedChatModel(script=[answer("memory_leak", ["E3", "E5"])])
    router = ModelRouter(ModelsConfig(roles={"triage": RoleConfig(provider="bedrock", model=SONNET)}), Settings(),
                         chat_models={"triage": scripted})
    update = await diagnose(request, world, router, tmp_path)
    [(messages, tools)] = scripted.calls
    assert [t["function"]["name"] for t in tools] == ["submit_diagnosis"]
    assert "BEGIN DATA" in messages[1].content and "[E5]" in messages[1].content  # the rules' evidence is the first observation
    assert update["diagnosis"].decided_by == "llm" and update["diagnosis"].citations == ["E3", "E5"]
    assert any("without read tools" in n.text and n.level == "limitation" for n in update["notes"])


async def test_an_oversized_result_is_cut_with_a_note_naming_what_narrows_it(tmp_path):
    request, world = memory_leak()
    world.hosts["web2"][JOURNAL] = world.hosts["web2"][JOURNAL].model_copy(update={"stdout": "x" * 30_000})
    with FakeModelServer() as server:
        server.answers.append({"tool": "journal_unit", "args": {"host": "web2", "unit": "api"}})
        server.answers.append(answer("memory_leak", ["E3"]))
        await diagnose(request, world, models(server), tmp_path)
        [result] = tool_results(server)
    assert len(result) < 9000 and "[cut: 8,000 of" in result and "Narrow the query with lines" in result


# ----------------------------------------------------------------- the planner's and the author's loops


async def test_the_planner_reads_the_spec_and_a_cost_before_it_plans(tmp_path):
    from agents.planner import planner
    from graphs.state import Request
    from tests.test_planner import context as planner_context, spec_world

    with FakeModelServer() as server:
        server.answers.append({"calls": [{"tool": "spec_value", "args": {"path": "environments.staging.eks.node_count"}},
                                         {"tool": "estimate_cost", "args": {"environment": "staging", "changes": [
                                             {"path": "environments.staging.eks.node_count", "value": 4}]}}]})
        server.answers.append({"tool": "PlanDraft", "args": {"intent": "modify", "environment": "staging", "rationale": "double",
                                                             "changes": [{"path": "environments.staging.eks.node_count", "value": 4}]}})
        out = await planner({"request": Request(text="스테이징 노드 두 배로", environment="dev")},
                            planner_context(spec_world(), tmp_path, models(server)))
        results = tool_results(server)
    assert results[0] == "environments.staging.eks.node_count: 2"
    assert results[1].startswith("staging: $") and "a month" in results[1]
    change = out["spec_change"]
    assert change.decided_by == "llm" and change.changes["environments.staging.eks.node_count"] == 4
    assert out["usage"]["triage"].calls == 2


async def test_the_author_gets_its_validation_failures_back_and_fixes_the_patch(tmp_path):
    from agents.terraform_author import terraform_author
    from tests.test_terraform_author import LB_FILES, context as author_context, llm_state

    open_ssh = LB_FILES["lb.tf"] + ('resource "aws_security_group" "debug" {\n  name = "${var.name_prefix}-debug"\n  tags = var.tags\n'
                                    '  ingress {\n    from_port   = 22\n    to_port     = 22\n    protocol    = "tcp"\n'
                                    '    cidr_blocks = ["0.0.0.0/0"]\n  }\n}\n')
    fixed = LB_FILES["lb.tf"].replace("  internal = false\n", "  internal     = false\n  idle_timeout = 300\n")
    config = ModelsConfig(roles={"author": RoleConfig(provider="bedrock", model=SONNET)}, prices={SONNET: {"input": 3.0, "output": 15.0}})
    with FakeModelServer() as server:
        config.providers = {"bedrock": {"region": "us-east-1", "endpoint_url": server.url}}
        server.answers.append({"tool": "read_file", "args": {"path": "lb.tf"}})
        server.answers.append({"tool": "AuthoredPatch", "args": {"summary": "open ssh", "files": [{"path": "lb.tf", "content": open_ssh}]}})
        server.answers.append({"tool": "AuthoredPatch", "args": {"summary": "raise the idle timeout", "files": [{"path": "lb.tf", "content": fixed}],
                                                                 "risk": "low"}})
        out = await terraform_author(llm_state(), author_context({"infra": {"terraform_files": LB_FILES}}, tmp_path, ModelRouter(config, Settings())))
        results = tool_results(server)
    assert results[0].startswith("--- lb.tf") and 'resource "aws_lb" "web"' in results[0]
    assert results[1].startswith("rejected: it failed validation") and "lint:ingress" in results[1]
    [proposal] = out["proposals"]
    assert proposal.valid and "+  idle_timeout = 300" in proposal.diff
    assert any("first patch was rejected" in n.text for n in out["notes"])
    assert out["usage"]["author"].calls == 3
