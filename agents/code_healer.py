"""The code healer: one small patch for a code-level diagnosis, checked, and proven by the repository's tests.

Takes a diagnosis whose fix is a code patch and the repository the world
holds, finds the file the diagnosis names, and runs the fix template for
its root cause and the file's language (agents/code_fixes). A patch is
offered only when it parses, touches only the lines its template meant to
touch (one file, at most `max_changed_lines`), keeps the original code, and,
for a release patch, gives the resource back exactly once on every path.
Then, where a git checkout is at hand, the repository's own tests run on it
in a scratch worktree: a patch whose tests fail is never proposed, and a
repository without tests (or a recorded world, which holds files and no
checkout) gets a draft marked "no tests: not for automatic deployment".

The node only computes, so re-running it before an interrupt gives the same
proposal; delivery (a branch, a commit, a pull request) is the deployer's,
after approval (agents/code_delivery.py).
"""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from langchain_core.runnables import RunnableConfig

from agents.code_fixes import CodeFix, FixTarget, choose_fix, load_fix_config, validate_fix
from agents.code_fixes.proof import TestRun, detect_test_command, is_git_checkout, head_commit, run_tests, tracked_files
from agents.code_fixes.repositories import RepositoryConfig, load_registry
from agents.code_fixes.validate import count_changed_lines
from agents.context import context_from
from graphs.state import AgentNote, Diagnosis, Evidence, OpsState, Proposal, ValidationResult

AGENT = "code_healer"
NO_TESTS = "no tests: not for automatic deployment"


def _note(text: str, level: str = "info") -> AgentNote:
    return AgentNote(agent=AGENT, text=text, level=level)  # type: ignore[arg-type]


def unified_diff(path: str, before: str, after: str) -> str:
    return "".join(difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                        fromfile=f"a/{path}", tofile=f"b/{path}"))


@dataclass(frozen=True)
class Checkout:
    """A git checkout the patch can be proven in: its root, the commit the files were read at, its registry entry."""

    root: Path
    commit: str
    repository: RepositoryConfig | None = None

    @classmethod
    def open(cls, root: Path, config_dir: Path | None = None) -> "Checkout | None":
        if not is_git_checkout(root):
            return None
        return cls(root, head_commit(root), load_registry(config_dir).for_path(root))


@dataclass
class HealOutcome:
    """Everything one healing attempt found: the patch, its checks, the test run, or why there is none."""

    path: str | None
    fix: CodeFix | None = None
    checks: list[ValidationResult] = field(default_factory=list)
    tests: TestRun | None = None
    reason: str | None = None  # set when nothing is proposed

    @property
    def patched(self) -> bool:
        return self.fix is not None and self.reason is None

    @property
    def diff(self) -> str:
        return unified_diff(self.fix.path, self.fix.before, self.fix.after) if self.fix else ""

    @property
    def changed_lines(self) -> int:
        return count_changed_lines(self.fix.before, self.fix.after) if self.fix else 0

    @property
    def draft(self) -> str | None:
        if not self.patched or self.tests is None:
            return None
        return NO_TESTS if self.tests.status in ("no_tests", "not_run") else None


def heal_file(target: FixTarget, checkout: Checkout | None, config_dir: Path | None = None) -> HealOutcome:
    """Template, checks, then the repository's tests: the one path both the graph and `cloud-doctor heal` take."""
    config = load_fix_config(config_dir)
    fix, reasons = choose_fix(target, config)
    if fix is None:
        return HealOutcome(target.path, reason=f"no fix template fits {target.path} for {target.root_cause} "
                                               f"({'; '.join(reasons) or 'no template applies'})")
    checks = validate_fix(fix, config.max_changed_lines)
    failed = [v for v in checks if not v.passed]
    if failed:
        detail = "; ".join(f"{v.check}: {v.details}" for v in failed)
        return HealOutcome(target.path, fix, checks, reason=f"the {fix.template} patch for {fix.path} failed its checks ({detail})")
    if checkout is None:
        tests = TestRun(command=None, status="not_run", detail="no git checkout to run the repository's tests in")
        return HealOutcome(target.path, fix, checks, tests)
    repo = checkout.repository
    command = None
    if repo is not None and repo.test_command:
        from agents.code_fixes.proof import TestCommand

        command = TestCommand(argv=repo.test_command, source="config/code_repositories.yaml")
    else:
        command = detect_test_command(checkout.root, tracked_files(checkout.root, checkout.commit))
    timeout = (repo.test_timeout_s if repo and repo.test_timeout_s else None) or int(config.raw.get("test_timeout_s", 300))
    tests = run_tests(checkout.root, checkout.commit, {fix.path: fix.after}, command, timeout)
    if tests.status in ("failed", "timed_out"):
        return HealOutcome(target.path, fix, checks, tests,
                           reason=f"the repository's tests {tests.status.replace('_', ' ')} with the patch "
                                  f"(`{tests.command}`: {tests.detail}): not proposed")
    return HealOutcome(target.path, fix, checks, tests)


def tests_check(tests: TestRun) -> ValidationResult | None:
    """The test run as a validation result, only when the tests actually ran and passed."""
    if tests.status != "passed":
        return None
    return ValidationResult(check="tests", passed=True,
                            details=f"`{tests.command}` passed in a scratch worktree in {tests.duration_s:.1f} s ({tests.network})")


def target_path(diagnosis: Diagnosis, evidence: list[Evidence], repo: dict[str, str]) -> str | None:
    """The file the diagnosis names, else the first cited `repo:` evidence the repository holds."""
    named = diagnosis.target.get("file")
    if named and named in repo:
        return named
    cited = set(diagnosis.citations)
    for e in sorted(evidence, key=lambda e: e.id not in cited):
        path = e.source.removeprefix("repo:")
        if e.source.startswith("repo:") and path in repo:
            return path
    return None


def build_proposal(outcome: HealOutcome, environment: str, checkout: Checkout | None) -> Proposal:
    fix = outcome.fix
    assert fix is not None and outcome.tests is not None
    diff = outcome.diff
    digest = hashlib.sha1(f"{fix.template}\n{diff}".encode()).hexdigest()[:8]
    validation = list(outcome.checks)
    if (passed := tests_check(outcome.tests)) is not None:
        validation.append(passed)
    tests_said = (f"The repository's tests passed with it: {passed.details}." if passed is not None
                  else f"Its tests did not run ({outcome.tests.detail}): {NO_TESTS}.")
    return Proposal(
        id=f"P-code-{digest}", kind="code_patch", title=fix.title,
        description=(f"{fix.rationale}\n\nTemplate `{fix.template}`. {tests_said} After approval it is delivered as "
                     "a branch and a commit with a pull request; review and the repository's CI decide the merge."),
        environment=environment,  # type: ignore[arg-type]
        diff=diff, files={fix.path: fix.after}, rollback="revert the commit",
        validation=validation, risk=fix.risk, author=AGENT,
        repository=(checkout.repository.name if checkout and checkout.repository else str(checkout.root) if checkout else None),
        base_commit=checkout.commit if checkout else None, draft=outcome.draft,
    )


def heal(diagnosis: Diagnosis | None, evidence: list[Evidence], repo: dict[str, str], environment: str,
         config_dir: Path | None = None, checkout: Checkout | None = None) -> tuple[list[Proposal], list[AgentNote]]:
    """A diagnosis and a repository in; at most one validated proposal and the notes that explain it."""
    if diagnosis is None:
        return [], [_note("no diagnosis to heal: nothing proposed", "limitation")]
    if not repo:
        file = diagnosis.target.get("file") or "the affected code"
        return [], [_note(f"the code is not available ({file} is not in the repository this run can read): "
                          "no patch proposed; a person should write the fix from the diagnosis's evidence", "limitation")]
    path = target_path(diagnosis, evidence, repo)
    if path is None:
        file = diagnosis.target.get("file") or "no file"
        return [], [_note(f"the diagnosis names {file}, which the repository does not hold: no patch proposed", "limitation")]
    line = diagnosis.target.get("line")
    target = FixTarget(root_cause=diagnosis.root_cause, path=path, source=repo[path], files=repo,
                       line=int(line) if isinstance(line, int) or str(line).isdigit() else None)
    outcome = heal_file(target, checkout, config_dir)
    if not outcome.patched:
        return [], [_note(f"{outcome.reason}: no patch proposed; a person should write the fix", "limitation")]
    proposal = build_proposal(outcome, environment, checkout)
    checks = ", ".join(v.check for v in proposal.validation)
    if proposal.draft:
        return [proposal], [_note(f"{proposal.title}: patch checked ({checks}); a draft — {proposal.draft} "
                                  f"({outcome.tests.detail if outcome.tests else ''})", "limitation")]
    return [proposal], [_note(f"{proposal.title}: patch checked ({checks}); delivered as a pull request after approval")]


def checkout_of_world(world: object, config_dir: Path | None) -> Checkout | None:
    """The live world's repository checkout, when it has one that is a git repository."""
    root = getattr(world, "repo_path", None)
    return Checkout.open(Path(root), config_dir) if root else None


async def code_healer(state: OpsState, config: RunnableConfig) -> dict:
    ctx = context_from(config)
    request = state["request"]
    checkout = checkout_of_world(ctx.world, ctx.settings.config_dir)
    proposals, notes = heal(state.get("diagnosis"), state.get("evidence") or [], ctx.world.repo(),
                            request.environment, ctx.settings.config_dir, checkout)
    update: dict = {"route": ["code_healer"], "notes": notes}
    if proposals:
        update["proposals"] = proposals
    return update
