"""Append-only audit log: every guard decision and every approval, one JSON line each.

Lines are appended with O_APPEND and flushed to disk before the action they
describe runs, so a crash never loses the record of what was about to happen.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from tools.redact import redact_value

_lock = threading.Lock()


class AuditLog:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    def append(self, event: str, **fields: Any) -> dict[str, Any]:
        record = {"ts": datetime.now(timezone.utc).isoformat(), "event": event, **fields}
        safe = redact_value(json.loads(json.dumps(record, default=str, ensure_ascii=False)))  # judged per key, blocks kept
        line = json.dumps(safe, ensure_ascii=False) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with _lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, line.encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
        return record

    def read(self) -> Iterator[dict[str, Any]]:
        if not self.path.exists():
            return iter(())
        with self.path.open(encoding="utf-8") as fh:
            return iter([json.loads(line) for line in fh if line.strip()])
