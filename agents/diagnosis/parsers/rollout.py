"""kubectl get rs -o wide / kubectl rollout history: which release runs, since when, and what it replaced.

A Deployment keeps one ReplicaSet per pod template; the newest one with
replicas is the release that serves, the older ones (scaled to 0) are the
releases a rollback returns to. AGE counts back from when kubectl ran, so
the analyzer can place a rollout against the alert's start.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from pydantic import BaseModel

from agents.diagnosis.parsers.base import Facts, ParserError, nonblank_lines, to_int

_AGE_PART = re.compile(r"(\d+)([smhdy])")
_AGE = re.compile(r"^(?:\d+[smhdy])+$")
_AGE_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "y": 365 * 86400}
_HASH_SUFFIX = re.compile(r"^(.+)-([a-z0-9]{6,10})$")


def age_seconds(token: str) -> int | None:
    """kubectl's AGE ('45s', '23m', '3d2h', '5h20m', '2y') -> seconds; None for anything else ('<unknown>')."""
    token = (token or "").strip()
    if not _AGE.match(token):
        return None
    return sum(int(n) * _AGE_SECONDS[u] for n, u in _AGE_PART.findall(token))


class ReplicaSet(BaseModel):
    namespace: str = ""
    name: str
    deployment: str = ""  # the name without the pod-template-hash
    desired: int = 0
    current: int = 0
    ready: int = 0
    age: str = ""
    age_s: int | None = None
    containers: list[str] = []
    images: list[str] = []
    selector: str = ""
    created: datetime | None = None  # from a JSON or YAML listing (a table gives `age` instead)

    @property
    def age_delta(self) -> timedelta | None:
        return timedelta(seconds=self.age_s) if self.age_s is not None else None

    def image_tags(self) -> str:
        """Images without the registry ('shop/api:2.14.0'), for reasons people read."""
        return ", ".join(i.split("/", 1)[1] if "." in i.split("/", 1)[0] and "/" in i else i for i in self.images)


class ReplicaSetsFacts(Facts):
    parser: str = "kube_replicasets"
    replicasets: list[ReplicaSet] = []

    def by_deployment(self) -> dict[tuple[str, str], list[ReplicaSet]]:
        """(namespace, deployment) -> its ReplicaSets, newest first."""
        out: dict[tuple[str, str], list[ReplicaSet]] = {}
        for rs in self.replicasets:
            out.setdefault((rs.namespace, rs.deployment), []).append(rs)
        for sets in out.values():
            sets.sort(key=lambda r: r.age_s if r.age_s is not None else 10**12)
        return out

    def summary(self) -> str:
        if not self.replicasets:
            return "no ReplicaSets"
        parts = []
        for (_, deployment), sets in list(self.by_deployment().items())[:3]:
            active = [r for r in sets if r.desired > 0]
            head = active[0] if active else sets[0]
            parts.append(f"{deployment}: {head.name} {head.ready}/{head.desired} ready, {head.age} old ({head.image_tags()})"
                         + (f", {len(sets) - 1} older" if len(sets) > 1 else ""))
        return "; ".join(parts)


def _deployment_of(name: str, selector: str) -> str:
    m = re.search(r"pod-template-hash=([a-z0-9]+)", selector or "")
    if m and name.endswith("-" + m.group(1)):
        return name[: -len(m.group(1)) - 1]
    m = _HASH_SUFFIX.match(name)
    return m.group(1) if m else name


def parse_kube_replicasets(text: str, *, command: str = "", stderr: str = "") -> ReplicaSetsFacts:
    from agents.diagnosis.parsers.kube_json import load_document, looks_structured, objects_of

    if looks_structured(text):
        sets = [w for w in objects_of(load_document(text), "ReplicaSet").workloads if w.kind == "ReplicaSet"]
        return ReplicaSetsFacts(replicasets=[ReplicaSet(
            namespace=w.namespace, name=w.name, deployment=w.owner.name if w.owner and w.owner.kind == "Deployment" else _deployment_of(w.name, ""),
            desired=w.desired or 0, current=w.ready or 0, ready=w.ready or 0, created=w.created,
            containers=[c.name for c in w.containers], images=w.images,
            selector=",".join(f"{k}={v}" for k, v in sorted(w.selector.items()))) for w in sets])
    lines = nonblank_lines(text)
    if re.match(r"^No resources found", (text or "").strip()):
        return ReplicaSetsFacts()
    if not lines or not re.match(r"^(NAMESPACE\s+)?NAME\s+DESIRED\s+CURRENT\s+READY\s+AGE\b", lines[0].strip()):
        raise ParserError("no `NAME DESIRED CURRENT READY AGE` header (not `kubectl get rs`)")
    header = lines[0].split()
    out: list[ReplicaSet] = []
    for line in lines[1:]:
        cells = line.split()
        if len(cells) < len(header) - 1:  # SELECTOR may be empty only as <none>; anything shorter is not a row
            continue
        row = dict(zip(header, cells))
        desired, current, ready = to_int(row.get("DESIRED")), to_int(row.get("CURRENT")), to_int(row.get("READY"))
        if desired is None or current is None or ready is None:
            raise ParserError(f"not a ReplicaSet row: {line[:80]}")
        selector = row.get("SELECTOR", "")
        out.append(ReplicaSet(
            namespace=row.get("NAMESPACE", ""), name=row["NAME"], deployment=_deployment_of(row["NAME"], selector),
            desired=desired, current=current, ready=ready, age=row.get("AGE", ""), age_s=age_seconds(row.get("AGE", "")),
            containers=[c for c in row.get("CONTAINERS", "").split(",") if c],
            images=[i for i in row.get("IMAGES", "").split(",") if i], selector=selector,
        ))
    if not out:
        raise ParserError("a ReplicaSet header but no rows")
    return ReplicaSetsFacts(replicasets=out)


class Revision(BaseModel):
    number: int
    change_cause: str = ""  # "" for <none>


class RolloutHistoryFacts(Facts):
    parser: str = "kube_rollout_history"
    kind: str = "deployment"
    name: str = ""
    revisions: list[Revision] = []  # oldest first

    @property
    def current(self) -> Revision | None:
        return self.revisions[-1] if self.revisions else None

    @property
    def previous(self) -> Revision | None:
        return self.revisions[-2] if len(self.revisions) >= 2 else None

    def summary(self) -> str:
        if not self.revisions:
            return f"{self.kind}/{self.name}: no revisions"
        cur = self.current
        out = f"{self.kind}/{self.name}: revision {cur.number}" + (f" ({cur.change_cause[:80]})" if cur.change_cause else "")
        if self.previous is not None:
            prev = self.previous
            out += f"; previous {prev.number}" + (f" ({prev.change_cause[:80]})" if prev.change_cause else "")
        return out


def parse_kube_rollout_history(text: str, *, command: str = "", stderr: str = "") -> RolloutHistoryFacts:
    lines = nonblank_lines(text)
    head = next((i for i, line in enumerate(lines) if re.match(r"^REVISION\s+CHANGE-CAUSE\s*$", line.strip())), None)
    if head is None:
        raise ParserError("no `REVISION CHANGE-CAUSE` header (not `kubectl rollout history`)")
    kind, name = "deployment", ""
    if head > 0:
        m = re.match(r"^([a-z]+)(?:\.[a-z.]+)?/(\S+)", lines[head - 1].strip())
        if m:
            kind, name = m.group(1), m.group(2)
    revisions: list[Revision] = []
    for line in lines[head + 1:]:
        m = re.match(r"^\s*(\d+)\s+(.*)$", line)
        if not m:
            if re.match(r"^[a-z]+(?:\.[a-z.]+)?/\S+\s*$", line.strip()):
                break  # the next object's history (several deployments at once): the first is enough
            raise ParserError(f"not a revision row: {line[:80]}")
        cause = m.group(2).strip()
        revisions.append(Revision(number=int(m.group(1)), change_cause="" if cause == "<none>" else cause))
    if not revisions:
        raise ParserError("a history header but no revisions")
    return RolloutHistoryFacts(kind=kind, name=name, revisions=sorted(revisions, key=lambda r: r.number))
