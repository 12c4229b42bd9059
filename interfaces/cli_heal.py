"""`cloud-doctor heal REPO --cause CATEGORY`: the code healer on a local repository, outside an incident.

Reads the repository's files at HEAD (so the patch, its proof and a later
delivery all start from the same commit), runs the fix template for the
cause, the checks, and the repository's own tests in a scratch worktree;
prints the diff, the checks and the test result. Nothing in the repository
changes. Without `--file`, the one source file where the template finds its
shape is used; when several files hold it, the command names them and stops.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.syntax import Syntax

from graphs.errors import UserInputError

SKIP_DIRS = {"node_modules", "vendor", ".venv", "venv", "dist", "build", "__pycache__"}
MAX_SCAN = 400


def _is_source(path: str) -> bool:
    from agents.code_fixes.syntax import language_of

    parts = path.split("/")
    name = parts[-1].lower()
    is_test = name.startswith("test_") or ".test." in name or ".spec." in name or name.endswith(("_test.go", "_test.py"))
    return language_of(path) is not None and not is_test and not (set(parts[:-1]) & SKIP_DIRS | {"tests", "test"} & set(parts[:-1]))


def _pick_file(checkout, files: dict[str, str], cause: str, line: int | None) -> str:
    from agents.code_fixes import FixTarget, choose_fix, load_fix_config

    config = load_fix_config()
    found = []
    for path in sorted(p for p in files if _is_source(p))[:MAX_SCAN]:
        fix, reasons = choose_fix(FixTarget(cause, path, files[path], line, files), config)
        if fix is not None or any("several functions" in r for r in reasons):
            found.append(path)
    if not found:
        raise UserInputError(f"no file in {checkout.root} holds a {cause} shape the healer knows; name one with --file")
    if len(found) > 1:
        raise UserInputError(f"{cause} shapes in several files: {', '.join(found[:10])}; name one with --file")
    return found[0]


def heal(
    repo: Path = typer.Argument(..., help="a local git checkout"),
    cause: str = typer.Option(..., "--cause", help="connection_leak | missing_timeout | memory_leak | dependency_failure"),
    file: Optional[str] = typer.Option(None, "--file", help="the file to patch, relative to REPO"),
    line: Optional[int] = typer.Option(None, "--line", help="a line inside the function to patch"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """Patch one file of a local repository for a root cause; prove it with the repository's own tests."""
    from agents.code_fixes import CAUSES, FixTarget
    from agents.code_fixes.proof import file_at, tracked_files
    from agents.code_healer import Checkout, heal_file
    from config.settings import get_settings

    if cause not in CAUSES:
        raise UserInputError(f"unknown cause {cause!r}: use one of {', '.join(CAUSES)}")
    if line is not None and line < 1:
        raise UserInputError("--line must be 1 or more")
    if not repo.is_dir():
        raise UserInputError(f"{repo} is not a directory")
    checkout = Checkout.open(repo.resolve(), get_settings().config_dir)
    if checkout is None:
        raise UserInputError(f"{repo} is not a git checkout with a commit (the healer proves and delivers from a commit)")
    names = tracked_files(checkout.root, checkout.commit)
    if file is not None:
        file = file.removeprefix("./")
        if file not in names:
            raise UserInputError(f"{file} is not a file committed in {repo}")
    files = {p: t for p in names if (t := file_at(checkout.root, checkout.commit, p)) is not None and len(t) < 1_000_000}
    path = file or _pick_file(checkout, files, cause, line)
    outcome = heal_file(FixTarget(cause, path, files[path], line, files), checkout, get_settings().config_dir)
    _print(outcome, as_json)
    raise typer.Exit(0 if outcome.patched else 1)


def _print(outcome, as_json: bool) -> None:
    tests = outcome.tests
    if as_json:
        data = {
            "patched": outcome.patched, "file": outcome.path, "diff": outcome.diff if outcome.patched else "",
            "changed_lines": outcome.changed_lines if outcome.patched else 0,
            "template": outcome.fix.template if outcome.fix else None,
            "function": outcome.fix.function if outcome.fix else None,
            "rationale": outcome.fix.rationale if outcome.fix else None,
            "checks": [v.model_dump() for v in outcome.checks],
            "tests": {"command": tests.command if tests else None, "passed": tests.passed if tests else None,
                      "status": tests.status if tests else "not_run", "detail": tests.detail if tests else "",
                      "network": tests.network if tests else "", "duration_s": tests.duration_s if tests else 0,
                      "output_tail": tests.output_tail[-2000:] if tests else ""},
            "draft": outcome.draft,
        }
        if not outcome.patched:
            data["reason"] = outcome.reason
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return
    console = Console()
    if outcome.fix is not None:
        console.print(f"[bold]{outcome.fix.title}[/]")
        console.print(outcome.fix.rationale)
        console.print(Syntax(outcome.diff or "(no diff)", "diff", background_color="default"))
    for v in outcome.checks:
        console.print(f"  {'[green]passed[/]' if v.passed else '[red]FAILED[/]'} {v.check}: {v.details}", highlight=False)
    if tests is not None:
        colour = {"passed": "green", "failed": "red", "timed_out": "red"}.get(tests.status, "yellow")
        console.print(f"  [{colour}]tests {tests.status}[/] {tests.command or ''}: {tests.detail}"
                      + (f" — {tests.network}" if tests.network else ""), highlight=False)
        if tests.status in ("failed", "timed_out") and tests.output_tail:
            console.print(tests.output_tail[-1500:], highlight=False, markup=False)
    if outcome.draft:
        console.print(f"[yellow]draft: {outcome.draft}[/]")
    if not outcome.patched:
        console.print(f"[red]not patched:[/] {outcome.reason}", highlight=False)
