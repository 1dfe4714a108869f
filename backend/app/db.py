"""Database engine per settings, the request session, and SQLite's connection pragmas."""

from collections.abc import Iterator
from pathlib import Path

from fastapi import Request
from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url
from sqlmodel import Session, create_engine

SQLITE_BUSY_TIMEOUT_MS = 10_000


def _enable_sqlite_pragmas(dbapi_connection, _record) -> None:
    # Foreign keys are off by default in SQLite; WAL + a busy timeout let concurrent writers
    # wait for each other instead of failing with "database is locked".
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(database_url: str) -> Engine:
    """Build the engine for a (normalised) URL; SQLite files get their folder created."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        )
        event.listen(engine, "connect", _enable_sqlite_pragmas)
        return engine
    # pre-ping replaces connections the server dropped (restart, idle timeout, Neon suspend).
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def get_session(request: Request) -> Iterator[Session]:
    """One session per request, on the engine of the app that serves it."""
    with Session(request.app.state.engine) as session:
        yield session
