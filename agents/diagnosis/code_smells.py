"""Code that leaks connections or calls the network without a timeout: evidence for a code patch.

Heuristics over the repository files a scenario (or a checkout) provides:
an acquire with no release on every path, a release that an early return or
throw skips, an HTTP call with no timeout. They point the code healer at a
file and line; they do not prove a bug alone, so the analyzers give them
moderate weight.
"""

from __future__ import annotations

import re

from pydantic import BaseModel

from agents.diagnosis.facts import Facts

SOURCE_SUFFIXES = (".js", ".ts", ".mjs", ".cjs", ".py", ".go", ".java", ".kt", ".rb", ".php", ".cs")
_ACQUIRE = re.compile(
    r"\b(?:\w*pool|db|database|client|conn\w*|knex|sequelize|mysql|pg)\.(?:getConnection|connect|acquire|getconn|get_connection|checkout)\s*\(|"
    r"\b(?:psycopg2?|pymysql|mysql\.connector|sqlite3|MySQLdb)\.connect\s*\(|\bDriverManager\.getConnection\s*\(|\bdb\.Conn\s*\(|\bnet\.Dial\w*\s*\(")
_RELEASE = re.compile(r"\.(?:release|end|destroy|close|putconn|release_connection|Close)\s*\(|\bputconn\s*\(|\bdefer\s+\w+\.Close\(\)")
_SAFE_SCOPE = re.compile(r"\bfinally\b|\bwith\s+[^:\n]*(?:connect|acquire|getconn|connection)\b|\btry\s*\(|\bdefer\b|\busing\s*\(|\.transaction\s*\(|\bpool\.query\s*\(")
_EARLY_EXIT = re.compile(r"\breturn\b|\bthrow\b|\braise\b|\bnext\s*\(\s*err|\bcontinue\b")
_HTTP_CALL = re.compile(
    r"\bfetch\s*\(|\baxios(?:\.(?:get|post|put|patch|delete|request))?\s*\(|\bhttps?\.(?:get|request)\s*\(|"
    r"\brequests\.(?:get|post|put|patch|delete|request|head)\s*\(|\burlopen\s*\(|\burllib\.request\.urlopen\s*\(|"
    r"\bhttp\.(?:Get|Post|Head)\s*\(|&http\.Client\s*\{\s*\}|http\.DefaultClient|\bHttpClient\.newHttpClient\s*\(|\bgot\s*\(|\bsuperagent\.")
_DISABLED_TIMEOUT = re.compile(r"\b(?:headersTimeout|bodyTimeout|requestTimeout|socketTimeout|readTimeout|timeout)\s*[:=]\s*(?:0|None|null|Infinity)\b")
_TIMEOUT = re.compile(r"timeout|signal\s*:|AbortSignal|AbortController|deadline|WithTimeout|setTimeout|connectTimeout|readTimeout", re.I)


class CodeSmell(BaseModel):
    kind: str  # connection_leak | missing_timeout
    file: str
    line: int
    snippet: str
    why: str


class CodeFacts(Facts):
    parser: str = "code"
    file: str
    smells: list[CodeSmell] = []

    def summary(self) -> str:
        if not self.smells:
            return f"{self.file}: nothing suspicious"
        s = self.smells[0]
        return f"{self.file}:{s.line}: {s.why}" + (f" (+{len(self.smells) - 1} more)" if len(self.smells) > 1 else "")


def _call_text(lines: list[str], start: int, limit: int = 8) -> str:
    """The call starting at `start` up to its closing parenthesis (bounded)."""
    depth = 0
    out = []
    for line in lines[start: start + limit]:
        out.append(line)
        depth += line.count("(") + line.count("{") - line.count(")") - line.count("}")
        if depth <= 0 and len(out) > 0 and ("(" in "".join(out)):
            break
    return "\n".join(out)


def find_code_smells(path: str, text: str) -> CodeFacts | None:
    """Smells in one source file, or None for files we do not read."""
    if not path.endswith(SOURCE_SUFFIXES) or "test" in path.lower().split("/")[-1]:
        return None
    lines = text.splitlines()
    smells: list[CodeSmell] = []
    file_timeout_default = bool(re.search(r"axios\.create\s*\(\s*\{[^}]*\btimeout\s*:\s*[1-9]|defaults\.timeout\s*=\s*[1-9]|\bTimeout:\s*[1-9]|\btimeout\s*=\s*[1-9]", text))
    for i, line in enumerate(lines):  # timeouts switched off explicitly (undici headersTimeout: 0, requests timeout=None)
        m = _DISABLED_TIMEOUT.search(line)
        if m:
            smells.append(CodeSmell(kind="missing_timeout", file=path, line=i + 1, snippet=line.strip()[:160],
                                    why=f"a client timeout is switched off ({m.group(0).strip()})"))
            break
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith(("//", "#", "*", "/*")):
            continue
        if _ACQUIRE.search(line):
            window = lines[i + 1: i + 40]
            release_at = next((k for k, l in enumerate(window) if _RELEASE.search(l)), None)
            scope = "\n".join(lines[max(0, i - 3): i + 40])
            if release_at is None and not _SAFE_SCOPE.search(scope):
                smells.append(CodeSmell(kind="connection_leak", file=path, line=i + 1, snippet=stripped[:160],
                                        why="a connection is acquired and never released"))
            elif release_at is not None and not _SAFE_SCOPE.search(scope):
                between = window[:release_at]
                if any(_EARLY_EXIT.search(l) for l in between):
                    smells.append(CodeSmell(kind="connection_leak", file=path, line=i + 1, snippet=stripped[:160],
                                            why="the connection is released only on the success path (an early return/throw skips release)"))
        if _HTTP_CALL.search(line) and not file_timeout_default:
            call = _call_text(lines, i)
            if not _TIMEOUT.search(call):
                smells.append(CodeSmell(kind="missing_timeout", file=path, line=i + 1, snippet=stripped[:160],
                                        why="an outbound HTTP call has no timeout"))
    return CodeFacts(file=path, smells=smells[:10]) if smells else None
