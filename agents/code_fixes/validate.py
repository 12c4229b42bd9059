"""Checks a template's patch passes before anyone sees it.

A patch is offered only when the patched file still parses, it changes only
the lines the template meant to change, it stays small, and every character
of the original code survives (a template adds; it never deletes logic).
"""

from __future__ import annotations

import ast
import difflib
import re
from collections import Counter

from agents.code_fixes.base import CodeFix
from agents.code_fixes.source_text import balance_error
from graphs.state import ValidationResult


def check_parses(fix: CodeFix) -> ValidationResult:
    if fix.language == "python":
        try:
            ast.parse(fix.after)
        except SyntaxError as exc:
            return ValidationResult(check="parse:python", passed=False, details=f"{exc.msg} on line {exc.lineno}")
        return ValidationResult(check="parse:python", passed=True, details="ast.parse accepts the patched file")
    why = balance_error(fix.after)
    return ValidationResult(check=f"parse:{fix.language}", passed=why is None,
                            details=why or "brackets, strings and comments balance (no parser installed)")


def changed_lines(before: str, after: str) -> list[tuple[int, int, int]]:
    """(first, last, count) of each changed run of original lines, 1-based; an insertion has last < first."""
    a, b = before.splitlines(), after.splitlines()
    runs = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag != "equal":
            runs.append((i1 + 1, i2, max(i2 - i1, j2 - j1)))
    return runs


def check_scope(fix: CodeFix, max_lines: int) -> ValidationResult:
    runs = changed_lines(fix.before, fix.after)
    lo, hi = fix.lines
    outside = [(f, l) for f, l, _ in runs if not (lo <= f and l <= hi) and not (l < f and lo <= f <= hi + 1)]
    total = sum(n for _, _, n in runs)
    if not runs:
        return ValidationResult(check="scope", passed=False, details="the patch changes nothing")
    if outside:
        where = ", ".join(f"{f}-{l}" for f, l in outside)
        return ValidationResult(check="scope", passed=False,
                                details=f"changes lines {where}, outside the lines {lo}-{hi} the template meant to change")
    if total > max_lines:
        return ValidationResult(check="scope", passed=False, details=f"{total} changed lines, over the limit of {max_lines}")
    return ValidationResult(check="scope", passed=True, details=f"{total} changed line(s), all within lines {lo}-{hi}")


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def check_preserved(fix: CodeFix) -> ValidationResult:
    if fix.preserves == "insert":
        it = iter(_squeeze(fix.after))
        ok = all(c in it for c in _squeeze(fix.before))
        details = "every original character is kept, in order" if ok else "the patch deletes or rewrites original code"
    else:
        old = Counter(l.strip() for l in fix.before.splitlines() if l.strip())
        new = Counter(l.strip() for l in fix.after.splitlines() if l.strip())
        lost = old - new
        ok = not lost
        details = "every original line is kept (some moved)" if ok else f"lost lines: {sorted(lost)[:3]}"
    return ValidationResult(check="preserves-code", passed=ok, details=details)


def validate_fix(fix: CodeFix, max_lines: int) -> list[ValidationResult]:
    return [check_parses(fix), check_scope(fix, max_lines), check_preserved(fix)]
