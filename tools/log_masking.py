"""Read log lines by their SHAPE, never by system: prefixes, levels, variables.

`parse_line` takes a timestamp prefix and a level off a raw line. The masker
replaces the variable parts of a message with `<*>`.

Template mining only works when the parts of a message that change from line
to line (ids, numbers, addresses, paths, times, sizes) are replaced by one
wildcard first; otherwise every request id starts a new template. The rules
here recognise shapes that mean "a value" in any log: anything with a digit
(except short names such as `en0`, `ssh2`, `SOCKS5`, which are usually
constants), hex ids, IPs and `host:port`, URLs and paths, dates and times,
sizes and durations with their unit, quoted values after `=`, booleans,
hostnames, e-mail addresses, empty `()`/`[]` (an empty value is still a value).
There is deliberately no per-system regex: one configuration must group
Loghub's 16 systems well (see benchmarks/bench_logs.py).
"""

from __future__ import annotations

import re

WILDCARD = "<*>"

_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*"
_WEEKDAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*"

# Whole-line rules, for values that contain spaces. Each has a cheap pre-check
# (a substring the shape needs) so most lines skip the regex.
_LINE_RULES: list[tuple[str, re.Pattern[str], str]] = [
    # syslog and ctime dates: "Fri Jun 17 07:07:00 2005", "Jun  1 07:57:30".
    (":", re.compile(
        rf"(?<![\w.])(?:{_WEEKDAY},?\s+)?{_MONTH}\s+\d{{1,2}},?\s+\d{{1,2}}:\d{{2}}(?::\d{{2}}(?:[.,]\d+)?)?(?:\s+\d{{4}})?"),
     f" {WILDCARD} "),
    # quoted values of assignments: tag="View Lock".
    ('="', re.compile(r'(?<==)"[^"]*"'), f'"{WILDCARD}"'),
    ("='", re.compile(r"(?<==)'[^']*'"), f"'{WILDCARD}'"),
]

# Token rules, applied before the token is split at delimiters.
# URLs and paths with at least two slashes (a single `/x` is handled per piece).
_PATH = re.compile(r"(?:(?<=[=:\"'(\[,])|^)(?:[A-Za-z][\w+.-]*://[^\s\"'<>]+|(?:[~.]{0,2}/[^\s\"'<>/]*)+/[^\s\"'<>]*)")
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# A unit right after a number belongs to the value: "1190 bytes (1.16 KB)" is one value.
_UNITS = frozenset(
    "B KB MB GB TB PB KiB MiB GiB TiB byte bytes ms us µs ns s sec secs second seconds min mins minute minutes "
    "h hour hours m d day days %".split())
_VALUE_RUN = re.compile(
    r"<\*>(?: (?:<\*>|(?:" + "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True)) + r")[)\]},;:.]*)(?= |$))+")

# Delimiters inside a token: `uid=0`, `(HWID=1973)`, `host:port,`. Masking the
# pieces keeps the constant key (`uid=`) and hides the value.
_DELIMITERS = re.compile(r"([=:,;()\[\]{}\"'<>|@#])")
_D = r"=:,;()\[\]{}\"'<>|@#"
_DELIMITER_CHARS = frozenset("=:,;()[]{}\"'<>|@#")
# A piece (between delimiters) with a digit is a value, unless it is a short name (en0, ssh2).
_DIGIT_PIECE = re.compile(rf"(?<![^{_D}])(?![A-Za-z]{{2,}}\d{{1,2}}(?:[{_D}]|$))[^{_D}]*\d[^{_D}]*")
# Pieces without digits that may still be values: booleans, hex ids, hostnames, paths.
_WORD_VALUE_HINT = re.compile(r"true|false|null|None|nil|TRUE|FALSE|NULL|True|False|[0-9a-fA-F]{8}|\.[A-Za-z]|/")
_HEX_ID = re.compile(r"(?:0x)?[0-9a-fA-F]{8,}")
_SHORT_NAME = re.compile(r"[A-Za-z]{2,}\d{1,2}")  # en0, eth1, ssh2, SOCKS5, IPV4
_IPV6 = re.compile(r"[\[(]?(?:[0-9a-fA-F]{0,4}:){2,7}[0-9a-fA-F]{0,4}(?:%\w+)?[\])]?[,;.]?")
_HOSTNAME = re.compile(r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_TLDS = frozenset(
    "com net org edu gov mil int io co uk de fr jp cn hk ru br in au ca nl eu us info biz local internal "
    "lan corp svc cluster om".split())
_BOOLEANS = frozenset("true false True False TRUE FALSE null NULL None nil".split())
_WILDCARD_RUN = re.compile(r"(?:<\*>){2,}")
_EMPTY = frozenset({"()", "[]", "{}", '""', "''", "<>"})
_HAS_DIGIT = re.compile(r"\d").search
_HAS_LETTER = re.compile(r"[A-Za-z]").search


def _mask_piece(piece: str) -> str:
    if not piece:
        return piece
    if _HAS_DIGIT(piece):
        return piece if _SHORT_NAME.fullmatch(piece) else WILDCARD
    if piece in _BOOLEANS or _HEX_ID.fullmatch(piece):
        return WILDCARD
    if "." in piece and _HOSTNAME.fullmatch(piece) and piece.rsplit(".", 1)[1].lower() in _TLDS:
        return WILDCARD
    if piece[0] == "/" and len(piece) > 1:
        return WILDCARD
    return piece


def _mask_token(token: str) -> str:
    if token.isalpha():
        return WILDCARD if token in _BOOLEANS or _HEX_ID.fullmatch(token) else token
    if token.isdigit():
        return WILDCARD
    if token in _EMPTY:
        return WILDCARD
    if not _HAS_LETTER(token):  # numbers, IPs, times, "-" and "|" separators
        return WILDCARD if _HAS_DIGIT(token) else token
    if _DELIMITER_CHARS.isdisjoint(token) and "/" not in token:  # one piece: value or word
        return _mask_piece(token)
    key, eq, value = token.partition("=")
    if (eq and key.isidentifier() and value and _DELIMITER_CHARS.isdisjoint(value)
            and (value[0] == "/" or (_HAS_DIGIT(value) and not _SHORT_NAME.fullmatch(value)))):
        return key + "=" + WILDCARD  # the common key=value with a numeric, id or path value
    if "/" in token:
        token = _PATH.sub(WILDCARD, token)
    if "@" in token:
        token = _EMAIL.sub(WILDCARD, token)
    if ":" in token and _IPV6.fullmatch(token) and _HAS_DIGIT(token):
        return WILDCARD
    masked = _DIGIT_PIECE.sub(WILDCARD, token) if _HAS_DIGIT(token) else token
    if _WORD_VALUE_HINT.search(masked):
        parts = _DELIMITERS.split(masked)
        masked = "".join(_mask_piece(p) if i % 2 == 0 else p for i, p in enumerate(parts))
    if WILDCARD in masked:
        masked = _WILDCARD_RUN.sub(WILDCARD, masked)
        if not _HAS_LETTER(masked.replace(WILDCARD, "")):  # only values and punctuation left
            return WILDCARD
    return masked


class ShapeMasker:
    """Turns a message into masked tokens; caches per-token results (bounded),
    because the same words recur on most lines of a log."""

    def __init__(self, cache_size: int = 200_000):
        self._cache: dict[str, str] = {}
        self._cache_size = cache_size

    def tokens(self, message: str) -> list[str]:
        for needs, pattern, replacement in _LINE_RULES:
            if needs in message:
                message = pattern.sub(replacement, message)
        cache = self._cache
        raw = message.split()
        masked = [cache.get(token) for token in raw]
        if None in masked:
            if len(cache) >= self._cache_size:
                cache.clear()
            for i, token in enumerate(raw):
                if masked[i] is None:
                    masked[i] = cache[token] = _mask_token(token)
        if WILDCARD not in masked:
            return masked
        # a value that spans several words ("1.16 KB", "Jun 17") is still one value
        text = " ".join(masked)
        if "<*> " in text:
            text = _VALUE_RUN.sub(WILDCARD, text)
        return text.split(" ")


# ------------------------------------------------------------- line prefixes

_SEVERITY = {"fatal": 4, "panic": 4, "emerg": 4, "emergency": 4, "alert": 4, "crit": 4, "critical": 4,
             "severe": 4, "error": 4, "err": 4, "warning": 3, "warn": 3, "notice": 2, "info": 2,
             "information": 2, "debug": 1, "trace": 1}

_TIMESTAMP = re.compile(
    r"\[?(?P<ts>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?"
    r"|[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2}(?:\.\d+)? \d{4}"
    r"|[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2})\]?[\s,]*")
# Level words as they appear as a token near the start of a line: ERROR, [error], <WARN>, INFO:
_LEVEL_TOKENS = {
    form.format(word=w): sev
    for word, sev in _SEVERITY.items()
    for w in (word.upper(), word) if w.isupper() or word != "err"
    for form in (("{word}", "{word}:", "[{word}]", "<{word}>", "{word},", "({word})", "|{word}|")
                 if w.isupper() else ("[{word}]", "<{word}>", "level={word}"))
}
_LEVEL_KEY = re.compile(r"(?i)\b(?:level|lvl|severity)\"?\s*[=:]\s*\"?([A-Za-z]+)")
_ERROR_WORDS = re.compile(
    r"\b(?:errors?|exception|traceback|fatal|panic|fail(?:ed|ure|ing)?|refused|denied|timed? ?out|unreachable"
    r"|out of memory|oom|segfault|killed|cannot|could not|unable to)\b", re.I)
_WARN_WORDS = re.compile(r"\b(?:warn(?:ing)?|deprecated|retry(?:ing)?|slow|throttl\w*)\b", re.I)


def parse_line(line: str) -> tuple[str | None, int, str]:
    """(timestamp or None, severity 0..4, message without the timestamp prefix).
    The level is an explicit level word near the start (ERROR, [warn], level=info), else
    inferred from words that mean trouble (failed, refused, exception / retrying, slow)."""
    ts = None
    first = line[:1]
    if first.isdigit() or first == "[" or first.isupper():
        m = _TIMESTAMP.match(line)
        if m:
            ts, line = m.group("ts"), line[m.end():]
    head = line[:160]
    for token in head.split(None, 6)[:6]:
        severity = _LEVEL_TOKENS.get(token)
        if severity is not None:
            return ts, severity, line
    if "lvl" in head or "evel" in head or "everity" in head:
        m = _LEVEL_KEY.search(head)
        if m:
            return ts, _SEVERITY.get(m.group(1).lower(), 0), line
    if _ERROR_WORDS.search(head):
        return ts, 4, line
    if _WARN_WORDS.search(head):
        return ts, 3, line
    return ts, 0, line


def mask_message(message: str) -> str:
    """The message with its variable parts replaced by `<*>` (for tests and tools)."""
    return " ".join(ShapeMasker(cache_size=1024).tokens(message))
