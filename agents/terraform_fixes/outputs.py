"""A missing module output: "Unsupported attribute" on `module.<name>.<output>`.

The caller reads an output the module does not declare. The fix declares it
in the module's outputs.tf, pointing at the resource the name describes
(`private_subnet_ids` -> `aws_subnet.private[*].id`): the output's words are
matched against the module's resource types and names. When nothing in the
module fits, the template gives up rather than invent a value.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from agents.terraform_fixes import hcl_text
from agents.terraform_fixes.base import FixContext, FixPlan

# Output-name endings -> (attribute, plural).
ATTRIBUTE_ENDINGS: list[tuple[tuple[str, ...], str, bool]] = [
    (("primary", "endpoint", "address"), "primary_endpoint_address", False),
    (("reader", "endpoint", "address"), "reader_endpoint_address", False),
    (("cidr", "block"), "cidr_block", False),
    (("cidr", "blocks"), "cidr_block", True),
    (("dns", "name"), "dns_name", False),
    (("private", "ips"), "private_ip", True),
    (("private", "ip"), "private_ip", False),
    (("public", "ips"), "public_ip", True),
    (("public", "ip"), "public_ip", False),
    (("ids",), "id", True),
    (("id",), "id", False),
    (("arns",), "arn", True),
    (("arn",), "arn", False),
    (("names",), "name", True),
    (("name",), "name", False),
    (("endpoint",), "endpoint", False),
    (("endpoints",), "endpoint", True),
    (("address",), "address", False),
    (("port",), "port", False),
    (("cidr",), "cidr_block", False),
]
# Resource types that own an attribute, for outputs whose name is only the attribute ("endpoint").
ATTRIBUTE_OWNERS = {
    "endpoint": ["aws_db_instance", "aws_rds_cluster", "aws_eks_cluster"],
    "address": ["aws_db_instance"],
    "port": ["aws_db_instance", "aws_rds_cluster", "aws_elasticache_replication_group"],
    "primary_endpoint_address": ["aws_elasticache_replication_group"],
    "reader_endpoint_address": ["aws_elasticache_replication_group"],
    "private_ip": ["aws_instance"],
    "public_ip": ["aws_instance", "aws_eip"],
    "dns_name": ["aws_lb"],
}
# Where a resource's own name lives when it has no `name` argument.
NAME_ARGUMENTS = ("node_group_name", "identifier", "replication_group_id", "cluster_identifier", "function_name", "bucket")
GENERIC_NAMES = {"this", "main", "default", "primary", "self"}
SYNONYMS = {"db": {"db", "instance"}, "database": {"db", "instance"}, "sg": {"security", "group"}, "subnets": {"subnet"},
            "k8s": {"eks"}, "kubernetes": {"eks"}, "nodes": {"node"}, "cache": {"elasticache"}, "redis": {"elasticache", "replication"}}

_MISSING = re.compile(r'does not have an attribute named "([^"]+)"')
_MODULE_REF = re.compile(r"\bmodule\.([A-Za-z0-9_-]+)(?:\[[^\]]*\])?\.([A-Za-z0-9_]+)")
_SOURCE = re.compile(r"^\s*on (\S+) line (\d+)", re.M)


@dataclass(frozen=True)
class MissingOutput:
    module: str
    output: str
    file: str | None = None  # the file that reads it, relative to the Terraform root


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def clean_output(text: str) -> str:
    """Terraform's output without colours and diagnostic boxes (│ ╷ ╵), line by line."""
    lines = []
    for line in _ANSI.sub("", text).replace("\r\n", "\n").split("\n"):
        stripped = line.lstrip()
        if stripped[:1] in ("│", "╷", "╵"):
            line = stripped[1:]
            line = line[1:] if line.startswith(" ") else line
        lines.append(line)
    return "\n".join(lines)


def find_missing_outputs(ctx: FixContext) -> list[MissingOutput]:
    """Every `module.X.Y` that Terraform said does not exist (from its output, or the diagnosis' target)."""
    out: list[MissingOutput] = []
    target = ctx.target
    if target.get("module") and target.get("output"):
        out.append(MissingOutput(str(target["module"]).removeprefix("module."), str(target["output"]), target.get("file")))
    text = clean_output(ctx.terraform_output or "")
    for chunk in re.split(r"(?m)^\s*Error: ", text)[1:]:
        if not chunk.startswith("Unsupported attribute"):
            continue
        missing = _MISSING.search(chunk)
        if not missing:
            continue
        name = missing.group(1)
        source = _SOURCE.search(chunk)
        for module, attr in _MODULE_REF.findall(chunk):
            if attr == name:
                item = MissingOutput(module, name, source.group(1) if source else None)
                if item not in out:
                    out.append(item)
                break
    return out


def module_dir(files: dict[str, str], module: str, caller: str | None) -> str | None:
    """The directory (relative to the Terraform root) of a `module "<name>"` block's local source."""
    callers = [caller] if caller and caller in files else []
    callers += [p for p in sorted(files) if p.endswith(".tf") and p not in callers]
    for path in callers:
        try:
            span = hcl_text.block(files[path], "module", module)
        except hcl_text.HclEditError:
            continue
        if span is None:
            continue
        attr = hcl_text.attribute(files[path], span, "source")
        source = hcl_text.literal_string(attr.value(files[path])) if attr else None
        if source and source.startswith("."):
            return posixpath.normpath(posixpath.join(posixpath.dirname(path), source))
    return None


def _module_files(files: dict[str, str], directory: str) -> dict[str, str]:
    return {p: t for p, t in files.items() if p.endswith(".tf") and posixpath.dirname(p) == directory}


def _split(name: str) -> tuple[str, bool, list[str]]:
    tokens = name.lower().split("_")
    for ending, attr, plural in ATTRIBUTE_ENDINGS:
        if tuple(tokens[-len(ending):]) == ending and len(tokens) >= len(ending):
            return attr, plural, tokens[:-len(ending)]
    return "id", False, tokens


def _expand(tokens: list[str]) -> set[str]:
    out: set[str] = set()
    for token in tokens:
        out.add(token)
        out |= SYNONYMS.get(token, set())
        if len(token) > 3 and token.endswith("s") and not token.endswith("ss"):
            out.add(token[:-1])
    return out


def value_for(module_files: dict[str, str], output: str) -> tuple[str, str] | None:
    """(expression, what it is) for an output name, from the module's resources; None when nothing fits."""
    attr, plural, words = _split(output)
    wanted = _expand(words)
    best: tuple[tuple[int, int, int], str, hcl_text.Span, str] | None = None  # (rank, path, block, file text)
    owners = ATTRIBUTE_OWNERS.get(attr, [])
    for path, text in sorted(module_files.items()):
        for span in hcl_text.blocks(text, "resource"):
            if len(span.labels) < 2:
                continue
            rtype, rname = span.labels[0], span.labels[1]
            type_tokens = set(rtype.removeprefix("aws_").split("_"))
            name_tokens = set(rname.lower().split("_")) - GENERIC_NAMES
            matched = wanted & type_tokens
            if not matched and rtype not in owners:
                continue
            score = 2 * len(matched) + len(wanted & name_tokens) + (1 if rtype in owners else 0)
            rank = (score, -len(type_tokens - wanted), 1 if rname in GENERIC_NAMES else 0)
            if best is None or rank > best[0]:
                best = (rank, path, span, text)
    if best is None:
        for text in module_files.values():
            if hcl_text.block(text, "variable", output):
                return f"var.{output}", f"the module's input {output}"
        return None
    _, _, span, text = best
    rtype, rname = span.labels[0], span.labels[1]
    attrs = hcl_text.attributes(text, span)
    if attr == "name" and "name" not in attrs:
        attr = next((a for a in NAME_ARGUMENTS if a in attrs), "id")
    address = f"{rtype}.{rname}"
    if "count" in attrs:
        expression = f"{address}[*].{attr}" if plural else f"try({address}[0].{attr}, null)"
    elif "for_each" in attrs:
        expression = f"[for item in {address} : item.{attr}]" if plural else f"try(values({address})[0].{attr}, null)"
    else:
        expression = f"[{address}.{attr}]" if plural else f"{address}.{attr}"
    return expression, (f"every {attr} of {address}" if plural else f"{attr} of {address}")


def add_module_output(ctx: FixContext) -> FixPlan | None:
    """terraform_config_error: declare the output a caller reads in the module that lacks it."""
    if ctx.diagnosis.root_cause != "terraform_config_error" or not ctx.files:
        return None
    edits: dict[str, str] = {}
    added: list[str] = []
    for missing in find_missing_outputs(ctx):
        directory = module_dir(ctx.files, missing.module, missing.file)
        if directory is None:
            continue
        module_files = _module_files({**ctx.files, **edits}, directory)
        if not module_files:
            continue
        if any(hcl_text.block(t, "output", missing.output) for t in module_files.values()):
            continue  # declared already: the cause is elsewhere (a stale `terraform init`, another module)
        found = value_for(module_files, missing.output)
        if found is None:
            continue
        expression, what = found
        outputs_path = posixpath.join(directory, "outputs.tf") if directory not in ("", ".") else "outputs.tf"
        current = edits.get(outputs_path, ctx.files.get(outputs_path, ""))
        caller = f" ({missing.file} reads module.{missing.module}.{missing.output})" if missing.file else ""
        snippet = (f'output "{missing.output}" {{\n'
                   f'  description = "{what[0].upper() + what[1:]}{caller}."\n'
                   f"  value       = {expression}\n}}")
        edits[outputs_path] = hcl_text.append_block(current, snippet)
        added.append(f"module.{missing.module}.{missing.output} = {expression}")
    if not edits:
        return None
    return FixPlan(
        template="add_module_output",
        title=f"add the missing module output{'s' if len(added) > 1 else ''}: {', '.join(a.split(' = ')[0] for a in added)}",
        rationale="Terraform stopped on \"Unsupported attribute\": the caller reads an output the module does not declare. "
                  "Declared: " + "; ".join(added),
        file_edits=edits,
        risk="low",
        rollback="remove the added output block(s); nothing in AWS changes",
    )
