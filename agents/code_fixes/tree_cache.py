"""memory_leak, JavaScript/TypeScript: a module-level Map that only grows becomes a bounded Map.

The shape: `const cache = new Map()` at module level, written with
`cache.set(...)` and never shrunk (no `delete` or `clear`). After each
`cache.set(...)` statement the oldest entry goes once the Map holds more
than the bound (config/code_fixes.yaml `memory_leak.max_entries`), kept in a
named constant beside the Map. A Map keeps insertion order, so the entry
dropped is the one set longest ago.
"""

from __future__ import annotations

import re

from tree_sitter import Node

from agents.code_fixes.base import CodeFix, FixConfig, FixTarget, NoFix, Site, choose_sites
from agents.code_fixes.syntax import (Edit, alone_on_its_lines, apply_edits, callee_parts, enclosing_function,
                                      function_span, indent_at, language_of, line_end, line_of, parse_or_refuse,
                                      text_of, walk)

NAME = "js_bounded_map"


def _maps(root: Node) -> dict[str, Node]:
    found = {}
    for stmt in root.named_children:
        if stmt.type == "export_statement" and stmt.named_children:
            stmt = stmt.named_children[0]
        if stmt.type not in ("lexical_declaration", "variable_declaration"):
            continue
        for d in stmt.named_children:
            value = d.child_by_field_name("value") if d.type == "variable_declarator" else None
            if value is not None and value.type == "new_expression" and text_of(value.child_by_field_name("constructor")) == "Map":
                args = value.child_by_field_name("arguments")
                if args is None or not args.named_children:
                    found[text_of(d.child_by_field_name("name"))] = stmt
    return found


def _constant_name(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).upper().lstrip("_") + "_MAX_ENTRIES"


def fix_js_cache(target: FixTarget, config: FixConfig) -> CodeFix:
    language = language_of(target.path)
    if language not in ("javascript", "typescript", "tsx"):
        raise NoFix(f"{target.path} is not JavaScript or TypeScript")
    bound = int(config.get("memory_leak", "max_entries", 1024))
    tree = parse_or_refuse(language, target.path, target.source)
    root, source = tree.root_node, target.source.encode("utf-8")
    sites = []
    for name, decl in _maps(root).items():
        calls = [c for c in walk(root) if c.type == "call_expression" and callee_parts(c)[0] == name]
        verbs = {callee_parts(c)[1] for c in calls}
        sets = [c for c in calls if callee_parts(c)[1] == "set"]
        if not sets or verbs & {"delete", "clear"}:
            continue
        fn = enclosing_function(sets[0])
        fname, start, end = function_span(fn, line_of(root) + root.end_point[0])
        sites.append(Site(fname, start, end, line_of(decl), (name, decl, sets)))
    chosen = choose_sites(sites, target.line, "module-level Map that only grows", target.path)
    name, decl, sets = chosen[0].data
    constant = _constant_name(name)
    edits = [Edit(line_end(source, decl.end_byte), line_end(source, decl.end_byte), f"const {constant} = {bound};\n")]
    for call in sets:
        stmt = call.parent
        if stmt is None or stmt.type != "expression_statement" or not alone_on_its_lines(source, stmt):
            raise NoFix(f"`{text_of(call)}` on line {line_of(call)} is not a statement of its own; a person should bound `{name}`")
        pad = indent_at(source, stmt.start_byte)
        at = line_end(source, stmt.end_byte)
        edits.append(Edit(at, at, f"{pad}if ({name}.size > {constant}) {name}.delete({name}.keys().next().value);\n"))
    after = apply_edits(target.source, edits)
    set_lines = [line_of(c) for c in sets]
    return CodeFix(
        template=NAME, path=target.path, before=target.source, after=after,
        title=f"Bound the `{name}` Map in {target.path} to {bound} entries",
        rationale=(f"`{name}` (line {line_of(decl)}) is filled with `{name}.set(...)` (line "
                   f"{', '.join(map(str, set_lines))}) and nothing ever deletes from it: the process grows with every "
                   f"distinct key. After each set, the oldest entry is dropped once it holds more than `{constant}` "
                   f"({bound}) entries."),
        lines=(min(set_lines), max(set_lines) + 1), extra_lines=((line_of(decl), line_of(decl) + 1),),
        language=language, function=chosen[0].function, risk="low",  # type: ignore[arg-type]
    )
