"""Named SQL queries with typed parameters: rendered safely, and recognised in free-form statements.

Database clients have no bind parameters on their command line (`mysql -e`,
`psql -c`), so a parameter becomes a literal only after its type has
validated it, and a value may never carry a quote, a backslash, a semicolon
or a comment marker. The rendered statement is then tokenised with sqlglot in
the server's dialect and must have exactly the template's shape: one literal
per slot, nothing more. Free-form statements (an operator's `mysql -e "SHOW
FULL PROCESSLIST"`) are matched to a template token by token, as the server
would read them; matching only picks the tool — what runs is always the
tool's own rendering, never the matched text.
"""

from __future__ import annotations

import re
from typing import Any

import sqlglot
from sqlglot.tokens import Token, TokenType

_SLOT = re.compile(r"\{([a-z_][a-z0-9_]*)(:raw)?\}")  # {name:raw}: a bare word in the statement (`SHOW max_connections`)
_UNSAFE_IN_LITERAL = re.compile(r"['\"\\;`\x00-\x1f]|--|/\*|#")
_SENTINEL_INT_BASE = 970_000_000_000
LITERALS = (TokenType.STRING, TokenType.NUMBER)


class SqlTemplateError(ValueError):
    pass


def _tokens(sql: str, dialect: str) -> list[Token]:
    try:
        return list(sqlglot.tokenize(sql, read=dialect or None))
    except Exception as exc:  # sqlglot raises its own TokenError, among others
        raise SqlTemplateError(f"SQL does not tokenize: {str(exc).splitlines()[0][:120]}") from None


def _trim(statement: str) -> str:
    text = statement.strip()
    if text.endswith("\\G"):  # mysql's vertical-output terminator
        text = text[:-2].rstrip()
    return text.rstrip(";").rstrip()


def _same(a: Token, b: Token) -> bool:
    if a.token_type != b.token_type:
        return False
    if a.token_type in (TokenType.STRING, TokenType.NUMBER):
        return a.text == b.text
    return a.text.upper() == b.text.upper()


class SqlTemplate:
    """`SHOW GLOBAL STATUS LIKE {name}`: slots are filled with typed literals."""

    def __init__(self, template: str, *, dialect: str = ""):
        self.template = template
        self.dialect = dialect
        self.slots = [name for name, _ in _SLOT.findall(template)]

    def _with(self, values: dict[str, Any]) -> str:
        def fill(m: re.Match[str]) -> str:
            value = values[m.group(1)]
            if m.group(2):
                if isinstance(value, int) and value >= _SENTINEL_INT_BASE:
                    value = f"__slot_{m.group(1)}__"
                if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(value)):
                    raise SqlTemplateError(f"{m.group(1)}: a bare word here")
                return str(value)
            if isinstance(value, bool):
                raise SqlTemplateError(f"{m.group(1)}: a boolean is not a SQL literal here")
            if isinstance(value, int):
                return str(value)
            text = str(value)
            if _UNSAFE_IN_LITERAL.search(text):
                raise SqlTemplateError(f"{m.group(1)}: a value in a query may not contain quotes, backslashes, ';' or comment markers")
            return "'" + text + "'"

        return _SLOT.sub(fill, self.template)

    def _sentinels(self) -> dict[str, Any]:
        return {name: f"__slot_{name}__" for name in self.slots}

    def render(self, params: dict[str, Any]) -> str:
        """The statement to send; its token shape is checked against the template's."""
        statement = self._with(params)
        shape = self._with({k: (_SENTINEL_INT_BASE + i if isinstance(params.get(k), int) and not isinstance(params.get(k), bool) else f"__slot_{k}__")
                            for i, k in enumerate(self.slots)})
        got, want = _tokens(statement, self.dialect), _tokens(shape, self.dialect)
        if len(got) != len(want) or any(g.token_type != w.token_type for g, w in zip(got, want)):
            raise SqlTemplateError("the rendered query does not keep the template's shape")
        return statement

    def match(self, statement: str) -> dict[str, str | int] | None:
        """The slot values when `statement` is this query (as the server reads it), else None."""
        text = _trim(statement)
        if not text or ";" in text or "\\" in text:
            return None
        try:
            got = _tokens(text, self.dialect)
        except SqlTemplateError:
            return None
        if any(t.comments for t in got):
            return None
        for shape_values in (self._sentinels(), {k: _SENTINEL_INT_BASE + i for i, k in enumerate(self.slots)}):
            want = _tokens(self._with(shape_values), self.dialect)
            found = self._unify(want, got)
            if found is not None:
                return found
        return self._unify_mixed(got)

    def _unify(self, want: list[Token], got: list[Token]) -> dict[str, str | int] | None:
        if len(want) != len(got):
            return None
        found: dict[str, str | int] = {}
        for w, g in zip(want, got):
            slot = self._slot_of(w)
            if slot is not None:
                if g.token_type not in LITERALS and not (w.token_type == TokenType.VAR and g.token_type == TokenType.VAR):
                    return None
                found[slot] = int(g.text) if g.token_type == TokenType.NUMBER and g.text.isdigit() else g.text
            elif not _same(w, g):
                return None
        return found

    def _unify_mixed(self, got: list[Token]) -> dict[str, str | int] | None:
        """Templates with both string and number slots: try each slot as either literal kind."""
        if len(self.slots) < 2:
            return None
        from itertools import product

        for kinds in product((0, 1), repeat=len(self.slots)):
            values = {k: (_SENTINEL_INT_BASE + i if kind else f"__slot_{k}__") for i, (k, kind) in enumerate(zip(self.slots, kinds))}
            found = self._unify(_tokens(self._with(values), self.dialect), got)
            if found is not None:
                return found
        return None

    def _slot_of(self, token: Token) -> str | None:
        if token.token_type in (TokenType.STRING, TokenType.VAR) and token.text.startswith("__slot_") and token.text.endswith("__"):
            return token.text[len("__slot_"):-2]
        if token.token_type == TokenType.NUMBER and token.text.isdigit() and int(token.text) >= _SENTINEL_INT_BASE:
            index = int(token.text) - _SENTINEL_INT_BASE
            return self.slots[index] if index < len(self.slots) else None
        return None
