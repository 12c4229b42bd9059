"""Checks a template's patch passes before anyone sees it.

A patch is offered only when the patched file still parses (libcst, or
tree-sitter with no error node), it changes only the lines the template
meant to change and stays within the limit, every character of the original
code survives except what the template says it moved, and, for a release
patch, the control-flow check finds every path acquiring at most once and
releasing exactly once.
"""

from __future__ import annotations

import difflib
import re

import libcst as cst

from agents.code_fixes.base import CodeFix
from agents.code_fixes.flow import check_flow
from agents.code_fixes.flow_python import Resource
from agents.code_fixes.flow_python import function_steps as python_steps
from agents.code_fixes.flow_tree import TreeResource
from agents.code_fixes.flow_tree import function_steps as tree_steps
from agents.code_fixes.python_tree import PyModule
from agents.code_fixes.syntax import FUNCTION_TYPES, line_of, parse_tree, syntax_error, walk
from graphs.state import ValidationResult


def check_parses(fix: CodeFix) -> ValidationResult:
    why = syntax_error(fix.language, fix.after)
    parser = "libcst" if fix.language == "python" else f"tree-sitter-{'typescript' if fix.language == 'tsx' else fix.language}"
    return ValidationResult(check=f"parse:{fix.language}", passed=why is None,
                            details=why or f"{parser} parses the patched file without errors")


def changed_lines(before: str, after: str) -> list[tuple[int, int, int]]:
    """(first, last, count) of each changed run of original lines, 1-based; an insertion has last < first."""
    a, b = before.splitlines(), after.splitlines()
    runs = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag != "equal":
            runs.append((i1 + 1, i2, max(i2 - i1, j2 - j1)))
    return runs


def count_changed_lines(before: str, after: str) -> int:
    return sum(n for _, _, n in changed_lines(before, after))


def check_scope(fix: CodeFix, max_lines: int) -> ValidationResult:
    runs = changed_lines(fix.before, fix.after)
    spans = [fix.lines, *fix.extra_lines]

    def inside(first: int, last: int) -> bool:
        return any((lo <= first and last <= hi) or (last < first and lo <= first <= hi + 1) for lo, hi in spans)

    outside = [(f, l) for f, l, _ in runs if not inside(f, l)]
    total = sum(n for _, _, n in runs)
    allowed = ", ".join(f"{lo}-{hi}" for lo, hi in spans)
    if not runs:
        return ValidationResult(check="scope", passed=False, details="the patch changes nothing")
    if outside:
        where = ", ".join(f"{f}-{l}" for f, l in outside)
        return ValidationResult(check="scope", passed=False,
                                details=f"changes lines {where}, outside the lines {allowed} the template meant to change")
    if total > max_lines:
        return ValidationResult(check="scope", passed=False, details=f"{total} changed lines, over the limit of {max_lines}")
    return ValidationResult(check="scope", passed=True, details=f"{total} changed line(s) in one file, within lines {allowed}")


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def check_preserved(fix: CodeFix) -> ValidationResult:
    before = _squeeze(fix.before)
    for piece in fix.moved:
        before = before.replace(_squeeze(piece), "", 1)
    it = iter(_squeeze(fix.after))
    ok = all(c in it for c in before)
    moved = f" (moved or replaced on purpose: {len(fix.moved)} statement(s))" if fix.moved else ""
    details = ("every original character is kept, in order" + moved) if ok else "the patch deletes or rewrites original code"
    return ValidationResult(check="preserves-code", passed=ok, details=details)


def check_release_flow(fix: CodeFix) -> ValidationResult:
    """Re-read the patched function and walk every path (flow.py)."""
    assert fix.flow is not None
    flow = fix.flow
    if fix.language == "python":
        mod = PyModule(cst.parse_module(fix.after))
        fn = next((f for f in mod.functions if f.start == flow.function_line), None)
        if fn is None:
            return ValidationResult(check="release-flow", passed=False, details="the patched function is not where it was")
        steps = python_steps(fn.node, Resource(flow.variable, frozenset(flow.acquire), frozenset(flow.release)))
    else:
        root = parse_tree(fix.language, fix.after).root_node
        node = next((n for n in walk(root) if n.type in FUNCTION_TYPES and line_of(n) == flow.function_line), None)
        if node is None:
            return ValidationResult(check="release-flow", passed=False, details="the patched function is not where it was")
        steps = tree_steps(node, TreeResource(flow.variable, frozenset(flow.acquire), frozenset(flow.release)), fix.language)
    verdict = check_flow(steps, flow.variable)
    return ValidationResult(check="release-flow", passed=verdict.ok, details=verdict.details)


def validate_fix(fix: CodeFix, max_lines: int) -> list[ValidationResult]:
    results = [check_parses(fix), check_scope(fix, max_lines), check_preserved(fix)]
    if fix.flow is not None and results[0].passed:
        results.append(check_release_flow(fix))
    return results
