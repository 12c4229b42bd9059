"""The code healer: one small, checked patch for a code-level diagnosis.

Takes a diagnosis whose fix is a code patch and the repository the world
holds (`world.repo()`), finds the file the diagnosis names, and runs the fix
templates for its root cause (agents/code_fixes). A patch is offered only
when it parses, touches only the lines its template meant to touch, and
keeps every line of the original code; otherwise, or when no template fits
or the code is not there, the report says so plainly and nothing is
proposed: an invented patch is worse than none.

Cloud Doctor does not deploy code: an approved patch is for a person to open
as a pull request (and the repository's own tests to prove). The node only
computes, so re-running it before an interrupt gives the same proposal.
"""

from __future__ import annotations

import difflib
import hashlib
from pathlib import Path

from langchain_core.runnables import RunnableConfig

from agents.code_fixes import CodeFix, FixTarget, choose_fix, load_fix_config, validate_fix
from agents.context import context_from
from graphs.state import AgentNote, Diagnosis, Evidence, OpsState, Proposal, ValidationResult

AGENT = "code_healer"


def _note(text: str, level: str = "info") -> AgentNote:
    return AgentNote(agent=AGENT, text=text, level=level)  # type: ignore[arg-type]


def unified_diff(path: str, before: str, after: str) -> str:
    return "".join(difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                        fromfile=f"a/{path}", tofile=f"b/{path}"))


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


def build_proposal(fix: CodeFix, environment: str, validation: list[ValidationResult]) -> Proposal:
    diff = unified_diff(fix.path, fix.before, fix.after)
    digest = hashlib.sha1(f"{fix.template}\n{diff}".encode()).hexdigest()[:8]
    return Proposal(
        id=f"P-code-{digest}", kind="code_patch", title=fix.title,
        description=(f"{fix.rationale}\n\nTemplate `{fix.template}`. To be applied as a pull request by a person: "
                     "Cloud Doctor does not deploy code; the repository's tests and review decide."),
        environment=environment,  # type: ignore[arg-type]
        diff=diff, files={fix.path: fix.after}, rollback="revert the commit",
        validation=validation, risk=fix.risk, author=AGENT,
    )


def heal(diagnosis: Diagnosis | None, evidence: list[Evidence], repo: dict[str, str], environment: str,
         config_dir: Path | None = None) -> tuple[list[Proposal], list[AgentNote]]:
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
    config = load_fix_config(config_dir)
    line = diagnosis.target.get("line")
    target = FixTarget(root_cause=diagnosis.root_cause, path=path, source=repo[path],
                       line=int(line) if isinstance(line, int) or str(line).isdigit() else None)
    fix, reasons = choose_fix(target, config)
    if fix is None:
        why = "; ".join(reasons) or "no template applies"
        return [], [_note(f"no fix template fits {path} for {diagnosis.root_cause} ({why}): no patch proposed; "
                          "a person should write the fix", "limitation")]
    validation = validate_fix(fix, config.max_changed_lines)
    failed = [v for v in validation if not v.passed]
    if failed:
        detail = "; ".join(f"{v.check}: {v.details}" for v in failed)
        return [], [_note(f"the {fix.template} patch for {path} failed its checks ({detail}): not proposed", "limitation")]
    proposal = build_proposal(fix, environment, validation)
    checks = ", ".join(v.check for v in validation)
    return [proposal], [_note(f"{proposal.title}: patch checked ({checks}); to be opened as a pull request by a "
                              "person, Cloud Doctor does not deploy code")]


async def code_healer(state: OpsState, config: RunnableConfig) -> dict:
    ctx = context_from(config)
    request = state["request"]
    proposals, notes = heal(state.get("diagnosis"), state.get("evidence") or [], ctx.world.repo(),
                            request.environment, ctx.settings.config_dir)
    update: dict = {"route": ["code_healer"], "notes": notes}
    if proposals:
        update["proposals"] = proposals
    return update
