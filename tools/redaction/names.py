"""Is this name one a secret sits under, and is this value one to hide?

A name is read per component ("DB_PASSWORD", "dbPassword", "db-password" and
"db.password" all have the component `password`), so ordinary words stay
readable: `passed`, `bypass`, `tokens`, `PWD` (the shell's working directory),
`SECRET_NAME` (a descriptor: it names a secret, it does not hold one).
Three strengths decide how much a value must look like a secret before it is
masked: `password` masks anything, `token` spares plain words and numbers,
`weak` (`key`, `auth`, as the last component only) masks only random-looking values.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Literal

from tools.redaction.config import RedactionConfig

Strength = Literal["password", "token", "weak"]

_SPLIT = re.compile(r"[^A-Za-z0-9\uac00-\ud7a3]+")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+|[\uac00-\ud7a3]+")
_LONG_PASSWORD_WORDS = ("password", "passwd", "passphrase")
_REFERENCE = re.compile(r"^(?:\$\{.*\}|\$\(.*\)|\$[A-Za-z_]\w*|\{\{.*\}\}|\{%.*%\}|<.*>?|%\(\w+\)s|#\{.*\}|@Microsoft\.KeyVault\(.*|"
                        r"arn:aws:(?:secretsmanager|ssm|kms):.*|vault:.*|ref\+.*)$")
_NUMBER = re.compile(r"^[+-]?\d+(?:[.,]\d+)*(?:[a-zA-Z%]{0,3})$")
_PLAIN_WORD = re.compile(r"^[A-Za-z][a-z]{0,13}$")
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*(?:\.[A-Za-z_$][\w$]*)+(?:@[0-9a-f]+)?$")  # android.os.BinderProxy@2bd79ce
_MASKED = re.compile(r"^[*xX•#.\-_]+$")
_B64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")


def components(name: str) -> list[str]:
    """`X-Api-Key` -> [x, api, key]; `DBPassword` -> [db, password]; `aws.secret_key` -> [aws, secret, key]."""
    out: list[str] = []
    for part in _SPLIT.split(name):
        out += [m.group(0).lower() for m in _CAMEL.finditer(part)]
    return out


class NameJudge:
    """Classifies names and judges values with the lists in config/redaction.yaml."""

    def __init__(self, config: RedactionConfig):
        n = config.names
        self.password = {w.lower() for w in n.password}
        self.token = {w.lower() for w in n.token}
        self.pairs = {(a.lower(), b.lower()) for a, b in n.token_pairs}
        self.weak = {w.lower() for w in n.weak}
        self.descriptors = {w.lower() for w in n.descriptors}
        self.not_exact = {w for w in n.not_secret if w != w.lower()}
        self.not_lower = {w for w in n.not_secret if w == w.lower()}
        self.placeholders = {p.lower() for p in config.placeholders}
        self.mask = config.mask
        self._seen: dict[str, Strength | None] = {}

    def strength(self, name: str) -> Strength | None:
        """How strongly `name` announces a secret; None when it does not."""
        try:
            return self._seen[name]
        except KeyError:
            pass
        if len(self._seen) > 20_000:  # names in logs repeat; a stream of unique ones must not grow without bound
            self._seen.clear()
        found = self._seen[name] = self._strength(name)
        return found

    def _strength(self, name: str) -> Strength | None:
        name = name.strip("\"'`\\ $@-")
        if not name or name in self.not_exact or name.lower() in self.not_lower:
            return None
        parts = components(name)
        if not parts or (len(parts) > 1 and parts[-1] in self.descriptors):
            return None
        if any(p in self.password or any(w in p for w in _LONG_PASSWORD_WORDS) for p in parts):
            return "password"
        if any(p in self.token for p in parts) or any(pair in self.pairs for pair in zip(parts, parts[1:])):
            return "token"
        if parts[-1] in self.weak:  # `ssh_key`, `licenseKey`; not `interceptKeyBeforeQueueing`, `AuthFail`
            return "weak"
        return None

    def should_mask(self, strength: Strength, value: str) -> bool:
        """Whether `value` (quotes already removed) is to be hidden under a name of this strength."""
        v = value.strip()
        if not v or self.mask in v or v.lower() in self.placeholders or _MASKED.match(v) or _REFERENCE.match(v):
            return False
        if strength == "password":
            return True
        if _NUMBER.match(v):
            return False
        if strength == "token":
            return not (_PLAIN_WORD.match(v) or _IDENTIFIER.match(v))
        return looks_random(v)


def looks_random(value: str) -> bool:
    """Long and mixed (letters and digits), or long base64: what generated keys look like (not a URL or a path)."""
    if "://" in value or value.startswith(("/", "./", "~/")):
        return False
    if len(value) >= 16 and any(c.isdigit() for c in value) and any(c.isalpha() for c in value):
        return True
    return len(value) >= 20 and bool(_B64.match(value.replace("-", "+").replace("_", "/"))) and not value.isalpha()


def is_base64_secret(value: str) -> bool:
    """A Kubernetes Secret value: base64 that decodes to text, or long base64 (binary keys)."""
    if len(value) < 4 or len(value) % 4 or not _B64.match(value):
        return False
    if len(value) >= 24:
        return True
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return decoded.isprintable()


def basic_credentials(value: str) -> bool:
    """`Basic dXNlcjpwYXNz`: base64 of user:password."""
    try:
        return b":" in base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
