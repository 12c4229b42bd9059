"""dependency_failure, JavaScript/TypeScript: a network or database call no `try` guards gets a try/catch.

Calls through fetch, axios (and its instances) and database clients
(`pool.query`, `conn.execute`, ...) that nothing catches let a rejected
promise escape the function. The work from the first such statement to the
end of the function moves into `try`, and the `catch` handles the error the
way the surrounding code implies:
1. the function already returns a failure value (`null`, `[]`, ...) on
   another path: log it and return that value;
2. the file defines (or imports) an error class it throws with one message:
   throw it, with the original as `cause`;
3. otherwise log it (the module's logger, else `console`) and re-throw.
"""

from __future__ import annotations

from tree_sitter import Node

from agents.code_fixes.base import CodeFix, FixConfig, FixTarget, NoFix, Site, choose_sites
from agents.code_fixes.flow_tree import _own_nodes
from agents.code_fixes.syntax import (Edit, apply_edits, callee_parts, enclosing_function, function_span, indent_at,
                                      indent_unit, language_of, line_of, line_start,
                                      parse_or_refuse, reindent, text_of, walk)

NAME = "js_error_handling"
DB_METHODS = {"query", "execute"}
HTTP_VERBS = {"get", "post", "put", "patch", "delete", "head", "options", "request"}
FAILURE_VALUES = {"null", "undefined", "[]", "{}", "false", "0", "''", '""'}


def _axios_instances(root: Node) -> set[str]:
    names = set()
    for d in walk(root):
        if d.type == "variable_declarator" and (value := d.child_by_field_name("value")) is not None \
                and value.type == "call_expression" and callee_parts(value) == ("axios", "create"):
            names.add(text_of(d.child_by_field_name("name")))
    return names


def _is_dependency_call(call: Node, instances: set[str]) -> bool:
    obj, name = callee_parts(call)
    if obj == "" and name in ("fetch", "axios"):
        return True
    if (obj == "axios" or obj in instances) and name in HTTP_VERBS:
        return True
    return name in DB_METHODS and obj.split(".")[-1].lower() in ("pool", "db", "conn", "connection", "client", "knex")


def _guarded(call: Node, fn: Node) -> bool:
    node = call.parent
    while node is not None and node != fn:
        if node.type == "statement_block" and node.parent is not None and node.parent.type == "try_statement" \
                and node.parent.child_by_field_name("body") == node:
            return True
        node = node.parent
    return False


def _logger(root: Node) -> tuple[str, bool]:
    """(logger name, pino style: an object first) from the module's own logging calls."""
    for call in walk(root):
        if call.type != "call_expression":
            continue
        obj, name = callee_parts(call)
        if obj in ("logger", "log") and name in ("info", "warn", "error", "debug"):
            args = call.child_by_field_name("arguments")
            first = args.named_children[0] if args is not None and args.named_children else None
            return obj, first is not None and first.type == "object"
    return "console", False


def _error_class(root: Node) -> str | None:
    """An error class the module throws with a single argument (a message)."""
    defined = {text_of(c.child_by_field_name("name")) for c in walk(root) if c.type == "class_declaration"
               and "extends Error" in text_of(c).split("{", 1)[0]}
    for n in walk(root):
        if n.type == "throw_statement" and n.named_children and n.named_children[0].type == "new_expression":
            new = n.named_children[0]
            cls = text_of(new.child_by_field_name("constructor"))
            args = new.child_by_field_name("arguments")
            if cls.endswith("Error") and cls != "Error" and args is not None and len(args.named_children) == 1 \
                    and (cls in defined or not defined):
                return cls
    return None


def _failure_value(fn: Node) -> str | None:
    returns = [n for n in _own_nodes(fn) if n.type == "return_statement" and n.named_children]
    for ret in returns[:-1]:
        value = text_of(ret.named_children[0])
        if value in FAILURE_VALUES:
            return value
    return None


def fix_js_errors(target: FixTarget, config: FixConfig) -> CodeFix:
    language = language_of(target.path)
    if language not in ("javascript", "typescript", "tsx"):
        raise NoFix(f"{target.path} is not JavaScript or TypeScript")
    tree = parse_or_refuse(language, target.path, target.source)
    root, source = tree.root_node, target.source.encode("utf-8")
    instances = _axios_instances(root)
    sites = []
    seen: set[int] = set()
    for call in walk(root):
        if call.type != "call_expression" or not _is_dependency_call(call, instances):
            continue
        fn = enclosing_function(call)
        if fn is None or fn.id in seen or _guarded(call, fn):
            continue
        body = fn.child_by_field_name("body")
        if body is None or body.type != "statement_block":
            continue
        top = call
        while top.parent is not None and top.parent != body:
            top = top.parent
        seen.add(fn.id)
        name, start, end = function_span(fn, 0)
        sites.append(Site(name, start, end, line_of(call), (fn, body, top, call)))
    chosen = choose_sites(sites, target.line, "network or database call without error handling", target.path)
    fn, body, top, call = chosen[0].data
    close = body.children[-1]
    if source[line_start(source, top.start_byte):top.start_byte].strip() or \
            source[line_start(source, close.start_byte):close.start_byte].strip():
        raise NoFix("the function does not put its statements and closing brace on lines of their own")
    if any(n.type == "template_string" and n.start_point[0] != n.end_point[0] for n in walk(body)):
        raise NoFix("the function holds a multi-line template literal; re-indenting it would change its value")
    region_start, region_end = line_start(source, top.start_byte), line_start(source, close.start_byte)
    pad, step = indent_at(source, top.start_byte), indent_unit(target.source)
    name = function_span(fn, 0)[0]
    logger, pino = _logger(root)
    log_call = (f"{logger}.error({{ err }}, '{name} failed');" if pino else f"{logger}.error('{name} failed', err);")
    value = _failure_value(fn)
    if value is not None:
        handling, how = [log_call, f"return {value};"], f"logs it and returns the failure value the function already returns (`{value}`)"
    elif (cls := _error_class(root)) is not None:
        handling, how = [f"throw new {cls}(`{name} failed: ${{err.message}}`, {{ cause: err }});"], f"throws the module's own `{cls}` with the original as its cause"
    else:
        handling, how = [log_call, "throw err;"], f"logs it with `{logger}` and re-throws it"
    region = source[region_start:region_end].decode("utf-8")
    catch = "".join(f"{pad}{step}{line}\n" for line in handling)
    new = f"{pad}try {{\n{reindent(region, step)}{pad}}} catch (err) {{\n{catch}{pad}}}\n"
    after = apply_edits(target.source, [Edit(region_start, region_end, new)])
    what = text_of(call.child_by_field_name("function"))
    return CodeFix(
        template=NAME, path=target.path, before=target.source, after=after,
        title=f"Handle a failed `{what}` call in {target.path} ({name})",
        rationale=(f"`{name}` awaits `{what}(...)` on line {line_of(call)} with nothing to catch its rejection: a "
                   f"failed call escapes as an unhandled error. The work from line {line_of(top)} now runs in `try`, "
                   f"and the `catch` {how}."),
        lines=(line_of(top), line_of(close)), language=language, function=name, risk="medium",  # type: ignore[arg-type]
    )
