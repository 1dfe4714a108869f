"""DELETE /api/{user_id}: the user and every row of theirs go, in every table; nobody else's
row changes; the next request with a valid token starts an empty account."""

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, inspect, text

from backend.app.search.service import owner_token
from tests.conftest import auth
from tests.usage.seeding import seed_turn, usage

# Tables that hold no row of any user, so nothing there can be left behind. A new table must
# be added here or carry a `user_id`: the test below fails on any other.
TABLES_WITHOUT_OWNER = {"alembic_version", "job_runs"}
SQLITE_SEARCH_TABLES = {
    f"{fts}{suffix}"
    for fts in ("messages_fts", "conversations_fts")
    for suffix in ("", "_config", "_data", "_docsize", "_idx")
}


def build_account(client: TestClient, engine: Engine, user: str) -> None:
    """Everything a user can have: profile, tasks, conversations, messages (with tool calls
    and usage), an idempotency key, usage days."""
    headers = auth(user, email=f"{user}@example.com", name=user.title())
    client.post(f"/api/{user}/tasks", json={"title": f"{user}'s groceries"}, headers=headers)
    turn = client.post(
        f"/api/{user}/chat",
        json={"message": "Add a task to call mom"},
        headers={**headers, "Idempotency-Key": f"key-of-{user}"},
    )
    assert turn.status_code == 200, turn.text
    conversation = client.post(
        f"/api/{user}/conversations", json={"title": "Plans"}, headers=headers
    ).json()
    client.post(
        f"/api/{user}/conversations/{conversation['id']}/messages",
        json={"role": "user", "content": "searchable words here"},
        headers=headers,
    )
    seed_turn(engine, user, usage(100, 50))


def rows_of(engine: Engine, user: str) -> dict[str, list[Any]]:
    """Every row of `user` in every table of the database, table by table."""
    inspector = inspect(engine)
    found: dict[str, list[Any]] = {}
    with engine.connect() as connection:
        for table in inspector.get_table_names():
            columns = {c["name"] for c in inspector.get_columns(table)}
            if table == "users":
                where = "id = :user"
            elif "user_id" in columns:
                where = "user_id = :user"
            elif table in SQLITE_SEARCH_TABLES:
                continue  # their entries are checked below, through the index itself
            else:
                assert table in TABLES_WITHOUT_OWNER, f"{table}: whose rows are these?"
                continue
            statement = text(f"SELECT * FROM {table} WHERE {where} ORDER BY 1, 2")
            found[table] = [tuple(row) for row in connection.execute(statement, {"user": user})]
        if engine.dialect.name == "sqlite":
            for fts in ("messages_fts", "conversations_fts"):
                match = f'owner : "{owner_token(user)}"'
                entries = connection.execute(
                    text(f"SELECT rowid FROM {fts} WHERE {fts} MATCH :match ORDER BY rowid"),
                    {"match": match},
                )
                found[fts] = [tuple(row) for row in entries]
    return found


def test_deleting_the_account_leaves_no_row_of_the_user_and_touches_nobody_else(
    client: TestClient, engine: Engine
) -> None:
    build_account(client, engine, "alice")
    build_account(client, engine, "bob")
    alice_before = rows_of(engine, "alice")
    assert all(
        alice_before[t]
        for t in ("users", "tasks", "conversations", "messages", "idempotency_keys", "usage_days")
    )
    if engine.dialect.name == "sqlite":  # the search index holds alice's words too
        assert alice_before["messages_fts"] and alice_before["conversations_fts"]
    bob_before = rows_of(engine, "bob")

    response = client.delete("/api/alice", headers=auth())

    assert response.status_code == 204
    assert response.content == b""
    assert rows_of(engine, "alice") == {table: [] for table in alice_before}
    assert rows_of(engine, "bob") == bob_before
    search = client.get("/api/bob/search", params={"q": "searchable"}, headers=auth("bob"))
    assert len(search.json()["data"]) == 1


def test_a_later_request_starts_an_empty_account(client: TestClient, engine: Engine) -> None:
    build_account(client, engine, "alice")
    assert client.delete("/api/alice", headers=auth()).status_code == 204

    assert client.get("/api/alice/tasks", headers=auth()).json() == []
    assert client.get("/api/alice/conversations", headers=auth()).json()["data"] == []
    assert client.get("/api/alice/usage", headers=auth()).json()["days"] == []
    # The same Idempotency-Key now starts a new turn instead of replaying the deleted one.
    again = client.post(
        "/api/alice/chat",
        json={"message": "Add a task to call mom"},
        headers={**auth(), "Idempotency-Key": "key-of-alice"},
    )
    assert again.status_code == 200
    assert [t["title"] for t in client.get("/api/alice/tasks", headers=auth()).json()] == [
        "Call mom"
    ]


def test_deleting_twice_is_204_both_times(client: TestClient) -> None:
    assert client.delete("/api/alice", headers=auth()).status_code == 204
    assert client.delete("/api/alice", headers=auth()).status_code == 204


def test_deleting_another_user_is_403_and_deletes_nothing(
    client: TestClient, engine: Engine
) -> None:
    build_account(client, engine, "bob")
    bob_before = rows_of(engine, "bob")

    response = client.delete("/api/bob", headers=auth("alice"))

    assert response.status_code == 403
    assert rows_of(engine, "bob") == bob_before


def test_deleting_needs_a_token(client: TestClient) -> None:
    assert client.delete("/api/alice").status_code == 401
