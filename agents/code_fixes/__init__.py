"""Fix templates for code-level root causes, on real syntax trees (libcst for Python, tree-sitter for the rest).

`choose_fix` runs, for a diagnosis's root cause and the file's language, the
one template that knows them. A template that does not find its shape
raises `NoFix` with the reason (`AmbiguousTarget` when several functions
hold it and no line says which), so the report can say why nothing was
proposed; every patch then passes validate.py before anyone sees it.

| root cause | Python | JavaScript / TypeScript | Go |
| --- | --- | --- | --- |
| connection_leak | try/finally or `with` (py_release) | try/finally (tree_release) | `defer x.Close()` (tree_release) |
| missing_timeout | requests, httpx, aiohttp (py_timeout) | fetch, axios (tree_timeout) | http.Client Timeout (tree_timeout) |
| dependency_failure | try/except (py_errors) | try/catch (tree_errors) | — |
| memory_leak | LRUCache / lru_cache (py_cache) | bounded Map (tree_cache) | — |
"""

from __future__ import annotations

import logging
from typing import Callable

from agents.code_fixes.base import AmbiguousTarget, CodeFix, FixConfig, FixTarget, NoFix, load_fix_config
from agents.code_fixes.py_cache import fix_python_cache
from agents.code_fixes.py_errors import fix_python_errors
from agents.code_fixes.py_release import fix_python_release
from agents.code_fixes.py_timeout import fix_python_timeout
from agents.code_fixes.syntax import language_of
from agents.code_fixes.tree_cache import fix_js_cache
from agents.code_fixes.tree_errors import fix_js_errors
from agents.code_fixes.tree_release import fix_tree_release
from agents.code_fixes.tree_timeout import fix_tree_timeout
from agents.code_fixes.validate import validate_fix

Template = Callable[[FixTarget, FixConfig], CodeFix]
log = logging.getLogger(__name__)

# root cause -> language -> template
TEMPLATES: dict[str, dict[str, Template]] = {
    "connection_leak": {"python": fix_python_release, "javascript": fix_tree_release, "typescript": fix_tree_release,
                        "tsx": fix_tree_release, "go": fix_tree_release},
    "missing_timeout": {"python": fix_python_timeout, "javascript": fix_tree_timeout, "typescript": fix_tree_timeout,
                        "tsx": fix_tree_timeout, "go": fix_tree_timeout},
    "dependency_failure": {"python": fix_python_errors, "javascript": fix_js_errors, "typescript": fix_js_errors,
                           "tsx": fix_js_errors},
    "memory_leak": {"python": fix_python_cache, "javascript": fix_js_cache, "typescript": fix_js_cache, "tsx": fix_js_cache},
}
CAUSES = tuple(TEMPLATES)


def choose_fix(target: FixTarget, config: FixConfig) -> tuple[CodeFix | None, list[str]]:
    """The template's patch for this target, or None and the reason it gave."""
    by_language = TEMPLATES.get(target.root_cause)
    if by_language is None:
        return None, [f"no fix template for root cause {target.root_cause}"]
    language = language_of(target.path)
    template = by_language.get(language or "")
    if template is None:
        return None, [f"no {target.root_cause} template for {language or 'this kind of'} file {target.path}"]
    try:
        return template(target, config), []
    except NoFix as exc:
        return None, [str(exc)]
    except Exception as exc:  # a template's own bug must not take the run down; say so plainly
        log.exception("fix template %s failed on %s", template.__name__, target.path)
        return None, [f"the {target.root_cause} template failed on {target.path} ({type(exc).__name__}: {exc})"]


__all__ = ["AmbiguousTarget", "CAUSES", "CodeFix", "FixConfig", "FixTarget", "NoFix", "TEMPLATES", "choose_fix",
           "load_fix_config", "validate_fix"]
