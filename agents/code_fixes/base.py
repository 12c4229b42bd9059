"""What a code fix template takes and gives, and how it picks where to patch."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Literal

import yaml

from config.settings import CONFIG_DIR

FIX_CONFIG = "code_fixes.yaml"
Language = Literal["python", "javascript", "typescript", "tsx", "go"]


@dataclass(frozen=True)
class FixTarget:
    """Where the diagnosis points: a file in the repository, maybe a line, and the code the world holds.

    `files` is the rest of the repository (path -> text) where the template may need it, e.g. to see
    whether the project already depends on cachetools."""

    root_cause: str
    path: str
    source: str
    line: int | None = None
    files: dict[str, str] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class ReleaseFlow:
    """What the control-flow check needs to re-read a release patch: the function and the resource."""

    function_line: int  # 1-based line of the function's header, the same before and after the patch
    variable: str
    acquire: tuple[str, ...]  # call names that take the resource
    release: tuple[str, ...]  # call names that give it back


@dataclass(frozen=True)
class CodeFix:
    """One template's patch to one file, with the lines it meant to change."""

    template: str
    path: str
    before: str
    after: str
    title: str
    rationale: str
    lines: tuple[int, int]  # 1-based inclusive span of original lines the patch may touch
    language: Language
    extra_lines: tuple[tuple[int, int], ...] = ()  # other spans it may touch (an import, a module-level definition)
    function: str = ""  # the function patched ("<module>" for module-level code)
    moved: tuple[str, ...] = ()  # original statements the patch moves or replaces on purpose (checked by validate)
    flow: ReleaseFlow | None = None  # set by release templates: validate runs the control-flow check
    risk: Literal["low", "medium", "high"] = "low"


@dataclass
class FixConfig:
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def max_changed_lines(self) -> int:
        return int(self.raw.get("max_changed_lines", 50))

    def get(self, section: str, key: str, default: Any) -> Any:
        return (self.raw.get(section) or {}).get(key, default)


def load_fix_config(config_dir: Path | None = None) -> FixConfig:
    path = Path(config_dir or CONFIG_DIR) / FIX_CONFIG
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else {}
    return FixConfig(raw or {})


class NoFix(Exception):
    """A template does not apply; the message says why, for the report."""


class AmbiguousTarget(NoFix):
    """Several functions hold the shape and no line says which one: the healer refuses to guess."""

    def __init__(self, what: str, path: str, candidates: list[tuple[str, int]]):
        self.candidates = candidates
        names = ", ".join(f"{name} (line {line})" for name, line in candidates)
        super().__init__(f"{what} in several functions of {path}: {names}; name one with a line (--line N)")


@dataclass(frozen=True)
class Site:
    """One place a template could patch: the function that holds it and the lines it spans."""

    function: str
    function_start: int  # 1-based line of the function's header (or 1 for module level)
    function_end: int
    line: int  # the line of the shape itself
    data: Any = None  # the template's own handle (a node)


def choose_sites(sites: Iterable[Site], line: int | None, what: str, path: str) -> list[Site]:
    """The sites of one function: the one holding `line`, or the only one; never a guess between several.

    Module-level sites belong to no function; a line inside a function picks that function's sites,
    and module-level ones go with them when they are all there is besides."""
    sites = list(sites)
    if not sites:
        raise NoFix(f"no {what} in {path}")
    groups: dict[tuple[str, int], list[Site]] = {}
    for s in sites:
        groups.setdefault((s.function, s.function_start), []).append(s)
    if line is not None:
        holding = [g for g in groups.values() if g[0].function_start <= line <= g[0].function_end
                   and g[0].function != "<module>"]
        if holding:
            return min(holding, key=lambda g: g[0].function_end - g[0].function_start)
        at_line = [s for s in sites if s.line == line]
        if at_line:
            return groups[(at_line[0].function, at_line[0].function_start)]
    if len(groups) == 1:
        return next(iter(groups.values()))
    candidates = sorted({(g[0].function, g[0].line) for g in groups.values()}, key=lambda c: c[1])
    if line is not None:
        raise NoFix(f"line {line} of {path} holds no {what}; candidates: "
                    + ", ".join(f"{n} (line {l})" for n, l in candidates))
    raise AmbiguousTarget(what, path, candidates)


def describe_sites(chosen: list[Site]) -> tuple[list[int], str, list[str]]:
    """(lines, "line 3, line 9", the distinct kinds) of sites whose data is (node, edit, kind)."""
    lines = [s.line for s in chosen]
    return lines, ", ".join(f"line {n}" for n in lines), sorted({s.data[2] for s in chosen})
