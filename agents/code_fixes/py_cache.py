"""memory_leak, Python: a module-level dict used as a cache that only grows becomes a bounded LRU cache.

The shape: `CACHE = {}` at module level, written by a function
(`CACHE[key] = value`, `CACHE.setdefault(...)`) and never evicted from (no
`pop`, `popitem`, `clear` or `del`). Two fixes, the bound from
config/code_fixes.yaml (`memory_leak.max_entries`):
- the project already depends on cachetools: `CACHE = LRUCache(maxsize=N)`;
  everything else about the dict stays (LRUCache is a MutableMapping);
- otherwise, when the function is a plain memoizer of its arguments
  (`if key in CACHE: return CACHE[key]` ... `CACHE[key] = value`), the
  hand-written cache goes and `@functools.lru_cache(maxsize=N)` takes its
  place.
"""

from __future__ import annotations

import re

import libcst as cst
import libcst.matchers as m

from agents.code_fixes.base import CodeFix, FixConfig, FixTarget, NoFix, Site, choose_sites
from agents.code_fixes.python_tree import PyFunction, PyModule, add_import, code_of
from agents.code_fixes.syntax import parse_python_or_refuse

NAME = "python_bounded_cache"
DEPENDENCY_FILES = re.compile(r"(^|/)(requirements[^/]*\.txt|pyproject\.toml|setup\.py|setup\.cfg|Pipfile)$")
EVICTIONS = {"pop", "popitem", "clear"}


def _declared_caches(module: cst.Module) -> dict[str, cst.SimpleStatementLine]:
    found = {}
    for stmt in module.body:
        if not (isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1):
            continue
        small = stmt.body[0]
        target = (small.targets[0].target if isinstance(small, cst.Assign) and len(small.targets) == 1
                  else small.target if isinstance(small, cst.AnnAssign) else None)
        value = small.value if isinstance(small, (cst.Assign, cst.AnnAssign)) else None
        if isinstance(target, cst.Name) and value is not None and (
                m.matches(value, m.Dict(elements=[])) or m.matches(value, m.Call(func=m.Name("dict"), args=[]))):
            found[target.value] = stmt
    return found


def _writers(mod: PyModule, name: str) -> list[PyFunction] | None:
    """Functions that add to the cache, or None when something evicts from it."""
    writes: list[PyFunction] = []
    for fn in mod.functions:
        node = fn.node
        if m.findall(node, m.Del(target=m.Subscript(value=m.Name(name)))) or \
                m.findall(node, m.Call(func=m.Attribute(value=m.Name(name), attr=m.OneOf(*[m.Name(e) for e in EVICTIONS])))):
            return None
        adds = m.findall(node, m.AssignTarget(target=m.Subscript(value=m.Name(name)))) or \
            m.findall(node, m.Call(func=m.Attribute(value=m.Name(name), attr=m.Name("setdefault") | m.Name("update"))))
        if adds and not any(fn.start < w.start and w.end <= fn.end for w in writes):
            writes.append(fn)
    return writes


def _depends_on_cachetools(files: dict[str, str]) -> bool:
    return any(DEPENDENCY_FILES.search(path) and re.search(r"^\s*[\"']?cachetools\b", text, re.M | re.I)
               for path, text in files.items())


def _lru_cache_patch(mod: PyModule, fn: PyFunction, name: str, bound: int) -> tuple[cst.Module, list[str]]:
    """The memoizer becomes `@functools.lru_cache`: its hand-written lookups and stores go."""
    node = fn.node
    params = [p.name.value for p in node.params.params]
    if node.params.star_arg not in (cst.MaybeSentinel.DEFAULT, None) or node.params.star_kwarg or node.params.kwonly_params \
            or (params and params[0] in ("self", "cls")):
        raise NoFix(f"{fn.name} is a method or takes *args/**kwargs; functools.lru_cache would key it differently")
    key_shape = m.Name(params[0]) if len(params) == 1 else m.Tuple(elements=[m.Element(m.Name(p)) for p in params])
    body = list(node.body.body)  # type: ignore[attr-defined]
    lookup = next((s for s in body if m.matches(s, m.If(
        test=m.Comparison(left=key_shape, comparisons=[m.ComparisonTarget(m.In(), m.Name(name))]),
        body=m.IndentedBlock(body=[m.SimpleStatementLine(body=[m.Return(m.Subscript(value=m.Name(name)))])]),
        orelse=None))), None)
    store = next((s for s in body if m.matches(s, m.SimpleStatementLine(body=[m.Assign(
        targets=[m.AssignTarget(m.Subscript(value=m.Name(name), slice=[m.SubscriptElement(m.Index(key_shape))]))])]))), None)
    uses = len(m.findall(node, m.Name(name)))
    if lookup is None or store is None or uses != 3:
        raise NoFix(f"`{name}` is not used as a plain memo of {fn.name}'s arguments, and the project does not depend "
                    "on cachetools; a person should bound it")
    stored = store.body[0].value  # type: ignore[attr-defined]
    kept = []
    for s in body:
        if s is lookup:
            continue
        if s is store:
            if isinstance(stored, cst.Name):
                continue  # `value = ...; CACHE[k] = value; return value`
            s = s.with_changes(body=[cst.Expr(stored)])
        kept.append(s)
    decorator = cst.Decorator(decorator=cst.parse_expression(f"functools.lru_cache(maxsize={bound})"))
    new_fn = node.with_changes(decorators=[*node.decorators, decorator], body=node.body.with_changes(body=kept))
    other_uses = len(m.findall(mod.module, m.Name(name))) - uses - 1

    class Swap(cst.CSTTransformer):
        def leave_FunctionDef(self, original, updated):  # type: ignore[override]
            return new_fn if original is node else updated

        def leave_SimpleStatementLine(self, original, updated):  # type: ignore[override]
            declared = _declared_caches(mod.module).get(name)
            return cst.RemoveFromParent() if original is declared and other_uses == 0 else updated

    module = add_import(mod.module.visit(Swap()), "import functools")
    return module, [code_of(lookup).strip(), code_of(store).strip(), code_of(_declared_caches(mod.module)[name]).strip()]


def fix_python_cache(target: FixTarget, config: FixConfig) -> CodeFix:
    bound = int(config.get("memory_leak", "max_entries", 1024))
    module = parse_python_or_refuse(target.path, target.source)
    mod = PyModule(module)
    sites = []
    for name, decl in _declared_caches(mod.module).items():
        writers = _writers(mod, name)
        if writers:
            fn = writers[0]
            sites.append(Site(fn.name, fn.start, fn.end, mod.line(decl), (name, decl, fn, len(writers))))
    chosen = choose_sites(sites, target.line, "module-level dict that only grows", target.path)
    name, decl, fn, writer_count = chosen[0].data
    decl_line = chosen[0].line
    if _depends_on_cachetools(target.files):
        small = decl.body[0]
        value = cst.parse_expression(f"LRUCache(maxsize={bound})")
        if isinstance(small, cst.AnnAssign) and m.matches(small.annotation.annotation, m.Subscript(value=m.Name("dict") | m.Name("Dict"))):
            small = small.with_changes(annotation=small.annotation.with_changes(
                annotation=small.annotation.annotation.with_changes(value=cst.Name("LRUCache"))))
        new_decl = decl.with_changes(body=[small.with_changes(value=value)])

        class Swap(cst.CSTTransformer):
            def leave_SimpleStatementLine(self, original, updated):  # type: ignore[override]
                return new_decl if original is decl else updated

        after = add_import(mod.module.visit(Swap()), "from cachetools import LRUCache").code
        how = f"`{name}` becomes a `cachetools.LRUCache(maxsize={bound})` (the project already depends on cachetools)"
        moved: list[str] = [code_of(decl).strip()]
        lines = (decl_line, decl_line)
    else:
        if writer_count > 1:
            raise NoFix(f"`{name}` is filled by several functions and the project does not depend on cachetools")
        new_module, moved = _lru_cache_patch(mod, fn, name, bound)
        after = new_module.code
        how = f"`{fn.name}` is memoized by `functools.lru_cache(maxsize={bound})` instead of the hand-written `{name}`"
        lines = (fn.start - len(fn.node.decorators), fn.end)
    first_import = next((mod.line(s) for s in mod.module.body if isinstance(s, cst.SimpleStatementLine)
                         and isinstance(s.body[0], (cst.Import, cst.ImportFrom))), 1)
    last_import = max([mod.end_line(s) for s in mod.module.body if isinstance(s, cst.SimpleStatementLine)
                       and isinstance(s.body[0], (cst.Import, cst.ImportFrom))] or [1])
    return CodeFix(
        template=NAME, path=target.path, before=target.source, after=after,
        title=f"Bound the `{name}` cache in {target.path} to {bound} entries",
        rationale=(f"`{name}` (line {decl_line}) is filled by `{fn.name}` and nothing ever removes an entry: the "
                   f"process grows with every distinct key until it is killed. {how}; the least recently used "
                   "entries are dropped past the bound."),
        lines=lines, extra_lines=((min(first_import, decl_line), max(last_import + 1, decl_line)),), language="python",
        function=fn.name, moved=tuple(moved), risk="low",
    )
