"""Database engine per settings, the request session, and SQLite's connection pragmas."""

from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import ConnectionPoolEntry
from sqlmodel import Session, create_engine

SQLITE_BUSY_TIMEOUT_MS = 10_000


def _enable_sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    # Foreign keys are off by default in SQLite; WAL + a busy timeout let concurrent writers
    # wait for each other instead of failing with "database is locked".
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


DEFAULT_POOL_SIZE = 10
DEFAULT_MAX_OVERFLOW = 20


def make_engine(
    database_url: str,
    *,
    pool_size: int = DEFAULT_POOL_SIZE,
    max_overflow: int = DEFAULT_MAX_OVERFLOW,
) -> Engine:
    """Build the engine for a (normalised) URL; SQLite files get their folder created.

    The pool can stay small even with hundreds of chat turns in flight: a turn holds a
    connection only for its short database steps, never while its model thinks."""
    url = make_url(database_url)
    pool = {"pool_size": pool_size, "max_overflow": max_overflow}
    if url.get_backend_name() == "sqlite":
        if url.database in (None, "", ":memory:"):
            pool = {}  # one connection's database: SQLAlchemy's single-connection pool
        else:
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            **pool,
        )
        event.listen(engine, "connect", _enable_sqlite_pragmas)
        return engine
    # pre-ping replaces connections the server dropped (restart, idle timeout, Neon suspend).
    return create_engine(url, pool_pre_ping=True, **pool)


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One session per request, on the engine of the app that serves it.

    Async only to save thread hand-offs (each costs as much CPU as a small query: see
    benchmarks/RESULTS.md): opening a Session does no I/O, so it happens on the event loop;
    closing one that still holds a connection may (the ROLLBACK that returns it to the pool),
    so that goes to a worker thread. The session itself is only ever used from sync code.
    """
    session = Session(request.app.state.engine)
    try:
        yield session
    finally:
        if session.in_transaction():
            await run_in_threadpool(session.close)
        else:
            session.close()
