"""Paths inside the cluster: Services and their endpoints, Ingresses, NetworkPolicies, cluster DNS.

As k8sgpt's service analyzer: a Service whose selector matches no pod (or
whose endpoints stay empty while its pods run) is configuration; a target
port no container serves is too. A NetworkPolicy that selects the pods the
request is about (or the pods they call) and allows nothing for the path
the logs show failing (a DNS lookup on port 53, a connection to a Service's
port) blocks it. CoreDNS down, or the kube-dns Service without endpoints,
is in-cluster DNS failing.
"""

from __future__ import annotations

import re

from agents.diagnosis.analyzers.base import EvidenceView, Signal
from agents.diagnosis.analyzers.kube_pods import kube_view
from agents.diagnosis.analyzers.kube_state import ClusterState, Focus, Seen, workload_chain
from agents.diagnosis.parsers.kube_model import NetworkPolicy, Pod, PolicyRule, selects

DNS_RULES = ("dns",)
TIMEOUT_RULES = ("connect_timeout", "timeout_generic", "no_route", "read_timeout")
REFUSED_RULES = ("refused", "db_refused")
DESTINATION = re.compile(r"(?:dial tcp |connect(?:ing)? to |connection to |ETIMEDOUT |ECONNREFUSED |timed out (?:connecting to |after \S+ to )?|request to https?://|"
                   r"https?://|host=|server at \"?)([a-z0-9][a-z0-9.-]*[a-z0-9])\"?(?: \([\d.]+\))?(?:, port |:)(\d{2,5})", re.I)


def analyze_kube_network(view: EvidenceView) -> list[Signal]:
    state, focus = kube_view(view)
    out = _services(state, focus, refused_services(view, state, focus))
    out += _wrong_service_port(view, state, focus)
    out += _ingresses(state, focus)
    out += _policies(view, state, focus)
    out += _cluster_dns(view, state)
    return out


def _pod_is(pod: Pod, name: str) -> bool:
    return name in workload_chain(pod) or pod.name.startswith(name + "-")


def _also_rests_on(eid: str | None, cited: str | None, weight: float, what: str) -> list[Signal]:
    """Another read a Service finding rests on (the pods' labels or readiness, the empty endpoints), cited beside it."""
    if eid is None or eid == cited:
        return []
    return [Signal(category="config_error", weight=weight, evidence_id=eid, finding="service_selector_mismatch", reason=what)]


def _services(state: ClusterState, focus: Focus, refused: set[tuple[str, str]]) -> list[Signal]:
    out: list[Signal] = []
    for (ns, name), seen in state.services.items():
        svc = seen.obj
        if svc.type == "ExternalName" or ns in ("kube-system",) or name == "kubernetes":
            continue
        selected = state.pods_of_selector(ns, svc.selector)
        about = focus.object_weight(ns, name) == 1.0 or any(focus.pod(p.obj) for p in selected) or (ns, name) in refused
        weight = focus.weight(ns, about)
        namesakes = [p for p in state.pods.values() if p.obj.namespace == ns and _pod_is(p.obj, name)]
        labelled = [p for p in state.pods.values() if p.obj.namespace == ns and p.obj.labels]
        ep = state.endpoints.get((ns, name))
        if svc.selector_known and svc.selector and labelled and not selected:
            hint = ""
            if namesakes and namesakes[0].obj.labels:
                shown = {k: v for k, v in namesakes[0].obj.labels.items() if k in svc.selector or k in ("app", "app.kubernetes.io/name")}
                hint = f"; its pods ({namesakes[0].obj.name}) carry {', '.join(f'{k}={v}' for k, v in shown.items()) or 'other labels'}"
            out.append(Signal(category="config_error", weight=2.6 * weight, evidence_id=seen.eid, finding="service_selector_mismatch",
                              reason=f"service {ns}/{name} selects {', '.join(f'{k}={v}' for k, v in svc.selector.items())} and no pod matches{hint}"))
            shown = (namesakes or labelled)[0]
            out += _also_rests_on(shown.eid, seen.eid, 0.3 * weight, f"the labels of {ns}/{name}'s pods: {shown.obj.name}")
            if ep is not None and not ep.obj.ready:
                out += _also_rests_on(ep.eids[0], seen.eid, 0.3 * weight, f"service {ns}/{name} has no endpoints")
            continue
        if ep is not None and not ep.obj.ready and not ep.obj.not_ready:
            behind = selected or namesakes
            if behind and all(p.obj.healthy for p in behind):
                out.append(Signal(category="config_error", weight=1.8 * weight, evidence_id=ep.eid, finding="service_selector_mismatch",
                                  reason=f"service {ns}/{name} has no endpoints while its pods ({behind[0].obj.name}) run and are ready: the selector does not match them"))
                out += _also_rests_on(behind[0].eid, ep.eid, 0.3 * weight, f"its pods run and are ready: {behind[0].obj.name}")
            elif behind:
                out.append(Signal(category="service_crashloop", weight=0.6 * weight, evidence_id=ep.eid,
                                  reason=f"service {ns}/{name} has no ready endpoints: its pods are not ready"))
            elif state.all_pods_listed or ns in state.listed_namespaces:
                out.append(Signal(category="config_error", weight=1.5 * weight, evidence_id=ep.eid, finding="service_selector_mismatch",
                                  reason=f"service {ns}/{name} has no endpoints and no pod behind it"))
        served = {p.split("/")[0] for s in selected for c in s.obj.containers for p in c.ports}
        for port in svc.ports:
            m = re.match(r"^\d+:(\d+)/", port)
            if m and served and m.group(1) not in served:
                out.append(Signal(category="config_error", weight=2.2 * weight, evidence_id=seen.eid, finding="service_port_mismatch",
                                  reason=f"service {ns}/{name} sends port {port} to target port {m.group(1)}; its pods serve {', '.join(sorted(served))}"))
                break
    return out


def _wrong_service_port(view: EvidenceView, state: ClusterState, focus: Focus) -> list[Signal]:
    """A client refused on a port its Service does not expose: the client's configuration names the wrong port."""
    out: list[Signal] = []
    for eid, sample in focus_lines(view, state, focus, REFUSED_RULES):
        for m in DESTINATION.finditer(sample):
            host, port = m.group(1).lower(), m.group(2)
            seen = service_at(state, host)
            if seen is None or not seen.obj.ports:
                continue
            exposed = {p.split(":")[0].split("/")[0] for p in seen.obj.ports}
            if port not in exposed:
                out.append(Signal(category="config_error", weight=2.5 * focus.weight(seen.obj.namespace, True), evidence_id=eid,
                                  finding="service_port_mismatch",
                                  reason=f"connections to {seen.obj.name}:{port} are refused; the Service exposes {', '.join(sorted(exposed))}: the client names the wrong port"))
                out.append(Signal(category="config_error", weight=0.3, evidence_id=seen.eid, reason=f"service {seen.obj.namespace}/{seen.obj.name} ports {', '.join(seen.obj.ports)}"))
                return out
    return out


def _ingresses(state: ClusterState, focus: Focus) -> list[Signal]:
    out: list[Signal] = []
    for (ns, name), seen in state.ingresses.items():
        if seen.obj.unresolved:  # the description says so itself: the controller cannot find the backend Service
            weight = focus.weight(ns, focus.object_weight(ns, name) == 1.0 or any(focus.named(b) for b in seen.obj.backends))
            out.append(Signal(category="config_error", weight=2.6 * weight, evidence_id=seen.eid, finding="ingress_backend_missing",
                              reason=f"ingress {ns}/{name} ({', '.join(seen.obj.hosts[:2]) or 'every host'}) routes to service "
                                     f"{seen.obj.unresolved[0]}, which is not found in {ns}"))
            continue
        known = {n for (sns, n) in state.services if sns == ns}
        if not (known or "*" in state.services_listed) or not {ns, "*"} & state.services_listed:
            continue
        missing = [b for b in seen.obj.backends if b not in known]
        if missing:
            weight = focus.weight(ns, focus.object_weight(ns, name) == 1.0 or any(focus.named(b) for b in seen.obj.backends))
            out.append(Signal(category="config_error", weight=2.2 * weight, evidence_id=seen.eid, finding="ingress_backend_missing",
                              reason=f"ingress {ns}/{name} routes to service {missing[0]}, which does not exist in {ns}"))
    return out


def service_at(state: ClusterState, host: str) -> Seen | None:
    """The Service a client's destination names: its ClusterIP, or its name (`cart`, `cart.shop`, `cart.shop.svc…`)."""
    parts = host.split(".")
    return next((s for s in state.services.values() if s.obj.cluster_ip == host), None) or next(
        (s for (ns, name), s in state.services.items() if name == parts[0] and (len(parts) < 2 or parts[1] in (ns, "svc"))), None)


def refused_services(view: EvidenceView, state: ClusterState, focus: Focus) -> set[tuple[str, str]]:
    """(namespace, name) of the Services the request's pods are refused at, by name or ClusterIP in their log lines."""
    out: set[tuple[str, str]] = set()
    for _, sample in focus_lines(view, state, focus, REFUSED_RULES):
        for m in DESTINATION.finditer(sample):
            seen = service_at(state, m.group(1).lower())
            if seen is not None:
                out.add((seen.obj.namespace, seen.obj.name))
    return out


def focus_lines(view: EvidenceView, state: ClusterState, focus: Focus, rules: tuple[str, ...]) -> list[tuple[str, str]]:
    """(evidence id, sample) of log lines that hit these rules, in the logs of the pods the request is about (or any log when
    the request names no pod)."""
    out = []
    focus_pods = {s.obj.name for s in state.pods.values() if focus.pod(s.obj)}
    for stream in view.logs():
        if stream.origin in ("alert", "kube", "dmesg"):
            continue
        pod_logs = [pod for pod, streams in state.pod_logs.items() if stream in streams]
        if pod_logs and focus_pods and not set(pod_logs) & focus_pods:
            continue
        for hit in stream.facts.hits:
            if hit.rule in rules:
                out.append((stream.evidence_id, hit.sample))
    return out


def _allows(rules: list[PolicyRule], port: str | None, peer_labels: dict[str, str] | None, peer_ns: str, policy_ns: str) -> bool:
    """Does any rule allow this peer (None: any peer) on this port (None: any port)?"""
    for rule in rules:
        if rule.ports and port is not None and not any(p.split("/")[0] in (port, "*") for p in rule.ports):
            continue
        if not rule.peers:
            return True
        for peer in rule.peers:
            if peer.cidr:
                return True  # an address block: we cannot place the peer's address, so we do not call it blocked
            same_ns = peer.namespaces is None and peer_ns in (policy_ns, "")
            any_ns = peer.namespaces is not None and (not peer.namespaces or peer.namespaces.get("kubernetes.io/metadata.name") in (None, peer_ns))
            if not (same_ns or any_ns):
                continue
            if peer.pods is None or not peer.pods or peer_labels is None or selects(peer.pods, peer_labels):
                return True
    return False


def _selects(policy: NetworkPolicy, pod: Pod) -> bool:
    if not policy.pod_selector:
        return pod.namespace in (policy.namespace, "")
    if pod.namespace not in (policy.namespace, ""):
        return False
    if pod.labels:
        return selects(policy.pod_selector, pod.labels)
    return any(v in workload_chain(pod) for v in policy.pod_selector.values())


def _destination(samples: list[str], state: ClusterState, namespace: str) -> tuple[str, str, list[Seen[Pod]]] | None:
    """The Service (name, port) a failing line names and its pods; else the first host and port it names."""
    first: tuple[str, str, list[Seen[Pod]]] | None = None
    for sample in samples:
        for m in DESTINATION.finditer(sample):
            host, port = m.group(1).lower(), m.group(2)
            parts = host.split(".")
            if re.fullmatch(r"[\d.]+", host):  # a Service's cluster IP: which Service it is
                seen = next((s for s in state.services.values() if s.obj.cluster_ip == host), None)
                if seen is None:
                    first = first or (host, port, [])
                    continue
                parts, svc_ns = [seen.obj.name], seen.obj.namespace
            else:
                svc_ns = parts[1] if len(parts) > 1 and parts[1] not in ("svc", "cluster") and not parts[1].isdigit() else namespace
            seen = state.services.get((svc_ns, parts[0]))
            if seen is not None:
                pods = state.pods_of_selector(svc_ns, seen.obj.selector) or [p for p in state.pods.values() if p.obj.namespace == svc_ns and _pod_is(p.obj, parts[0])]
                target = next((p.split(":")[1].split("/")[0] for p in seen.obj.ports if p.startswith(f"{port}:")), port)
                return parts[0], target, pods
            first = first or (host, port, [])  # outside the cluster (a database endpoint, an address): no pods to guard it
    return first


def _policies(view: EvidenceView, state: ClusterState, focus: Focus) -> list[Signal]:
    if not state.policies:
        return []
    out: list[Signal] = []
    mine = [s.obj for s in state.pods.values() if focus.pod(s.obj)]
    dns_lines = focus_lines(view, state, focus, DNS_RULES)
    timeout_lines = focus_lines(view, state, focus, TIMEOUT_RULES)
    ns = focus.namespace or (mine[0].namespace if mine else "")
    destination = _destination([s for _, s in timeout_lines], state, ns) if timeout_lines else None
    for (pns, name), seen in state.policies.items():
        policy = seen.obj
        if not policy.policy_types:  # a table: the rules are not known; describe it to know
            if mine and any(_selects(policy, p) for p in mine) and (dns_lines or timeout_lines):
                out.append(Signal(category="network_unreachable", weight=0.8, evidence_id=seen.eid,
                                  reason=f"network policy {pns}/{name} selects the pods and connections fail; its rules decide"))
            continue
        isolates_mine = [p for p in mine if _selects(policy, p)]
        if "Egress" in policy.policy_types and isolates_mine:
            if dns_lines and not _allows(policy.egress, "53", None, "kube-system", policy.namespace):
                out.append(Signal(category="dns_failure", weight=2.8, evidence_id=seen.eid, finding="network_policy_blocks",
                                  reason=f"network policy {pns}/{name} isolates {isolates_mine[0].name}'s egress and allows nothing on port 53: lookups cannot leave the pod"))
                out.append(Signal(category="network_unreachable", weight=1.0, evidence_id=seen.eid, finding="network_policy_blocks",
                                  reason=f"network policy {pns}/{name} blocks egress"))
            if destination is not None:
                svc, port, pods = destination
                labels = pods[0].obj.labels if pods and pods[0].obj.labels else None
                if not _allows(policy.egress, port, labels, pods[0].obj.namespace if pods else ns, policy.namespace):
                    out.append(Signal(category="network_unreachable", weight=2.8, evidence_id=seen.eid, finding="network_policy_blocks",
                                      reason=f"network policy {pns}/{name} allows {isolates_mine[0].name} no egress to {svc} on port {port}, which its log shows timing out"))
        if "Ingress" in policy.policy_types:
            if destination is not None and mine:
                svc, port, pods = destination
                guarded = [p for p in pods if _selects(policy, p.obj)]
                client = mine[0]
                if guarded and not _allows(policy.ingress, port, client.labels or None, client.namespace, policy.namespace):
                    out.append(Signal(category="network_unreachable", weight=2.8, evidence_id=seen.eid, finding="network_policy_blocks",
                                      reason=f"network policy {pns}/{name} guards {svc}'s pods and allows no ingress from {client.name} on port {port}, "
                                             "which its log shows timing out"))
            elif isolates_mine and not policy.ingress and all(p.healthy for p in isolates_mine):
                out.append(Signal(category="network_unreachable", weight=1.8, evidence_id=seen.eid, finding="network_policy_blocks",
                                  reason=f"network policy {pns}/{name} denies all ingress to {isolates_mine[0].name}, which runs and is ready"))
    return out


def _cluster_dns(view: EvidenceView, state: ClusterState) -> list[Signal]:
    out: list[Signal] = []
    dns_pods = [s for (ns, name), s in state.pods.items() if ns in ("kube-system", "") and
                (name.startswith(("coredns-", "kube-dns-")) or s.obj.labels.get("k8s-app") == "kube-dns")]
    errors = any(h.rule == "dns" for stream in view.logs() if stream.origin not in ("alert", "kube") for h in stream.facts.hits)
    sick = [s for s in dns_pods if not s.obj.healthy]
    if sick:
        out.append(Signal(category="dns_failure", weight=2.4 if errors or len(sick) == len(dns_pods) else 1.2, evidence_id=sick[0].eid, finding="cluster_dns",
                          reason=f"cluster DNS: {len(sick)} of {len(dns_pods)} CoreDNS pod(s) unhealthy ({sick[0].obj.name} {sick[0].obj.status})"))
    ep = state.endpoints.get(("kube-system", "kube-dns"))
    if ep is not None and not ep.obj.ready:
        out.append(Signal(category="dns_failure", weight=2.5, evidence_id=ep.eid, finding="cluster_dns",
                          reason="the kube-dns Service has no ready endpoints: no pod can resolve names"))
    elif dns_pods and not sick and errors:
        out.append(Signal(category="dns_failure", weight=-0.3, evidence_id=dns_pods[0].eid, reason="CoreDNS pods are running and ready"))
    return out
