"""Redaction of structured values: dicts, lists, pydantic models, as they leave for JSON, a store or a channel.

A value is judged with its key: `{"DB_PASSWORD": "hunter2"}` has no secret in
any one string, only in the pair. A list of strings is redacted as consecutive
lines, so a PEM key logged one line per element is masked as a block.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from tools.redaction.engine import Redactor, RuleSet, default_rules


def redact_value(value: Any, rules: RuleSet | None = None) -> Any:
    """A copy of `value` with every secret masked; the same type where it can be (models stay models)."""
    return _walk(value, rules or default_rules(), key=None)


def _walk(value: Any, rules: RuleSet, key: str | None) -> Any:
    if isinstance(value, str):
        return _string(value, rules, key)
    if isinstance(value, BaseModel):
        update = {}
        for name in type(value).model_fields:
            old = getattr(value, name, None)
            new = _walk(old, rules, name)
            if new is not old and new != old:
                update[name] = new
        return value.model_copy(update=update) if update else value
    if isinstance(value, dict):
        return {k: _walk(v, rules, k if isinstance(k, str) else None) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, str) for v in value):
            out = list(Redactor(rules).lines(value))
        else:
            out = [_walk(v, rules, key) for v in value]
        return type(value)(out) if isinstance(value, tuple) else out
    if isinstance(value, (set, frozenset)):
        return type(value)(_walk(v, rules, key) for v in value)
    return value


def _string(value: str, rules: RuleSet, key: str | None) -> str:
    if key is not None and "\n" not in value:
        strength = rules.judge.strength(key)
        if strength is not None and rules.judge.should_mask(strength, value):
            return rules.mask
    return Redactor(rules).text(value)
