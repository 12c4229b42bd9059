"""The shared store of doors and workers: runs, the work queue, events, dedupe keys (see store.py for why)."""
