"""The database doors and workers share: a SQLite file by default, one PostgreSQL when configured.

Runs, events, the work queue, dedupe keys, shares, Slack delivery state and
the audit copy all live in it (checkpoints keep their own saver, on the same
PostgreSQL). Access is synchronous on purpose: workers, the CLI and the
runner call it directly, and async doors call it through `asyncio.to_thread`,
so one implementation serves every caller.

Both dialects run the same SQL, written with `%s` placeholders (SQLite's `?`
is substituted). Schema changes are named migrations applied once, under a
PostgreSQL advisory lock (or SQLite's write lock), so many replicas starting
together on a fresh database do not race.
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Literal, Sequence

from config.settings import Settings

Dialect = Literal["sqlite", "postgres"]
MIGRATION_LOCK = 0x0C10D0C7  # pg_advisory_xact_lock key for schema changes
_opened: dict[str, "Database"] = {}
_opened_lock = threading.Lock()


class Migration:
    """A named schema change: statements per dialect, applied once."""

    def __init__(self, name: str, sqlite: Sequence[str], postgres: Sequence[str]):
        self.name, self.sqlite, self.postgres = name, list(sqlite), list(postgres)


class Tx:
    """One transaction: `execute` returns the rows (tuples) of statements that return rows."""

    def __init__(self, conn: Any, dialect: Dialect):
        self._conn, self.dialect = conn, dialect

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if self.dialect == "sqlite":
            cursor = self._conn.execute(sql.replace("%s", "?"), tuple(params))
            return cursor.fetchall() if cursor.description else []
        cursor = self._conn.execute(sql, tuple(params))
        return cursor.fetchall() if cursor.description else []

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        rows = self.execute(sql, params)
        return rows[0] if rows else None

    def rowcount(self, sql: str, params: Sequence[Any] = ()) -> int:
        if self.dialect == "sqlite":
            return self._conn.execute(sql.replace("%s", "?"), tuple(params)).rowcount
        return self._conn.execute(sql, tuple(params)).rowcount

    def notify(self, channel: str, payload: str) -> None:
        """Wake PostgreSQL listeners when this transaction commits; SQLite listeners poll."""
        if self.dialect == "postgres":
            self._conn.execute("SELECT pg_notify(%s, %s)", (channel, payload))


class Database:
    """A pool of connections to the shared database; `transaction()` is the only way in."""

    def __init__(self, *, url: str | None = None, path: Path | None = None, pool_size: int = 10):
        if url:
            from psycopg_pool import ConnectionPool

            self.dialect: Dialect = "postgres"
            self.url = url
            self._pool = ConnectionPool(url, min_size=1, max_size=pool_size, open=True, kwargs={"autocommit": False},
                                        name="cloud-doctor")
        else:
            assert path is not None
            self.dialect = "sqlite"
            self.url = f"sqlite:///{path}"
            self.path = Path(path)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._local = threading.local()
        self._applied: set[str] = set()
        self._migrate_lock = threading.Lock()
        # SQLite: whether this process's commits fold the WAL back into the database (fsyncs). A door process
        # turns it off so an acknowledgement never waits for it; workers' commits keep doing it.
        self.checkpoints_wal = True

    # ---------------------------------------------------------------- access

    def _sqlite(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=True)
            conn.execute("PRAGMA busy_timeout = 30000")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            if not self.checkpoints_wal:
                conn.execute("PRAGMA wal_autocheckpoint = 0")
            self._local.conn = conn
        return conn

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[Tx]:
        """A transaction that commits on success and rolls back on error.

        SQLite writers take the write lock at BEGIN (IMMEDIATE), so a read
        followed by a write in one transaction never deadlocks with another
        process doing the same."""
        if self.dialect == "sqlite":
            conn = self._sqlite()
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield Tx(conn, "sqlite")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return
        with self._pool.connection() as conn:
            with conn.transaction():
                yield Tx(conn, "postgres")

    def now_sql(self) -> str:
        """The database's clock in epoch seconds (leases compare against one clock, not each worker's)."""
        if self.dialect == "postgres":
            return "extract(epoch from clock_timestamp())"
        return "((julianday('now') - 2440587.5) * 86400.0)"

    # ------------------------------------------------------------ migrations

    def migrate(self, migrations: Sequence[Migration]) -> None:
        """Apply the named migrations this database has not seen, once, whoever starts first."""
        with self._migrate_lock:
            if all(m.name in self._applied for m in migrations):
                return
            with self.transaction() as tx:
                if self.dialect == "postgres":
                    tx.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
                tx.execute("CREATE TABLE IF NOT EXISTS cd_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
                done = {row[0] for row in tx.execute("SELECT name FROM cd_migrations")}
                for migration in migrations:
                    if migration.name in done:
                        continue
                    for statement in (migration.postgres if self.dialect == "postgres" else migration.sqlite):
                        tx.execute(statement)
                    tx.execute("INSERT INTO cd_migrations (name, applied_at) VALUES (%s, CURRENT_TIMESTAMP)", (migration.name,))
            self._applied.update(m.name for m in migrations)

    def close(self) -> None:
        if self.dialect == "postgres":
            self._pool.close()
        else:
            conn = getattr(self._local, "conn", None)
            if conn is not None:
                conn.close()
                self._local.conn = None


def open_database(settings: Settings) -> Database:
    """The process's one handle on the shared database (PostgreSQL when configured, else data_dir/doors.sqlite)."""
    url = settings.shared_database_url
    key = url or str((settings.data_dir / "doors.sqlite").resolve())
    with _opened_lock:
        db = _opened.get(key)
        if db is None:
            db = Database(url=url) if url else Database(path=settings.ensure_data_dir() / "doors.sqlite")
            _opened[key] = db
        return db


def close_databases() -> None:
    """Close every handle this process opened (tests and shutdown)."""
    with _opened_lock:
        for db in _opened.values():
            db.close()
        _opened.clear()
