"""Bearer-token auth for the web door: tokens listed in a file, each naming a user and roles.

No token, no access. The file is re-read when it changes, so revoking a token
needs no restart. Tokens may be stored as SHA-256 digests (`sha256:`) so the
file does not hold the secrets themselves; `token:` (plain) is for local demos.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from graphs.errors import CloudDoctorError, ConfigError


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
    def __init__(self, path: Path, known_roles: list[str] | None = None):
        self.path = Path(path)
        self.known_roles = known_roles
        self._mtime: float | None = None
        self._entries: list[TokenEntry] = []

    def _load(self) -> list[TokenEntry]:
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            raise AuthError(f"no web tokens configured: create {self.path} (see config/web.yaml)") from None
        if mtime != self._mtime:
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
            self._entries, self._mtime = entries, mtime
        return self._entries

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
