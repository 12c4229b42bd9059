"""Checkpoint savers: SQLite file by default, PostgreSQL when configured.

A thread paused for approval must survive a restart and be resumable from
another door or worker, hours later. On PostgreSQL the saver's table setup
runs under an advisory lock: replicas and workers starting together on a
fresh database would otherwise race on CREATE TABLE (UniqueViolation).
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import AsyncIterator

from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from config.settings import Settings
from graphs.state import STATE_RECORD_TYPES

SETUP_LOCK = 0x0C10D0C8  # pg_advisory_lock key around the checkpoint saver's table setup


def serializer() -> JsonPlusSerializer:
    """Only our own state records (and LangGraph's safe types) are revived from a checkpoint."""
    return JsonPlusSerializer(allowed_msgpack_modules=list(STATE_RECORD_TYPES))


@asynccontextmanager
async def open_checkpointer(settings: Settings) -> AsyncIterator[object]:
    url = settings.shared_database_url
    if url:
        import psycopg
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

        async with AsyncPostgresSaver.from_conn_string(url, serde=serializer()) as saver:
            async with await psycopg.AsyncConnection.connect(url, autocommit=True) as lock:
                # Poll for the lock instead of waiting in a statement: the saver's setup runs CREATE INDEX
                # CONCURRENTLY, which waits for every open transaction, a blocked lock request included.
                while not (await (await lock.execute("SELECT pg_try_advisory_lock(%s)", (SETUP_LOCK,))).fetchone())[0]:
                    await asyncio.sleep(0.1)
                try:
                    await saver.setup()
                finally:
                    await lock.execute("SELECT pg_advisory_unlock(%s)", (SETUP_LOCK,))
            yield saver
        return
    url = settings.checkpoint_url
    import aiosqlite
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    path = settings.ensure_data_dir() / "checkpoints.sqlite" if not url else url.removeprefix("sqlite:///")
    async with aiosqlite.connect(str(path), timeout=30) as conn:
        saver = AsyncSqliteSaver(conn, serde=serializer())
        await saver.setup()
        yield saver
