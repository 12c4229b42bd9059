"""Secrets known by the name they sit under: keys, options, headers, Korean labels, program flags.

Detectors look for provider formats; an operator's own password has no format,
only a name (`DB_PASSWORD=…`, `--password …`, `비밀번호: …`, `mysql -p…`).
The names, labels and programs come from config/redaction.yaml; NameJudge
decides whether a value under a name is hidden.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

from tools.redaction.config import RedactionConfig
from tools.redaction.names import NameJudge, Strength
from tools.redaction.spans import Hits, Span, unquote

_VALUE = r"""(?P<value>\\"(?:[^"\\\n]|\\[^"])*\\"|"(?:[^"\\\n]|\\.)*"|'[^'\n]*'|<[^>\n]*>?|\(sensitive(?: value)?\)|[^\s,;&"'<>{}\[\]()|]+)"""
_ASSIGNMENT_TAIL = re.compile(r"""(?:\\?["'])?[ \t]*(?P<sep>:=|=>|=|:)(?![/=])[ \t]*""" + _VALUE)
_OPTION_TAIL = re.compile(r"""(?P<sep>=|[ \t]+)(?!-)""" + _VALUE)
_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-$@")
_BEFORE_KEY = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-/:")
_SET = re.compile(r"""(?i)\bset\s+(?P<key>[\w.\-]+)\s+""" + _VALUE)
_CONFIG_LINE = re.compile(r"""^\s*(?P<key>[\w.\-]+)[ \t]+""" + _VALUE + r"""\s*$""")
_SENTENCE = re.compile(r"""(?i)\b(?P<key>password|passphrase|passcode|pass ?word)\s+(?:is|was|to)\s+["'`]?(?P<value>[^\s"'`]+)""")
_ENV_PAIR = re.compile(
    r"""["']?name["']?\s*[:=]\s*["']?(?P<key>[\w.\-]+)["']?\s*,\s*["']?value["']?\s*[:=]\s*""" + _VALUE)
_AUTHORIZATION = re.compile(
    r"""(?i)\b(?P<key>(?:proxy-)?authori[sz]ation)\b\\?["']?\s*[:=]\s*\\?["']?(?:(?:bearer|basic|token|digest|negotiate|ntlm|apikey|sso-key|ssws|aws4-hmac-sha256|splunk)\s+)?(?P<value>[^"'\\\n]+)""")
_YAML_KEY_AT_START = re.compile(r"""^\s*(?:-\s+)?["']?$""")
_TF_ADDRESS = re.compile(r"^(?:module\.[\w-]+(?:\[[^\]]*\])?\.?)+$|^(?:module\.[\w\-\[\]\"]+\.)*(?:data\.)?[a-z][a-z0-9]*_[a-z0-9_]+\.[\w\-\[\]\"]+$")
_COMMENT = re.compile(r"\s+#.*$")
_SIZE = re.compile(r"^\d+ bytes$")


class _ValueJudging:
    """What every name rule does once it has a key and a value match."""

    judge: NameJudge
    name: str
    terraform_words: frozenset[str]

    def _span(self, line: str, key: str, key_start: int, m: re.Match[str], strength: Strength | None,
              rest_of_line: bool = False) -> Span | None:
        if strength is None:
            return None
        start, end = m.span("value")
        if rest_of_line and strength == "password" and m.group("sep") == ":" \
                and _YAML_KEY_AT_START.match(line[:key_start]) and line[start:start + 1] not in ("\"", "'"):
            end = start + len(_COMMENT.sub("", line[start:]).rstrip())  # `Password: correct horse battery`
        start, end = unquote(start, end, line)
        value = line[start:end]
        if self._terraform_line(key, value) or self._size(line, end, value):
            return None
        return Span(start, end, self.name) if self.judge.should_mask(strength, value) else None

    def _terraform_line(self, key: str, value: str) -> bool:
        """`module.secrets: create 3`, `aws_secretsmanager_secret.rds_password: Creating...`: a plan, not a value."""
        if not self.terraform_words or not value.strip():
            return False
        first = value.split(None, 1)[0].rstrip(".:").lower()
        return first in self.terraform_words and bool(_TF_ADDRESS.match(key.strip("\"'")))

    @staticmethod
    def _size(line: str, end: int, value: str) -> bool:
        """`kubectl describe secret` prints `password:  24 bytes`: a size, not the secret."""
        return (value.isdigit() and line[end:end + 6] == " bytes") or bool(_SIZE.match(value))


@dataclass
class KeyValueRule(_ValueJudging):
    """`KEY=value`, `key: value`, `"key": "value"`, `--key value`, `-storepass value`, found where a name word is.

    Starting from the trigger words' positions (not from every `a=b` in a line) keeps
    a log line full of `status=200 duration_ms=3` pairs cheap."""

    name: str
    triggers: tuple[str, ...]
    judge: NameJudge
    terraform_words: frozenset[str] = frozenset()
    _words: re.Pattern[str] | None = None

    def spans(self, line: str, hits: Hits | None = None) -> Iterator[Span]:
        if hits is None:
            words = self._words or re.compile("|".join(re.escape(w) for w in sorted(self.triggers, key=len, reverse=True)))
            self._words = words
            hits = [m.span() for m in words.finditer(line.lower())]
        done: set[int] = set()
        for hit_start, hit_end in hits:
            start, end = hit_start, hit_end
            while start > 0 and line[start - 1] in _KEY_CHARS:
                start -= 1
            while end < len(line) and line[end] in _KEY_CHARS:
                end += 1
            if start in done:
                continue
            done.add(start)
            span = self._at(line, start, end)
            if span is not None:
                yield span

    def _at(self, line: str, start: int, end: int) -> Span | None:
        key = line[start:end]
        if key.startswith("-"):
            name = key.lstrip("-")
            if len(name) < 2 or (len(key) - len(name)) > 2:
                return None
            m = _OPTION_TAIL.match(line, end)
            return self._span(line, name, start, m, self.judge.strength(name)) if m else None
        before = start
        if before and line[before - 1] in "\"'":
            before -= 1
            if before and line[before - 1] == "\\":
                before -= 1
        if before and line[before - 1] in _BEFORE_KEY:
            return None
        key = key.rstrip(".-")
        m = _ASSIGNMENT_TAIL.match(line, start + len(key))
        return self._span(line, key, before, m, self.judge.strength(key), rest_of_line=True) if m else None


@dataclass
class NamedRule(_ValueJudging):
    """A regex with `key` and `value` groups: the value is masked when the key is a secret's name."""

    name: str
    pattern: re.Pattern[str]
    triggers: tuple[str, ...]
    judge: NameJudge
    terraform_words: frozenset[str] = frozenset()
    fixed: Strength | None = None

    def spans(self, line: str, hits: Hits | None = None) -> Iterator[Span]:
        for m in self.pattern.finditer(line):
            span = self._span(line, m.group("key"), m.start("key"), m, self.fixed or self.judge.strength(m.group("key")))
            if span is not None:
                yield span


@dataclass
class KoreanLabelRule:
    """`비밀번호: …`, `암호는 …`, `API 키 = …`: a Korean label, a separator or particle, an ASCII value."""

    name: str
    pattern: re.Pattern[str]
    triggers: tuple[str, ...]
    judge: NameJudge
    strengths: dict[str, Strength]

    def spans(self, line: str, hits: Hits | None = None) -> Iterator[Span]:
        for m in self.pattern.finditer(line):
            label = re.sub(r"\s+", " ", m.group("label"))
            strength = self.strengths.get(label, "token")
            value = m.group("value")
            if not m.group("sep") and len(value) < 6:
                continue
            if self.judge.should_mask(strength, value.strip("\"'`“”")):
                start, end = unquote(*m.span("value"), line)
                yield Span(start, end, self.name)


@dataclass
class FlagRule:
    """`mysql -pSECRET`, `redis-cli -a SECRET`, `curl -u user:SECRET`: flags that carry a secret for some programs."""

    name: str
    pattern: re.Pattern[str]
    triggers: tuple[str, ...]

    def spans(self, line: str, hits: Hits | None = None) -> Iterator[Span]:
        for m in self.pattern.finditer(line):
            start, end = unquote(*m.span("value"), line)
            if end > start:
                yield Span(start, end, self.name)


def _programs(names: list[str]) -> str:
    return r"(?<![\w./-])(?:\S*/)?(?:" + "|".join(re.escape(p) for p in sorted(names, key=len, reverse=True)) + r")\b"


def _flag_rules(config: RedactionConfig) -> list[FlagRule]:
    rules: list[FlagRule] = []
    value = r"""(?P<value>"[^"\n]*"|'[^'\n]*'|[^\s"']+)"""
    between = r"""[^\n|;&]*?\s"""
    for flag, programs in config.flags.glued.items():
        pattern = re.compile(_programs(programs) + between + re.escape(flag) + r"(?=[^\s-])" + value)
        rules.append(FlagRule("mysql_p_flag" if flag == "-p" else "glued_flag", pattern, tuple(p.lower() for p in programs)))
    for flag, programs in config.flags.separate.items():
        pattern = re.compile(_programs(programs) + between + re.escape(flag) + r"[ \t]+(?!-)" + value)
        rules.append(FlagRule("flag_value", pattern, tuple(p.lower() for p in programs)))
    for flag, programs in config.flags.user_password.items():
        pattern = re.compile(_programs(programs) + between + re.escape(flag) + r"""(?:[ \t]+|=|(?<=-u)|(?<=-U))["']?[^\s:"']*:(?P<value>[^\s"']+)""")
        rules.append(FlagRule("user_password_flag", pattern, tuple(p.lower() for p in programs)))
    return rules


def _korean_rule(config: RedactionConfig, judge: NameJudge) -> KoreanLabelRule | None:
    labels = config.korean_labels
    strengths: dict[str, Strength] = {**{l: "token" for l in labels.token}, **{l: "password" for l in labels.password}}
    if not strengths:
        return None
    alternation = "|".join(r"\s*".join(re.escape(w) for w in label.split()) for label in sorted(strengths, key=len, reverse=True))
    pattern = re.compile(r"(?<![\uac00-\ud7a3])(?P<label>" + alternation + r")[\"']?\s*(?P<sep>[:=：]|은|는|을|를|이|가)?\s*"
                         r"""(?P<value>["'`“]?[!-~]+)""")
    triggers = tuple(sorted({label.split()[-1].lower() for label in strengths}))
    return KoreanLabelRule("korean_label", pattern, triggers, judge, strengths)


def named_rules(config: RedactionConfig, judge: NameJudge) -> list:
    """Every rule that reads a name, with the words that trigger it."""
    words = tuple(sorted({w.lower() for w in config.names.password + config.names.token + config.names.weak}
                         | {b.lower() for _, b in config.names.token_pairs}))
    tf = frozenset(w.lower() for w in config.terraform_words)
    rules: list = [
        KeyValueRule("password_assignment", words, judge, tf),
        NamedRule("secret_set", _SET, ("set",), judge),
        NamedRule("secret_config_line", _CONFIG_LINE, words, judge, tf),
        NamedRule("password_sentence", _SENTENCE, ("pass",), judge, fixed="token"),
        NamedRule("secret_env_pair", _ENV_PAIR, ("value",), judge),
        NamedRule("authorization_header", _AUTHORIZATION, ("authori",), judge, fixed="token"),
    ]
    korean = _korean_rule(config, judge)
    if korean is not None:
        rules.append(korean)
    return rules + _flag_rules(config)
