"""bad_deploy from the cluster's own record of releases: ReplicaSets and rollout history.

A Deployment's newest ReplicaSet with a different image than its
predecessor is a release, and its AGE dates it without any log line saying
so. A release that became active shortly before the trouble began, with the
errors in the logs starting after it, is the classic bad deploy; the
previous ReplicaSet (its image still cached, scaled to 0) is where a
rollback returns. A newest release days older than the alert argues against.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from agents.diagnosis.analyzers.base import EvidenceView, Signal
from agents.diagnosis.parsers.rollout import ReplicaSet, ReplicaSetsFacts, RolloutHistoryFacts

SHORTLY_BEFORE = timedelta(hours=1)
RECENT = timedelta(hours=3)
LONG_BEFORE = timedelta(hours=24)
SLACK = timedelta(minutes=10)  # AGE is rounded, and an alert fires a little after the first errors


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


def _ago(delta: timedelta) -> str:
    minutes = int(abs(delta).total_seconds() // 60)
    text = f"{minutes} min" if minutes < 120 else f"{minutes // 60} h" if minutes < 2880 else f"{minutes // 1440} days"
    return text + (" before" if delta >= timedelta(0) else " after")


class Release:
    """The serving ReplicaSet of one Deployment, the one it replaced, and when it was created."""

    def __init__(self, current: ReplicaSet, previous: ReplicaSet, created: datetime):
        self.current, self.previous, self.created = current, previous, created

    def describe(self) -> str:
        return f"{self.current.name} ({self.current.image_tags()}, {self.current.ready}/{self.current.desired} ready)"


def releases(view: EvidenceView) -> list[tuple[str, Release]]:
    """(evidence id, release) for the deployments the request is about (all of them when it names none)."""
    read_at = view.situation.read_at
    names = view.situation.names
    out: list[tuple[str, Release]] = []
    if read_at is None:
        return out
    for e, facts in view.facts(ReplicaSetsFacts):
        for (_, deployment), sets in facts.by_deployment().items():
            if names and not any(n == deployment or n in deployment.split("-") or deployment in n for n in names):
                continue
            for r in sets:  # a JSON listing gives creation times, a table gives ages
                if r.age_s is None and r.created is not None:
                    r.age_s = max(0, int((_aware(read_at) - _aware(r.created)).total_seconds()))
            active = [r for r in sets if r.desired > 0 and r.age_delta is not None]
            if not active:
                continue
            current = active[0]
            older = [r for r in sets if r is not current and r.images and r.images != current.images
                     and r.age_delta is not None and r.age_delta > current.age_delta]
            if not older or not current.images:
                continue  # no image change: a restart or a template edit, not a new release
            out.append((e.id, Release(current, older[0], _aware(read_at) - current.age_delta)))
    return out


def analyze_rollout(view: EvidenceView) -> list[Signal]:
    out: list[Signal] = []
    began = view.situation.trouble_began
    if began is None:
        return out
    began = _aware(began)
    supported: list[Release] = []
    for eid, release in releases(view):
        lead = began - release.created  # how long before the trouble the release became active
        if -SLACK <= lead <= RECENT:
            weight = 2.2 if lead <= SHORTLY_BEFORE else 1.4
            if release.current.ready < release.current.desired:
                weight += 0.3
            out.append(Signal(category="bad_deploy", weight=weight, evidence_id=eid,
                              reason=f"ReplicaSet {release.describe()} became active {_ago(lead)} the alert, replacing "
                                     f"{release.previous.name} ({release.previous.image_tags()}); {release.previous.name} is the rollback target"))
            supported.append(release)
        elif lead >= LONG_BEFORE:
            out.append(Signal(category="bad_deploy", weight=-0.8, evidence_id=eid,
                              reason=f"the newest release {release.current.name} is {_ago(lead).removesuffix(' before')} older than the alert"))
    if supported:
        out += _errors_after(view, supported[0])
        out += _history(view, supported[0])
    return out


def _errors_after(view: EvidenceView, release: Release) -> list[Signal]:
    """The logs that show the errors beginning once the release was serving (timestamps only)."""
    out: list[Signal] = []
    for stream in view.logs():
        if stream.origin not in ("log", "journal"):
            continue
        before = after = 0
        for err in stream.facts.errors:
            if err.at is None:
                continue
            if _aware(err.at) >= release.created - SLACK:
                after += 1
            else:
                before += 1
        if after >= 3 and before <= after / 4:
            out.append(Signal(category="bad_deploy", weight=round(1.6 * stream.relevance, 3), evidence_id=stream.evidence_id,
                              reason=f"{after} error(s) since {release.current.name} ({release.current.image_tags()}) began serving, {before} before"))
    return out


def _history(view: EvidenceView, release: Release) -> list[Signal]:
    """The rollout history names the release and the revision to return to."""
    out: list[Signal] = []
    for e, history in view.facts(RolloutHistoryFacts):
        if history.name and history.name != release.current.deployment:
            continue
        if history.current is None or history.previous is None:
            continue
        cur, prev = history.current, history.previous
        out.append(Signal(category="bad_deploy", weight=0.5, evidence_id=e.id,
                          reason=f"revision {cur.number} ({cur.change_cause or 'no change-cause'}) is the release; "
                                 f"revision {prev.number} ({prev.change_cause or 'no change-cause'}) the one to roll back to"))
        break
    return out
