"""Bearer-token auth for the web door: tokens listed in a file, each naming a user and roles.

No token, no access. The file is re-read when it changes, so revoking a token
needs no restart. Tokens may be stored as SHA-256 digests (`sha256:`) so the
file does not hold the secrets themselves; `token:` (plain) is for local demos.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from graphs.errors import CloudDoctorError, ConfigError

log = logging.getLogger(__name__)


class AuthError(CloudDoctorError):
    """The request carries no valid token (HTTP 401)."""


class RoleError(CloudDoctorError):
    """The token does not hold the role the request acts as (HTTP 403)."""


class WebUser(BaseModel):
    id: str
    name: str
    roles: list[str] = Field(default_factory=list)


class TokenEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user: str
    name: str | None = None
    roles: list[str] = Field(default_factory=list)
    token: str | None = None
    sha256: str | None = None

    @model_validator(mode="after")
    def _one_secret(self) -> "TokenEntry":
        if bool(self.token) == bool(self.sha256):
            raise ValueError(f"token entry for {self.user!r} needs exactly one of `token` or `sha256`")
        if self.token is not None and len(self.token) < 16:
            raise ValueError(f"token for {self.user!r} is shorter than 16 characters")
        return self

    def digest(self) -> str:
        return (self.sha256 or hashlib.sha256((self.token or "").encode()).hexdigest()).lower()


class TokenFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tokens: list[TokenEntry] = Field(default_factory=list)


def token_digest(token: str) -> str:
    """What to write as `sha256:` in the tokens file for a given token."""
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    """The tokens file, checked at start (a broken file refuses to start) and re-read when it changes.

    A change that breaks the file is logged in one line and the last good
    tokens stay in force, so a typo while editing never locks everyone out
    nor turns requests into errors."""

    def __init__(self, path: Path, known_roles: list[str] | None = None):
        self.path = Path(path)
        self.known_roles = known_roles
        self._mtime: float | None = None
        self._entries: list[TokenEntry] = []
        self.problem: str | None = None  # why the last change was not taken (the last good tokens still apply)

    def check(self) -> int:
        """Read the file now; raise ConfigError (one line) when it is broken. Returns the number of tokens."""
        if not self.path.exists():
            return 0
        self._entries, self._mtime = self._read(), self.path.stat().st_mtime
        return len(self._entries)

    def _read(self) -> list[TokenEntry]:
        try:
            raw = yaml.safe_load(self.path.read_text(encoding="utf-8")) or {}
            entries = TokenFile.model_validate(raw).tokens
        except (yaml.YAMLError, ValidationError) as exc:
            first = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc).splitlines()[0]
            raise ConfigError(f"{self.path}: {first}") from None
        for entry in entries:
            unknown = [r for r in entry.roles if self.known_roles is not None and r not in self.known_roles]
            if unknown:
                raise ConfigError(f"{self.path}: user {entry.user!r} has unknown role(s) {', '.join(unknown)} "
                                  f"(policy.yaml roles: {', '.join(self.known_roles or [])})")
        return entries

    def _load(self) -> list[TokenEntry]:
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            if self._mtime is None:
                raise AuthError(f"no web tokens configured: create {self.path} (see config/web.yaml)") from None
            return self._entries  # removed while running: keep the last good tokens
        if mtime != self._mtime:
            try:
                self._entries = self._read()
                self.problem = None
            except ConfigError as exc:
                if self.problem != str(exc):
                    log.error("tokens file changed but is broken, keeping the last good tokens: %s", exc)
                self.problem = str(exc)
            self._mtime = mtime
        return self._entries

    def users(self) -> list[str]:
        return [entry.user for entry in self._load()]

    def authenticate(self, authorization: str | None) -> WebUser:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("missing bearer token: send `Authorization: Bearer <token>`")
        digest = token_digest(token.strip())
        for entry in self._load():
            if hmac.compare_digest(entry.digest(), digest):
                return WebUser(id=entry.user, name=entry.name or entry.user, roles=entry.roles)
        raise AuthError("invalid token")


def require_role(user: WebUser, role: str) -> None:
    if role not in user.roles:
        held = ", ".join(user.roles) or "none"
        raise RoleError(f"your token does not hold role {role!r} (roles: {held})")
