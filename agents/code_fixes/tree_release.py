"""connection_leak, JavaScript/TypeScript and Go: a resource some path does not give back.

JavaScript/TypeScript: `const conn = await pool.getConnection()` (mysql2),
`const client = await pool.connect()` (node-postgres), `pool.acquire()`
(generic-pool): the work after the take moves into `try` and the release
into `finally`; every release that sat on some paths inside that work is
removed, so no path releases twice (node-postgres throws "Release called on
client which has already been released to the pool"). When the work opens a
transaction and nothing rolls it back, a `catch` rolls it back first (mysql2
and pg return a connection to the pool with its transaction, and its row
locks, still open).

Go: `f, err := os.Open(...)`, `conn, err := db.Conn(ctx)`, `rows, err :=
db.Query(...)`, `resp, err := http.Get(...)`: `defer f.Close()` (or
`defer resp.Body.Close()`) right after the error check, and the explicit
closes on some paths removed.

Which function: the control-flow check (flow.py) finds the ones that leak.
"""

from __future__ import annotations

from dataclasses import dataclass

from tree_sitter import Node

from agents.code_fixes.base import CodeFix, FixConfig, FixTarget, NoFix, ReleaseFlow, Site, choose_sites
from agents.code_fixes.flow import check_flow
from agents.code_fixes.flow_tree import (JS_DECLARATIONS, TreeResource, _own_nodes, declared_value, function_steps,
                                         go_error_variable, is_error_check)
from agents.code_fixes.syntax import (Edit, alone_on_its_lines, apply_edits, callee_parts, enclosing_function,
                                      function_span, indent_at, indent_unit, language_of, line_end, line_of, line_start,
                                      parse_or_refuse, reindent, text_of, walk)

NAME = "tree_release"


@dataclass(frozen=True)
class _Taken:
    statement: Node
    fn: Node
    resource: TreeResource
    give_back: str  # the release call, as code
    problem: str


def _js_candidates(root: Node, config: FixConfig) -> list[_Taken]:
    acquire = frozenset(config.get("connection_leak", "node_acquire", ["getConnection", "connect", "acquire"]))
    release = frozenset(config.get("connection_leak", "node_release", ["release"]))
    found = []
    for stmt in walk(root):
        if stmt.type not in JS_DECLARATIONS or stmt.parent is None or stmt.parent.type != "statement_block":
            continue
        declarators = [d for d in stmt.named_children if d.type == "variable_declarator"]
        if len(declarators) != 1 or (name := declarators[0].child_by_field_name("name")) is None or name.type != "identifier":
            continue
        var = text_of(name)
        resource = TreeResource(var, acquire, release)
        call = resource.acquiring_call(declared_value(stmt, var))
        fn = enclosing_function(stmt)
        if call is None or fn is None:
            continue
        obj, verb = callee_parts(call)
        give_back = f"await {obj}.release({var});" if verb == "acquire" else f"{var}.release();"
        found.append(_Taken(stmt, fn, resource, give_back, ""))
    return found


def _go_candidates(root: Node, config: FixConfig) -> list[_Taken]:
    acquire = set(config.get("connection_leak", "go_acquire", ["Open", "Create", "Dial", "Conn", "Query"]))
    http = set(config.get("connection_leak", "go_http_acquire", ["Get", "Post", "Do"]))
    found = []
    for stmt in walk(root):
        if stmt.type != "short_var_declaration":
            continue
        left = stmt.child_by_field_name("left")
        names = [text_of(n) for n in left.named_children] if left is not None else []
        if not names or names[0] == "_":
            continue
        value = declared_value(stmt, names[0])
        if value is None or value.type != "call_expression":
            continue
        obj, verb = callee_parts(value)
        fn = enclosing_function(stmt)
        if fn is None:
            continue
        if verb in http and (obj == "http" or "client" in obj.lower()):
            resource, give_back = TreeResource(names[0], frozenset({verb}), frozenset({"Close"})), f"defer {names[0]}.Body.Close()"
        elif verb in acquire and obj:
            resource, give_back = TreeResource(names[0], frozenset({verb}), frozenset({"Close"})), f"defer {names[0]}.Close()"
        else:
            continue
        found.append(_Taken(stmt, fn, resource, give_back, ""))
    return found


def _escapes(nodes: list[Node], var: str) -> str | None:
    for top in nodes:
        for n in _own_nodes(top):
            if n.type == "return_statement" and n.named_children:
                values = n.named_children[0]
                returned = values.named_children if values.type == "expression_list" else [values]
                if any(v.type == "identifier" and text_of(v) == var for v in returned):
                    return f"`{var}` is handed to the caller"
            if n.type in ("assignment_expression", "assignment_statement", "short_var_declaration"):
                left, right = n.child_by_field_name("left"), n.child_by_field_name("right")
                if right is not None and text_of(right) == var:
                    return f"`{var}` is stored elsewhere"
                if left is not None and var in [text_of(x) for x in (left.named_children or [left])]:
                    return f"`{var}` is bound again"
    return None


def _release_statements(nodes: list[Node], resource: TreeResource, source: bytes) -> list[Node]:
    """Statements that only give the resource back; refuses releases used as values or unbraced if bodies."""
    found = []
    for top in nodes:
        for call in resource.release_calls(top):
            stmt = call.parent
            while stmt is not None and stmt.type in ("await_expression", "parenthesized_expression"):
                stmt = stmt.parent
            if stmt is None or stmt.type not in ("expression_statement", "defer_statement"):
                raise NoFix(f"`{text_of(call)}` on line {line_of(call)} is used as a value (its result is read); "
                            "a person should decide how to keep that check")
            if stmt.type == "defer_statement":
                continue
            if stmt.parent is not None and stmt.parent.type not in ("statement_block", "block", "statement_list"):
                raise NoFix(f"`{text_of(call)}` on line {line_of(call)} is the body of an unbraced statement")
            found.append(stmt)
    return found


def _removal(stmt: Node, source: bytes) -> Edit:
    if alone_on_its_lines(source, stmt):
        return Edit(line_start(source, stmt.start_byte), line_end(source, stmt.end_byte), "")
    end = stmt.end_byte
    while end < len(source) and source[end:end + 1] in (b" ", b"\t"):
        end += 1
    return Edit(stmt.start_byte, end, "")


def _multiline_template(nodes: list[Node]) -> bool:
    return any(n.type in ("template_string", "raw_string_literal") and n.start_point[0] != n.end_point[0]
               for top in nodes for n in walk(top))


def _js_patch(taken: _Taken, source: bytes, text: str) -> tuple[str, tuple[int, int], list[str]]:
    block = taken.statement.parent
    assert block is not None
    rest = [c for c in block.named_children if c.start_byte > taken.statement.start_byte]
    var = taken.resource.variable
    if not rest:
        raise NoFix(f"nothing happens after `{var}` is taken")
    if why := _escapes(rest, var):
        raise NoFix(why)
    if _multiline_template(rest):
        raise NoFix("the work holds a multi-line template literal; re-indenting it would change its value")
    close = block.children[-1]
    if source[line_start(source, close.start_byte):close.start_byte].strip() or source[taken.statement.end_byte:line_end(source, taken.statement.end_byte)].strip(b" \t\r\n;"):
        raise NoFix(f"the block holding `{var}` does not put its statements and closing brace on lines of their own")
    region_start = line_end(source, taken.statement.end_byte)
    region_end = line_start(source, close.start_byte)
    releases = _release_statements(rest, taken.resource, source)
    give_back = text_of(releases[-1]).strip() if releases else taken.give_back
    removals = [Edit(e.start - region_start, e.end - region_start, "") for e in (_removal(s, source) for s in releases)]
    region = apply_edits(source[region_start:region_end].decode("utf-8"), removals)
    pad, step = indent_at(source, taken.statement.start_byte), indent_unit(text)
    body_text = region
    opens_transaction = any(f"{var}.beginTransaction(" in text_of(n) or
                            (f"{var}.query(" in text_of(n) and "BEGIN" in text_of(n).upper()) for n in rest)
    rolls_back = "rollback" in body_text.lower()
    catch = ""
    if opens_transaction and not rolls_back:
        undo = f"await {var}.rollback();" if f"{var}.beginTransaction(" in body_text else f"await {var}.query('ROLLBACK');"
        catch = f"{pad}}} catch (err) {{\n{pad}{step}{undo}\n{pad}{step}throw err;\n"
    new = f"{pad}try {{\n{reindent(body_text, step)}{catch}{pad}}} finally {{\n{pad}{step}{give_back}\n{pad}}}\n"
    after = apply_edits(text, [Edit(region_start, region_end, new)])
    return after, (line_of(taken.statement) + 1, line_of(close)), [text_of(s).strip() for s in releases]


def _go_patch(taken: _Taken, source: bytes, text: str) -> tuple[str, tuple[int, int], list[str]]:
    stmt, var = taken.statement, taken.resource.variable
    siblings = [c for c in stmt.parent.named_children] if stmt.parent is not None else []
    rest = [c for c in siblings if c.start_byte > stmt.start_byte]
    if why := _escapes(rest, var):
        raise NoFix(why)
    err = go_error_variable(stmt)
    anchor = rest[0] if rest and err and is_error_check(rest[0], err) else stmt
    work = [c for c in rest if c is not anchor]
    releases = _release_statements(work, taken.resource, source)
    pad = indent_at(source, stmt.start_byte)
    if source[anchor.end_byte:line_end(source, anchor.end_byte)].strip():
        raise NoFix(f"line {line_of(anchor)} holds more than one statement")
    edits = [Edit(line_end(source, anchor.end_byte), line_end(source, anchor.end_byte), f"{pad}{taken.give_back}\n")]
    edits += [_removal(s, source) for s in releases]
    after = apply_edits(text, edits)
    last = max([line_of(anchor)] + [line_of(s) for s in releases])
    return after, (line_of(stmt), last), [text_of(s).strip() for s in releases]


def fix_tree_release(target: FixTarget, config: FixConfig) -> CodeFix:
    language = language_of(target.path)
    if language is None or language == "python":
        raise NoFix(f"{target.path} is not JavaScript, TypeScript or Go")
    tree = parse_or_refuse(language, target.path, target.source)
    root = tree.root_node
    taken_list = _go_candidates(root, config) if language == "go" else _js_candidates(root, config)
    sites = []
    for taken in taken_list:
        verdict = check_flow(function_steps(taken.fn, taken.resource, language), taken.resource.variable)
        if not verdict.ok:
            name, start, end = function_span(taken.fn, line_of(root))
            sites.append(Site(name, start, end, line_of(taken.statement),
                              _Taken(taken.statement, taken.fn, taken.resource, taken.give_back, verdict.details)))
    what = "resource that some path does not give back"
    taken = choose_sites(sites, target.line, what, target.path)[0].data
    source = target.source.encode("utf-8")
    patch = _go_patch if language == "go" else _js_patch
    after, lines, removed = patch(taken, source, target.source)
    name = function_span(taken.fn, 0)[0]
    var = taken.resource.variable
    how = (f"`{taken.give_back}` right after it is taken" if language == "go"
           else f"the work in `try` and `{removed[-1] if removed else taken.give_back}` in `finally`")
    return CodeFix(
        template=NAME, path=target.path, before=target.source, after=after,
        title=f"Give `{var}` back exactly once in {target.path} ({name})",
        rationale=(f"`{name}` takes `{var}` on line {line_of(taken.statement)}, and {taken.problem}. The patch puts "
                   f"{how}" + (f"; the releases that sat on some paths ({'; '.join(removed)}) are folded into it, so "
                               "no path releases twice" if removed else "") + "."),
        lines=lines, language=language, function=name, moved=tuple(removed),
        flow=ReleaseFlow(line_of(taken.fn), var, tuple(taken.resource.acquire), tuple(taken.resource.release)),
        risk="medium",
    )
