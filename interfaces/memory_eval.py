"""Incident memory for replay and eval, built from the scenarios' own labels.

Leave-one-out: a scenario never retrieves itself, so "accuracy with memory"
measures what past *other* incidents contribute, not a leaked answer.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

from config.settings import Settings
from evals.scenario import Scenario


class ExcludingMemory:
    """Wraps an incident store so searches never return one excluded incident."""

    def __init__(self, store: Any, exclude_id: str):
        self.store = store
        self.exclude_id = exclude_id

    def search(self, text: str, k: int = 3) -> list[Any]:
        hits = self.store.search(text, k=k + 1)
        return [h for h in hits if getattr(h, "id", None) != self.exclude_id][:k]


def memory_factory(settings: Settings, scenarios_path: Path) -> Callable[[Scenario], Any]:
    """An incident store filled from every labelled incident under `scenarios_path` (in a temp dir)."""
    from memory.incidents import open_incident_store

    temp = Path(tempfile.mkdtemp(prefix="cloud-doctor-memory-"))
    atexit.register(shutil.rmtree, temp, True)
    store = open_incident_store(settings.model_copy(update={"data_dir": temp, "chroma_url": None}))
    store.import_file(scenarios_path)
    return lambda scenario: ExcludingMemory(store, scenario.id)
