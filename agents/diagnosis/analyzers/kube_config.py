"""config_error from the Secret or ConfigMap a pod needs: the key is absent, the object does not exist.

The kubelet's "couldn't find key X in Secret ns/name" says what the pod
asked for; `kubectl describe secret` says what the Secret holds (names and
sizes, never values). Together they prove the configuration is incomplete,
which a crash loop or a stuck rollout only suggests. A key that is present
now argues against (someone already fixed it, or the message is old).
"""

from __future__ import annotations

from agents.diagnosis.analyzers.base import EvidenceView, Signal
from agents.diagnosis.config_refs import ConfigRef, missing_refs, missing_settings
from agents.diagnosis.parsers.kube_config import ConfigKeysFacts
from agents.diagnosis.parsers.kubernetes import KubeDescribeFacts, KubeEventsFacts


def _wanted(view: EvidenceView) -> tuple[list[ConfigRef], list[str]]:
    """What the kubelet could not find, and the settings applications say they lack."""
    kube_texts: list[str] = []
    for _, describe in view.facts(KubeDescribeFacts):
        kube_texts += [e.message for e in describe.events]
    for _, events in view.facts(KubeEventsFacts):
        kube_texts += [e.message for e in events.events]
    log_texts = [h.sample for s in view.logs() if s.origin != "alert" for h in s.facts.hits]
    excerpts = [e.excerpt or "" for e in view.evidence if e.ok and (e.kind == "log" or " logs " in f" {e.command or ''} ")]
    return missing_refs(kube_texts + log_texts), missing_settings(log_texts + excerpts)  # a setting may be named on the line after the error


def analyze_config_keys(view: EvidenceView) -> list[Signal]:
    out: list[Signal] = []
    facts = list(view.facts(ConfigKeysFacts))
    if not facts:
        return out
    refs, settings = _wanted(view)
    pod_refs = [r for _, d in view.facts(KubeDescribeFacts) for r in d.key_refs]
    for e, keys in facts:
        for obj in keys.objects:
            asked = [r for r in refs if r.same_object(obj.kind, obj.name, obj.namespace)]
            absent = [r.key for r in asked if r.key and r.key not in obj.keys]
            present = [r.key for r in asked if r.key and r.key in obj.keys]
            held = ", ".join(list(obj.keys)[:8]) or "no keys"
            if absent:
                out.append(Signal(category="config_error", weight=3.0, evidence_id=e.id,
                                  reason=f"{obj.ref} has no key {absent[0]} (it holds {held}) while the pod asks for it: \"{asked[0].said[:120]}\""))
                continue
            empty = [r.key for r in pod_refs if r.same_object(obj.kind, obj.name, obj.namespace) and obj.keys.get(r.key) == 0]
            if empty:
                out.append(Signal(category="config_error", weight=2.0, evidence_id=e.id, reason=f"{obj.ref} key {empty[0]} is empty (0 bytes)"))
                continue
            used = any(r.same_object(obj.kind, obj.name, obj.namespace) for r in pod_refs)  # the pod takes keys from this object
            lacking = [s for s in settings if s not in obj.keys] if used else []
            if lacking:
                out.append(Signal(category="config_error", weight=1.5, evidence_id=e.id,
                                  reason=f"the service says {lacking[0]} is missing and {obj.ref} does not hold it (it holds {held})"))
            elif present:
                out.append(Signal(category="config_error", weight=-0.6, evidence_id=e.id,
                                  reason=f"{obj.ref} holds {present[0]} now (the missing-key message is older than the fix?)"))
        for gone in keys.not_found:
            named = [r for r in refs + pod_refs if r.same_object(gone.kind, gone.name, gone.namespace)]
            where = f"\"{named[0].said[:120]}\"" if named else "a pod refers to it"
            out.append(Signal(category="config_error", weight=3.0 if named else 2.0, evidence_id=e.id,
                              reason=f"{gone.kind} {gone.namespace + '/' if gone.namespace else ''}{gone.name} does not exist ({where})"))
    return out

