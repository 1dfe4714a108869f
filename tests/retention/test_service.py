"""Retention: conversations idle longer than RETENTION_DAYS go with their messages, in
batches; younger ones, tasks and usage stay. Through the service, and through the one-off
command `python -m backend.app.retention`."""

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from backend.app.conversations import service as conversation_service
from backend.app.models import Conversation, User
from backend.app.retention import service as retention_service
from tests.conftest import auth
from tests.test_config import clean_environment
from tests.usage.seeding import seed_turn, usage

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime.now(UTC)


def seed_conversation(engine: Engine, user: str, idle_days: float, messages: int = 2) -> int:
    """A conversation whose last message is `idle_days` old."""
    last = NOW - timedelta(days=idle_days)
    with Session(engine) as session:
        if session.get(User, user) is None:
            session.add(User(id=user))
            session.flush()
        conversation = Conversation(user_id=user, title=f"idle {idle_days} days")
        session.add(conversation)
        session.flush()
        for n in range(messages):
            message = conversation_service.new_message(conversation, "user", f"m{n}", None)
            message.created_at = last - timedelta(minutes=messages - n)
            session.add(message)
        conversation.created_at = last - timedelta(days=1)
        conversation.updated_at = last
        session.add(conversation)
        session.commit()
        return conversation.id


def status_of(client: TestClient, user: str, conversation_id: int) -> int:
    return client.get(
        f"/api/{user}/conversations/{conversation_id}", headers=auth(user)
    ).status_code


def test_a_pass_deletes_the_idle_conversations_only(client: TestClient, engine: Engine) -> None:
    # More than a batch of old ones, of two users; young ones just inside the limit.
    old = [seed_conversation(engine, "alice", 31 + n % 5, messages=3) for n in range(130)]
    old.append(seed_conversation(engine, "bob", 400, messages=1))
    young = [
        seed_conversation(engine, "alice", 29.9),
        seed_conversation(engine, "bob", 0),
        seed_conversation(engine, "bob", 29, messages=0),
    ]
    client.post("/api/alice/tasks", json={"title": "Keep me"}, headers=auth())
    # An old turn with usage: its conversation (2 messages) goes, the day's usage stays.
    turn_conversation, _ = seed_turn(engine, "alice", usage(10, 5), at=NOW - timedelta(days=40))
    old.append(turn_conversation)

    result = retention_service.delete_idle_conversations(engine, 30, now=NOW)

    assert (result.conversations, result.messages) == (132, 130 * 3 + 1 + 2)
    assert result.cutoff == NOW - timedelta(days=30)
    for conversation_id in old:
        user = "bob" if conversation_id == old[-2] else "alice"
        assert status_of(client, user, conversation_id) == 404
    for conversation_id, user in zip(young, ("alice", "bob", "bob"), strict=True):
        assert status_of(client, user, conversation_id) == 200
    messages = client.get(f"/api/alice/conversations/{young[0]}/messages", headers=auth())
    assert len(messages.json()["data"]) == 2
    # Tasks are not conversations; usage is the record of what was spent.
    assert [t["title"] for t in client.get("/api/alice/tasks", headers=auth()).json()] == [
        "Keep me"
    ]
    assert (
        client.get("/api/alice/usage", params={"from": "2000-01-01"}, headers=auth()).json()[
            "total"
        ]["total_tokens"]
        == 15
    )
    # A second pass finds nothing more.
    again = retention_service.delete_idle_conversations(engine, 30, now=NOW)
    assert (again.conversations, again.messages) == (0, 0)


def test_the_log_line_says_what_was_deleted(engine: Engine, caplog) -> None:
    seed_conversation(engine, "alice", 10, messages=4)
    seed_conversation(engine, "alice", 1)
    with caplog.at_level("INFO", logger="backend.app.retention"):
        retention_service.delete_idle_conversations(engine, 7, now=NOW)
    [record] = [r for r in caplog.records if r.name.startswith("backend.app.retention")]
    assert "deleted 1 conversations (4 messages)" in record.getMessage()


def run_command(database_url: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    environment = clean_environment(PYTHONPATH=str(ROOT), DATABASE_URL=database_url, **env)
    return subprocess.run(
        [sys.executable, "-m", "backend.app.retention"],
        cwd=tmp_path,  # no .env there
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_one_off_command_deletes_and_logs(
    client: TestClient, engine: Engine, database_url: str, tmp_path: Path
) -> None:
    old = seed_conversation(engine, "alice", 100, messages=3)
    young = seed_conversation(engine, "alice", 1)

    result = run_command(database_url, tmp_path, RETENTION_DAYS="30")

    assert result.returncode == 0, result.stderr
    assert "retention: deleted 1 conversations (3 messages)" in result.stderr
    assert status_of(client, "alice", old) == 404
    assert status_of(client, "alice", young) == 200


def test_the_command_refuses_to_run_without_a_valid_retention_days(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    kept = seed_conversation(engine, "alice", 1000)
    for env in ({}, {"RETENTION_DAYS": "0"}, {"RETENTION_DAYS": "a week"}):
        result = run_command(database_url, tmp_path, **env)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert result.returncode == 2
        assert len(lines) == 1 and "RETENTION_DAYS" in lines[0], result.stderr
    with Session(engine) as session:
        assert session.get(Conversation, kept) is not None
