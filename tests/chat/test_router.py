"""The chat turn through HTTP with the built-in rules agent: what is answered and what is stored."""

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from backend.app.models import Conversation, IdempotencyKey, Message
from tests.conftest import auth

ALICE = auth("alice")


def chat(
    client: TestClient,
    message: str,
    conversation_id: int | None = None,
    headers: dict[str, str] = ALICE,
):
    body = {"message": message, "conversation_id": conversation_id}
    return client.post("/api/alice/chat", json=body, headers=headers)


def tasks(client: TestClient) -> list[dict]:
    return client.get("/api/alice/tasks", headers=ALICE).json()


def add(client: TestClient, title: str) -> int:
    return client.post("/api/alice/tasks", json={"title": title}, headers=ALICE).json()["id"]


def messages(client: TestClient, conversation_id: int) -> list[dict]:
    page = client.get(
        f"/api/alice/conversations/{conversation_id}/messages?limit=100", headers=ALICE
    )
    return page.json()["data"]


def test_a_turn_answers_and_stores_both_messages(client: TestClient) -> None:
    response = chat(client, "Add a task to buy groceries")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "conversation_id",
        "response",
        "tool_calls",
        "message_id",
        "turn_id",
        "stopped",
    }
    assert "Buy groceries" in body["response"]
    [call] = body["tool_calls"]
    assert call["name"] == "add_task"
    assert call["arguments"]["title"] == "Buy groceries"
    assert call["result"]["status"] == "created"
    assert [t["title"] for t in tasks(client)] == ["Buy groceries"]

    stored = messages(client, body["conversation_id"])
    assert [(m["role"], m["content"]) for m in stored] == [
        ("user", "Add a task to buy groceries"),
        ("assistant", body["response"]),
    ]
    assert stored[1]["id"] == body["message_id"]
    assert stored[1]["tool_calls"] == body["tool_calls"]
    assert stored[0]["tool_calls"] is None


def test_a_new_conversation_is_titled_from_the_message(client: TestClient) -> None:
    long_message = "Please remind me to " + "call the plumber about the kitchen sink " * 3
    conversation_id = chat(client, long_message).json()["conversation_id"]
    title = client.get(f"/api/alice/conversations/{conversation_id}", headers=ALICE).json()["title"]
    assert title.startswith("Please remind me to call the plumber")
    assert len(title) <= 60
    assert title.endswith("…")


def test_a_message_of_blanks_starts_an_untitled_conversation(client: TestClient) -> None:
    response = chat(client, " \n\t ")
    assert response.status_code == 200
    conversation_id = response.json()["conversation_id"]
    conversation = client.get(f"/api/alice/conversations/{conversation_id}", headers=ALICE)
    assert conversation.json()["title"] is None  # not "", which a list would show as a blank row


def test_continuing_a_conversation_appends_and_moves_updated_at(client: TestClient) -> None:
    first = chat(client, "Add a task to pay bills").json()
    before = client.get(f"/api/alice/conversations/{first['conversation_id']}", headers=ALICE)
    second = chat(client, "Show me all my tasks", first["conversation_id"]).json()
    after = client.get(f"/api/alice/conversations/{first['conversation_id']}", headers=ALICE)
    assert second["conversation_id"] == first["conversation_id"]
    assert len(messages(client, first["conversation_id"])) == 4
    assert after.json()["updated_at"] > before.json()["updated_at"]
    assert "Pay bills" in second["response"]


SPEC_EXAMPLES = [
    ("Add a task to buy groceries", [], ["add_task"], ["Buy groceries"]),
    ("I need to remember to pay bills", [], ["add_task"], ["Pay bills"]),
    ("Show me all my tasks", ["Walk dog"], ["list_tasks"], ["Walk dog"]),
    ("What's pending?", ["Walk dog"], ["list_tasks"], ["Walk dog"]),
    ("What have I completed?", ["Walk dog"], ["list_tasks"], ["Walk dog"]),
    ("Mark task 1 as complete", ["Walk dog"], ["complete_task"], ["Walk dog"]),
    (
        "Delete the meeting task",
        ["Walk dog", "Team meeting"],
        ["list_tasks", "delete_task"],
        ["Walk dog"],
    ),
    ("Change task 1 to 'Call mom tonight'", ["Call mom"], ["update_task"], ["Call mom tonight"]),
]


@pytest.mark.parametrize(("message", "seed", "tools", "titles_after"), SPEC_EXAMPLES)
def test_the_spec_examples_of_api_md(
    client: TestClient, message: str, seed: list[str], tools: list[str], titles_after: list[str]
) -> None:
    for title in seed:
        add(client, title)
    body = chat(client, message).json()
    assert [call["name"] for call in body["tool_calls"]] == tools
    assert [t["title"] for t in tasks(client)] == titles_after
    stored = messages(client, body["conversation_id"])
    assert stored[-1]["tool_calls"] == body["tool_calls"]
    assert body["response"].strip()


def test_the_spec_examples_have_the_specified_arguments(client: TestClient) -> None:
    add(client, "Walk dog")
    meeting = add(client, "Team meeting")
    assert chat(client, "What's pending?").json()["tool_calls"][0]["arguments"] == {
        "status": "pending"
    }
    completed = chat(client, "What have I completed?").json()["tool_calls"][0]
    assert completed["arguments"] == {"status": "completed"}
    assert chat(client, "Mark task 1 as complete").json()["tool_calls"][0]["arguments"] == {
        "task_id": 1
    }
    deleted = chat(client, "Delete the meeting task").json()
    assert deleted["tool_calls"][-1]["arguments"] == {"task_id": meeting}
    assert "Team meeting" in deleted["response"]


def test_unknown_or_foreign_conversation_is_404_and_stores_nothing(
    client: TestClient, session: Session
) -> None:
    bob = auth("bob")
    bobs = client.post("/api/bob/chat", json={"message": "hello"}, headers=bob).json()
    count_before = len(session.exec(select(Message)).all())
    for conversation_id in (bobs["conversation_id"], 999_999):
        response = chat(client, "Add a task to steal", conversation_id)
        assert response.status_code == 404
        assert isinstance(response.json()["detail"], str)
    session.expire_all()
    assert len(session.exec(select(Message)).all()) == count_before
    assert tasks(client) == []
    assert session.exec(select(Conversation).where(Conversation.user_id == "alice")).all() == []


def test_idempotent_repeat_returns_the_first_answer_and_stores_nothing(
    client: TestClient, session: Session
) -> None:
    key = {"Idempotency-Key": "turn-1"}
    first = chat(client, "Add a task to buy milk", headers={**ALICE, **key})
    repeat = chat(client, "Add a task to buy milk", headers={**ALICE, **key})
    assert repeat.status_code == 200
    assert repeat.json() == first.json()
    assert [t["title"] for t in tasks(client)] == ["Buy milk"]
    assert len(messages(client, first.json()["conversation_id"])) == 2
    assert len(session.exec(select(Conversation)).all()) == 1


def test_an_idempotency_key_is_per_user(client: TestClient) -> None:
    key = {"Idempotency-Key": "same"}
    alice = chat(client, "Add a task to buy milk", headers={**ALICE, **key}).json()
    bob = client.post(
        "/api/bob/chat", json={"message": "Add a task to buy milk"}, headers={**auth("bob"), **key}
    ).json()
    assert bob["conversation_id"] != alice["conversation_id"]
    assert len(client.get("/api/bob/tasks", headers=auth("bob")).json()) == 1


def test_an_idempotency_key_reused_for_another_request_is_refused(client: TestClient) -> None:
    key = {"Idempotency-Key": "k"}
    chat(client, "Add a task to buy milk", headers={**ALICE, **key})
    response = chat(client, "Add a task to buy bread", headers={**ALICE, **key})
    assert response.status_code == 409
    assert [t["title"] for t in tasks(client)] == ["Buy milk"]


def test_idempotency_survives_a_restart(make_app, session: Session) -> None:
    key = {"Idempotency-Key": "across-restarts"}
    with TestClient(make_app()) as first_process:
        first = chat(first_process, "Add a task to buy milk", headers={**ALICE, **key}).json()
    with TestClient(make_app()) as second_process:
        repeat = chat(second_process, "Add a task to buy milk", headers={**ALICE, **key}).json()
        assert repeat == first
        assert len(tasks(second_process)) == 1
    assert len(session.exec(select(IdempotencyKey)).all()) == 1


def test_a_conversation_continues_across_a_restart(make_app) -> None:
    with TestClient(make_app()) as first_process:
        first = chat(first_process, "Add a task to water plants").json()
    with TestClient(make_app()) as second_process:
        second = chat(second_process, "Mark task 1 as complete", first["conversation_id"])
        assert second.status_code == 200
        assert "Water plants" in second.json()["response"]
        assert tasks(second_process)[0]["completed"] is True
        assert len(messages(second_process, first["conversation_id"])) == 4


@pytest.mark.parametrize(
    ("message", "sentence"),
    [
        ("", "String should have at least 1 character"),
        ("x" * 4001, "String should have at most 4000 characters"),
        ("hi\x00", "text must not contain NUL"),
    ],
)
def test_a_bad_message_is_said_in_characters(
    client: TestClient, message: str, sentence: str
) -> None:
    response = client.post("/api/alice/chat", json={"message": message}, headers=ALICE)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert sentence in error["msg"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"message": ""},
        {"message": "x" * 4001},
        {"message": "hi\x00"},
        {"message": 5},
        {"message": "hi", "conversation_id": "abc"},
        {"message": "hi", "conversation_id": 2**31},
        {"message": "hi", "conversation_id": 0},
    ],
)
def test_bad_chat_bodies_are_422_and_store_nothing(
    client: TestClient, session: Session, body: dict
) -> None:
    response = client.post("/api/alice/chat", json=body, headers=ALICE)
    assert response.status_code == 422
    assert isinstance(response.json()["detail"], list)
    assert session.exec(select(Message)).all() == []


def test_a_4000_character_message_is_accepted(client: TestClient) -> None:
    assert chat(client, "a" * 4000).status_code == 200


def test_chat_needs_the_callers_own_token(client: TestClient) -> None:
    assert client.post("/api/alice/chat", json={"message": "hi"}).status_code == 401
    wrong_user = client.post("/api/alice/chat", json={"message": "hi"}, headers=auth("bob"))
    assert wrong_user.status_code == 403


def test_out_of_scope_messages_change_nothing(client: TestClient) -> None:
    add(client, "Walk dog")
    before = tasks(client)
    body = chat(client, "What's the weather like in Paris?").json()
    assert tasks(client) == before
    assert all(call["name"] == "list_tasks" for call in body["tool_calls"])
    assert body["response"].strip()
