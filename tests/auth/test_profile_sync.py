"""The user row follows the token: a valid token whose email or name differs from the row
updates it; a token that leaves a claim out, or repeats it, changes nothing and writes nothing.
Observed through the export's user line (the one route that shows the profile)."""

import json

from fastapi.testclient import TestClient
from sqlalchemy import event

from tests.conftest import auth


def profile(client: TestClient, **claims: object) -> dict:
    response = client.get("/api/alice/export", headers=auth("alice", **claims))
    user = json.loads(response.text.splitlines()[0])
    return {"email": user["email"], "name": user["name"]}


def test_a_changed_email_or_name_is_taken_from_the_token(client: TestClient) -> None:
    assert profile(client, email="a@old.example", name="Al") == {
        "email": "a@old.example",
        "name": "Al",
    }
    assert profile(client, email="alice@new.example", name="Al") == {
        "email": "alice@new.example",
        "name": "Al",
    }
    assert profile(client, email="alice@new.example", name="Alice Liddell") == {
        "email": "alice@new.example",
        "name": "Alice Liddell",
    }


def test_a_claim_left_out_keeps_what_is_stored(client: TestClient) -> None:
    profile(client, email="alice@example.com", name="Alice")
    assert profile(client) == {"email": "alice@example.com", "name": "Alice"}
    assert profile(client, name="Alice L.") == {"email": "alice@example.com", "name": "Alice L."}


def test_requests_with_the_same_profile_write_nothing(client: TestClient) -> None:
    claims = {"email": "alice@example.com", "name": "Alice"}
    client.get("/api/alice/tasks", headers=auth("alice", **claims))  # creates the row
    writes: list[str] = []

    def record(_connection, _cursor, statement, *_args) -> None:
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            writes.append(statement)

    engine = client.app.state.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        for _ in range(3):
            assert (
                client.get("/api/alice/tasks", headers=auth("alice", **claims)).status_code == 200
            )
        assert client.get("/api/alice/tasks", headers=auth("alice")).status_code == 200
        assert writes == []
        client.get("/api/alice/tasks", headers=auth("alice", email="new@example.com"))
        assert len(writes) == 1 and "UPDATE users" in writes[0]
    finally:
        event.remove(engine, "before_cursor_execute", record)
