"""What the cluster or the application says is missing: a Secret, a ConfigMap, a key in one, a setting.

The kubelet names the object and key outright ("couldn't find key X in
Secret ns/name", 'secret "x" not found'); applications name the setting
("DB_PASSWORD is required"). Both are read from event messages, describe
output and log samples, so the collector can describe the named object and
the analyzer can check whether the key is really absent.
"""

from __future__ import annotations

import re
from typing import Iterable

from pydantic import BaseModel

_KUBELET_KEY = re.compile(r"couldn't find key (\S+) in (Secret|ConfigMap) (?:([a-z0-9][a-z0-9-]*)/)?([a-z0-9][a-z0-9.-]*)")
_NOT_FOUND = re.compile(r'\b(secret|configmap)s? "([a-z0-9][a-z0-9.-]*)" not found', re.I)
# "<set to the key 'K' in secret 'S'>" (the redactor may have masked "<set" after a secret-looking variable name)
_ENV_REF = re.compile(r"to the key '([^']+)' (?:in secret|of config map) '([a-z0-9][a-z0-9.-]*)'>")
# An application naming the setting it lacks: "DB_PASSWORD is required", "missing environment variable: PG_WEBHOOK_SECRET"
_SETTING = re.compile(
    r"\b([A-Z][A-Z0-9_]{2,}) (?:is|must be) (?:required|not set|missing|undefined|empty)\b"
    r"|(?:missing|undefined|unset) (?:required )?(?:environment )?(?:variable|env var|setting)s?:? ['\"`]?([A-Z][A-Z0-9_]{2,})"
    r"|environment variable ['\"`]?([A-Z][A-Z0-9_]{2,})['\"`]? (?:is )?(?:not set|missing|required|undefined)"
    r"|KeyError: '([A-Z][A-Z0-9_]{2,})'"
    # pydantic-settings: "1 validation error for Settings\npg_webhook_signing_key\n  Field required [type=missing"
    r"|^\s*([a-z][a-z0-9_]{2,})\s*\n\s+Field required\b", re.M)
# `kubectl describe pod`, "Environment Variables from:": "  settlement-secrets  Secret  Optional: false"
_ENV_FROM = re.compile(r"^\s+([a-z0-9][a-z0-9.-]*)\s+(Secret|ConfigMap)\s+Optional:")


class ConfigRef(BaseModel):
    """A reference to a Secret or ConfigMap (and maybe one of its keys) that something could not satisfy."""

    kind: str  # Secret | ConfigMap
    name: str
    namespace: str = ""
    key: str = ""
    said: str = ""  # the words that named it

    def same_object(self, kind: str, name: str, namespace: str = "") -> bool:
        return self.kind == kind and self.name == name and (not self.namespace or not namespace or self.namespace == namespace)


def missing_refs(texts: Iterable[str]) -> list[ConfigRef]:
    """Objects and keys the kubelet could not find, in the order they were named, without repeats."""
    out: list[ConfigRef] = []
    for text in texts:
        for m in _KUBELET_KEY.finditer(text or ""):
            out.append(ConfigRef(kind=m.group(2), name=m.group(4), namespace=m.group(3) or "", key=m.group(1), said=m.group(0)))
        for m in _NOT_FOUND.finditer(text or ""):
            kind = "Secret" if m.group(1).lower() == "secret" else "ConfigMap"
            out.append(ConfigRef(kind=kind, name=m.group(2), said=m.group(0)))
    unique: dict[tuple[str, str, str, str], ConfigRef] = {}
    for ref in out:
        unique.setdefault((ref.kind, ref.namespace, ref.name, ref.key), ref)
    return list(unique.values())


def env_refs(texts: Iterable[str]) -> list[ConfigRef]:
    """`kubectl describe pod` environment lines: "<set to the key 'K' in secret 'S'>", "... of config map 'C'>"."""
    out: list[ConfigRef] = []
    for text in texts:
        for m in _ENV_REF.finditer(text or ""):
            kind = "Secret" if "in secret" in m.group(0) else "ConfigMap"
            out.append(ConfigRef(kind=kind, name=m.group(2), key=m.group(1), said=m.group(0)))
        m = _ENV_FROM.match(text or "")
        if m:  # every key of the object becomes an environment variable
            out.append(ConfigRef(kind=m.group(2), name=m.group(1), said=m.group(0).strip()))
    return out


def missing_settings(texts: Iterable[str]) -> list[str]:
    """Setting names an application says it lacks (environment-variable style names only)."""
    out: list[str] = []
    for text in texts:
        for m in _SETTING.finditer(text or ""):
            name = next(g for g in m.groups() if g).upper()  # a pydantic field reads its variable upper-cased
            if name not in out:
                out.append(name)
    return out
