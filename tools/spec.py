"""The infrastructure spec: its schema, dotted paths into it, and diffs between two versions.

A spec change is a list of dotted paths and new values
(`environments.dev.eks.node_count: 2`, ../shared/scenarios/infrastructure-spec.md).
This module is the one authority on which paths exist and what they may
hold: the planner, the LLM layer and the Terraform author all go through
`set_path`, so an unknown key or a wrong type is refused with one line
that names the path ("environments.dev.eks.node_count: must be an integer
>= 0 (got 'two')") before anything is written or planned.

Specs are passed around as plain dicts (what YAML gives); the pydantic
models only judge them. `set_path` returns a new dict rather than a dumped
model so defaults never leak into a person's spec and diffs stay minimal.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re
import types
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from graphs.errors import UserInputError

ENV_NAMES: tuple[str, ...] = ("dev", "staging", "prod")
SPEC_FILE_NAME = "spec.yaml"

# Instance type families must contain a digit (t3, m5, r6g, m7i-flex); sizes as AWS names them.
_SIZE = r"(nano|micro|small|medium|large|xlarge|[1-9][0-9]*xlarge|metal(-[0-9]+xl)?)"
_FAMILY = r"[a-z][a-z0-9-]*[0-9][a-z0-9-]*"
EC2_TYPE_PATTERN = rf"^{_FAMILY}\.{_SIZE}$"
DB_CLASS_PATTERN = rf"^db\.{_FAMILY}\.{_SIZE}$"
CACHE_TYPE_PATTERN = rf"^cache\.{_FAMILY}\.{_SIZE}$"
BACKUP_WINDOW_PATTERN = r"^(|([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9])$"
SIZE_LADDER: tuple[str, ...] = (
    "nano", "micro", "small", "medium", "large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge",
    "16xlarge", "24xlarge", "32xlarge", "48xlarge",
)


class SpecError(UserInputError):
    """A spec, a path or a value the schema refuses; the message names the path and what it must be."""


def _expects(text: str) -> Any:
    return {"expects": text}


Count = Annotated[int, Field(strict=True, ge=0)]
Ec2Type = Annotated[str, Field(strict=True, pattern=EC2_TYPE_PATTERN, json_schema_extra=_expects("an EC2 instance type like t3.large"))]
DbClass = Annotated[str, Field(strict=True, pattern=DB_CLASS_PATTERN, json_schema_extra=_expects("an RDS instance class like db.t3.medium"))]
CacheType = Annotated[str, Field(strict=True, pattern=CACHE_TYPE_PATTERN, json_schema_extra=_expects("an ElastiCache node type like cache.t3.small"))]
Flag = Annotated[bool, Field(strict=True)]
Text = Annotated[str, Field(strict=True, min_length=1)]


class SpecModel(BaseModel):
    """Base: unknown keys are errors, types are strict ("3" is not a count, 1 is not true)."""

    model_config = ConfigDict(extra="forbid", validate_default=False)


class VpcSpec(SpecModel):
    cidr: Annotated[str, Field(strict=True, json_schema_extra=_expects("an IPv4 CIDR block like 10.30.0.0/16"))]
    azs: Annotated[int, Field(strict=True, ge=1, le=6)] = 2
    nat_gateways: Annotated[int, Field(strict=True, ge=0, le=6)] = 1

    @field_validator("cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        try:
            net = ipaddress.IPv4Network(value, strict=True)
        except ValueError:
            raise ValueError(f"must be an IPv4 CIDR block like 10.30.0.0/16 (got {value!r})") from None
        if not 16 <= net.prefixlen <= 24:
            raise ValueError(f"must be a /16 to /24 block (got {value!r})")
        return value

    @model_validator(mode="after")
    def _nat_within_azs(self) -> "VpcSpec":
        if self.nat_gateways > self.azs:
            raise ValueError(f"nat_gateways {self.nat_gateways} is more than azs {self.azs} (one NAT gateway per AZ at most)")
        return self


class EksSpec(SpecModel):
    enabled: Flag = True
    version: Annotated[str, Field(strict=True, pattern=r"^1\.[0-9]{2}$", json_schema_extra=_expects('an EKS version in quotes, like "1.31"'))] = "1.31"
    node_instance_type: Ec2Type = "t3.medium"
    node_count: Count = 2
    node_min: Count = 1
    node_max: Annotated[int, Field(strict=True, ge=1)] = 4
    node_disk_gb: Annotated[int, Field(strict=True, ge=20, le=16384)] = 50

    @model_validator(mode="after")
    def _count_within_bounds(self) -> "EksSpec":
        if self.node_min > self.node_max:
            raise ValueError(f"node_min {self.node_min} is above node_max {self.node_max}")
        if self.node_count > self.node_max:
            raise ValueError(f"node_count {self.node_count} is above node_max {self.node_max} (raise node_max too)")
        if self.node_count < self.node_min:
            raise ValueError(f"node_count {self.node_count} is below node_min {self.node_min} (lower node_min too)")
        return self


class RdsSpec(SpecModel):
    enabled: Flag = True
    engine: Literal["mysql", "mariadb", "postgres"] = "mysql"
    engine_version: Text = "8.0.41"
    instance_class: DbClass = "db.t3.micro"
    storage_gb: Annotated[int, Field(strict=True, ge=20, le=65536)] = 20
    max_storage_gb: Annotated[int, Field(strict=True, ge=0, le=65536)] = 0
    storage_type: Literal["gp2", "gp3", "io1", "io2"] = "gp3"
    multi_az: Flag = False
    backup_retention_days: Annotated[int, Field(strict=True, ge=0, le=35)] = 7
    backup_window: Annotated[str, Field(strict=True, pattern=BACKUP_WINDOW_PATTERN,
                                        json_schema_extra=_expects('a daily UTC window like "18:00-18:30" ("" lets AWS choose)'))] = ""
    max_connections: Annotated[int, Field(strict=True, ge=10, le=16000)] = 150

    @model_validator(mode="after")
    def _autoscaling_above_storage(self) -> "RdsSpec":
        if self.max_storage_gb and self.max_storage_gb < self.storage_gb:
            raise ValueError(f"max_storage_gb {self.max_storage_gb} is below storage_gb {self.storage_gb} (0 turns autoscaling off)")
        return self


class BackupSpec(SpecModel):
    """An AWS Backup plan for the environment's database: when (AWS Backup cron, UTC) and how long points are kept."""

    enabled: Flag = True
    schedule: Annotated[str, Field(strict=True, pattern=r"^cron\([0-9*?/,LW#A-Z -]+\)$",
                                   json_schema_extra=_expects('an AWS Backup cron in UTC like "cron(0 18 ? * SUN *)"'))] = "cron(0 18 ? * SUN *)"
    retention_days: Annotated[int, Field(strict=True, ge=1, le=36500)] = 35


class Ec2Instance(SpecModel):
    enabled: Flag = True
    instance_type: Ec2Type
    count: Count = 1
    volume_gb: Annotated[int, Field(strict=True, ge=8, le=16384)] = 30
    volume_iops: Annotated[int, Field(strict=True, ge=3000, le=16000)] = 3000
    volume_throughput: Annotated[int, Field(strict=True, ge=125, le=1000)] = 125


class RedisSpec(SpecModel):
    enabled: Flag = False
    node_type: CacheType = "cache.t3.micro"
    nodes: Annotated[int, Field(strict=True, ge=1, le=6)] = 1
    engine_version: Text = "7.1"


class SecretsSpec(SpecModel):
    names: list[Annotated[str, Field(strict=True, pattern=r"^[a-z][a-z0-9-]*$")]] = Field(default_factory=lambda: ["app"])
    name_suffix: Annotated[str, Field(strict=True)] = ""


Ec2Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*$")]


class EnvironmentSpec(SpecModel):
    enabled: Flag = True
    vpc: VpcSpec | None = None
    eks: EksSpec | None = None
    rds: RdsSpec | None = None
    ec2: dict[Ec2Name, Ec2Instance] = Field(default_factory=dict)
    redis: RedisSpec | None = None
    secrets: SecretsSpec | None = None
    backup: BackupSpec | None = None
    tags: dict[Annotated[str, Field(strict=True)], Annotated[str, Field(strict=True)]] = Field(default_factory=dict)


EnvName = Literal["dev", "staging", "prod"]


class InfraSpec(SpecModel):
    project: Annotated[str, Field(strict=True, pattern=r"^[a-z][a-z0-9]{1,15}$", json_schema_extra=_expects("2-16 lowercase letters or digits, starting with a letter"))]
    region: Annotated[str, Field(strict=True, pattern=r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", json_schema_extra=_expects("an AWS region like ap-northeast-2"))]
    owner: Text
    environments: dict[EnvName, EnvironmentSpec]


class SpecDiffLine(BaseModel):
    """One leaf that differs between two specs; None on one side means absent there."""

    path: str
    before: Any = None
    after: Any = None


_MISSING = object()

# ------------------------------------------------------------ schema walk


def _unwrap(annotation: Any) -> tuple[Any, list[Any]]:
    """(bare type, constraint metadata) of an annotation: Optional and Annotated peeled off."""
    metadata: list[Any] = []
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            args = get_args(annotation)
            annotation, metadata = args[0], [*metadata, *args[1:]]
            continue
        if origin in (Union, types.UnionType):
            args = [a for a in get_args(annotation) if a is not type(None)]
            if len(args) == 1:
                annotation = args[0]
                continue
        return annotation, metadata


def schema_at(path: str | list[str]) -> tuple[Any, list[Any]]:
    """The (type, constraints) the schema declares at a dotted path; SpecError when no such path exists."""
    parts = path.split(".") if isinstance(path, str) else list(path)
    current: Any = InfraSpec
    metadata: list[Any] = []
    walked: list[str] = []
    for part in parts:
        where = ".".join(walked) or "the spec"
        bare, _ = _unwrap(current)
        if isinstance(bare, type) and issubclass(bare, BaseModel):
            if part not in bare.model_fields:
                known = ", ".join(bare.model_fields)
                raise SpecError(f"{'.'.join([*walked, part])}: unknown key in {where} (known: {known})")
            field = bare.model_fields[part]
            current, metadata = field.annotation, [field, *field.metadata]
        elif get_origin(bare) is dict:
            key_type, value_type = get_args(bare)
            key_bare, key_meta = _unwrap(key_type)
            if get_origin(key_bare) is Literal and part not in get_args(key_bare):
                raise SpecError(f"{'.'.join([*walked, part])}: unknown environment (use {', '.join(get_args(key_bare))})")
            pattern = next((m.pattern for m in key_meta if getattr(m, "pattern", None)), None)
            if pattern:
                if not re.match(pattern, part):
                    raise SpecError(f"{'.'.join([*walked, part])}: {part!r} is not a valid name (lowercase letters, digits, '-')")
            current, metadata = value_type, []
        else:
            raise SpecError(f"{'.'.join([*walked, part])}: {where} is a value, it has no key {part!r}")
        walked.append(part)
    bare, inner = _unwrap(current)
    return bare, [*metadata, *inner]


def default_at(path: str) -> Any:
    """The schema's default at a path (what Terraform gets when the spec leaves it out); None when required."""
    parts = path.split(".")
    parent, _ = schema_at(parts[:-1]) if len(parts) > 1 else (InfraSpec, [])
    schema_at(parts)
    if isinstance(parent, type) and issubclass(parent, BaseModel):
        field = parent.model_fields[parts[-1]]
        if not field.is_required():
            return copy.deepcopy(field.get_default(call_default_factory=True))
    return None


def value_at(spec: dict[str, Any] | None, dotted: str) -> Any:
    """The value at a path, or the schema's default when the spec leaves it out."""
    value = get_path(spec, dotted, _MISSING)
    return default_at(dotted) if value is _MISSING else value


def is_known_path(path: str) -> bool:
    try:
        schema_at(path)
    except SpecError:
        return False
    return True


def describe_type(path: str | list[str]) -> str:
    """What a value at `path` must be, in words ("an integer >= 0", "true or false")."""
    try:
        bare, metadata = schema_at(path)
    except SpecError:
        return "a known spec key"
    for m in metadata:
        extra = getattr(m, "json_schema_extra", None)
        if isinstance(extra, dict) and "expects" in extra:
            return extra["expects"]
    if bare is bool:
        return "true or false"
    if bare is int:
        lo = next((m.ge for m in metadata if isinstance(m, annotated_types.Ge)), None)
        hi = next((m.le for m in metadata if isinstance(m, annotated_types.Le)), None)
        if lo is not None and hi is not None:
            return f"an integer between {lo} and {hi}"
        if lo is not None:
            return f"an integer >= {lo}"
        return "an integer"
    if get_origin(bare) is Literal:
        return "one of " + ", ".join(str(a) for a in get_args(bare))
    if bare is str:
        return "text"
    if get_origin(bare) is dict:
        return "a mapping"
    if get_origin(bare) is list:
        return "a list"
    if isinstance(bare, type) and issubclass(bare, BaseModel):
        return f"a mapping with keys {', '.join(bare.model_fields)}"
    return "a valid value"


def coerce_value(path: str, value: Any) -> Any:
    """Bring a value from words or an LLM to the schema's type ("3" -> 3, "true" -> True, 2.0 -> 2).

    Only unambiguous conversions; anything else is returned as it is and
    validation then says what is wrong with it.
    """
    bare, _ = schema_at(path)
    if bare is int and not isinstance(value, bool):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
            return int(value.strip())
    if bare is bool and isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "yes", "on", "enabled"):
            return True
        if lowered in ("false", "no", "off", "disabled"):
            return False
    if bare is str and isinstance(value, (int, float)) and not isinstance(value, bool) and path.endswith("version"):
        return str(value)
    if bare is str and isinstance(value, str):
        return value.strip()
    return value


# ------------------------------------------------------------- validation


def _loc_path(loc: tuple[Any, ...]) -> list[str]:
    return [str(p) for p in loc if p != "[key]"]


def _error_line(error: dict[str, Any]) -> str:
    loc = tuple(error.get("loc") or ())
    parts = _loc_path(loc)
    where = ".".join(parts) or "the spec"
    kind = error.get("type", "")
    got = error.get("input")
    if "[key]" in loc:
        return f"{where}: not a valid name here" + (" (use dev, staging or prod)" if len(parts) == 2 and parts[0] == "environments" else "")
    if kind == "extra_forbidden":
        parent = parts[:-1]
        try:
            bare, _ = schema_at(parent) if parent else (InfraSpec, [])
            known = f" (known: {', '.join(bare.model_fields)})" if isinstance(bare, type) and issubclass(bare, BaseModel) else ""
        except SpecError:
            known = ""
        return f"{where}: unknown key{known}"
    if kind == "missing":
        return f"{where}: is required"
    if kind == "value_error":
        message = str(error.get("msg", "")).removeprefix("Value error, ")
        if message.startswith("must be"):
            return f"{where}: {message}"
        return f"{where}: {message}"
    return f"{where}: must be {describe_type(parts)} (got {_show(got)})"


def _show(value: Any) -> str:
    if isinstance(value, (dict, list)):
        text = json.dumps(value, ensure_ascii=False, default=str)
        return text if len(text) <= 60 else text[:57] + "..."
    return repr(value)


def spec_errors(data: Any) -> list[str]:
    """Every problem the schema finds, one line each (empty when the spec is valid)."""
    if not isinstance(data, dict):
        return [f"the spec must be a mapping with project, region, owner and environments (got {type(data).__name__})"]
    try:
        InfraSpec.model_validate(data)
    except ValidationError as exc:
        return [_error_line(e) for e in exc.errors()]  # type: ignore[arg-type]
    return []


def load_spec(source: str | Path | dict[str, Any]) -> InfraSpec:
    """A spec from a YAML file or a dict, validated; SpecError names the first problem (and counts the rest)."""
    where = ""
    if isinstance(source, dict):
        data: Any = source
    else:
        path = Path(source)
        where = f"{path}: "
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SpecError(f"spec file not found: {path}") from None
        except yaml.YAMLError as exc:
            raise SpecError(f"{path}: invalid YAML: {str(exc).splitlines()[0]}") from None
    errors = spec_errors(data)
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise SpecError(f"{where}{errors[0]}{more}")
    return InfraSpec.model_validate(data)


# ------------------------------------------------------------------ paths


def lookup_path(data: dict[str, Any] | None, dotted: str, default: Any = None) -> Any:
    """Plain traversal of nested mappings (no schema check): the value, or `default`."""
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def get_path(spec: dict[str, Any] | None, dotted: str, default: Any = None) -> Any:
    """The value at a dotted path, or `default` when the spec leaves it out; SpecError for a path the schema lacks."""
    schema_at(dotted)
    return lookup_path(spec, dotted, default)


def put_path(data: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    """A copy of `data` with `dotted` set, intermediate mappings created (no schema check)."""
    out = copy.deepcopy(data)
    node = out
    parts = dotted.split(".")
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[parts[-1]] = copy.deepcopy(value)
    return out


def set_path(spec: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    """A new spec dict with `dotted` set to `value`, validated.

    Refuses a path the schema does not know, and any change that brings a
    new problem (wrong type, out of range, node_count above node_max, ...).
    Problems the spec already had are not this change's fault and do not
    block it, so a slightly odd recorded spec can still be changed.
    """
    if not isinstance(spec, dict):
        raise SpecError("the spec must be a mapping")
    schema_at(dotted)
    before = set(spec_errors(spec))
    after_spec = put_path(spec, dotted, value)
    new = [e for e in spec_errors(after_spec) if e not in before]
    if new:
        raise SpecError(new[0])
    return after_spec


def apply_changes(spec: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Every change at once, validated together (so node_count and node_max may move in one step)."""
    for path in changes:
        schema_at(path)
    before = set(spec_errors(spec))
    out = spec
    for path, value in changes.items():
        out = put_path(out, path, value)
    new = [e for e in spec_errors(out) if e not in before]
    if new:
        raise SpecError(new[0])
    return out


# ------------------------------------------------------------------- diffs


def _leaves(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict) and data:
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(_leaves(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: data} if prefix else {}


def diff_specs(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[SpecDiffLine]:
    """Leaves that differ, in the order they appear (before's order first, then what is new)."""
    old, new = _leaves(before or {}), _leaves(after or {})
    lines = []
    for path in [*old, *(p for p in new if p not in old)]:
        a, b = old.get(path, _MISSING), new.get(path, _MISSING)
        if a is _MISSING or b is _MISSING or a != b or type(a) is not type(b):
            lines.append(SpecDiffLine(path=path, before=None if a is _MISSING else a, after=None if b is _MISSING else b))
    return lines


def _yaml_scalar(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=1000).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()


def render_diff(lines_or_before: list[SpecDiffLine] | dict[str, Any] | None, after: dict[str, Any] | None = None) -> str:
    """A unified-diff-like text of a spec change, grouped by the mapping that holds each value.

        --- spec
        +++ spec (changed)
        @@ environments.dev.eks @@
        -node_count: 3
        +node_count: 2
    """
    lines = lines_or_before if isinstance(lines_or_before, list) else diff_specs(lines_or_before, after)
    if not lines:
        return "(no change)\n"
    out = ["--- spec", "+++ spec (changed)"]
    group = None
    for line in lines:
        parent, _, key = line.path.rpartition(".")
        if parent != group:
            out.append(f"@@ {parent or '(top)'} @@")
            group = parent
        if line.before is not None:
            out.append(f"-{key}: {_yaml_scalar(line.before)}")
        if line.after is not None:
            out.append(f"+{key}: {_yaml_scalar(line.after)}")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- sources


def reference_spec_path(config_dir: str | Path | None = None) -> Path:
    if config_dir is None:
        from config.settings import get_settings

        config_dir = get_settings().config_dir
    return Path(config_dir) / SPEC_FILE_NAME


def current_spec(ctx: Any) -> dict[str, Any]:
    """The spec requests are planned against: the world's (a scenario's, a live repository's), else config/spec.yaml."""
    infra = ctx.world.infra() if ctx is not None else None
    spec = getattr(infra, "spec", None)
    if isinstance(spec, dict) and spec:
        return copy.deepcopy(spec)
    path = reference_spec_path(ctx.settings.config_dir if ctx is not None else None)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SpecError(f"no infrastructure spec: the world has none and {path} is missing") from None
    if not isinstance(data, dict):
        raise SpecError(f"{path}: the spec must be a mapping")
    return data


def size_step(instance_type: str, steps: int) -> str | None:
    """The same family `steps` sizes up (negative: down): t3.medium +1 -> t3.large; None past either end."""
    head, _, size = instance_type.rpartition(".")
    if size not in SIZE_LADDER or not head:
        return None
    index = SIZE_LADDER.index(size) + steps
    if not 0 <= index < len(SIZE_LADDER):
        return None
    return f"{head}.{SIZE_LADDER[index]}"


def version_step(version: Any, steps: int) -> str:
    """The EKS minor version `steps` ahead: "1.31" +1 -> "1.32".

    EKS upgrades one minor version at a time and never downgrades, so any
    other step is a ValueError that says so (the planner asks instead).
    """
    m = re.fullmatch(r"1\.([0-9]{2})", str(version or ""))
    if not m:
        raise ValueError(f"the current version {version!r} is not an EKS minor version like \"1.31\"")
    if steps < 0:
        raise ValueError(f"EKS cannot be downgraded from {version}; name the version you want to move to")
    if steps != 1:
        raise ValueError(f"EKS upgrades one minor version at a time: {version} -> 1.{int(m.group(1)) + 1} first")
    return f"1.{int(m.group(1)) + 1}"


def size_rank(instance_type: str) -> int | None:
    size = instance_type.rpartition(".")[2]
    return SIZE_LADDER.index(size) if size in SIZE_LADDER else None


__all__ = [
    "SpecError", "InfraSpec", "EnvironmentSpec", "VpcSpec", "EksSpec", "RdsSpec", "Ec2Instance", "RedisSpec",
    "SecretsSpec", "BackupSpec", "SpecDiffLine", "load_spec", "spec_errors", "get_path", "set_path", "apply_changes",
    "diff_specs", "render_diff", "current_spec", "schema_at", "is_known_path", "default_at", "value_at", "describe_type", "coerce_value",
    "size_step", "size_rank", "ENV_NAMES", "EC2_TYPE_PATTERN", "DB_CLASS_PATTERN", "CACHE_TYPE_PATTERN",
]
