"""A database that is missing or was never migrated is said as such (API.md, "Operations"): 503
naming the cause and the fix, logged once; never "please retry"."""

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from backend.app.main import create_app
from tests.conftest import auth
from tests.test_config import ROOT, clean_environment

MISCONFIGURED = "backend.app.main"


def misconfiguration_logs(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == MISCONFIGURED and "misconfigured" in record.getMessage()
    ]


def test_an_unmigrated_database_is_503_saying_run_the_migrations_logged_once(
    empty_database_url: str, make_settings, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(make_settings(database_url=empty_database_url))
    caplog.set_level(logging.INFO)
    with TestClient(app) as client:
        for _ in range(3):
            response = client.get("/api/alice/tasks", headers=auth("alice"))
            assert response.status_code == 503
            detail = response.json()["detail"]
            assert "not migrated" in detail
            assert "alembic upgrade head" in detail
            assert "retry" not in detail
    app.state.engine.dispose()
    assert len(misconfiguration_logs(caplog)) == 1


def test_a_database_that_does_not_exist_is_503_naming_it(
    postgres_url: str, make_settings, caplog: pytest.LogCaptureFixture
) -> None:
    name = f"todo_never_created_{os.getpid()}"
    missing = postgres_url.rsplit("/", 1)[0] + f"/{name}"
    app = create_app(make_settings(database_url=missing))
    caplog.set_level(logging.INFO)
    with TestClient(app) as client:
        for _ in range(2):
            response = client.post(
                "/api/alice/tasks", json={"title": "Milk"}, headers=auth("alice")
            )
            assert response.status_code == 503
            assert f'"{name}" does not exist' in response.json()["detail"]
            assert "createdb" in response.json()["detail"]
        ready = client.get("/health/ready")
        assert ready.status_code == 503
        assert f'"{name}" does not exist' in ready.json()["detail"]
    app.state.engine.dispose()
    assert len(misconfiguration_logs(caplog)) == 1


def alembic_upgrade(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`alembic upgrade head` as a person runs it, from a folder without a .env file."""
    return subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(ROOT / "alembic.ini"), "upgrade", "head"],
        cwd=tmp_path,
        env=clean_environment(PYTHONPATH=str(ROOT), **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_failed_migration_says_why_in_one_line(postgres_url: str, tmp_path: Path) -> None:
    name = f"todo_never_created_{os.getpid()}"
    result = alembic_upgrade(tmp_path, DATABASE_URL=postgres_url.rsplit("/", 1)[0] + f"/{name}")
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert f'"{name}" does not exist' in lines[0]


def test_an_unreachable_server_fails_the_migration_in_one_line_without_the_password(
    tmp_path: Path,
) -> None:
    result = alembic_upgrade(tmp_path, DATABASE_URL="postgresql://u:hunter22@127.0.0.1:1/todo")
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("migration failed: cannot connect to")
    assert "hunter22" not in result.stderr


def test_migrations_run_whatever_else_is_misconfigured(tmp_path: Path) -> None:
    # Settings the migrations do not use cannot stop them (a production box without its secret
    # yet, an agent name from a newer version).
    result = alembic_upgrade(
        tmp_path,
        DATABASE_URL=f"sqlite:///{tmp_path / 'fresh.db'}",
        APP_ENV="production",
        AGENT="magic",
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "fresh.db").exists()


def test_mcp_tools_on_an_unmigrated_database_say_so(empty_database_url: str, make_settings) -> None:
    settings = make_settings(database_url=empty_database_url, mcp_allowed_hosts="testserver")
    app = create_app(settings)
    call = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "list_tasks", "arguments": {}},
    }
    headers = {"Accept": "application/json, text/event-stream", **auth("alice")}
    with TestClient(app) as client:
        response = client.post("/mcp", json=call, headers=headers)
    app.state.engine.dispose()
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert result["isError"] is True
    assert "alembic upgrade head" in result["content"][0]["text"]
