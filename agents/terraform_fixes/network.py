"""Security-group fixes: narrow a rule open to the world, or restore the rule a path needs.

Narrowing replaces 0.0.0.0/0 on a port the project lints forbid with the
VPC's CIDR (or the clients' CIDR the diagnosis names). Restoring adds one
ingress rule for the port and source a network diagnosis names, in the
style the code already uses (inline `ingress` blocks or separate
`aws_vpc_security_group_ingress_rule` resources), and never from the world.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re

from agents.terraform_fixes import hcl_text
from agents.terraform_fixes.base import FixContext, FixPlan, get_path
from tools.tf_lint import lint_files

PORT_WORDS = {3306: ("mysql", "db", "rds", "database"), 5432: ("postgres", "db", "rds", "database"),
              6379: ("redis", "cache"), 443: ("eks", "cluster", "lb", "https"), 80: ("lb", "http", "web")}
WORLD = ("0.0.0.0/0", "::/0")


def _source_cidr(ctx: FixContext) -> str | None:
    for key in ("source_cidr", "client_cidr", "from_cidr", "cidr"):
        value = ctx.target.get(key)
        if isinstance(value, str) and value not in WORLD:
            try:
                return str(ipaddress.ip_network(value, strict=False))
            except ValueError:
                continue
    return None


def _replacement_for(ctx: FixContext, directory: str) -> str | None:
    """What replaces 0.0.0.0/0: the clients' CIDR, else the VPC CIDR (a variable in the module, or the spec's value)."""
    cidr = _source_cidr(ctx)
    if cidr:
        return f'"{cidr}"'
    module_vars = [t for p, t in ctx.files.items() if p.endswith(".tf") and posixpath.dirname(p) == directory]
    for name in ("vpc_cidr", "vpc_cidr_block", "allowed_cidr"):
        if any(hcl_text.block(t, "variable", name) for t in module_vars):
            return f"var.{name}"
    vpc = get_path(ctx.env_spec(), "vpc.cidr")
    return f'"{vpc}"' if isinstance(vpc, str) else None


def _wants_narrowing(ctx: FixContext) -> bool:
    target = ctx.target
    if target.get("action") in ("narrow", "close") or target.get("cidr") in WORLD:
        return True
    text = ctx.text().lower()
    return any(w in text for w in WORLD) and any(w in text for w in ("open", "ingress", "security group", "exposed", "world"))


def narrow_open_ingress(ctx: FixContext) -> FixPlan | None:
    """Replace 0.0.0.0/0 in the ingress rules the lints reject."""
    if not ctx.files or not _wants_narrowing(ctx):
        return None
    findings = [f for f in lint_files(ctx.files) if f.rule == "ingress"]
    wanted_port = ctx.target.get("port")
    edits: dict[str, str] = {}
    changed: list[str] = []
    for finding in findings:
        text = edits.get(finding.file, ctx.files[finding.file])
        rtype, _, label = finding.address.partition(".")
        span = hcl_text.block(text, "resource", rtype, label)
        if span is None:
            continue
        replacement = _replacement_for(ctx, posixpath.dirname(finding.file))
        if replacement is None:
            continue
        rules = hcl_text.blocks(text, "ingress", within=span) if rtype == "aws_security_group" else [span]
        for rule in sorted(rules, key=lambda r: r.start, reverse=True):
            attrs = hcl_text.attributes(text, rule)
            port = hcl_text.literal_number(attrs["from_port"].value(text)) if "from_port" in attrs else None
            if isinstance(wanted_port, int) and port is not None and port != wanted_port:
                continue
            for key in ("cidr_blocks", "cidr_ipv4"):
                attr = attrs.get(key)
                if attr is None or "0.0.0.0/0" not in attr.value(text):
                    continue
                value = attr.value(text).replace('"0.0.0.0/0"', replacement) if key == "cidr_blocks" else replacement
                text = hcl_text.set_value(text, attr, value)
                changed.append(f"{finding.address} port {port if port is not None else '?'}: 0.0.0.0/0 -> {replacement}")
            ipv6 = attrs.get("ipv6_cidr_blocks")
            if ipv6 is not None and "::/0" in ipv6.value(text):
                text = text[:ipv6.start] + text[_line_end(text, ipv6.value_end):]
                changed.append(f"{finding.address}: ::/0 removed")
        edits[finding.file] = text
    edits = {p: t for p, t in edits.items() if t != ctx.files[p]}
    if not edits:
        return None
    return FixPlan(
        template="narrow_security_group",
        title=f"narrow {len(changed)} security-group rule(s) open to the world",
        rationale="only 80/443 on a load balancer may be open to 0.0.0.0/0; " + "; ".join(changed),
        file_edits=edits,
        risk="medium",
        notes=["clients outside the new CIDR lose access: check the flow logs for sources that still need it"],
        rollback="restore the previous CIDR in the rule (the old text is in the diff)",
    )


def _line_end(text: str, index: int) -> int:
    end = text.find("\n", index)
    return len(text) if end < 0 else end + 1


def _security_groups(ctx: FixContext) -> list[tuple[str, hcl_text.Span]]:
    return hcl_text.resource_blocks(ctx.files, "aws_security_group")


def _matches(ctx: FixContext, path: str, span: hcl_text.Span, port: int) -> int:
    """How well a security group fits the diagnosis (0 = not at all)."""
    text = ctx.files[path]
    label = span.labels[1].lower()
    attrs = hcl_text.attributes(text, span)
    name = attrs["name"].value(text).lower() if "name" in attrs else ""
    wanted = str(ctx.target.get("security_group") or "").lower()
    if wanted:
        tail = wanted.split("-")[-1]
        return 10 if wanted in (label, name.strip('"')) or label == tail or name.strip('"').endswith(f"-{tail}") else 0
    words = PORT_WORDS.get(port, ())
    where = f"{label} {name} {posixpath.dirname(path)}"
    return sum(1 for w in words if re.search(rf"\b{w}\b|[-_/]{w}", where))


def _allows(text: str, span: hcl_text.Span, port: int, cidr: str) -> bool:
    for rule in hcl_text.blocks(text, "ingress", within=span):
        attrs = hcl_text.attributes(text, rule)
        low = hcl_text.literal_number(attrs["from_port"].value(text)) if "from_port" in attrs else None
        high = hcl_text.literal_number(attrs["to_port"].value(text)) if "to_port" in attrs else None
        if low is not None and high is not None and low <= port <= high and "cidr_blocks" in attrs and cidr in attrs["cidr_blocks"].value(text):
            return True
    return False


def restore_ingress(ctx: FixContext) -> FixPlan | None:
    """network_unreachable: add the ingress rule for the port and clients the diagnosis names."""
    if ctx.diagnosis.root_cause != "network_unreachable" or not ctx.files:
        return None
    port = ctx.target.get("port")
    cidr = _source_cidr(ctx)
    if not isinstance(port, int) or cidr is None:
        return None
    ranked = sorted(((_matches(ctx, p, s, port), p, s) for p, s in _security_groups(ctx)), key=lambda r: -r[0])
    if not ranked or ranked[0][0] == 0:
        return None
    _, path, span = ranked[0]
    text = ctx.files[path]
    if _allows(text, span, port, cidr):
        return None  # the rule is there: the block is elsewhere (NACL, route, the client's egress)
    address = ".".join(span.labels)
    description = f"port {port} from {cidr} (restored by Cloud Doctor: {ctx.diagnosis.summary[:60]})".replace('"', "'")
    separate = any("aws_vpc_security_group_ingress_rule" in t and f"aws_security_group.{span.labels[1]}." in t
                   for t in ctx.files.values())
    if separate:
        label = f"{span.labels[1]}_{port}_{re.sub(r'[^0-9]+', '_', cidr).strip('_')}"
        snippet = (f'resource "aws_vpc_security_group_ingress_rule" "{label}" {{\n'
                   f"  security_group_id = aws_security_group.{span.labels[1]}.id\n"
                   f'  description       = "{description}"\n'
                   f'  ip_protocol       = "tcp"\n'
                   f"  from_port         = {port}\n"
                   f"  to_port           = {port}\n"
                   f'  cidr_ipv4         = "{cidr}"\n}}')
        new_text = hcl_text.append_block(text, snippet)
    else:
        snippet = (f"ingress {{\n"
                   f'  description = "{description}"\n'
                   f"  from_port   = {port}\n"
                   f"  to_port     = {port}\n"
                   f'  protocol    = "tcp"\n'
                   f'  cidr_blocks = ["{cidr}"]\n}}')
        new_text = hcl_text.insert_in_block(text, span, snippet)
    return FixPlan(
        template="restore_security_group_rule",
        title=f"allow port {port} from {cidr} in {address}",
        rationale=f"connections to port {port} from {cidr} time out and {address} has no rule that admits them",
        file_edits={path: new_text},
        risk="medium",
        notes=["if the path still fails, check NACLs and route tables between the two subnets"],
        rollback=f"remove the added rule from {path}",
    )
