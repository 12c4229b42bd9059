"""The read that would decide: what to run next when the evidence is too weak to name a cause.

An honest `unknown` says what is missing. For the leading candidates it
names catalogue reads that tell them apart (the previous container's log
for a crash loop, usage against limits for memory, the scheduler's message
for a Pending pod), filled from what the request and the evidence already
gave, rendered by the catalogue like any read, and left out when the
evidence already holds their answer.
"""

from __future__ import annotations

import shlex
from typing import Any

from agents.diagnosis.analyzers.scoring import Analysis
from graphs.state import Evidence

Read = tuple[str, dict[str, Any], str]  # tool, parameters (with placeholders), what it would tell

_POD_LOG: Read = ("kubernetes.logs", {"pod": "{pod}", "namespace": "{namespace}", "previous": True, "tail": 200}, "why the container exits")
_POD: Read = ("kubernetes.describe", {"kind": "pods", "name": "{pod}", "namespace": "{namespace}"}, "the container's state, last termination and events")
_TOP: Read = ("kubernetes.top_pods", {"namespace": "{namespace}"}, "usage against the limits")
_UNIT_LOG: Read = ("journal.unit", {"unit": "{unit}", "lines": 200}, "what the service said before it failed")
_PS: Read = ("host.processes", {"sort": "-%mem"}, "which process holds the memory")
DECIDING: dict[str, list[Read]] = {
    "service_crashloop": [_POD_LOG, _UNIT_LOG, _POD],
    "config_error": [_POD_LOG, _POD, _UNIT_LOG],
    "bad_deploy": [("kubernetes.rollout_history", {"kind": "deployments", "name": "{deployment}", "namespace": "{namespace}"}, "which release runs"),
                   _POD_LOG],
    "memory_leak": [_TOP, _POD, _PS, ("host.kernel_log", {}, "what the OOM killer chose")],
    "memory_pressure": [_TOP, _POD, _PS],
    "cpu_saturation": [_TOP, ("host.top", {}, "what uses the CPU")],
    "image_pull_failure": [_POD],
    "capacity_exhausted": [_POD, ("kubernetes.get", {"kind": "nodes", "output": "json"}, "the nodes' room, labels and taints")],
    "dns_failure": [("dns.resolve", {"name": "{target}"}, "whether the name resolves"),
                    ("kubernetes.get", {"kind": "pods", "namespace": "kube-system", "output": "wide"}, "whether CoreDNS runs")],
    "network_unreachable": [("http.check", {"url": "{url}"}, "whether the path answers"),
                            ("kubernetes.get", {"kind": "networkpolicies", "namespace": "{namespace}", "output": "json"}, "what the network policies allow")],
    "dependency_failure": [("http.check", {"url": "{url}"}, "whether the upstream answers"), _POD_LOG],
    "missing_timeout": [("host.sockets", {}, "what the stuck connections wait on"), _POD_LOG],
}
MAX_READS = 3


def deciding_reads(analysis: Analysis, evidence: list[Evidence], values: dict[str, str]) -> list[str]:
    """Lines for people: the reads that would decide between the leading candidates, not yet answered."""
    from agents.diagnosis.playbooks import fill_params
    from tools.catalogue import ToolCall, ToolParamError, default_catalogue

    catalogue = default_catalogue()
    done = {e.command for e in evidence if e.kind == "command" and e.ok and e.command}
    leads = [s.category for s in analysis.ranked[:2]] or ["service_crashloop"]
    out: list[str] = []
    for category in leads:
        for tool, template, tells in DECIDING.get(category, []):
            params = fill_params(template, values)
            if params is None:
                continue
            try:
                rendered = catalogue.render(ToolCall(tool=tool, params=params))
            except (ToolParamError, KeyError):
                continue
            command = shlex.join(rendered.argv)
            line = f"run `{command}`: {tells} would decide between {' and '.join(c.replace('_', ' ') for c in leads)}"
            if command in done or any(line.split("`")[1] == o.split("`")[1] for o in out):
                continue
            out.append(line)
            if len(out) >= MAX_READS:
                return out
    return out
