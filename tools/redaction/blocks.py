"""Secrets that span lines: PEM private keys, Kubernetes Secret data, env name/value pairs.

A log shipper splits a PEM key into one line per record, `kubectl get secret
-o yaml` puts each base64 value on its own line under `data:`, a pod spec puts
`value:` on the line after `name: DB_PASSWORD`. No single line says "secret",
so a `BlockState` carries what the previous lines said to the next ones. It
is fed lines in order, whether they come as one text or one at a time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tools.redaction.names import NameJudge, is_base64_secret
from tools.redaction.spans import Span, unquote

_PEM_BEGIN = re.compile(r"-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----")
_PEM_END = re.compile(r"-----END ((?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----")
_B64_LINE = re.compile(r"^[A-Za-z0-9+/=]+$")
_B64_TAIL = re.compile(r"[A-Za-z0-9+/=]{4,}(?=\\n|\s*$|\"|')")
_YAML_DATA = re.compile(r"^(?P<indent>\s*)(?P<kind>data|stringData|binaryData):\s*$")
_JSON_DATA_OPEN = re.compile(r"\"(?P<kind>data|stringData|binaryData)\"\s*:\s*\{\s*$")
_JSON_DATA_INLINE = re.compile(r"\"(?P<kind>data|stringData|binaryData)\"\s*:\s*\{(?P<body>[^{}]*)\}")
_JSON_STRING_VALUE = re.compile(r"\"[^\"\n]+\"\s*:\s*\"(?P<value>[^\"\n]*)\"")
_YAML_ENTRY = re.compile(r"^\s*[\w.\-]+:[ \t]*(?P<value>\S.*?)\s*$")
# a log prefix may stand before either line (`2026-… ERROR     - name: DB_PASSWORD`)
_ENV_NAME = re.compile(r"""(?:^|\s)(?:-\s+)?["']?name["']?\s*:\s*["']?(?P<key>[\w.\-]+)["']?\s*,?\s*$""")
_ENV_VALUE = re.compile(r"""(?:^|\s)["']?value["']?\s*:\s*(?P<value>"(?:[^"\\]|\\.)*"|'[^']*'|\S.*?)\s*,?\s*$""")
_MAX_PEM_LINES = 400
_MAX_MISSES = 3


@dataclass
class BlockState:
    """What the lines so far opened: a PEM key, a Secret's data, a secret-named env var."""

    judge: NameJudge
    pem_lines: int = 0
    pem_misses: int = 0
    data_indent: int = -1
    data_kind: str = ""
    json_data_kind: str = ""
    pending_name: str = ""
    _spans: list[Span] = field(default_factory=list)

    @property
    def active(self) -> bool:
        """Whether the next line must be read even if it holds no trigger word."""
        return bool(self.pem_lines or self.data_kind or self.json_data_kind or self.pending_name)

    def spans(self, line: str, low: str) -> list[Span]:
        """Spans to mask in `line` (`low` is its lower-case copy), updating the state for the next line."""
        out: list[Span] = []
        self._pem(line, out)
        self._yaml_data(line, out)
        self._json_data(line, low, out)
        self._env_pair(line, out)
        return out

    # ------------------------------------------------------------------ PEM

    def _pem(self, line: str, out: list[Span]) -> None:
        if self.pem_lines:
            end = _PEM_END.search(line)
            self.pem_lines -= 1
            if end:
                self.pem_lines = 0
                tail = _B64_TAIL.search(line[:end.start()] + "\n")
                if tail and tail.start() < end.start():
                    out.append(Span(tail.start(), end.start(), "private_key"))
                return
            stripped = line.strip()
            if stripped and _B64_LINE.match(stripped):
                out.append(Span(line.index(stripped), line.index(stripped) + len(stripped), "private_key"))
                self.pem_misses = 0
                return
            token = stripped.rsplit(None, 1)[-1] if stripped else ""
            if token and _B64_LINE.match(token) and len(token) >= 4:
                start = line.rindex(token)
                out.append(Span(start, start + len(token), "private_key"))
                self.pem_misses = 0
                return
            if stripped.split(":", 1)[0] in ("Proc-Type", "DEK-Info", "Comment"):  # headers of an encrypted key
                out.append(Span(line.index(stripped), len(line), "private_key"))
                return
            self.pem_misses += 1
            if self.pem_misses > _MAX_MISSES:
                self.pem_lines = 0
            return
        for begin in _PEM_BEGIN.finditer(line):
            end = _PEM_END.search(line, begin.end())
            if end:
                out.append(Span(begin.end(), end.start(), "private_key"))
            else:
                out.append(Span(begin.end(), len(line), "private_key"))
                self.pem_lines, self.pem_misses = _MAX_PEM_LINES, 0

    # ------------------------------------------------------- Kubernetes data

    def _yaml_data(self, line: str, out: list[Span]) -> None:
        if self.data_kind:
            if not line.strip():
                return
            indent = len(line) - len(line.lstrip())
            if indent <= self.data_indent:
                self.data_kind, self.data_indent = "", -1
            else:
                entry = _YAML_ENTRY.match(line)
                if self.data_kind != "data":  # stringData / binaryData: every value and nested line
                    start = entry.start("value") if entry else indent
                    out.append(Span(*unquote(start, len(line.rstrip()), line), "kubernetes_secret_data"))
                elif entry and is_base64_secret(entry.group("value").strip("\"'")):
                    out.append(Span(*unquote(*entry.span("value"), line), "kubernetes_secret_data"))
                return
        m = _YAML_DATA.match(line)
        if m:
            self.data_kind, self.data_indent = m.group("kind"), len(m.group("indent"))

    def _json_data(self, line: str, low: str, out: list[Span]) -> None:
        if self.json_data_kind:
            for v in _JSON_STRING_VALUE.finditer(line):
                if self.json_data_kind != "data" or is_base64_secret(v.group("value")):
                    out.append(Span(*v.span("value"), "kubernetes_secret_data"))
            if "}" in line:
                self.json_data_kind = ""
            return
        if "data" not in low:
            return
        for block in _JSON_DATA_INLINE.finditer(line):
            base = block.start("body")
            for v in _JSON_STRING_VALUE.finditer(block.group("body")):
                if block.group("kind") != "data" or is_base64_secret(v.group("value")):
                    out.append(Span(base + v.start("value"), base + v.end("value"), "kubernetes_secret_data"))
        m = _JSON_DATA_OPEN.search(line)
        if m:
            self.json_data_kind = m.group("kind")

    # ------------------------------------------------------------ env pairs

    def _env_pair(self, line: str, out: list[Span]) -> None:
        if self.pending_name:
            strength = self.judge.strength(self.pending_name)
            self.pending_name = ""
            m = _ENV_VALUE.search(line)
            if m and strength:
                start, end = unquote(*m.span("value"), line)
                if self.judge.should_mask(strength, line[start:end]):
                    out.append(Span(start, end, "secret_env_pair"))
                return
        m = _ENV_NAME.search(line)
        if m and self.judge.strength(m.group("key")) in ("password", "token"):
            self.pending_name = m.group("key")
