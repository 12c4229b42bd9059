"""The planner's parts, in the order words flow through them:

- lexicon.py: config/planner.yaml and the phrase matcher (Korean inside words, English on boundaries);
- text.py: normalisation, number words, values (t3.large, 10.30.0.0/16, "1.32"), amounts, clauses;
- rules.py: a request read into clauses and what kind of ask it is (order, question, hypothetical);
- interpret.py: a clause -> operations on paths below environments.<env> (or what is unclear);
- resolve.py: operations -> absolute values against the spec, constraints, one clarifying question;
- intents.py: the intent and the SpecChange, the environment rule, answers to questions (answer.py);
- clarify.py: questions in the asker's language; llm.py: the triage model as a checked second reader.

agents/planner.py is the graph node that puts them together."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agents.planning.lexicon import load_lexicon, matcher_for
from agents.planning.intents import plan_from_reading
from agents.planning.resolve import RulesPlan
from agents.planning.rules import Reading, read_request


def ec2_aliases(spec: dict[str, Any]) -> dict[str, list[str]]:
    """The spec's own EC2 instance names, so "batch 서버" finds environments.*.ec2.batch."""
    names: dict[str, list[str]] = {}
    for env in (spec.get("environments") or {}).values():
        for name in ((env or {}).get("ec2") or {}):
            names.setdefault(str(name), [])
    return names


def read_words(text: str, spec: dict[str, Any], config_dir: str | Path) -> Reading:
    lex = load_lexicon(config_dir)
    return read_request(text, lex, matcher_for(config_dir, ec2_aliases(spec)))


def plan_by_rules(text: str, spec: dict[str, Any], request_env: str = "dev", env_explicit: bool = True,
                  config_dir: str | Path | None = None) -> RulesPlan:
    """The offline planner: words and the current spec in, a SpecChange (or one question) out."""
    if config_dir is None:
        from config.settings import get_settings

        config_dir = get_settings().config_dir
    reading = read_words(text, spec, config_dir)
    return plan_from_reading(reading, spec, request_env, env_explicit)


__all__ = ["plan_by_rules", "read_words", "RulesPlan", "Reading"]
