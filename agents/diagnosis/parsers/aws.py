"""aws rds describe-db-instances / ec2 describe-security-groups / ec2 describe-network-acls (JSON output).

The control plane says what no host can: the database instance is stopped or
rebooting, a security group admits no one on the port, a network ACL denies
the flow. Only the AWS CLI's own JSON is read; a `--query` that reshaped it,
`--output text`, or another operation's answer is refused with ParserError.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from pydantic import BaseModel

from agents.diagnosis.parsers.base import Facts, ParserError

PROTOCOLS = {"-1": "all", "6": "tcp", "17": "udp", "1": "icmp", "tcp": "tcp", "udp": "udp", "icmp": "icmp", "all": "all"}


def _document(text: str, key: str) -> list[dict[str, Any]]:
    """The list under `key` of the CLI's JSON answer, or ParserError."""
    stripped = (text or "").strip()
    if not stripped.startswith("{"):
        raise ParserError(f"not the AWS CLI's JSON (a --query or --output text reshapes it; expected {{\"{key}\": [...]}})")
    try:
        doc = json.loads(stripped)
    except ValueError as exc:
        raise ParserError(f"invalid JSON: {exc}") from None
    items = doc.get(key) if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise ParserError(f"no `{key}` list in the JSON (another operation's answer?)")
    return [i for i in items if isinstance(i, dict)]


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# ------------------------------------------------------------------ RDS


class RdsInstance(BaseModel):
    id: str
    status: str = ""
    engine: str = ""
    engine_version: str = ""
    instance_class: str = ""
    multi_az: bool = False
    endpoint: str = ""
    port: int | None = None
    allocated_storage_gb: int | None = None
    max_allocated_storage_gb: int | None = None
    storage_type: str = ""
    availability_zone: str = ""
    pending_modified: dict[str, Any] = {}
    security_groups: list[str] = []
    vpc_id: str = ""


class RdsFacts(Facts):
    parser: str = "aws_rds"
    instances: list[RdsInstance] = []

    def summary(self) -> str:
        if not self.instances:
            return "no DB instances"
        parts = []
        for i in self.instances[:3]:
            part = f"{i.id} ({i.engine} {i.instance_class}{', Multi-AZ' if i.multi_az else ', single-AZ'}): {i.status}"
            if i.pending_modified:
                part += f"; pending {', '.join(f'{k}={v}' for k, v in list(i.pending_modified.items())[:3])}"
            parts.append(part)
        return "; ".join(parts)


def parse_aws_rds(text: str, *, command: str = "", stderr: str = "") -> RdsFacts:
    instances = []
    for item in _document(text, "DBInstances"):
        if not item.get("DBInstanceIdentifier"):
            continue
        endpoint = item.get("Endpoint") if isinstance(item.get("Endpoint"), dict) else {}
        subnet_group = item.get("DBSubnetGroup") if isinstance(item.get("DBSubnetGroup"), dict) else {}
        instances.append(RdsInstance(
            id=str(item["DBInstanceIdentifier"]), status=str(item.get("DBInstanceStatus", "")), engine=str(item.get("Engine", "")),
            engine_version=str(item.get("EngineVersion", "")), instance_class=str(item.get("DBInstanceClass", "")),
            multi_az=bool(item.get("MultiAZ", False)), endpoint=str(endpoint.get("Address", "")), port=_int(endpoint.get("Port")),
            allocated_storage_gb=_int(item.get("AllocatedStorage")), max_allocated_storage_gb=_int(item.get("MaxAllocatedStorage")),
            storage_type=str(item.get("StorageType", "")), availability_zone=str(item.get("AvailabilityZone", "")),
            pending_modified={str(k): v for k, v in (item.get("PendingModifiedValues") or {}).items()} if isinstance(item.get("PendingModifiedValues"), dict) else {},
            security_groups=[str(g.get("VpcSecurityGroupId")) for g in item.get("VpcSecurityGroups") or [] if isinstance(g, dict) and g.get("VpcSecurityGroupId")],
            vpc_id=str(subnet_group.get("VpcId", "")),
        ))
    if not instances:
        raise ParserError("a DBInstances list without instances")
    return RdsFacts(instances=instances)


# ------------------------------------------------------------------ security groups


class SgRule(BaseModel):
    protocol: str = "all"  # tcp | udp | icmp | all
    from_port: int | None = None  # None: every port
    to_port: int | None = None
    cidrs: list[str] = []
    groups: list[str] = []  # referenced security groups (sources for ingress, destinations for egress)
    prefix_lists: list[str] = []
    description: str = ""

    def covers(self, port: int, protocol: str = "tcp") -> bool:
        if self.protocol not in ("all", protocol):
            return False
        if self.protocol == "all" or self.from_port is None or self.from_port == -1:
            return True
        return self.from_port <= port <= (self.to_port if self.to_port is not None else self.from_port)

    def admits_ip(self, ip: str) -> bool:
        return any(cidr_contains(c, ip) for c in self.cidrs)

    def show(self) -> str:
        ports = "all ports" if self.protocol == "all" or self.from_port in (None, -1) else (
            f"{self.protocol}/{self.from_port}" + (f"-{self.to_port}" if self.to_port not in (None, self.from_port) else ""))
        sources = self.cidrs + self.groups + self.prefix_lists
        return f"{ports} from {', '.join(sources) or 'nowhere'}"


class SecurityGroup(BaseModel):
    id: str
    name: str = ""
    description: str = ""
    vpc_id: str = ""
    tags: dict[str, str] = {}
    ingress: list[SgRule] = []
    egress: list[SgRule] = []

    @property
    def label(self) -> str:
        return f"{self.id} ({self.name})" if self.name else self.id

    def words(self) -> str:
        return " ".join([self.name, self.description, *self.tags.values()]).lower()


class SecurityGroupsFacts(Facts):
    parser: str = "aws_security_groups"
    groups: list[SecurityGroup] = []

    def summary(self) -> str:
        parts = []
        for g in self.groups[:4]:
            rules = "; ".join(r.show() for r in g.ingress[:3]) or "no ingress rules"
            parts.append(f"{g.label}: {rules}")
        return " | ".join(parts) or "no security groups"


def _rules(permissions: Any) -> list[SgRule]:
    out = []
    for p in permissions or []:
        if not isinstance(p, dict):
            continue
        protocol = PROTOCOLS.get(str(p.get("IpProtocol", "-1")).lower(), str(p.get("IpProtocol", "")))
        out.append(SgRule(
            protocol=protocol, from_port=_int(p.get("FromPort")), to_port=_int(p.get("ToPort")),
            cidrs=[str(r.get("CidrIp")) for r in p.get("IpRanges") or [] if isinstance(r, dict) and r.get("CidrIp")]
            + [str(r.get("CidrIpv6")) for r in p.get("Ipv6Ranges") or [] if isinstance(r, dict) and r.get("CidrIpv6")],
            groups=[str(g.get("GroupId")) for g in p.get("UserIdGroupPairs") or [] if isinstance(g, dict) and g.get("GroupId")],
            prefix_lists=[str(g.get("PrefixListId")) for g in p.get("PrefixListIds") or [] if isinstance(g, dict) and g.get("PrefixListId")],
            description="; ".join(str(r.get("Description")) for r in (p.get("IpRanges") or []) + (p.get("UserIdGroupPairs") or [])
                                  if isinstance(r, dict) and r.get("Description"))[:200],
        ))
    return out


def parse_aws_security_groups(text: str, *, command: str = "", stderr: str = "") -> SecurityGroupsFacts:
    groups = []
    for item in _document(text, "SecurityGroups"):
        if not item.get("GroupId"):
            continue
        tags = {str(t.get("Key")): str(t.get("Value", "")) for t in item.get("Tags") or [] if isinstance(t, dict) and t.get("Key")}
        groups.append(SecurityGroup(
            id=str(item["GroupId"]), name=str(item.get("GroupName", "")), description=str(item.get("Description", "")),
            vpc_id=str(item.get("VpcId", "")), tags=tags, ingress=_rules(item.get("IpPermissions")), egress=_rules(item.get("IpPermissionsEgress")),
        ))
    if not groups:
        raise ParserError("a SecurityGroups list without groups")
    return SecurityGroupsFacts(groups=groups)


# ------------------------------------------------------------------ network ACLs


class AclEntry(BaseModel):
    rule_number: int
    egress: bool
    action: str  # allow | deny
    protocol: str = "all"
    cidr: str = ""
    from_port: int | None = None  # None: every port
    to_port: int | None = None

    @property
    def default(self) -> bool:
        return self.rule_number >= 32767  # the `*` rule every NACL ends with

    def matches(self, ip: str | None, port: int, protocol: str = "tcp") -> bool:
        if self.protocol not in ("all", protocol):
            return False
        if self.protocol != "all" and self.from_port is not None and not (self.from_port <= port <= (self.to_port or self.from_port)):
            return False
        return cidr_contains(self.cidr, ip) if ip else True

    def show(self) -> str:
        ports = "all traffic" if self.protocol == "all" or self.from_port is None else (
            f"{self.protocol}/{self.from_port}" + (f"-{self.to_port}" if self.to_port not in (None, self.from_port) else ""))
        rule = "*" if self.default else str(self.rule_number)
        return f"{'outbound' if self.egress else 'inbound'} rule {rule}: {self.action.upper()} {ports} {'to' if self.egress else 'from'} {self.cidr}"


class NetworkAcl(BaseModel):
    id: str
    vpc_id: str = ""
    is_default: bool = False
    subnets: list[str] = []
    entries: list[AclEntry] = []

    def decide(self, egress: bool, ip: str | None, port: int, protocol: str = "tcp") -> AclEntry | None:
        """The entry that decides this flow: the lowest-numbered match, as AWS evaluates NACLs."""
        for entry in sorted((e for e in self.entries if e.egress == egress), key=lambda e: e.rule_number):
            if entry.matches(ip, port, protocol):
                return entry
        return None


class NetworkAclsFacts(Facts):
    parser: str = "aws_network_acls"
    acls: list[NetworkAcl] = []

    def summary(self) -> str:
        parts = []
        for acl in self.acls[:4]:
            denies = [e for e in acl.entries if e.action == "deny" and not e.default]
            part = f"{acl.id}{' (default)' if acl.is_default else ''}: {len(acl.entries)} entries, {len(acl.subnets)} subnet(s)"
            if denies:
                part += "; " + "; ".join(e.show() for e in denies[:2])
            parts.append(part)
        return " | ".join(parts) or "no network ACLs"


def parse_aws_network_acls(text: str, *, command: str = "", stderr: str = "") -> NetworkAclsFacts:
    acls = []
    for item in _document(text, "NetworkAcls"):
        if not item.get("NetworkAclId"):
            continue
        entries = []
        for e in item.get("Entries") or []:
            if not isinstance(e, dict) or _int(e.get("RuleNumber")) is None:
                continue
            ports = e.get("PortRange") if isinstance(e.get("PortRange"), dict) else {}
            entries.append(AclEntry(
                rule_number=_int(e["RuleNumber"]), egress=bool(e.get("Egress", False)), action=str(e.get("RuleAction", "")).lower(),
                protocol=PROTOCOLS.get(str(e.get("Protocol", "-1")).lower(), str(e.get("Protocol", ""))),
                cidr=str(e.get("CidrBlock") or e.get("Ipv6CidrBlock") or ""), from_port=_int(ports.get("From")), to_port=_int(ports.get("To")),
            ))
        acls.append(NetworkAcl(
            id=str(item["NetworkAclId"]), vpc_id=str(item.get("VpcId", "")), is_default=bool(item.get("IsDefault", False)),
            subnets=[str(a.get("SubnetId")) for a in item.get("Associations") or [] if isinstance(a, dict) and a.get("SubnetId")], entries=entries,
        ))
    if not acls:
        raise ParserError("a NetworkAcls list without ACLs")
    return NetworkAclsFacts(acls=acls)


def cidr_contains(cidr: str, ip: str | None) -> bool:
    """Is `ip` inside `cidr`? False for anything unparsable (never a guess)."""
    if not ip or not cidr:
        return False
    try:
        return ipaddress.ip_address(ip) in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False


# ------------------------------------------------------------------ network interfaces


class NetworkInterface(BaseModel):
    id: str
    private_ips: list[str] = []
    subnet_id: str = ""
    vpc_id: str = ""
    security_groups: list[str] = []
    description: str = ""
    requester: str = ""  # amazon-rds, amazon-elasticache, ...: who owns the address
    status: str = ""


class NetworkInterfacesFacts(Facts):
    """`ec2 describe-network-interfaces`: which subnet, VPC and security groups an address lives in."""

    parser: str = "aws_enis"
    interfaces: list[NetworkInterface] = []

    def summary(self) -> str:
        if not self.interfaces:
            return "no network interface has that address"
        parts = [f"{i.id} ({', '.join(i.private_ips[:2])}) in {i.subnet_id}/{i.vpc_id}, groups {', '.join(i.security_groups)}"
                 + (f", owned by {i.requester}" if i.requester else "") for i in self.interfaces[:3]]
        return "; ".join(parts)


def parse_aws_enis(text: str, *, command: str = "", stderr: str = "") -> NetworkInterfacesFacts:
    out = []
    for item in _document(text, "NetworkInterfaces"):
        out.append(NetworkInterface(
            id=str(item.get("NetworkInterfaceId", "")),
            private_ips=[str(a.get("PrivateIpAddress")) for a in item.get("PrivateIpAddresses") or [] if a.get("PrivateIpAddress")]
            or ([str(item["PrivateIpAddress"])] if item.get("PrivateIpAddress") else []),
            subnet_id=str(item.get("SubnetId", "")), vpc_id=str(item.get("VpcId", "")),
            security_groups=[str(g.get("GroupId")) for g in item.get("Groups") or [] if g.get("GroupId")],
            description=str(item.get("Description", ""))[:200], requester=str(item.get("RequesterId", "")), status=str(item.get("Status", "")),
        ))
    return NetworkInterfacesFacts(interfaces=out)
