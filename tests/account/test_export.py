"""GET /export: everything of the user as NDJSON, line by line, and nobody else's."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert
from sqlmodel import Session

from backend.app.account.export import stream_account_export
from backend.app.batches import BATCH_SIZE
from backend.app.models import Conversation, Message, Task, User
from tests.conftest import auth
from tests.usage.seeding import seed_turn, usage

MESSAGES = 5_000


def api_pages(client: TestClient, path: str, user: str = "alice") -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 100}
    while True:
        page = client.get(path, params=params, headers=auth(user)).json()
        rows.extend(page["data"])
        if not page["has_more"]:
            return rows
        params["cursor"] = page["next_cursor"]


def seed_history(engine: Engine, user_id: str, sizes: list[int]) -> list[int]:
    """Conversations of these sizes whose messages interleave by id (as several conversations
    going on at once do); returns the conversation ids."""
    start = datetime.now(UTC) - timedelta(days=3)
    with Session(engine) as session:
        if session.get(User, user_id) is None:
            session.add(User(id=user_id))
            session.flush()  # (no relationship orders the inserts)
        conversations = [Conversation(user_id=user_id, title=f"#{n}") for n in range(len(sizes))]
        session.add_all(conversations)
        session.commit()
        ids = [c.id for c in conversations]
        rows = []
        remaining = list(sizes)
        n = 0
        while any(remaining):
            for index, left in enumerate(remaining):
                if left:
                    remaining[index] -= 1
                    n += 1
                    rows.append(
                        {
                            "conversation_id": ids[index],
                            "user_id": user_id,
                            "role": "user" if n % 2 else "assistant",
                            "content": f'message {n} of {user_id}: "quoted", ünï ☃\nline two',
                            "tool_calls": json.dumps(
                                [{"name": "list_tasks", "arguments": {}, "result": []}]
                            )
                            if n % 7 == 0
                            else None,
                            "created_at": start + timedelta(seconds=n),
                        }
                    )
        for chunk in range(0, len(rows), 2000):
            session.execute(insert(Message), rows[chunk : chunk + 2000])
        session.commit()
    return ids


def export_lines(client: TestClient, user: str = "alice") -> list[dict[str, Any]]:
    response = client.get(f"/api/{user}/export", headers=auth(user))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-ndjson"
    assert response.headers["content-disposition"].startswith("attachment;")
    body = response.text
    assert body.endswith("\n")
    return [json.loads(line) for line in body.splitlines()]


def test_the_export_holds_everything_of_the_user_in_order(
    client: TestClient, engine: Engine
) -> None:
    client.get("/api/alice/tasks", headers=auth("alice", email="a@example.com", name="Alice"))
    for title in ("Buy milk", "Pay bills", "Call mom"):
        client.post("/api/alice/tasks", json={"title": title}, headers=auth())
    # Over the batch size, an empty conversation in the middle, one message at the end.
    sizes = [2 * BATCH_SIZE + 101, 0, MESSAGES - 2 * BATCH_SIZE - 102 - 2, 1]
    conversation_ids = seed_history(engine, "alice", sizes)
    seed_turn(engine, "alice", usage(12, 3))  # a turn with its usage: two more messages
    seed_history(engine, "bob", [300])  # someone else's, never in alice's export
    with Session(engine) as session:
        session.add(Task(user_id="bob", title="Bob's task"))
        session.commit()

    lines = export_lines(client)

    assert lines[0] == {
        "type": "user",
        "id": "alice",
        "email": "a@example.com",
        "name": "Alice",
        "created_at": lines[0]["created_at"],
    }
    tasks = client.get("/api/alice/tasks", headers=auth()).json()
    conversations = sorted(
        api_pages(client, "/api/alice/conversations?archived=all"), key=lambda c: c["id"]
    )
    expected = [{"type": "task", **task} for task in sorted(tasks, key=lambda t: t["id"])]
    for conversation in conversations:
        expected.append({"type": "conversation", **conversation})
        messages = api_pages(client, f"/api/alice/conversations/{conversation['id']}/messages")
        expected.extend({"type": "message", **message} for message in messages)
    assert len(lines) - 1 == len(expected) == 3 + 5 + MESSAGES
    for number, (line, wanted) in enumerate(zip(lines[1:], expected, strict=True), start=2):
        assert line == wanted, f"line {number}"
    assert [c["id"] for c in conversations][:4] == conversation_ids
    assert lines[-1]["usage"] == {
        "model": "gpt-4o-mini",
        "prompt_tokens": 12,
        "completion_tokens": 3,
        "total_tokens": 15,
    }


def test_a_new_user_exports_just_the_user_line(client: TestClient) -> None:
    lines = export_lines(client, "dave")
    assert [line["type"] for line in lines] == ["user"]
    assert lines[0]["id"] == "dave"


def test_another_users_export_is_403(client: TestClient, engine: Engine) -> None:
    with Session(engine) as session:
        session.add(User(id="bob"))
        session.commit()
    response = client.get("/api/bob/export", headers=auth("alice"))
    assert response.status_code == 403


def test_no_connection_is_held_between_chunks(engine: Engine) -> None:
    # What a slow download does: take a chunk, wait. Meanwhile no pooled connection is out.
    seed_history(engine, "alice", [BATCH_SIZE * 2 + 10, 3])
    with Session(engine) as session:
        session.add(Task(user_id="alice", title="Buy milk"))
        session.commit()
    chunks = 0
    for chunk in stream_account_export(engine, "alice"):
        assert chunk
        assert engine.pool.checkedout() == 0
        chunks += 1
    assert chunks >= 4  # the user, the tasks, and the messages in several batches
