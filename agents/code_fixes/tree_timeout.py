"""missing_timeout, JavaScript/TypeScript and Go: HTTP calls that can wait forever get a deadline.

- fetch (undici) has no overall deadline: a call without a `signal` gets
  `signal: AbortSignal.timeout(ms)`.
- axios waits forever by default (`timeout: 0`): an `axios.create(...)`
  instance without a timeout gets one (its calls inherit it); a call on
  `axios` itself without one gets a per-call `timeout` (unless the file sets
  `axios.defaults.timeout`); `timeout: 0` is replaced.
- Go: `http.Client{...}` without `Timeout` gets one; `http.Get/Post/Head/
  PostForm` and `http.DefaultClient` (no timeout) go through a package-level
  client that has one. `time` is imported when missing.
"""

from __future__ import annotations

import re

from tree_sitter import Node

from agents.code_fixes.base import CodeFix, FixConfig, FixTarget, describe_sites, NoFix, Site, choose_sites
from agents.code_fixes.syntax import (Edit, apply_edits, callee_parts, enclosing_function, function_span, indent_at,
                                      language_of, line_end, line_of, line_start, parse_or_refuse, text_of, walk)

NAME = "tree_timeout"
AXIOS_URL_ONLY = {"get", "delete", "head", "options"}
AXIOS_WITH_DATA = {"post", "put", "patch"}
GO_HTTP_HELPERS = {"Get", "Post", "Head", "PostForm"}


def _property(obj: Node, name: str) -> Node | None:
    for child in obj.named_children:
        if child.type == "pair" and text_of(child.child_by_field_name("key")).strip("'\"") == name:
            return child
        if child.type == "shorthand_property_identifier" and text_of(child) == name:
            return child
    return None


def _add_property(obj: Node, prop: str, source: bytes) -> Edit:
    """`prop` as the object literal's first property, in its layout."""
    members = [c for c in obj.named_children if c.type != "comment"]
    if not members:
        return Edit(obj.start_byte, obj.end_byte, f"{{ {prop} }}")
    first = members[0]
    if first.start_point[0] != obj.start_point[0]:
        at = line_start(source, first.start_byte)
        return Edit(at, at, f"{indent_at(source, first.start_byte)}{prop},\n")
    return Edit(first.start_byte, first.start_byte, f"{prop}, ")


def _option_edit(args: Node, index: int, prop: str, name: str, source: bytes, fill: str = "") -> Edit | None:
    """Give the options argument at `index` the property `prop` (named `name`); None when it has one."""
    items = [a for a in args.named_children if a.type != "comment"]
    if len(items) > index:
        option = items[index]
        if option.type == "object":
            existing = _property(option, name)
            if existing is None:
                return _add_property(option, prop, source)
            value = existing.child_by_field_name("value")
            if value is not None and text_of(value) in ("0", "null", "undefined", "Infinity"):
                return Edit(existing.start_byte, existing.end_byte, prop)
            return None
        if option.type in ("identifier", "member_expression"):
            return Edit(option.start_byte, option.end_byte, f"{{ ...{text_of(option)}, {prop} }}")
        return None
    if not items:
        return Edit(args.start_byte + 1, args.end_byte - 1, f"{fill}{{ {prop} }}")
    last = items[-1]
    return Edit(last.end_byte, last.end_byte, f", {fill}{{ {prop} }}")


def _js_sites(root: Node, source: bytes, config: FixConfig) -> list[tuple[Node, Edit, str]]:
    ms = int(config.get("missing_timeout", "node_fetch_timeout_ms", 10000))
    axios_ms = int(config.get("missing_timeout", "node_axios_timeout_ms", 10000))
    signal, timeout = f"signal: AbortSignal.timeout({ms})", f"timeout: {axios_ms}"
    text = source.decode("utf-8")
    defaults = re.search(r"axios\.defaults\.timeout\s*=\s*[1-9]", text) is not None  # a read of code, not an edit
    found = []
    for call in walk(root):
        if call.type != "call_expression":
            continue
        obj, name = callee_parts(call)
        args = call.child_by_field_name("arguments")
        if args is None or args.type != "arguments":
            continue
        edit, what = None, ""
        if obj in ("", "globalThis", "window") and name == "fetch" and args.named_children:
            if len(args.named_children) <= 2:
                edit, what = _option_edit(args, 1, signal, "signal", source), "a fetch call without a deadline"
        elif obj == "axios" and name == "create":
            edit, what = _option_edit(args, 0, timeout, "timeout", source), "an axios instance without a timeout"
        elif not defaults and ((obj == "" and name == "axios") or (obj == "axios" and name == "request")):
            edit, what = _option_edit(args, 0, timeout, "timeout", source), "an axios call without a timeout"
        elif not defaults and obj == "axios" and name in AXIOS_URL_ONLY | AXIOS_WITH_DATA:
            index = 1 if name in AXIOS_URL_ONLY else 2
            fill = "undefined, " if index == 2 and len(args.named_children) == 1 else ""
            edit, what = _option_edit(args, index, timeout, "timeout", source, fill), "an axios call without a timeout"
        if edit is not None:
            found.append((call, edit, what))
    return found


# ------------------------------------------------------------------ go


def _go_imports(root: Node) -> tuple[Node | None, list[str]]:
    decls = [c for c in root.named_children if c.type == "import_declaration"]
    paths = [text_of(n).strip('"') for d in decls for n in walk(d) if n.type == "interpreted_string_literal"]
    return (decls[-1] if decls else None), paths


def _go_import_edit(root: Node, source: bytes, package: str) -> Edit | None:
    decl, paths = _go_imports(root)
    if package in paths:
        return None
    if decl is None:
        clause = next(c for c in root.named_children if c.type == "package_clause")
        return Edit(clause.end_byte, clause.end_byte, f'\n\nimport "{package}"')
    specs = [n for n in walk(decl) if n.type == "import_spec"]
    spec_list = next((n for n in decl.named_children if n.type == "import_spec_list"), None)
    if spec_list is None:  # import "net/http"
        return Edit(decl.start_byte, decl.end_byte, f'import (\n\t{text_of(specs[0])}\n\t"{package}"\n)')
    later = [s for s in specs if text_of(s.child_by_field_name("path")).strip('"') > package]
    if later and later[0].start_point[0] != spec_list.start_point[0]:
        at = line_start(source, later[0].start_byte)
        return Edit(at, at, f'{indent_at(source, later[0].start_byte)}"{package}"\n')
    close = spec_list.children[-1]
    at = line_start(source, close.start_byte)
    if at <= spec_list.start_byte:
        return Edit(close.start_byte, close.start_byte, f'; "{package}"')
    return Edit(at, at, f'\t"{package}"\n')


def _go_sites(root: Node, source: bytes, config: FixConfig) -> tuple[list[tuple[Node, Edit, str]], str]:
    seconds = config.get("missing_timeout", "go_client_timeout_s", 10)
    client = str(config.get("missing_timeout", "go_client_name", "httpClient"))
    value = f"{seconds} * time.Second"
    found = []
    for node in walk(root):
        if node.type == "composite_literal" and text_of(node.child_by_field_name("type")) == "http.Client":
            body = node.child_by_field_name("body")
            keys = [text_of(e.named_children[0]) for e in body.named_children if e.type == "keyed_element"] if body else []
            if body is None or "Timeout" in keys:
                continue
            elements = [e for e in body.named_children if e.type != "comment"]
            if not elements:
                edit = Edit(body.start_byte, body.end_byte, f"{{Timeout: {value}}}")
            elif elements[0].start_point[0] != body.start_point[0]:
                at = line_start(source, body.end_byte - 1)
                edit = Edit(at, at, f"{indent_at(source, elements[0].start_byte)}Timeout: {value},\n")
            else:
                edit = Edit(elements[-1].end_byte, elements[-1].end_byte, f", Timeout: {value}")
            found.append((node, edit, "an http.Client without a Timeout"))
        elif node.type == "call_expression":
            fn = node.child_by_field_name("function")
            if fn is None or fn.type != "selector_expression":
                continue
            operand, field = fn.child_by_field_name("operand"), text_of(fn.child_by_field_name("field"))
            if text_of(operand) == "http" and field in GO_HTTP_HELPERS:
                found.append((node, Edit(operand.start_byte, operand.end_byte, client), f"http.{field} (the default client has no timeout)"))
            elif text_of(operand) == "http.DefaultClient":
                found.append((node, Edit(operand.start_byte, operand.end_byte, client), "http.DefaultClient (no timeout)"))
    return found, f"var {client} = &http.Client{{Timeout: {value}}}"


def _go_support_edits(root: Node, source: bytes, needs_client: str | None, needs_time: bool) -> list[Edit]:
    edits = []
    if needs_time and (e := _go_import_edit(root, source, "time")) is not None:
        edits.append(e)
    if needs_client:
        name = needs_client.split()[1]
        declared = any(n.type == "var_spec" and text_of(n.child_by_field_name("name")) == name for n in walk(root))
        if not declared:
            decl, _ = _go_imports(root)
            anchor = decl or next(c for c in root.named_children if c.type == "package_clause")
            at = line_end(source, anchor.end_byte)
            edits.append(Edit(at, at, f"\n// {name} bounds every outbound call; http.DefaultClient waits forever.\n{needs_client}\n"))
    return edits


def fix_tree_timeout(target: FixTarget, config: FixConfig) -> CodeFix:
    language = language_of(target.path)
    if language is None or language == "python":
        raise NoFix(f"{target.path} is not JavaScript, TypeScript or Go")
    tree = parse_or_refuse(language, target.path, target.source)
    root, source = tree.root_node, target.source.encode("utf-8")
    client_decl = ""
    if language == "go":
        found, client_decl = _go_sites(root, source, config)
    else:
        found = _js_sites(root, source, config)
    sites = []
    for node, edit, what in found:
        name, start, end = function_span(enclosing_function(node), line_of(root) + root.end_point[0])
        sites.append(Site(name, start, end, line_of(node), (node, edit, what)))
    chosen = choose_sites(sites, target.line, "HTTP call or client that can wait forever", target.path)
    edits = [s.data[1] for s in chosen]
    extra: list[tuple[int, int]] = []
    if language == "go":
        uses_client = any("http." in s.data[2] and "Client without" not in s.data[2] for s in chosen)
        support = _go_support_edits(root, source, client_decl if uses_client else None, True)
        extra = [(source[:e.start].count(b"\n") + 1, source[:e.end].count(b"\n") + 1) for e in support]
        edits += support
    after = apply_edits(target.source, edits)
    lines, where, kinds = describe_sites(chosen)
    return CodeFix(
        template=NAME, path=target.path, before=target.source, after=after,
        title=f"Give the HTTP call(s) in {target.path} ({where}) a deadline",
        rationale=(f"{'; '.join(kinds)} ({where}, in {chosen[0].function}): a peer that stops answering holds the "
                   "request and a socket until the connection dies. Now the call gives up after a bounded time "
                   "(config/code_fixes.yaml) and fails with a timeout error, which the caller's error path already "
                   "handles as a failure."),
        lines=(min(lines), max(line_of(s.data[0]) + s.data[0].end_point[0] - s.data[0].start_point[0] for s in chosen)),
        extra_lines=tuple(extra), language=language, function=chosen[0].function,
        risk="low",
    )
