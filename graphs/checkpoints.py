"""Checkpoint savers: SQLite file by default, PostgreSQL when configured.

A thread paused for approval must survive a restart and be resumable from
another door, hours later; the saver is opened per door invocation.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator

from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from config.settings import Settings
from graphs.state import STATE_RECORD_TYPES


def serializer() -> JsonPlusSerializer:
    """Only our own state records (and LangGraph's safe types) are revived from a checkpoint."""
    return JsonPlusSerializer(allowed_msgpack_modules=list(STATE_RECORD_TYPES))


@asynccontextmanager
async def open_checkpointer(settings: Settings) -> AsyncIterator[object]:
    url = settings.checkpoint_url
    if url and url.startswith(("postgres://", "postgresql://")):
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

        async with AsyncPostgresSaver.from_conn_string(url, serde=serializer()) as saver:
            await saver.setup()
            yield saver
        return
    import aiosqlite
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    path = settings.ensure_data_dir() / "checkpoints.sqlite" if not url else url.removeprefix("sqlite:///")
    async with aiosqlite.connect(str(path)) as conn:
        saver = AsyncSqliteSaver(conn, serde=serializer())
        await saver.setup()
        yield saver
