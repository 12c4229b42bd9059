"""Redaction benchmark: over-redaction on Loghub-2k, what the detector alone catches, and cost per line.

Run: `.venv/bin/python -m benchmarks.bench_redaction`.
- False positives: Loghub-2k's 16 systems (32,000 real log messages, read in place from
  ../shared/data/loghub2k or $CLOUD_DOCTOR_LOGHUB_DIR) hold no credentials, so every
  line redaction changes is counted as over-redaction; a few are printed to judge.
- Recall: the secrets corpus of the tests (tests/fixtures/secrets/corpus.yaml), with all
  rules and with the detect-secrets plugins alone, to show what our own rules add.
- Cost: microseconds per line on Loghub and on generated lines (the 1M-line figure with
  redaction in the log digest is bench_logs' throughput).
"""

from __future__ import annotations

import time
from pathlib import Path

import yaml

from benchmarks.bench_logs import LOGHUB_SYSTEMS, generate_lines, load_loghub, loghub_dir
from tools.redaction import MASK, Redactor, RuleSet, redact
from tools.redaction.config import load_config
from tools.redaction.detector import plugin_rules

REPO_ROOT = Path(__file__).resolve().parent.parent
CORPUS = REPO_ROOT / "tests" / "fixtures" / "secrets" / "corpus.yaml"


def false_positives(root: Path) -> tuple[dict[str, tuple[int, int]], list[str], float]:
    """Per system (changed lines, lines), some changed lines, and µs per line."""
    per_system: dict[str, tuple[int, int]] = {}
    examples: list[str] = []
    total_lines, elapsed = 0, 0.0
    for system in LOGHUB_SYSTEMS:
        lines, _ = load_loghub(system, root)
        started = time.perf_counter()
        out = list(Redactor().lines(lines))
        elapsed += time.perf_counter() - started
        changed = [(a, b) for a, b in zip(lines, out) if a != b]
        per_system[system] = (len(changed), len(lines))
        examples += [f"{system}: {b[:150]}" for _, b in changed[:2]]
        total_lines += len(lines)
    return per_system, examples, elapsed / max(total_lines, 1) * 1e6


def recall(rules: RuleSet | None) -> tuple[int, int]:
    """(secrets masked, secrets planted) in the corpus, redacting each case as one text."""
    cases = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))["cases"]
    found = planted = 0
    for case in cases:
        out = Redactor(rules).text(case["text"]) if rules else redact(case["text"])
        for secret in case["secrets"]:
            planted += 1
            found += secret not in out
    return found, planted


def detector_only() -> RuleSet:
    """The detect-secrets plugins with none of our rules."""
    config = load_config()
    return RuleSet(config, rules=plugin_rules(config.detector))


def per_line_cost(n: int = 100_000) -> float:
    lines = list(generate_lines(n, seed=11))
    started = time.perf_counter()
    for _ in Redactor().lines(lines):
        pass
    return (time.perf_counter() - started) / n * 1e6


def main() -> int:
    print("== redaction (tools/redaction, config/redaction.yaml)")
    found, planted = recall(None)
    alone, _ = recall(detector_only())
    print(f"{'corpus recall':<34}{found:>5}/{planted} secrets masked (detect-secrets plugins alone: {alone}/{planted})")
    print(f"{'cost, generated lines':<34}{per_line_cost():>8.1f} µs/line")
    root = loghub_dir()
    if not root.is_dir():
        print(f"false positives on Loghub-2k skipped: {root} not found (set CLOUD_DOCTOR_LOGHUB_DIR)")
        return 0
    per_system, examples, cost = false_positives(root)
    changed = sum(c for c, _ in per_system.values())
    total = sum(t for _, t in per_system.values())
    print(f"{'cost, Loghub-2k lines':<34}{cost:>8.1f} µs/line")
    print(f"\nFalse positives on Loghub-2k ({root}): lines changed by redaction (no line there holds a credential)")
    print(f"{'system':<14}{'changed':>8}{'lines':>7}")
    for system, (c, t) in per_system.items():
        print(f"{system:<14}{c:>8}{t:>7}")
    print(f"{'all':<14}{changed:>8}{total:>7}   false-positive rate {changed / max(total, 1):.3%}")
    for line in examples[:10]:
        print(f"  e.g. {line}")
    print(f"(mask: {MASK})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
