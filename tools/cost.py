"""Monthly cost of a spec, of a spec change, or of a Terraform plan — before, after and the difference.

Offline by default: prices come from config/prices/<region>.yaml (AWS public
on-demand list prices, dated and marked approximate in the file). Where the
`infracost` CLI is on PATH, plans are priced by it instead (live prices,
usage files). Usage-based charges (NAT data, API calls) are named in the
breakdown but not counted, as Infracost does without a usage file.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from config.settings import get_settings
from graphs.errors import ConfigError
from graphs.state import CostEstimate, CostLine

DEFAULT_REGION = "ap-northeast-2"


class PriceTable(BaseModel):
    """One config/prices/<region>.yaml."""

    model_config = ConfigDict(extra="allow")
    region: str
    currency: str = "USD"
    as_of: str
    source: str
    hours_per_month: float = 730
    eks: dict[str, float]
    ec2_hour: dict[str, float]
    ebs: dict[str, float]
    nat_gateway: dict[str, float]
    rds_mysql_hour: dict[str, float]
    rds_multi_az_factor: float = 2
    rds_storage_gb: dict[str, float]
    elasticache_hour: dict[str, float]
    secrets_manager: dict[str, float]
    defaults: dict[str, Any] = Field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"config/prices/{self.region}.yaml (AWS on-demand list prices as of {self.as_of}, approximate)"


@lru_cache(maxsize=16)
def _load(path: str) -> PriceTable:
    try:
        return PriceTable.model_validate(yaml.safe_load(Path(path).read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, ValueError) as exc:
        raise ConfigError(f"cannot read price table {path}: {str(exc).splitlines()[0]}") from None


def load_price_table(region: str, prices_dir: str | Path | None = None) -> PriceTable:
    path = Path(prices_dir or get_settings().config_dir / "prices") / f"{region}.yaml"
    if not path.exists():
        raise ConfigError(f"no price table for region {region}: add config/prices/{region}.yaml (or put `infracost` on PATH)")
    return _load(str(path))


@dataclass(frozen=True)
class CostItem:
    """One priced component: `name` is its identity within `component`, the quantity may change."""

    component: str  # "dev/eks"
    name: str  # "Worker nodes (t3.medium)"
    quantity: float
    unit: str  # "nodes", "GB", "hours", "secrets"
    monthly: float
    note: str = ""  # "price not in table", "+ $0.059/GB processed (usage, not counted)"


def _qty(value: float) -> str:
    return f"{value:g}"


# ----------------------------------------------------------- spec pricing


def _environments(spec: dict[str, Any], environment: str | None) -> list[tuple[str, dict[str, Any]]]:
    envs = spec.get("environments") or {}
    if environment in (None, "all"):
        return [(name, env or {}) for name, env in envs.items()]
    return [(environment, envs.get(environment) or {})] if environment in envs else []


def _enabled(block: Any, default: bool = True) -> bool:
    return isinstance(block, dict) and bool(block.get("enabled", default))


def spec_cost_items(spec: dict[str, Any], environment: str | None, prices: PriceTable | None = None) -> list[CostItem]:
    """Every priced component of the named environment ("all" or None: every environment); disabled ones cost nothing."""
    prices = prices or load_price_table(spec.get("region") or DEFAULT_REGION)
    hours = prices.hours_per_month
    d = prices.defaults
    items: list[CostItem] = []
    for env_name, env in _environments(spec, environment):
        if not env.get("enabled", True):
            continue
        vpc = env.get("vpc") or {}
        nat = int(vpc.get("nat_gateways", 0) or 0)
        if nat:
            items.append(CostItem(f"{env_name}/vpc", "NAT gateway", nat, "gateways", nat * prices.nat_gateway["hour"] * hours,
                                  note=f"+ ${prices.nat_gateway['gb_processed']}/GB processed (usage, not counted)"))
        eks = env.get("eks")
        if _enabled(eks):
            items.append(CostItem(f"{env_name}/eks", "Control plane", hours, "hours", prices.eks["cluster_hour"] * hours))
            itype = str(eks.get("node_instance_type", "t3.medium"))
            count = int(eks.get("node_count", 0) or 0)
            price = prices.ec2_hour.get(itype)
            items.append(CostItem(f"{env_name}/eks", f"Worker nodes ({itype})", count, "nodes", count * (price or 0) * hours,
                                  note="" if price is not None else "price not in table"))
            volume = float(eks.get("node_disk_gb", eks.get("node_volume_gb", d.get("eks_node_volume_gb", 50))))
            items.append(CostItem(f"{env_name}/eks", "Node volumes (gp3)", count * volume, "GB", count * volume * prices.ebs["gp3_gb"]))
        rds = env.get("rds")
        if _enabled(rds):
            cls = str(rds.get("instance_class", "db.t3.micro"))
            multi = bool(rds.get("multi_az", False))
            factor = prices.rds_multi_az_factor if multi else 1
            price = prices.rds_mysql_hour.get(cls)
            az = "Multi-AZ" if multi else "Single-AZ"
            engine = str(rds.get("engine", "mysql"))
            note = "" if price is not None else "price not in table"
            if engine != "mysql" and price is not None:
                note = f"priced as MySQL ({engine} differs)"
            items.append(CostItem(f"{env_name}/rds", f"Database instance ({cls}, {az})", hours, "hours", (price or 0) * factor * hours, note=note))
            storage_type = str(rds.get("storage_type", d.get("rds_storage_type", "gp3")))
            gb = float(rds.get("storage_gb", 20) or 0)
            items.append(CostItem(f"{env_name}/rds", f"Storage ({storage_type}, {az})", gb, "GB",
                                  gb * prices.rds_storage_gb.get(storage_type, prices.rds_storage_gb["gp3"]) * factor))
            secrets = int(d.get("secrets_per_rds", 1))
            if secrets:
                items.append(CostItem(f"{env_name}/rds", "Secrets Manager secret (master password)", secrets, "secrets",
                                      secrets * prices.secrets_manager["secret_month"]))
        for name, ec2 in sorted((env.get("ec2") or {}).items()):
            if not isinstance(ec2, dict) or not ec2.get("enabled", True):
                continue
            itype = str(ec2.get("instance_type", "t3.micro"))
            count = int(ec2.get("count", 1) or 0)
            price = prices.ec2_hour.get(itype)
            items.append(CostItem(f"{env_name}/ec2.{name}", f"Instance ({itype})", count, "instances", count * (price or 0) * hours,
                                  note="" if price is not None else "price not in table"))
            volume = float(ec2.get("volume_gb", d.get("ec2_root_volume_gb", 30)))
            items.append(CostItem(f"{env_name}/ec2.{name}", "Root volume (gp3)", count * volume, "GB", count * volume * prices.ebs["gp3_gb"]))
        redis = env.get("redis")
        if _enabled(redis, default=False):
            ntype = str(redis.get("node_type", "cache.t3.micro"))
            nodes = int(redis.get("nodes", 1) or 0)
            price = prices.elasticache_hour.get(ntype)
            items.append(CostItem(f"{env_name}/redis", f"Cache nodes ({ntype})", nodes, "nodes", nodes * (price or 0) * hours,
                                  note="" if price is not None else "price not in table"))
    return items


def _label(item: CostItem, quantity: str) -> str:
    note = f"; {item.note}" if item.note else ""
    return f"{item.component}: {item.name} ({quantity} {item.unit}{note})"


def estimate_spec_cost(spec: dict[str, Any], environment: str | None) -> CostEstimate:
    """What the environment costs per month when built from nothing (before = 0, after = the spec)."""
    prices = load_price_table(spec.get("region") or DEFAULT_REGION)
    items = spec_cost_items(spec, environment, prices)
    lines = [CostLine(resource=_label(i, _qty(i.quantity)), monthly_after=round(i.monthly, 2)) for i in items]
    return CostEstimate(monthly_before=0.0, monthly_after=round(sum(i.monthly for i in items), 2), currency=prices.currency,
                        lines=lines, source=prices.label)


def estimate_change_cost(before_spec: dict[str, Any], after_spec: dict[str, Any], environment: str | None) -> CostEstimate:
    """Monthly cost before and after a spec change, per component (components that appear or vanish included)."""
    prices = load_price_table(after_spec.get("region") or before_spec.get("region") or DEFAULT_REGION)
    before = {(i.component, i.name): i for i in spec_cost_items(before_spec, environment, prices)}
    after = {(i.component, i.name): i for i in spec_cost_items(after_spec, environment, prices)}
    lines: list[CostLine] = []
    for key in list(before) + [k for k in after if k not in before]:
        b, a = before.get(key), after.get(key)
        item = a or b
        if b and a and b.quantity != a.quantity:
            quantity = f"{_qty(b.quantity)} → {_qty(a.quantity)}"
        else:
            quantity = _qty((a or b).quantity) if (a and b) else (f"+{_qty(a.quantity)}" if a else f"-{_qty(b.quantity)}")
        lines.append(CostLine(resource=_label(item, quantity), monthly_before=round(b.monthly if b else 0.0, 2),
                              monthly_after=round(a.monthly if a else 0.0, 2)))
    return CostEstimate(
        monthly_before=round(sum(i.monthly for i in before.values()), 2),
        monthly_after=round(sum(i.monthly for i in after.values()), 2),
        currency=prices.currency, lines=lines, source=prices.label,
    )


# ----------------------------------------------------------- plan pricing


def plan_region(plan_json: dict[str, Any]) -> str | None:
    """The AWS provider's region as written in the plan's configuration (a constant), if any."""
    providers = (plan_json.get("configuration") or {}).get("provider_config") or {}
    for key, provider in providers.items():
        if key == "aws" or provider.get("name") == "aws":
            region = ((provider.get("expressions") or {}).get("region") or {}).get("constant_value")
            if region:
                return str(region)
    variable = ((plan_json.get("variables") or {}).get("region") or {}).get("value")
    return str(variable) if variable else None


def _first(value: Any) -> dict[str, Any]:
    if isinstance(value, list):
        return value[0] if value and isinstance(value[0], dict) else {}
    return value if isinstance(value, dict) else {}


def _ebs_monthly(prices: PriceTable, size: Any, vtype: Any, iops: Any) -> float:
    vtype = str(vtype or "gp2")
    total = float(size or 0) * prices.ebs.get(f"{vtype}_gb", prices.ebs["gp2_gb"])
    if vtype in ("io1", "io2") and iops:
        total += float(iops) * prices.ebs.get("io1_iops", 0)
    return total


def resource_monthly(rtype: str, values: dict[str, Any] | None, prices: PriceTable) -> float | None:
    """Monthly cost of one resource's attribute values (before or after); None when this type is not priced here."""
    if not values:
        return 0.0
    hours = prices.hours_per_month
    d = prices.defaults
    if rtype == "aws_instance":
        total = prices.ec2_hour.get(str(values.get("instance_type")), 0.0) * hours
        root = _first(values.get("root_block_device"))
        total += _ebs_monthly(prices, root.get("volume_size") or d.get("ec2_root_volume_gb", 8), root.get("volume_type"), root.get("iops"))
        for dev in values.get("ebs_block_device") or []:
            total += _ebs_monthly(prices, dev.get("volume_size"), dev.get("volume_type"), dev.get("iops"))
        return total
    if rtype == "aws_ebs_volume":
        return _ebs_monthly(prices, values.get("size"), values.get("type"), values.get("iops"))
    if rtype == "aws_eks_cluster":
        return prices.eks["cluster_hour"] * hours
    if rtype == "aws_eks_node_group":
        scaling = _first(values.get("scaling_config"))
        count = float(scaling.get("desired_size") or 0)
        itype = (values.get("instance_types") or ["t3.medium"])[0]
        disk = float(values.get("disk_size") or d.get("eks_node_volume_gb", 20))
        return count * (prices.ec2_hour.get(str(itype), 0.0) * hours + disk * prices.ebs["gp3_gb"])
    if rtype == "aws_nat_gateway":
        return prices.nat_gateway["hour"] * hours
    if rtype == "aws_db_instance":
        factor = prices.rds_multi_az_factor if values.get("multi_az") else 1
        instance = prices.rds_mysql_hour.get(str(values.get("instance_class")), 0.0) * hours
        storage_type = str(values.get("storage_type") or "gp2")
        storage = float(values.get("allocated_storage") or 0) * prices.rds_storage_gb.get(storage_type, prices.rds_storage_gb["gp3"])
        return (instance + storage) * factor
    if rtype == "aws_elasticache_cluster":
        return float(values.get("num_cache_nodes") or 1) * prices.elasticache_hour.get(str(values.get("node_type")), 0.0) * hours
    if rtype == "aws_elasticache_replication_group":
        nodes = values.get("num_cache_clusters") or (
            float(values.get("num_node_groups") or 1) * (float(values.get("replicas_per_node_group") or 0) + 1))
        return float(nodes or 1) * prices.elasticache_hour.get(str(values.get("node_type")), 0.0) * hours
    if rtype == "aws_secretsmanager_secret":
        return prices.secrets_manager["secret_month"]
    return None


def estimate_plan_cost_from_table(plan_json: dict[str, Any], *, region: str | None = None) -> CostEstimate:
    """Price a plan's resource_changes with the offline table: before and after per resource address."""
    region = plan_region(plan_json) or region or DEFAULT_REGION
    prices = load_price_table(region)
    lines: list[CostLine] = []
    unpriced: list[str] = []
    for rc in plan_json.get("resource_changes") or []:
        if rc.get("mode", "managed") != "managed":
            continue
        change = rc.get("change") or {}
        before = resource_monthly(rc.get("type", ""), change.get("before"), prices)
        after = resource_monthly(rc.get("type", ""), None if change.get("actions") == ["delete"] else change.get("after"), prices)
        if before is None or after is None:
            unpriced.append(rc.get("type", "?"))
            continue
        lines.append(CostLine(resource=rc.get("address", "?"), monthly_before=round(before, 2), monthly_after=round(after, 2)))
    source = prices.label
    if unpriced:
        source += f"; not priced (free or usage-based): {', '.join(sorted(set(unpriced)))}"
    return CostEstimate(monthly_before=round(sum(line.monthly_before for line in lines), 2),
                        monthly_after=round(sum(line.monthly_after for line in lines), 2),
                        currency=prices.currency, lines=lines, source=source)


def parse_infracost_breakdown(data: str | dict[str, Any]) -> CostEstimate:
    """`infracost breakdown --format json` output as a CostEstimate (tolerates text after the JSON)."""
    if isinstance(data, str):
        data, _ = json.JSONDecoder().raw_decode(data.lstrip())
    lines: list[CostLine] = []
    for project in data.get("projects") or []:
        past = {r["name"]: float(r.get("monthlyCost") or 0) for r in (project.get("pastBreakdown") or {}).get("resources") or []}
        now = {r["name"]: float(r.get("monthlyCost") or 0) for r in (project.get("breakdown") or {}).get("resources") or []}
        for name in list(past) + [n for n in now if n not in past]:
            lines.append(CostLine(resource=name, monthly_before=round(past.get(name, 0.0), 2), monthly_after=round(now.get(name, 0.0), 2)))
    return CostEstimate(
        monthly_before=round(float(data.get("pastTotalMonthlyCost") or 0), 2),
        monthly_after=round(float(data.get("totalMonthlyCost") or 0), 2),
        currency=data.get("currency") or "USD", lines=lines, source="infracost",
    )


def estimate_plan_cost(plan: dict[str, Any] | str | Path, *, region: str | None = None, timeout_s: float = 120.0) -> CostEstimate:
    """Infracost when its CLI is on PATH, else the offline price table."""
    plan_json = plan if isinstance(plan, dict) else json.loads(Path(plan).read_text(encoding="utf-8"))
    infracost = shutil.which("infracost")
    if infracost:
        with tempfile.TemporaryDirectory(prefix="cloud-doctor-cost-") as tmp:
            path = Path(tmp) / "plan.json"
            path.write_text(json.dumps(plan_json), encoding="utf-8")
            try:
                done = subprocess.run([infracost, "breakdown", "--path", str(path), "--format", "json"], capture_output=True,
                                      text=True, timeout=timeout_s, check=False)
                if done.returncode == 0:
                    return parse_infracost_breakdown(done.stdout)
                failure = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
            except (OSError, subprocess.TimeoutExpired, ValueError) as exc:
                failure = str(exc).splitlines()[0]
        estimate = estimate_plan_cost_from_table(plan_json, region=region)
        return estimate.model_copy(update={"source": f"{estimate.source} (infracost failed: {failure[:200]})"})
    return estimate_plan_cost_from_table(plan_json, region=region)


# ---------------------------------------------------------------- render


def _money(value: float, signed: bool = False) -> str:
    text = f"${abs(value):,.2f}"
    if value < 0:
        return "-" + text
    return ("+" + text) if signed and value > 0 else text


def render_cost_breakdown(est: CostEstimate, project: str = "") -> str:
    """A table shaped like Infracost's: resources with their components in a tree, totals last."""
    diff = any(line.monthly_before for line in est.lines) or est.monthly_before
    groups: dict[str, list[tuple[str, CostLine]]] = {}
    for line in est.lines:
        head, _, rest = line.resource.partition(": ")
        groups.setdefault(head if rest else line.resource, []).append((rest, line))
    width = max([len(" Name")] + [len(h) + 1 for h in groups] + [len(r) + 4 for g in groups.values() for r, _ in g]) + 2
    width = min(width, 90)
    header = f" {'Name':<{width}}" + (f"{'Before':>12}{'After':>12}{'Diff':>12}" if diff else f"{'Monthly Cost':>14}")
    out = [f"Project: {project or 'cost estimate'} ({est.source})", "", header, ""]

    def cells(before: float, after: float) -> str:
        if diff:
            return f"{_money(before):>12}{_money(after):>12}{_money(round(after - before, 2), signed=True):>12}"
        return f"{_money(after):>14}"

    for head, members in groups.items():
        if len(members) == 1 and not members[0][0]:
            line = members[0][1]
            out.append(f" {head[:width]:<{width}}" + cells(line.monthly_before, line.monthly_after))
            continue
        out.append(f" {head}")
        for index, (name, line) in enumerate(members):
            branch = "└─" if index == len(members) - 1 else "├─"
            label = f" {branch} {name}"
            out.append(f"{label[:width + 1]:<{width + 1}}" + cells(line.monthly_before, line.monthly_after))
        out.append("")
    if out[-1] != "":
        out.append("")
    out.append(f" {'OVERALL TOTAL':<{width}}" + cells(est.monthly_before, est.monthly_after))
    return "\n".join(line.rstrip() for line in out)
