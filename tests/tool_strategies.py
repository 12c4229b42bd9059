"""Hypothesis strategies for catalogue parameters: valid values of each type, for round-trip and fuzz tests."""

from __future__ import annotations

import string

from hypothesis import strategies as st

from tools.catalogue import Catalogue, ParamSpec, ToolSpec

_NAME = st.from_regex(r"[a-z][a-z0-9]{0,6}(-[a-z0-9]{1,5}){0,2}", fullmatch=True)
_HOST = st.one_of(st.from_regex(r"[a-z][a-z0-9]{0,6}(\.[a-z][a-z0-9]{0,6}){0,2}", fullmatch=True), st.ip_addresses(v=4).map(str))
_SAFE_TEXT = st.text(alphabet=string.ascii_letters + string.digits + " ._:/=,@%+[]()*?^", min_size=1, max_size=30).filter(
    lambda s: not s.startswith("-") and s.strip() == s and s.strip())

_BY_TYPE = {
    "bool": st.booleans(),
    "k8s_name": _NAME,
    "k8s_label": _NAME,
    "k8s_selector": st.from_regex(r"[a-z]{1,6}(=|!=)[a-z0-9]{1,6}(,[a-z]{1,6}=[a-z0-9]{1,6})?", fullmatch=True),
    "k8s_field_selector": st.sampled_from(["status.phase=Running", "involvedObject.name=api-0", "spec.nodeName=ip-10-0-0-1"]),
    "k8s_duration": st.from_regex(r"[1-9][0-9]{0,2}[smh]", fullmatch=True),
    "systemd_unit": st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.service|\.timer|\.socket)?", fullmatch=True),
    "hostname": _HOST,
    "ip_address": st.ip_addresses(v=4).map(str),
    "cidr": st.sampled_from(["10.0.0.0/16", "192.168.1.0/24"]),
    "identifier": st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True),
    "text": _SAFE_TEXT,
    "jmespath": st.sampled_from(["DBInstances[0].DBInstanceStatus", "Reservations[].Instances[].InstanceId", "length(SecurityGroups)"]),
    "uuid": st.uuids().map(str),
    "size": st.from_regex(r"[1-9][0-9]{0,3}[KMG]", fullmatch=True),
    "journal_time": st.sampled_from(["2026-03-02 10:00:00 UTC", "-1h", "30 min ago", "today", "2026-03-02"]),
    "datetime": st.datetimes(min_value=__import__("datetime").datetime(2020, 1, 1), max_value=__import__("datetime").datetime(2030, 1, 1)).map(
        lambda d: d.replace(microsecond=0).isoformat()),
    "image": st.sampled_from(["nginx:1.27", "registry.internal/shop/api:v2.4.1"]),
    "git_rev": st.sampled_from(["HEAD", "main", "HEAD~3", "v1.2.0", "a1b2c3d"]),
    "release_dir": st.builds(lambda root, app, name: f"{root}{app}/releases/{name}", st.sampled_from(["/srv/", "/opt/", "/var/www/"]),
                             st.from_regex(r"[a-z][a-z0-9_-]{0,8}", fullmatch=True), st.from_regex(r"[0-9]{1,14}", fullmatch=True)),
    "relative_file": st.from_regex(r"[a-z][a-z0-9]{0,8}\.tfplan", fullmatch=True),
    "curl_write_out": st.sampled_from(["%{http_code}", "%{http_code} %{time_total}", "%{time_connect} %{remote_ip}"]),
    "host_port": st.sampled_from(["localhost:8443", "api.shop.internal:443"]),
    "url": st.builds(lambda host, path: f"http://{host}/{path}", st.sampled_from(["localhost:8080", "127.0.0.1", "api.shop.internal"]),
                     st.from_regex(r"[a-z0-9_-]{0,12}(/[a-z0-9_-]{1,8}){0,2}", fullmatch=True)),
}


def param_strategy(spec: ParamSpec, catalogue: Catalogue) -> st.SearchStrategy:
    if spec.type == "bool" and spec.default is True:
        return st.just(True)  # a flag that is always on cannot be turned off
    if spec.type == "int":
        low = spec.min if spec.min is not None else 0
        high = spec.max if spec.max is not None else low + 100000
        base: st.SearchStrategy = st.integers(min_value=low, max_value=min(high, low + 10**9))
    elif spec.type == "enum":
        base = st.sampled_from(list(spec.choices or []))
    elif spec.type == "path":
        options = catalogue._resolved_options(spec)
        roots = [r for r in options.get("roots") or ["/"] if not any(ch in r for ch in "*?[")]
        base = st.builds(lambda root, leaf: root if not root.endswith("/") else (root + leaf).rstrip("/") or "/",
                         st.sampled_from(roots), st.from_regex(r"([a-z][a-z0-9_.-]{0,8}(/[a-z0-9_-]{1,6}){0,1})?", fullmatch=True))
    elif spec.type in ("name", "aws_id", "aws_filter"):
        pattern = spec.pattern
        if spec.type == "aws_id":
            pattern = f"{spec.prefix or 'sg'}-[0-9a-f]{{8,17}}"
        elif spec.type == "aws_filter":
            pattern = r"Name=[a-z-]{1,12},Values=[a-z0-9-]{1,12}"
        base = st.from_regex(pattern or r"[A-Za-z0-9][A-Za-z0-9._/:+@-]{0,20}", fullmatch=True)
    else:
        base = _BY_TYPE[spec.type]
    if spec.many:
        return st.lists(base, min_size=1, max_size=3)
    return base


@st.composite
def tool_params(draw, tool: ToolSpec, catalogue: Catalogue) -> dict:
    """Parameters that fit the tool: every required one, some optional ones; refused combinations filtered by the caller."""
    params = {}
    for key, spec in tool.params.items():
        if spec.required or draw(st.booleans()):
            params[key] = draw(param_strategy(spec, catalogue))
    return params
