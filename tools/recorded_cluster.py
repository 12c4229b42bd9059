"""A cluster-wide list answered from namespaced recordings, as the cluster would answer it.

A recorded incident often holds `kubectl get pods -n payments` but not `kubectl get pods -A`. Live, the
cluster-wide list contains those rows (and others the recording never saw); answering it with "not
recorded" makes a replay see less than a live run would. This module joins the namespaced recordings of
the same read into the list `--all-namespaces` prints: a NAMESPACE column first, one row per recorded
object, nothing that was not recorded.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

_COLUMNS = re.compile(r"\s{2,}|\t")


def _table(text: str) -> tuple[list[str], list[list[str]]] | None:
    """kubectl's table as header names and rows of cells (columns are padded by at least two spaces)."""
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    if not lines or lines[0].lstrip().startswith(("{", "apiVersion", "-", "items:")):
        return None
    header = [h for h in _COLUMNS.split(lines[0].strip()) if h]
    if not header or header[0] == "NAMESPACE" or not ({"NAME", "TYPE", "REASON", "LAST SEEN"} & set(header)):
        return None
    rows = []
    for line in lines[1:]:
        cells = _COLUMNS.split(line.strip(), maxsplit=len(header) - 1)
        if len(cells) != len(header):
            return None  # a layout this join cannot read: leave the read unanswered rather than answer it wrong
        rows.append(cells)
    return header, rows


def _structured(text: str) -> list[dict[str, Any]] | None:
    try:
        doc = json.loads(text) if text.lstrip().startswith("{") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError):
        return None
    if not isinstance(doc, dict):
        return None
    items = doc.get("items") if isinstance(doc.get("items"), list) else [doc] if doc.get("metadata") else None
    return [i for i in items if isinstance(i, dict)] if items is not None else None


def _breadth(header: list[str]) -> tuple[bool, int]:
    """The widest table, labels last: `--show-labels` is another view, not more of the same one."""
    return "LABELS" not in header, len(header)


def join_namespaces(outputs: dict[str, list[str]]) -> str | None:
    """The `--all-namespaces` output for recorded outputs by namespace (each namespace may have several
    spellings of the read: the widest table wins). None when they cannot be joined faithfully."""
    tables: dict[str, tuple[list[str], list[list[str]]]] = {}
    structured: dict[str, list[dict[str, Any]]] = {}
    for namespace, texts in outputs.items():
        for text in texts:
            table = _table(text)
            if table is not None and (namespace not in tables or _breadth(table[0]) > _breadth(tables[namespace][0])):
                tables[namespace] = table
            items = _structured(text) if table is None else None
            if items is not None:
                structured.setdefault(namespace, items)
    if tables:
        common = [h for h in next(iter(tables.values()))[0] if all(h in header for header, _ in tables.values())]
        if "NAME" not in common and "REASON" not in common:
            return None
        rows = [[namespace] + [dict(zip(header, row))[h] for h in common]
                for namespace, (header, body) in sorted(tables.items()) for row in body]
        grid = [["NAMESPACE", *common], *rows]
        widths = [max(len(r[i]) for r in grid) for i in range(len(grid[0]))]
        return "\n".join("   ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in grid) + "\n"
    if structured:
        items = [item for _, found in sorted(structured.items()) for item in found]
        return json.dumps({"apiVersion": "v1", "kind": "List", "items": items}, indent=2) + "\n"
    return None


def described_blocks(text: str) -> list[tuple[str, str]]:
    """(name, text) of each object in a `kubectl describe` of several: a block begins at a `Name:` line at the margin."""
    starts = [m.start() for m in re.finditer(r"^Name:[ \t]+\S+", text, re.M)]
    blocks = [text[a:b] for a, b in zip(starts, [*starts[1:], len(text)])]
    return [(block.split(None, 2)[1], block) for block in blocks]


def described_object(text: str, name: str) -> str | None:
    """One object's block of a `kubectl describe KIND -n NS` output that described them all; None when no block has
    that name."""
    return next((block.rstrip() + "\n" for found, block in described_blocks(text) if found == name), None)


_MULTI_GET = re.compile(r"^(kubectl\s+(?:.*\s)?get\s+)([a-z.]+(?:,[a-z.]+)+)(\s.*)?$")


def split_kinds(command: str, output: str) -> list[tuple[str, str]]:
    """`kubectl get sts,svc,endpoints -n shop` prints one table per kind, names prefixed `service/cart-redis`: each
    kind's table, keyed as the one-kind read it answers (`kubectl get services -n shop`); nothing for another command."""
    m = _MULTI_GET.match(command.strip())
    if m is None:
        return []
    aliases, choices = _kind_words()
    blocks = [b for b in re.split(r"\n\s*\n", output) if b.strip()]
    out = []
    for word in m.group(2).split(","):
        kind = word if word in choices else aliases.get(word) or aliases.get(word.split(".")[0])
        if kind is None:
            continue
        for block in blocks:
            rows = [line.split()[0] for line in block.strip().splitlines()[1:] if line.split()]
            prefix = rows[0].split("/")[0].split(".")[0] if rows and "/" in rows[0] else ""
            if prefix and (aliases.get(prefix) or prefix) == kind:
                out.append((f"{m.group(1)}{kind}{m.group(3) or ''}", block.strip() + "\n"))
                break
    return out


def _kind_words() -> tuple[dict[str, str], set[str]]:
    from tools.catalogue import default_catalogue

    spec = default_catalogue().get("kubernetes.get").params["kind"]
    return dict(spec.aliases or {}), set(spec.choices or [])
