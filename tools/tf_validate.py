"""Validate a Terraform change before anyone sees it: parse, checkov, project lints.

Three checks, each a `ValidationResult` on the proposal:
- `hcl2`: every .tf file parses with python-hcl2 and every .tfvars.json is
  JSON whose keys the root declares;
- `checkov`: no failed check that the code before the change did not already
  have (checkov runs from its own virtual environment, .venv-checkov: it pins
  old boto3 and packaging and ships a module named `hcl2` that shadows
  python-hcl2, so it is called as a CLI with `--skip-download`, offline);
- `lint:<rule>`: the project lints of tools/tf_lint.py, again counting only
  findings the change adds.
A change is judged against its baseline so that someone else's existing
debt does not block a fix, and a fix cannot add new debt.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import shutil
import subprocess
import tempfile
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from config.settings import REPO_ROOT, get_settings
from graphs.state import ValidationResult
from tools.tf_lint import RULES, HclParseError, LintConfig, LintFinding, lint_files, parse_hcl

CHECKOV_VENV = REPO_ROOT / ".venv-checkov"
CHECKOV_TIMEOUT_S = 180.0
CHECKOV_ENABLE = "run `make checkov` (installs checkov into .venv-checkov)"
_CACHE: "OrderedDict[str, CheckovRun]" = OrderedDict()
_CACHE_SIZE = 32


class FailedCheck(BaseModel):
    check_id: str
    resource: str
    file: str
    name: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.check_id, self.resource, self.file)

    def __str__(self) -> str:
        return f"{self.check_id} {self.resource} ({self.file}): {self.name}"


class CheckovRun(BaseModel):
    ok: bool  # checkov ran and produced a report
    failed: list[FailedCheck] = []
    passed: int = 0
    skipped: int = 0
    parsing_errors: int = 0
    error: str = ""


def find_checkov(explicit: str | Path | None = None) -> Path | None:
    """The checkov CLI: an explicit path, $CLOUD_DOCTOR_CHECKOV_BIN, .venv-checkov, or PATH."""
    for candidate in (explicit, os.environ.get("CLOUD_DOCTOR_CHECKOV_BIN"), CHECKOV_VENV / "bin" / "checkov"):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    found = shutil.which("checkov")
    return Path(found) if found else None


def _write_tree(root: Path, files: dict[str, str]) -> None:
    """Write the tree under `root`, keeping names Terraform printed from a workspace directory.

    Errors name files relative to where terraform ran (`../../modules/eks/iam.tf` from
    `envs/staging`), so the working directory sits as deep below `root` as the names climb.
    """
    climbs = [posixpath.normpath(name).split("/").count("..") for name in files]
    workdir = "/".join(["workspace"] * max(climbs, default=0))
    for name, text in files.items():
        if posixpath.isabs(name):
            raise ValueError(f"refused absolute path in a Terraform tree: {name}")
        rel = posixpath.normpath(posixpath.join(workdir, name)) if workdir else posixpath.normpath(name)
        if rel.startswith(".."):
            raise ValueError(f"refused path outside the Terraform root: {name}")
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def _parse_checkov(stdout: str) -> CheckovRun:
    try:
        data: Any = json.loads(stdout)
    except json.JSONDecodeError:
        return CheckovRun(ok=False, error=f"checkov printed no JSON report: {stdout.strip()[:200]}")
    reports = data if isinstance(data, list) else [data]
    run = CheckovRun(ok=True)
    for report in reports:
        if not isinstance(report, dict):
            continue
        summary = report.get("summary") or (report if "passed" in report else {})
        run.passed += int(summary.get("passed", 0) or 0)
        run.skipped += int(summary.get("skipped", 0) or 0)
        run.parsing_errors += int(summary.get("parsing_errors", 0) or 0)
        for check in (report.get("results") or {}).get("failed_checks", []) or []:
            run.failed.append(FailedCheck(
                check_id=str(check.get("check_id", "")), resource=str(check.get("resource", "")),
                file=str(check.get("file_path", "")), name=str(check.get("check_name", "")),
            ))
    return run


def run_checkov(files: dict[str, str], *, var_file: str | None = None, checkov_bin: str | Path | None = None,
                timeout_s: float = CHECKOV_TIMEOUT_S) -> CheckovRun:
    """checkov over a copy of `files` (cached by content); `var_file` is a path inside `files`."""
    binary = find_checkov(checkov_bin)
    if binary is None:
        return CheckovRun(ok=False, error="checkov is not installed (run `make checkov`)")
    stamp = binary.stat().st_mtime_ns if binary.exists() else 0
    digest = hashlib.sha256(json.dumps([sorted(files.items()), var_file, str(binary), stamp]).encode()).hexdigest()
    if digest in _CACHE:
        _CACHE.move_to_end(digest)
        return _CACHE[digest]
    cached = _read_disk_cache(digest)
    if cached is not None:
        _CACHE[digest] = cached
        return cached
    with tempfile.TemporaryDirectory(prefix="cd-checkov-") as tmp:
        root = Path(tmp) / "tf"
        root.mkdir()
        _write_tree(root, {k: v for k, v in files.items() if k.endswith((".tf", ".tfvars", ".tfvars.json"))})
        argv = [str(binary), "-d", str(root), "--framework", "terraform", "--skip-download", "-o", "json", "--quiet"]
        if var_file and (root / var_file).is_file():
            argv += ["--var-file", str(root / var_file)]
        env = {**os.environ, "HOME": tmp, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_NO_OUTPUT_STYLE": "1", "PYTHONWARNINGS": "ignore"}
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, cwd=tmp, env=env)
        except subprocess.TimeoutExpired:
            return CheckovRun(ok=False, error=f"checkov did not finish in {timeout_s:.0f} s")
        except OSError as exc:
            return CheckovRun(ok=False, error=f"checkov could not start: {exc}")
    if proc.returncode not in (0, 1):
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [""]
        return CheckovRun(ok=False, error=f"checkov failed (exit {proc.returncode}): {tail[0][:200]}")
    run = _parse_checkov(proc.stdout)
    if run.ok:
        _CACHE[digest] = run
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
        _write_disk_cache(digest, run)
    return run


def _cache_dir() -> Path | None:
    """Where checkov reports are kept between processes (replays check the same baseline again and again)."""
    configured = os.environ.get("CLOUD_DOCTOR_CHECKOV_CACHE")
    if configured == "off":
        return None
    return Path(configured) if configured else get_settings().data_dir / "cache" / "checkov"


def _read_disk_cache(digest: str) -> CheckovRun | None:
    directory = _cache_dir()
    path = directory / f"{digest}.json" if directory else None
    if path is None or not path.is_file():
        return None
    try:
        return CheckovRun.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_disk_cache(digest: str, run: CheckovRun) -> None:
    directory = _cache_dir()
    if directory is None:
        return
    try:
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / f".{digest}.tmp"
        tmp.write_text(run.model_dump_json(), encoding="utf-8")
        tmp.replace(directory / f"{digest}.json")
    except OSError:
        pass  # a cache that cannot be written only costs time


# ------------------------------------------------------------------ checks


def _declared_variables(files: dict[str, str]) -> set[str] | None:
    """Variables the root module declares, or None when the root's .tf files are not in `files`."""
    names: set[str] = set()
    roots = [p for p in files if p.endswith(".tf") and "/" not in p]
    if not roots:
        return None
    for path in roots:
        try:
            doc = parse_hcl(files[path], path)
        except HclParseError:
            continue
        for item in doc.get("variable", []) or []:
            names.update(item)
    return names


def check_parse(files: dict[str, str]) -> ValidationResult:
    problems: list[str] = []
    tf_count = 0
    declared = _declared_variables(files)
    for path, text in sorted(files.items()):
        if path.endswith(".tf"):
            tf_count += 1
            try:
                parse_hcl(text, path)
            except HclParseError as exc:
                problems.append(str(exc))
        elif path.endswith(".tfvars.json"):
            try:
                values = json.loads(text)
            except json.JSONDecodeError as exc:
                problems.append(f"{path}: not JSON: {exc.msg} (line {exc.lineno})")
                continue
            if not isinstance(values, dict):
                problems.append(f"{path}: must be a JSON object of variable values")
            elif declared is not None:
                unknown = sorted(set(values) - declared)
                if unknown:
                    problems.append(f"{path}: values for undeclared variables: {', '.join(unknown)}")
    if problems:
        return ValidationResult(check="hcl2", passed=False, details="; ".join(problems))
    return ValidationResult(check="hcl2", passed=True, details=f"{tf_count} .tf file(s) parse")


def check_checkov(files: dict[str, str], baseline: dict[str, str] | None, *, var_file: str | None = None,
                  require: bool | None = None, checkov_bin: str | Path | None = None) -> ValidationResult:
    binary = find_checkov(checkov_bin)
    if binary is None:
        required = CHECKOV_VENV.exists() if require is None else require
        if required:
            return ValidationResult(check="checkov", passed=False,
                                    details=f"checkov is required but not found (looked in {CHECKOV_VENV}/bin and PATH): run `make checkov`")
        return ValidationResult(check="checkov", status="skipped", details="checkov is not installed, so it did not run",
                                enable=CHECKOV_ENABLE)
    if baseline is not None:  # two checkov runs side by side: each is one process, mostly single-threaded
        with ThreadPoolExecutor(max_workers=2) as pool:
            after_future = pool.submit(run_checkov, files, var_file=var_file, checkov_bin=binary)
            before = pool.submit(run_checkov, baseline, var_file=var_file, checkov_bin=binary).result()
            after = after_future.result()
    else:
        after = run_checkov(files, var_file=var_file, checkov_bin=binary)
    if not after.ok:
        return ValidationResult(check="checkov", passed=False, details=after.error)
    before_keys: set[tuple[str, str, str]] = set()
    if baseline is not None:
        if not before.ok:
            return ValidationResult(check="checkov", passed=False, details=f"baseline: {before.error}")
        before_keys = {f.key for f in before.failed}
    new = [f for f in after.failed if f.key not in before_keys]
    old = len(after.failed) - len(new)
    if new:
        listed = "; ".join(str(f) for f in new[:8]) + (f"; and {len(new) - 8} more" if len(new) > 8 else "")
        return ValidationResult(check="checkov", passed=False, details=f"{len(new)} new failed check(s): {listed}")
    extra = f"; {old} failed check(s) were already there before this change" if old else ""
    return ValidationResult(check="checkov", passed=True,
                            details=f"no new failed check ({after.passed} passed, {after.skipped} skipped with a reason){extra}")


def check_lints(files: dict[str, str], baseline: dict[str, str] | None, config: LintConfig | None = None) -> list[ValidationResult]:
    after = lint_files(files, config)
    before = lint_files(baseline, config) if baseline is not None else []
    known = {(f.rule, f.address, f.message) for f in before}
    results: list[ValidationResult] = []
    for rule in RULES:
        new: list[LintFinding] = [f for f in after if f.rule == rule and (f.rule, f.address, f.message) not in known]
        old = sum(1 for f in after if f.rule == rule) - len(new)
        if new:
            details = "; ".join(str(f) for f in new[:8]) + (f"; and {len(new) - 8} more" if len(new) > 8 else "")
            results.append(ValidationResult(check=f"lint:{rule}", passed=False, details=details))
        else:
            results.append(ValidationResult(check=f"lint:{rule}", passed=True,
                                            details=f"{old} finding(s) already in the code, none added" if old else "ok"))
    return results


def validate_files(files: dict[str, str], *, baseline: dict[str, str] | None = None, var_file: str | None = None,
                   require_checkov: bool | None = None, checkov_bin: str | Path | None = None,
                   lint_config: LintConfig | None = None) -> list[ValidationResult]:
    """Parse, checkov and lints for a whole Terraform tree after a change (paths relative to its root).

    `baseline` is the same tree before the change: checkov failures and lint
    findings it already had are not counted against the change. Without a
    baseline every failure counts. `require_checkov=None` requires checkov
    when .venv-checkov exists (the Makefile's `make checkov`), and records it
    as skipped otherwise.
    """
    parse = check_parse(files)
    results = [parse]
    if parse.passed:
        results.append(check_checkov(files, baseline, var_file=var_file, require=require_checkov, checkov_bin=checkov_bin))
    else:
        results.append(ValidationResult(check="checkov", status="skipped", details="not run: the files do not parse",
                                        enable="fix the parse errors reported by hcl2"))
    results += check_lints(files, baseline, lint_config)
    return results


def summarize(results: list[ValidationResult]) -> str:
    """One line per check, for a proposal's description: a check that did not run says "skipped", never ✓."""
    marks = {"passed": "✓", "failed": "✗", "skipped": "–"}
    return "\n".join(f"{marks[r.status or 'failed']} {r.check}: {r.status}" + (f" — {r.details}" if r.details else "") for r in results)
