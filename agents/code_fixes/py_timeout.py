"""missing_timeout, Python: requests, httpx and aiohttp calls that can wait forever get a deadline.

- `requests` waits forever by default: each call on the module or on a
  `Session` (a name, `with requests.Session() as s`, or `self.session` set in
  `__init__`) without `timeout=` (and without `**kwargs`, which may carry
  one) gets `timeout=(connect, read)`; `timeout=None` is replaced.
- `httpx` has a 5 s default; only `timeout=None` switches it off, on a call
  or on a `Client`/`AsyncClient`: it is replaced.
- `aiohttp.ClientSession()` defaults to a 5-minute total; a session without
  `timeout=` gets `aiohttp.ClientTimeout(total=N)`, and
  `ClientTimeout(total=None)` gets N.
Numbers from config/code_fixes.yaml.
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from agents.code_fixes.base import CodeFix, FixConfig, FixTarget, describe_sites, Site, choose_sites
from agents.code_fixes.flow_python import dotted
from agents.code_fixes.python_tree import PyModule, imported_modules
from agents.code_fixes.syntax import parse_python_or_refuse

NAME = "python_timeout"
VERBS = {"get", "post", "put", "patch", "delete", "head", "options", "request", "stream"}


def resolve(name: str, imports: dict[str, str]) -> str:
    """`Session` -> `requests.Session` when imported so; module aliases followed."""
    head, _, tail = name.partition(".")
    full = imports.get(head, head)
    return f"{full}.{tail}" if tail else full


class _Clients(cst.CSTVisitor):
    """Names (and `self.x` attributes) bound to requests sessions and httpx clients."""

    def __init__(self, imports: dict[str, str]):
        self.imports = imports
        self.requests: set[str] = set()
        self.httpx: set[str] = set()

    def _kind(self, value: cst.BaseExpression | None) -> str | None:
        if isinstance(value, cst.Await):
            value = value.expression
        if not isinstance(value, cst.Call):
            return None
        called = resolve(dotted(value.func), self.imports)
        if called in ("requests.Session", "requests.session", "requests.sessions.Session"):
            return "requests"
        if called in ("httpx.Client", "httpx.AsyncClient"):
            return "httpx"
        return None

    def _bind(self, target: cst.BaseExpression, kind: str | None) -> None:
        name = dotted(target)
        if kind and name:
            (self.requests if kind == "requests" else self.httpx).add(name)

    def visit_Assign(self, node: cst.Assign) -> None:
        for t in node.targets:
            self._bind(t.target, self._kind(node.value))

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._bind(node.target, self._kind(node.value))

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if node.asname is not None:
            self._bind(node.asname.name, self._kind(node.item))  # type: ignore[arg-type]


def _keyword(call: cst.Call, name: str) -> cst.Arg | None:
    return next((a for a in call.args if a.keyword is not None and a.keyword.value == name), None)


def _spreads_kwargs(call: cst.Call) -> bool:
    return any(a.star == "**" for a in call.args)


def _is_none(arg: cst.Arg | None) -> bool:
    return arg is not None and m.matches(arg.value, m.Name("None"))


def add_keyword(call: cst.Call, name: str, value: str) -> cst.Call:
    """`call` with `name=value` appended, in the call's own layout (one line, or one argument a line)."""
    new = cst.Arg(keyword=cst.Name(name), value=cst.parse_expression(value),
                  equal=cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")))
    args = list(call.args)
    if not args:
        return call.with_changes(args=[new])
    last = args[-1]
    if len(args) >= 2 and isinstance(args[-2].comma, cst.Comma):
        separator = args[-2].comma
    elif isinstance(last.whitespace_after_arg, cst.ParenthesizedWhitespace) or isinstance(last.comma, cst.Comma) and isinstance(last.comma.whitespace_after, cst.ParenthesizedWhitespace):
        separator = last.comma if isinstance(last.comma, cst.Comma) else cst.Comma(whitespace_after=last.whitespace_after_arg)
    else:
        separator = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    new = new.with_changes(comma=last.comma, whitespace_after_arg=last.whitespace_after_arg)
    args[-1] = last.with_changes(comma=separator, whitespace_after_arg=cst.SimpleWhitespace(""))
    return call.with_changes(args=[*args, new])


def set_keyword(call: cst.Call, name: str, value: str) -> cst.Call:
    return call.with_changes(args=[a.with_changes(value=cst.parse_expression(value))
                                   if a.keyword is not None and a.keyword.value == name else a for a in call.args])


class _Finder(cst.CSTVisitor):
    def __init__(self, clients: _Clients, imports: dict[str, str], config: FixConfig):
        connect, read = config.get("missing_timeout", "python_requests_timeout", [3.05, 10])
        self.requests_value = f"({connect}, {read})"
        self.httpx_value = str(config.get("missing_timeout", "python_httpx_timeout_s", 10))
        self.aiohttp_total = str(config.get("missing_timeout", "python_aiohttp_total_s", 10))
        self.clients, self.imports = clients, imports
        self.edits: list[tuple[cst.Call, cst.Call, str]] = []  # (old, new, what)

    def visit_Call(self, call: cst.Call) -> None:
        func = dotted(call.func)
        full = resolve(func, self.imports)
        receiver, _, verb = func.rpartition(".")
        timeout = _keyword(call, "timeout")
        if verb in VERBS and (resolve(receiver, self.imports) == "requests" or receiver in self.clients.requests):
            if timeout is None and not _spreads_kwargs(call):
                self.edits.append((call, add_keyword(call, "timeout", self.requests_value), "a requests call without a timeout"))
            elif _is_none(timeout):
                self.edits.append((call, set_keyword(call, "timeout", self.requests_value), "a requests call with timeout=None"))
        elif (verb in VERBS and (resolve(receiver, self.imports) == "httpx" or receiver in self.clients.httpx)
              or full in ("httpx.Client", "httpx.AsyncClient")) and _is_none(timeout):
            self.edits.append((call, set_keyword(call, "timeout", self.httpx_value), "an httpx timeout switched off"))
        elif full == "aiohttp.ClientSession" and timeout is None and not _spreads_kwargs(call) and "aiohttp" in self.imports:
            value = f"{self._aiohttp()}.ClientTimeout(total={self.aiohttp_total})"
            self.edits.append((call, add_keyword(call, "timeout", value), "an aiohttp session with the 5-minute default"))
        elif full == "aiohttp.ClientTimeout" and _is_none(_keyword(call, "total")):
            self.edits.append((call, set_keyword(call, "total", self.aiohttp_total), "an aiohttp timeout switched off"))

    def _aiohttp(self) -> str:
        return next(local for local, full in self.imports.items() if full == "aiohttp")


def _limits(kinds: list[str], finder: _Finder) -> str:
    said = []
    if any("requests" in k for k in kinds):
        said.append(f"{finder.requests_value[1:-1].replace(', ', ' s to connect and ')} s between bytes (requests)")
    if any("httpx" in k for k in kinds):
        said.append(f"{finder.httpx_value} s (httpx)")
    if any("aiohttp" in k for k in kinds):
        said.append(f"{finder.aiohttp_total} s in total (aiohttp)")
    return " and ".join(said)


def fix_python_timeout(target: FixTarget, config: FixConfig) -> CodeFix:
    module = parse_python_or_refuse(target.path, target.source)
    mod = PyModule(module)
    imports = imported_modules(mod.module)
    clients = _Clients(imports)
    mod.module.visit(clients)
    finder = _Finder(clients, imports, config)
    mod.module.visit(finder)
    sites = []
    for old, new, what in finder.edits:
        name, start, end = mod.span(old)
        sites.append(Site(name, start, end, mod.line(old), (old, new, what)))
    chosen = choose_sites(sites, target.line, "HTTP call or client that can wait forever", target.path)
    swaps = {id(s.data[0]): s.data[1] for s in chosen}

    class Swap(cst.CSTTransformer):
        def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
            return swaps.get(id(original), updated)

    after = mod.module.visit(Swap()).code
    lines, where, kinds = describe_sites(chosen)
    return CodeFix(
        template=NAME, path=target.path, before=target.source, after=after,
        title=f"Give the HTTP call(s) in {target.path} ({where}) a deadline",
        rationale=(f"{'; '.join(kinds)} ({where}, in {chosen[0].function}): a peer that stops answering holds the "
                   f"worker until the socket dies. Now it gives up after {_limits(kinds, finder)} and raises the "
                   "library's timeout error, which the caller's error path already sees as a failure."),
        lines=(min(lines), max(mod.end_line(s.data[0]) for s in chosen) + 1), language="python",
        function=chosen[0].function,
        moved=tuple(("total=None" if "aiohttp" in s.data[2] else "timeout=None") for s in chosen if "off" in s.data[2] or "None" in s.data[2]),
        risk="low",
    )
