"""The hourly retention pass inside the server: one process per hour, whatever their number.

Every process tries once at start-up and then every hour. A try claims the hour in `job_runs`
(an UPDATE that succeeds only when the last pass started at least an hour ago, so one process
wins and the others skip) and, on PostgreSQL, first takes an advisory lock, so that a pass
still running after an hour is never joined by a second one. SQLite serves one process, and its
database lock makes the claim atomic anyway.
"""

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col

from backend.app.config import Settings
from backend.app.models import JobRun, utcnow
from backend.app.retention import service as retention_service
from backend.app.retention.service import RetentionResult

logger = logging.getLogger("backend.app.retention")

JOB_NAME = "retention"
INTERVAL = timedelta(hours=1)
# Processes wake up a little early or late: a claim an hour minus this after the last is fine.
CLAIM_SLACK = timedelta(minutes=1)
# pg_try_advisory_lock's key: any constant the application uses for nothing else.
ADVISORY_LOCK_KEY = 0x7E7E_0015
NEVER = datetime(2000, 1, 1, tzinfo=UTC)


def run_scheduled_pass(engine: Engine, retention_days: int) -> RetentionResult | None:
    """One try: run the retention pass if this process wins this hour, else None."""
    with _advisory_lock(engine) as locked:
        if not locked or not _claim(engine):
            logger.debug("retention: skipped, another process has this hour's pass")
            return None
        result = retention_service.delete_idle_conversations(engine, retention_days)
        _finish(engine)
        return result


@contextmanager
def _advisory_lock(engine: Engine) -> Iterator[bool]:
    """Hold PostgreSQL's session-level advisory lock on a connection of its own (autocommit:
    no transaction stays open); yield whether this process got it. Always True on SQLite."""
    if engine.dialect.name != "postgresql":
        yield True
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        key = {"key": ADVISORY_LOCK_KEY}
        locked = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), key).scalar()
        try:
            yield bool(locked)
        finally:
            if locked:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), key)


def _claim(engine: Engine) -> bool:
    """Mark this hour's pass as started; False when another process started it already."""
    now = utcnow()
    with Session(engine) as session:
        insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
        session.execute(
            insert(JobRun)
            .values(name=JOB_NAME, started_at=NEVER)
            .on_conflict_do_nothing(index_elements=["name"])
        )
        claimed = session.exec(
            update(JobRun)
            .where(
                col(JobRun.name) == JOB_NAME,
                col(JobRun.started_at) <= now - INTERVAL + CLAIM_SLACK,
            )
            .values(started_at=now, finished_at=None)
        ).rowcount
        session.commit()
    return claimed == 1


def _finish(engine: Engine) -> None:
    with Session(engine) as session:
        session.execute(
            update(JobRun).where(col(JobRun.name) == JOB_NAME).values(finished_at=utcnow())
        )
        session.commit()


async def _every_hour(engine: Engine, retention_days: int) -> None:
    while True:
        try:
            await asyncio.to_thread(run_scheduled_pass, engine, retention_days)
        except Exception:  # the database away for a while must not end the schedule
            logger.exception("retention pass failed; trying again in an hour")
        await asyncio.sleep(INTERVAL.total_seconds())


@asynccontextmanager
async def retention_loop(settings: Settings, engine: Engine) -> AsyncIterator[None]:
    """Run the hourly pass for the app's life when RETENTION_DAYS is set."""
    if settings.retention_days is None:
        yield
        return
    _make_audit_lines_visible()
    task = asyncio.create_task(_every_hour(engine, settings.retention_days))
    try:
        yield
    finally:
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass


def _make_audit_lines_visible() -> None:
    # Uvicorn configures its own loggers only, so the INFO line of what a pass deleted would
    # vanish: give this logger a stderr handler unless the operator's logging set one up.
    if not logger.hasHandlers():
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
