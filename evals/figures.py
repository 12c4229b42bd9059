"""One line of figures from `cloud-doctor eval --json` on stdin (make eval-spent prints one per set)."""

from __future__ import annotations

import json
import sys

KEYS = ("root_cause", "root_cause_top3", "route", "evidence", "fix")


def line(result: dict) -> str:
    keys = result.get("keys") or {}
    return " ".join(f"{name} {keys[name]['passed']}/{keys[name]['total']}" for name in KEYS if name in keys)


if __name__ == "__main__":
    print(line(json.load(sys.stdin)))
