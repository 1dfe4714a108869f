"""The hourly pass inside the server: with two server processes on one database, one of them
runs the pass and the other skips it. On SQLite and on PostgreSQL (skipped when missing, failed
when REQUIRE_SERVICES=1)."""

import json
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from alembic import command
from sqlmodel import Session, select

from backend.app.db import make_engine
from backend.app.models import JobRun
from testkit.processes import running_servers
from tests.conftest import alembic_config, make_token, throwaway_postgres_database
from tests.retention.test_service import seed_conversation

SECRET = "retention-schedule-test-secret-long-enough"
WAIT_S = 30.0


@contextmanager
def fresh_database(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'schedule.db'}"
        command.upgrade(alembic_config(url), "head")
        yield url
        return
    postgres_url = request.getfixturevalue("postgres_url")
    with throwaway_postgres_database(postgres_url, f"todo_retention_{os.getpid()}") as url:
        command.upgrade(alembic_config(url), "head")
        yield url


def log_config(path: Path) -> Path:
    """A uvicorn --log-config writing the retention logger, with the process id, to `path`."""
    config = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(process)d %(message)s"}},
        "handlers": {
            "file": {"class": "logging.FileHandler", "filename": str(path), "formatter": "plain"}
        },
        "loggers": {"backend.app.retention": {"handlers": ["file"], "level": "DEBUG"}},
    }
    config_path = path.with_suffix(".json")
    config_path.write_text(json.dumps(config))
    return config_path


def wait_for_lines(path: Path, count: int) -> list[str]:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= count:
            return lines
        time.sleep(0.1)
    raise AssertionError(f"expected {count} log lines, got: {lines}")


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_of_two_processes_one_runs_the_hourly_pass(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    with fresh_database(kind, tmp_path, request) as database_url:
        engine = make_engine(database_url)
        old = [seed_conversation(engine, "alice", 45) for _ in range(3)]
        young = seed_conversation(engine, "alice", 2)
        log = tmp_path / "retention.log"
        env = {
            "DATABASE_URL": database_url,
            "APP_ENV": "development",
            "AUTH_JWT_SECRET": SECRET,
            "RETENTION_DAYS": "30",
        }
        headers = {"Authorization": f"Bearer {make_token('alice', secret=SECRET)}"}
        try:
            with running_servers(
                [env, env], uvicorn_args=("--log-config", str(log_config(log)))
            ) as urls:
                lines = wait_for_lines(log, 2)
                time.sleep(0.5)  # nothing more comes: each process tries once an hour
                lines = log.read_text().splitlines()
                statuses = {
                    conversation_id: httpx.get(
                        f"{urls[1]}/api/alice/conversations/{conversation_id}", headers=headers
                    ).status_code
                    for conversation_id in [*old, young]
                }
            with Session(engine) as session:
                run = session.exec(select(JobRun)).one()
        finally:
            engine.dispose()

    assert len(lines) == 2, lines
    ran = [line for line in lines if "retention: deleted 3 conversations (6 messages)" in line]
    skipped = [line for line in lines if "skipped, another process" in line]
    assert len(ran) == 1 and len(skipped) == 1, lines
    pids = {re.match(r"\d+", line).group() for line in lines}
    assert len(pids) == 2  # one line from each process
    assert statuses == {**dict.fromkeys(old, 404), young: 200}
    assert run.name == "retention" and run.finished_at is not None
