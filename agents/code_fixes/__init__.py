"""Fix templates for code-level root causes, one module per kind of fix.

`choose_fix` tries, for a diagnosis's root cause, the templates that know
that cause on the file the diagnosis names; the first that finds its shape
in the code wins. A template that does not find its shape raises `NoFix`
with the reason, so the report can say why nothing was proposed.

| root cause | template | module |
| --- | --- | --- |
| missing_timeout | `requests` call without `timeout=` | python_timeout.py |
| missing_timeout | `fetch(...)` without an abort signal | node_fetch_timeout.py |
| connection_leak | pooled connection released only on success (Python, Node) | release_in_finally.py |
"""

from __future__ import annotations

from typing import Callable

from agents.code_fixes.base import CodeFix, FixConfig, FixTarget, NoFix, load_fix_config
from agents.code_fixes.node_fetch_timeout import fix_fetch_timeout
from agents.code_fixes.python_timeout import fix_requests_timeout
from agents.code_fixes.release_in_finally import fix_release_in_finally
from agents.code_fixes.validate import validate_fix

Template = Callable[[FixTarget, FixConfig], CodeFix]

TEMPLATES: dict[str, tuple[Template, ...]] = {
    "missing_timeout": (fix_requests_timeout, fix_fetch_timeout),
    "connection_leak": (fix_release_in_finally,),
}


def choose_fix(target: FixTarget, config: FixConfig) -> tuple[CodeFix | None, list[str]]:
    """The first template's patch for this target, or None and each template's reason for passing."""
    reasons = []
    for template in TEMPLATES.get(target.root_cause, ()):
        try:
            return template(target, config), reasons
        except NoFix as exc:
            reasons.append(str(exc))
    if target.root_cause not in TEMPLATES:
        reasons.append(f"no fix template for root cause {target.root_cause}")
    return None, reasons


__all__ = ["CodeFix", "FixConfig", "FixTarget", "NoFix", "TEMPLATES", "choose_fix", "load_fix_config", "validate_fix"]
