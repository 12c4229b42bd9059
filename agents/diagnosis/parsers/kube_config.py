"""kubectl describe secret / configmap: which keys an object holds (never a Secret's values), or that it is missing.

`describe secret` prints key names and sizes only, which is all a diagnosis
needs to show that a key a pod asks for is absent; `get secret -o yaml` would
print the values and the guard forbids it. A NotFound on stderr is a fact too:
the object a pod references does not exist.
"""

from __future__ import annotations

import re

from pydantic import BaseModel

from agents.diagnosis.parsers.base import Facts, ParserError

_NOT_FOUND = re.compile(r'\(NotFound\): (secrets|configmaps) "([^"]+)" not found')
# "DB_PASSWORD:  24 bytes"; tools/redact.py masks the size after names like *_API_KEY ("[REDACTED] bytes"): the key is still there
_SIZE = re.compile(r"^(\S[^:]*):\s+(\d+|\[REDACTED\]) bytes\s*$")


class ConfigObject(BaseModel):
    kind: str  # Secret | ConfigMap
    name: str
    namespace: str = ""
    type: str = ""  # a Secret's type (Opaque, kubernetes.io/tls, ...)
    keys: dict[str, int | None] = {}  # key -> size in bytes (Secrets), None where the size is not printed (ConfigMaps)

    @property
    def ref(self) -> str:
        return f"{self.kind} {self.namespace + '/' if self.namespace else ''}{self.name}"


class MissingObject(BaseModel):
    kind: str
    name: str
    namespace: str = ""


class ConfigKeysFacts(Facts):
    parser: str = "kube_keys"
    objects: list[ConfigObject] = []
    not_found: list[MissingObject] = []

    def summary(self) -> str:
        parts = [f"{o.ref} holds {len(o.keys)} key(s) ({', '.join(list(o.keys)[:6])}{', ...' if len(o.keys) > 6 else ''})" for o in self.objects[:3]]
        parts += [f"{m.kind} {m.namespace + '/' if m.namespace else ''}{m.name} not found" for m in self.not_found[:3]]
        return "; ".join(parts) or "no objects"


def _namespace_of(command: str) -> str:
    m = re.search(r"(?:^|\s)(?:-n|--namespace)(?:\s+|=)(\S+)", command or "")
    return m.group(1).strip("'\"") if m else ""


def _blocks(text: str) -> list[list[str]]:
    """One block per object: `kubectl describe` without a name prints them one after another, each from `Name:`."""
    blocks: list[list[str]] = []
    for line in text.splitlines():
        if re.match(r"^Name:\s", line):
            blocks.append([])
        if blocks:
            blocks[-1].append(line.rstrip())
    return blocks


def _object(block: list[str]) -> ConfigObject | None:
    fields = {m.group(1): m.group(2).strip() for m in (re.match(r"^([A-Z][A-Za-z ]*):\s*(.*)$", line) for line in block) if m}
    try:
        data_at = next(i for i, line in enumerate(block[:-1]) if line.strip() == "Data" and block[i + 1].strip().startswith("===="))
    except StopIteration:
        return None
    kind = "Secret" if "Type" in fields else "ConfigMap"
    keys: dict[str, int | None] = {}
    body = block[data_at + 2:]
    for i, line in enumerate(body):
        if re.match(r"^(BinaryData|Events):", line) or line.strip() == "BinaryData":
            break
        sized = _SIZE.match(line)
        if sized:  # Secret: "DB_PASSWORD:  24 bytes"
            keys[sized.group(1)] = int(sized.group(2)) if sized.group(2).isdigit() else None
            continue
        bare = re.match(r"^(\S[^:\s]*):\s*$", line)
        if bare and i + 1 < len(body) and body[i + 1].strip().startswith(("----", "[REDACTED]")):  # ConfigMap: "KEY:" / "----" / value
            keys[bare.group(1)] = None
    return ConfigObject(kind=kind, name=fields.get("Name", ""), namespace=fields.get("Namespace", ""), type=fields.get("Type", ""), keys=keys)


def parse_kube_keys(text: str, *, command: str = "", stderr: str = "") -> ConfigKeysFacts:
    objects = [o for o in (_object(b) for b in _blocks(text or "")) if o is not None and o.name]
    missing = [MissingObject(kind="Secret" if m.group(1) == "secrets" else "ConfigMap", name=m.group(2), namespace=_namespace_of(command))
               for m in _NOT_FOUND.finditer(stderr or "")]
    if not objects and not missing:
        raise ParserError("no Secret or ConfigMap description (no `Data` / `====` section) and no NotFound error")
    return ConfigKeysFacts(objects=objects, not_found=missing)
