"""Project lints for Terraform code: the rules checkov does not know about.

Four rules (config/lint.yaml):
- naming: AWS names are `{project}-{env}-{component}`, built from the name
  prefix (`${var.name_prefix}`) or spelled out literally;
- tags: taggable resources carry Project, Environment, Owner and
  ManagedBy=cloud-doctor (directly, through `var.tags`/`local.tags`, or the
  provider's `default_tags`);
- timestamp: no `timestamp()` (or `uuid()`) in a name — such a name changes at
  every plan and replaces the resource each time;
- ingress: nothing is open to 0.0.0.0/0 except ports 80/443 on a load
  balancer's security group.

The code is read with python-hcl2, so the checks see arguments as Terraform
does; expressions stay text (`${var.name_prefix}-eks`) and are judged by shape.
"""

from __future__ import annotations

import posixpath
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator, Literal

import hcl2
import yaml
from hcl2 import SerializationOptions
from pydantic import BaseModel, ConfigDict, Field

from config.settings import CONFIG_DIR
from graphs.errors import ConfigError

Rule = Literal["naming", "tags", "timestamp", "ingress"]
RULES: tuple[Rule, ...] = ("naming", "tags", "timestamp", "ingress")
_OPTIONS = SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)
_REF = re.compile(r"^\$\{(local|var)\.([A-Za-z0-9_-]+)\}$")
_SG_REF = re.compile(r"aws_security_group\.([A-Za-z0-9_-]+)")


class NamingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pattern: str = "{project}-{env}-{component}"
    environments: list[str] = Field(default_factory=lambda: ["dev", "staging", "prod"])
    prefixes: list[str] = Field(default_factory=list)
    attributes: list[str] = Field(default_factory=list)
    fixed_starts: dict[str, list[str]] = Field(default_factory=dict)
    exempt_types: list[str] = Field(default_factory=list)
    forbidden_functions: list[str] = Field(default_factory=lambda: ["timestamp"])


class TagsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    required: list[str] = Field(default_factory=list)
    managed_by: str = "cloud-doctor"
    sources: list[str] = Field(default_factory=list)
    taggable: list[str] = Field(default_factory=list)


class IngressConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    open_cidrs: list[str] = Field(default_factory=lambda: ["0.0.0.0/0", "::/0"])
    public_ports: list[int] = Field(default_factory=lambda: [80, 443])
    load_balancer_types: list[str] = Field(default_factory=list)
    load_balancer_name_markers: list[str] = Field(default_factory=list)


class LintConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    naming: NamingConfig = Field(default_factory=NamingConfig)
    tags: TagsConfig = Field(default_factory=TagsConfig)
    ingress: IngressConfig = Field(default_factory=IngressConfig)


class LintFinding(BaseModel):
    """One broken rule, where, and what to do about it."""

    rule: Rule
    file: str
    address: str  # "aws_security_group.db", "module.eks", "locals.tags"
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.address}: {self.message}"


class HclParseError(ValueError):
    """A .tf file python-hcl2 cannot read."""


@lru_cache(maxsize=4)
def _load_config(path: str) -> LintConfig:
    try:
        return LintConfig.model_validate(yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {})
    except FileNotFoundError:
        raise ConfigError(f"lint config not found: {path}") from None
    except (yaml.YAMLError, ValueError) as exc:
        raise ConfigError(f"{path}: invalid lint config: {str(exc).splitlines()[0]}") from None


def load_lint_config(path: str | Path | None = None) -> LintConfig:
    return _load_config(str(path or CONFIG_DIR / "lint.yaml"))


def parse_hcl(text: str, name: str = "<text>") -> dict[str, Any]:
    """A .tf file as python-hcl2 reads it, with quotes stripped from strings and labels.

    Parses are cached by text (a change is linted against its baseline, so most
    files are read twice); treat the result as read-only.
    """
    try:
        return _parse_cached(text)
    except Exception as exc:  # lark raises several types; callers need one
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise HclParseError(f"{name}: {first}") from None


@lru_cache(maxsize=512)
def _parse_cached(text: str) -> dict[str, Any]:
    return hcl2.loads(text, serialization_options=_OPTIONS)


# ------------------------------------------------------------------ walking


class _Block(BaseModel):
    kind: str  # resource | data | module | locals | provider
    type: str = ""
    name: str = ""
    body: dict[str, Any] = Field(default_factory=dict)
    file: str
    directory: str

    @property
    def address(self) -> str:
        if self.kind == "resource":
            return f"{self.type}.{self.name}"
        if self.kind == "data":
            return f"data.{self.type}.{self.name}"
        if self.kind == "module":
            return f"module.{self.name}"
        return self.kind


def _blocks(files: dict[str, str]) -> Iterator[_Block]:
    for path, text in sorted(files.items()):
        if not path.endswith(".tf"):
            continue
        try:
            doc = parse_hcl(text, path)
        except HclParseError:
            continue  # tf_validate reports parse errors; lints judge what parses
        directory = posixpath.dirname(path)
        for item in doc.get("resource", []) or []:
            for rtype, named in item.items():
                for rname, body in (named or {}).items():
                    yield _Block(kind="resource", type=rtype, name=rname, body=body or {}, file=path, directory=directory)
        for item in doc.get("data", []) or []:
            for rtype, named in item.items():
                for rname, body in (named or {}).items():
                    yield _Block(kind="data", type=rtype, name=rname, body=body or {}, file=path, directory=directory)
        for item in doc.get("module", []) or []:
            for mname, body in item.items():
                yield _Block(kind="module", name=mname, body=body or {}, file=path, directory=directory)
        for body in doc.get("locals", []) or []:
            yield _Block(kind="locals", body=body or {}, file=path, directory=directory)
        for item in doc.get("provider", []) or []:
            for pname, body in item.items():
                yield _Block(kind="provider", name=pname, body=body or {}, file=path, directory=directory)
        for item in doc.get("variable", []) or []:
            for vname, body in item.items():
                yield _Block(kind="variable", name=vname, body=body or {}, file=path, directory=directory)


def _text(value: Any) -> str:
    """An argument's value as text (lists and maps flattened), for shape checks."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return " ".join(_text(v) for v in value)
    if isinstance(value, dict):
        return " ".join(f"{k} = {_text(v)}" for k, v in value.items())
    return "" if value is None else str(value)


# ------------------------------------------------------------------ naming


def _forbidden_call(text: str, functions: list[str]) -> str | None:
    for fn in functions:
        if re.search(rf"(?<![A-Za-z0-9_.]){re.escape(fn)}\s*\(", text):
            return fn
    return None


_TAG_NAME = re.compile(r'\bName\s*=\s*"((?:[^"\\$]|\\.|\$\{[^}]*\}|\$)*)"')


def _component_ok(rest: str) -> bool:
    """What follows "{project}-{env}": "-component", lowercase words, dashes, slashes, interpolations."""
    if not rest.startswith("-") or len(rest) < 2:
        return False
    literal = re.sub(r"\$\{[^}]*\}", "x", rest[1:])
    return bool(re.fullmatch(r"[a-z0-9][a-z0-9./-]*", literal))


def name_problem(value: str, config: NamingConfig, fixed_starts: list[str] | None = None) -> str | None:
    """Why a name expression does not follow {project}-{env}-{component}, or None when it does."""
    fn = _forbidden_call(value, config.forbidden_functions)
    if fn:
        return f"uses {fn}() in a name"
    text = value
    for start in fixed_starts or []:
        if text.startswith(start):
            text = text[len(start):]
            break
    for prefix in config.prefixes:
        if text.startswith(prefix):
            rest = text[len(prefix):]
            if _component_ok(rest):
                return None
            return f"{value!r}: after the name prefix comes -component in lowercase letters, digits and dashes"
    if "${" not in text:
        envs = "|".join(re.escape(e) for e in config.environments)
        if re.fullmatch(rf"[a-z][a-z0-9]*-({envs})-[a-z0-9][a-z0-9./-]*", text):
            return None
        return f"{value!r} does not follow {config.pattern}"
    if text.startswith("${") and text.endswith("}") and text.count("${") == 1:
        return None  # a whole-value reference or function call: judged where the value is built
    return f"{value!r} does not start with the name prefix ({config.prefixes[0] if config.prefixes else config.pattern})"


def _resolve(value: Any, locals_by_dir: dict[str, dict[str, Any]], directory: str) -> Any:
    """`${local.x}` -> the local's own expression (one hop), so names built in locals are judged too."""
    if isinstance(value, str):
        m = _REF.match(value)
        if m and m.group(1) == "local":
            return locals_by_dir.get(directory, {}).get(m.group(2), value)
    return value


def _check_naming(blocks: list[_Block], config: LintConfig, locals_by_dir: dict[str, dict[str, Any]]) -> list[LintFinding]:
    out: list[LintFinding] = []
    naming = config.naming
    for block in blocks:
        if block.kind != "resource" or block.type in naming.exempt_types:
            continue
        for attr in naming.attributes:
            if attr not in block.body:
                continue
            value = _resolve(block.body[attr], locals_by_dir, block.directory)
            if not isinstance(value, str):
                continue
            fn = _forbidden_call(value, naming.forbidden_functions)
            if fn:
                out.append(LintFinding(rule="timestamp", file=block.file, address=block.address,
                                       message=f"{attr} uses {fn}(): the name changes at every plan and replaces the resource; "
                                               "use a fixed suffix (name_suffix) instead"))
                continue
            if attr.endswith("_prefix") and attr != "name_prefix":
                continue
            problem = name_problem(value, naming, naming.fixed_starts.get(block.type))
            if problem:
                out.append(LintFinding(rule="naming", file=block.file, address=block.address,
                                       message=f"{attr} {problem}"))
        tags = block.body.get("tags")
        if isinstance(tags, str):
            fn = _forbidden_call(tags, naming.forbidden_functions)
            if fn:
                out.append(LintFinding(rule="timestamp", file=block.file, address=block.address,
                                       message=f"tags use {fn}(): the tags change at every plan"))
            for tag_name in _TAG_NAME.findall(tags):
                problem = name_problem(tag_name, naming)
                if problem and not tag_name.startswith("${") and "${" in tag_name:
                    out.append(LintFinding(rule="naming", file=block.file, address=block.address, message=f"Name tag {problem}"))
    for block in blocks:  # names built in locals (local.cluster_name and friends)
        if block.kind != "locals":
            continue
        for key, value in block.body.items():
            if isinstance(value, str) and ("name" in key.lower()) and _forbidden_call(value, naming.forbidden_functions):
                fn = _forbidden_call(value, naming.forbidden_functions)
                out.append(LintFinding(rule="timestamp", file=block.file, address=f"local.{key}",
                                       message=f"uses {fn}() in a name: the name changes at every plan"))
    return out


# -------------------------------------------------------------------- tags


def _has_keys(text: str, keys: list[str]) -> list[str]:
    return [k for k in keys if not re.search(rf'(?<![A-Za-z0-9_]){re.escape(k)}"?\s*=', text)]


def _tags_from_source(text: str, sources: list[str]) -> bool:
    return any(re.search(rf"(?<![A-Za-z0-9_]){re.escape(s)}(?![A-Za-z0-9_])", text) for s in sources)


def _check_tags(blocks: list[_Block], config: LintConfig) -> list[LintFinding]:
    out: list[LintFinding] = []
    tags = config.tags
    default_tagged_dirs: set[str] = set()
    for block in blocks:
        if block.kind == "provider" and block.name == "aws":
            for default in block.body.get("default_tags", []) or []:
                text = _text((default or {}).get("tags"))
                if _tags_from_source(text, tags.sources) or not _has_keys(text, tags.required):
                    default_tagged_dirs.add(block.directory)
    modules_with_tags_var = {b.directory for b in blocks if b.kind == "variable" and b.name == "tags"}
    for block in blocks:
        if block.kind == "locals":
            for key, value in block.body.items():
                if f"local.{key}" not in tags.sources:
                    continue
                text = _text(value)
                missing = _has_keys(text, tags.required)
                if missing:
                    out.append(LintFinding(rule="tags", file=block.file, address=f"local.{key}",
                                           message=f"the tags local lacks {', '.join(missing)}"))
                out += _managed_by(value, tags, block, f"local.{key}")
        elif block.kind == "module":
            source = str(block.body.get("source", ""))
            if source.startswith("."):
                target = posixpath.normpath(posixpath.join(block.directory, source))
                if target in modules_with_tags_var and "tags" not in block.body:
                    out.append(LintFinding(rule="tags", file=block.file, address=block.address,
                                           message="the module takes `tags` but the call does not pass them (tags = local.tags)"))
        elif block.kind == "resource" and block.type in tags.taggable:
            value = block.body.get("tags")
            if value is None:
                if not _covered_by_default_tags(block.directory, default_tagged_dirs):
                    out.append(LintFinding(rule="tags", file=block.file, address=block.address,
                                           message=f"no tags: set tags = var.tags (required: {', '.join(tags.required)})"))
                continue
            text = _text(value)
            out += _managed_by(value, tags, block, block.address)
            if _tags_from_source(text, tags.sources):
                continue
            missing = _has_keys(text, tags.required)
            if missing and not _covered_by_default_tags(block.directory, default_tagged_dirs):
                out.append(LintFinding(rule="tags", file=block.file, address=block.address,
                                       message=f"tags lack {', '.join(missing)}: merge var.tags into them"))
    return out


def _covered_by_default_tags(directory: str, tagged: set[str]) -> bool:
    # Provider default_tags reach every resource of the configuration, modules included;
    # a provider configured in an ancestor directory (the root) covers its modules.
    return any(directory == d or directory.startswith(f"{d}/") or d == "" for d in tagged)


def _managed_by(value: Any, tags: TagsConfig, block: _Block, address: str) -> list[LintFinding]:
    if isinstance(value, dict):
        given = value.get("ManagedBy")
        given = given if isinstance(given, str) and "${" not in given else None
    else:
        m = re.search(r'ManagedBy"?\s*=\s*"([^"$]*)"', _text(value))
        given = m.group(1) if m else None
    if given is not None and given != tags.managed_by:
        return [LintFinding(rule="tags", file=block.file, address=address,
                            message=f'ManagedBy is "{given}"; it must be "{tags.managed_by}"')]
    return []


# ----------------------------------------------------------------- ingress


def _port(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _open(values: Any, config: IngressConfig) -> str | None:
    items = values if isinstance(values, list) else [values]
    for item in items:
        if isinstance(item, str) and item.strip() in config.open_cidrs:
            return item.strip()
    return None


def _lb_security_groups(blocks: list[_Block], config: IngressConfig) -> set[tuple[str, str]]:
    """(directory, security group name) pairs that belong to load balancers."""
    out: set[tuple[str, str]] = set()
    for block in blocks:
        if block.kind == "resource" and block.type in config.load_balancer_types:
            for name in _SG_REF.findall(_text(block.body.get("security_groups"))):
                out.add((block.directory, name))
        if block.kind == "resource" and block.type == "aws_security_group":
            label = f"{block.name} {_text(block.body.get('name'))} {_text(block.body.get('description'))}".lower()
            role = re.search(r'Role"?\s*=\s*"([^"]*)"', _text(block.body.get("tags")))
            if any(marker in label or marker.strip("-") == block.name.lower() for marker in config.load_balancer_name_markers) or \
                    (role and role.group(1).lower() in ("load-balancer", "loadbalancer", "lb", "alb")):
                out.add((block.directory, block.name))
    return out


def _ingress_finding(block: _Block, group: str, cidr: str, from_port: Any, to_port: Any, lb_groups: set[tuple[str, str]],
                     config: IngressConfig) -> LintFinding | None:
    low, high = _port(from_port), _port(to_port)
    is_lb = (block.directory, group) in lb_groups
    if low is not None and low == high and low in config.public_ports and is_lb:
        return None
    ports = f"port {low}" if low is not None and low == high else f"ports {from_port}-{to_port}"
    if low is not None and low == high and low in config.public_ports:
        why = f"only a load balancer's security group may take {low} from the world; aws_security_group.{group} is not used by one"
    else:
        allowed = "/".join(str(p) for p in config.public_ports)
        why = f"only {allowed} on a load balancer's security group may be open to the world"
    return LintFinding(rule="ingress", file=block.file, address=block.address,
                       message=f"ingress from {cidr} on {ports}: {why}; narrow it to the VPC CIDR or the clients' CIDR")


def _check_ingress(blocks: list[_Block], config: LintConfig) -> list[LintFinding]:
    ingress = config.ingress
    lb_groups = _lb_security_groups(blocks, ingress)
    out: list[LintFinding] = []
    for block in blocks:
        if block.kind != "resource":
            continue
        if block.type == "aws_security_group":
            rules = list(block.body.get("ingress", []) or [])
            for dynamic in block.body.get("dynamic", []) or []:
                for content in ((dynamic or {}).get("ingress") or {}).get("content", []) or []:
                    rules.append(content)
            for rule in rules:
                if not isinstance(rule, dict):
                    continue
                cidr = _open(rule.get("cidr_blocks"), ingress) or _open(rule.get("ipv6_cidr_blocks"), ingress)
                if cidr:
                    finding = _ingress_finding(block, block.name, cidr, rule.get("from_port"), rule.get("to_port"), lb_groups, ingress)
                    if finding:
                        out.append(finding)
        elif block.type == "aws_security_group_rule" and str(block.body.get("type", "")) == "ingress":
            cidr = _open(block.body.get("cidr_blocks"), ingress) or _open(block.body.get("ipv6_cidr_blocks"), ingress)
            if cidr:
                group = (_SG_REF.findall(_text(block.body.get("security_group_id"))) or [""])[0]
                finding = _ingress_finding(block, group, cidr, block.body.get("from_port"), block.body.get("to_port"), lb_groups, ingress)
                if finding:
                    out.append(finding)
        elif block.type == "aws_vpc_security_group_ingress_rule":
            cidr = _open(block.body.get("cidr_ipv4"), ingress) or _open(block.body.get("cidr_ipv6"), ingress)
            if cidr:
                group = (_SG_REF.findall(_text(block.body.get("security_group_id"))) or [""])[0]
                protocol = str(block.body.get("ip_protocol", ""))
                low = block.body.get("from_port", 0 if protocol == "-1" else None)
                high = block.body.get("to_port", 65535 if protocol == "-1" else None)
                finding = _ingress_finding(block, group, cidr, low, high, lb_groups, ingress)
                if finding:
                    out.append(finding)
    return out


# -------------------------------------------------------------------- entry


def lint_files(files: dict[str, str], config: LintConfig | None = None) -> list[LintFinding]:
    """Every broken project rule in a set of files (path relative to the Terraform root -> text)."""
    config = config or load_lint_config()
    blocks = list(_blocks(files))
    locals_by_dir: dict[str, dict[str, Any]] = {}
    for block in blocks:
        if block.kind == "locals":
            locals_by_dir.setdefault(block.directory, {}).update(block.body)
    findings = _check_naming(blocks, config, locals_by_dir) + _check_tags(blocks, config) + _check_ingress(blocks, config)
    seen: set[tuple[str, str, str, str]] = set()
    unique: list[LintFinding] = []
    for finding in findings:
        key = (finding.rule, finding.file, finding.address, finding.message)
        if key not in seen:
            seen.add(key)
            unique.append(finding)
    return unique


def read_terraform_dir(root: str | Path) -> dict[str, str]:
    """Every .tf, .tfvars and .tfvars.json file under a Terraform root (skipping .terraform/), by relative path."""
    root = Path(root)
    out: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith(".terraform") for part in rel.parts) or not path.is_file():
            continue
        if path.suffix == ".tf" or path.name.endswith((".tfvars", ".tfvars.json")):
            out[rel.as_posix()] = path.read_text(encoding="utf-8")
    return out
