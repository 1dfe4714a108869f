"""Conversation and message routes of API.md, through HTTP (and the stored rows where the
contract speaks about the database)."""

import json
import re
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from backend.app.models import Message
from tests.conftest import auth

CONVERSATIONS = "/api/alice/conversations"
OFFSET_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|\+00:00)")
CONVERSATION_FIELDS = {"id", "user_id", "title", "archived", "created_at", "updated_at"}
MESSAGE_FIELDS = {
    *("id", "conversation_id", "user_id", "role", "content", "tool_calls", "usage", "created_at"),
    *("turn_id", "stopped"),  # null and false for a message posted directly
}
TOOL_CALLS = [
    {
        "name": "add_task",
        "arguments": {"title": "Buy groceries", "description": None},
        "result": {"task_id": 7, "status": "created", "title": "Buy groceries"},
    },
    {
        "name": "list_tasks",
        "arguments": {"status": "pending"},
        "result": [{"id": 7, "title": "Buy groceries", "description": None, "completed": False}],
    },
    {"name": "complete_task", "arguments": {"task_id": 99}, "result": {"error": "not found"}},
]


def start(client: TestClient, title: str | None = None) -> dict[str, Any]:
    body = {} if title is None else {"title": title}
    response = client.post(CONVERSATIONS, json=body, headers=auth("alice"))
    assert response.status_code == 201, response.text
    return response.json()


def fetch(client: TestClient, conversation_id: int) -> dict[str, Any]:
    response = client.get(f"{CONVERSATIONS}/{conversation_id}", headers=auth("alice"))
    assert response.status_code == 200, response.text
    return response.json()


def post_message(client: TestClient, conversation_id: int, **body: Any) -> dict[str, Any]:
    body = {"role": "user", "content": "hello", **body}
    response = client.post(
        f"{CONVERSATIONS}/{conversation_id}/messages", json=body, headers=auth("alice")
    )
    assert response.status_code == 201, response.text
    return response.json()


def messages(client: TestClient, conversation_id: int, **params: Any) -> dict[str, Any]:
    response = client.get(
        f"{CONVERSATIONS}/{conversation_id}/messages", params=params, headers=auth("alice")
    )
    assert response.status_code == 200, response.text
    return response.json()


def conversation_ids(client: TestClient) -> list[int]:
    response = client.get(CONVERSATIONS, params={"limit": 100}, headers=auth("alice"))
    assert response.status_code == 200, response.text
    return [c["id"] for c in response.json()["data"]]


def stored_messages(session: Session, conversation_id: int | None = None) -> list[Message]:
    session.rollback()  # a fresh transaction sees what the requests committed
    query = select(Message).order_by(Message.id)
    if conversation_id is not None:
        query = query.where(Message.conversation_id == conversation_id)
    return list(session.exec(query).all())


def timestamp(value: str) -> datetime:
    assert OFFSET_TIMESTAMP.fullmatch(value), value
    return datetime.fromisoformat(value)


def assert_validation_error(response, *loc: str) -> None:
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, list) and detail
    assert all({"loc", "msg", "type"} <= error.keys() for error in detail)
    assert any(tuple(error["loc"][: len(loc)]) == loc for error in detail), detail


# --- conversations ------------------------------------------------------------------------


def test_create_with_a_title_trims_it(client: TestClient) -> None:
    response = client.post(CONVERSATIONS, json={"title": "  Weekly plan \n"}, headers=auth("alice"))

    assert response.status_code == 201
    conversation = response.json()
    assert set(conversation) == CONVERSATION_FIELDS
    assert conversation["title"] == "Weekly plan"
    assert conversation["user_id"] == "alice"
    assert timestamp(conversation["created_at"]) == timestamp(conversation["updated_at"])
    assert fetch(client, conversation["id"]) == conversation


@pytest.mark.parametrize("body", [{}, {"title": None}, {"colour": "red", "user_id": "bob"}])
def test_create_without_a_title(client: TestClient, body: dict[str, Any]) -> None:
    response = client.post(CONVERSATIONS, json=body, headers=auth("alice"))
    assert response.status_code == 201
    assert response.json()["title"] is None
    assert response.json()["user_id"] == "alice"


def test_create_with_no_body_at_all(client: TestClient) -> None:
    response = client.post(CONVERSATIONS, headers=auth("alice"))
    assert response.status_code == 201
    assert response.json()["title"] is None
    assert fetch(client, response.json()["id"]) == response.json()


@pytest.mark.parametrize(
    "body", [{"title": ""}, {"title": "   "}, {"title": "t" * 201}, {"title": 5}, [1]]
)
def test_create_with_a_bad_title_is_422(client: TestClient, body: Any) -> None:
    response = client.post(CONVERSATIONS, json=body, headers=auth("alice"))
    assert_validation_error(response, "body")
    assert conversation_ids(client) == []


def test_a_title_of_200_characters_after_trimming_is_accepted(client: TestClient) -> None:
    assert start(client, " " + "标" * 200 + " ")["title"] == "标" * 200


def test_a_missing_conversation_is_404_with_a_sentence(client: TestClient) -> None:
    response = client.get(f"{CONVERSATIONS}/31337", headers=auth("alice"))
    assert response.status_code == 404
    assert isinstance(response.json()["detail"], str)


@pytest.mark.parametrize("bad_id", [2**31, 10**30, -1, 0, "abc"])
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "{id}", None),
        ("PATCH", "{id}", {"title": "x"}),
        ("DELETE", "{id}", None),
        ("GET", "{id}/messages", None),
        ("POST", "{id}/messages", {"role": "user", "content": "hi"}),
    ],
)
def test_an_impossible_conversation_id_is_422_never_500(
    client: TestClient, method: str, path: str, body: Any, bad_id: object
) -> None:
    url = f"{CONVERSATIONS}/{path.format(id=bad_id)}"
    response = client.request(method, url, json=body, headers=auth("alice"))
    assert_validation_error(response, "path", "conversation_id")


def test_rename_trims_the_title_and_does_not_move_updated_at(client: TestClient) -> None:
    conversation = start(client, "Old")
    post_message(client, conversation["id"])
    before = fetch(client, conversation["id"])

    response = client.patch(
        f"{CONVERSATIONS}/{conversation['id']}",
        json={"title": "  New name "},
        headers=auth("alice"),
    )

    assert response.status_code == 200
    assert response.json()["title"] == "New name"
    # Documented: updated_at tracks messages, so a rename leaves it (and the list order) alone.
    assert response.json()["updated_at"] == before["updated_at"]
    assert response.json()["created_at"] == before["created_at"]
    assert fetch(client, conversation["id"]) == response.json()


def test_rename_does_not_reorder_the_list(client: TestClient) -> None:
    older, newer = start(client, "older"), start(client, "newer")
    client.patch(f"{CONVERSATIONS}/{older['id']}", json={"title": "x"}, headers=auth("alice"))
    assert conversation_ids(client) == [newer["id"], older["id"]]


def test_rename_to_null_clears_the_title_and_an_empty_body_changes_nothing(
    client: TestClient,
) -> None:
    conversation = start(client, "Named")
    url = f"{CONVERSATIONS}/{conversation['id']}"

    unchanged = client.patch(url, json={}, headers=auth("alice"))
    assert unchanged.status_code == 200 and unchanged.json() == conversation

    cleared = client.patch(url, json={"title": None}, headers=auth("alice"))
    assert cleared.status_code == 200
    assert cleared.json()["title"] is None
    assert fetch(client, conversation["id"])["title"] is None


@pytest.mark.parametrize("body", [{"title": ""}, {"title": " "}, {"title": "t" * 201}, [1]])
def test_rename_with_a_bad_title_is_422_and_changes_nothing(client: TestClient, body: Any) -> None:
    conversation = start(client, "Keep")
    response = client.patch(
        f"{CONVERSATIONS}/{conversation['id']}", json=body, headers=auth("alice")
    )
    assert_validation_error(response, "body")
    assert fetch(client, conversation["id"]) == conversation


def test_delete_answers_204_and_takes_the_messages_with_it(
    client: TestClient, session: Session
) -> None:
    doomed, kept = start(client, "doomed"), start(client, "kept")
    for text in ("one", "two", "three"):
        post_message(client, doomed["id"], content=text, tool_calls=TOOL_CALLS)
    kept_message = post_message(client, kept["id"], content="stays")
    assert len(stored_messages(session, doomed["id"])) == 3

    response = client.delete(f"{CONVERSATIONS}/{doomed['id']}", headers=auth("alice"))

    assert response.status_code == 204
    assert response.content == b""
    assert "content-type" not in response.headers
    assert stored_messages(session, doomed["id"]) == []
    assert [m.id for m in stored_messages(session)] == [kept_message["id"]]
    url = f"{CONVERSATIONS}/{doomed['id']}"
    assert client.get(url, headers=auth("alice")).status_code == 404
    assert client.get(f"{url}/messages", headers=auth("alice")).status_code == 404
    assert client.delete(url, headers=auth("alice")).status_code == 404
    assert conversation_ids(client) == [kept["id"]]
    assert messages(client, kept["id"])["data"] == [kept_message]


def test_the_list_is_most_recently_updated_first(client: TestClient) -> None:
    first, second, third = start(client, "1"), start(client, "2"), start(client, "3")
    assert conversation_ids(client) == [third["id"], second["id"], first["id"]]

    message = post_message(client, first["id"])

    assert conversation_ids(client) == [first["id"], third["id"], second["id"]]
    moved = fetch(client, first["id"])
    assert timestamp(moved["updated_at"]) > timestamp(first["updated_at"])
    assert timestamp(moved["updated_at"]) > timestamp(third["updated_at"])
    assert timestamp(moved["updated_at"]) >= timestamp(message["created_at"])
    assert moved["created_at"] == first["created_at"]

    post_message(client, second["id"], role="assistant", content="reply")
    assert conversation_ids(client) == [second["id"], first["id"], third["id"]]


def test_the_list_page_has_the_page_shape(client: TestClient) -> None:
    conversation = start(client, "only")
    response = client.get(CONVERSATIONS, headers=auth("alice"))
    assert response.json() == {"data": [conversation], "has_more": False, "next_cursor": None}


# --- messages -----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["user", "assistant"])
def test_append_stores_the_message_as_given(
    client: TestClient, session: Session, role: str
) -> None:
    conversation = start(client)
    content = "  Line one\n\tline two — with ünïcødé, 中文 and 🎉  \n"
    response = client.post(
        f"{CONVERSATIONS}/{conversation['id']}/messages",
        json={"role": role, "content": content},
        headers=auth("alice"),
    )

    assert response.status_code == 201
    message = response.json()
    assert set(message) == MESSAGE_FIELDS
    assert message["role"] == role
    assert message["content"] == content  # not trimmed, not rewritten
    assert message["tool_calls"] is None
    assert message["usage"] is None  # only a chat turn's assistant message carries usage
    assert message["conversation_id"] == conversation["id"]
    assert message["user_id"] == "alice"
    timestamp(message["created_at"])
    assert messages(client, conversation["id"])["data"] == [message]
    [row] = stored_messages(session)
    assert (row.role, row.content, row.tool_calls) == (role, content, None)


def test_append_does_not_run_the_agent(client: TestClient) -> None:
    conversation = start(client)
    post_message(client, conversation["id"], content="Add a task to buy groceries")
    assert len(messages(client, conversation["id"])["data"]) == 1
    tasks = client.get("/api/alice/tasks", headers=auth("alice"))
    assert tasks.status_code == 200 and tasks.json() == []


def test_tool_calls_round_trip_as_json_and_are_stored_as_json_text(
    client: TestClient, session: Session
) -> None:
    conversation = start(client)
    message = post_message(
        client, conversation["id"], role="assistant", content="Done!", tool_calls=TOOL_CALLS
    )

    assert message["tool_calls"] == TOOL_CALLS
    assert messages(client, conversation["id"])["data"][0]["tool_calls"] == TOOL_CALLS
    [row] = stored_messages(session)
    assert isinstance(row.tool_calls, str)
    assert json.loads(row.tool_calls) == TOOL_CALLS


def test_an_empty_tool_call_list_stays_a_list(client: TestClient, session: Session) -> None:
    conversation = start(client)
    assert post_message(client, conversation["id"], tool_calls=[])["tool_calls"] == []
    assert json.loads(stored_messages(session)[0].tool_calls) == []


def test_tool_calls_with_unicode_round_trip(client: TestClient, session: Session) -> None:
    calls = [{"name": "add_task", "arguments": {"title": "Café 日本 🎉"}, "result": "✅"}]
    conversation = start(client)
    assert post_message(client, conversation["id"], tool_calls=calls)["tool_calls"] == calls
    assert json.loads(stored_messages(session)[0].tool_calls) == calls


@pytest.mark.parametrize("role", ["system", "tool", "USER", "", None, 1])
def test_a_role_other_than_user_or_assistant_is_422(
    client: TestClient, session: Session, role: Any
) -> None:
    conversation = start(client)
    response = client.post(
        f"{CONVERSATIONS}/{conversation['id']}/messages",
        json={"role": role, "content": "hi"},
        headers=auth("alice"),
    )
    assert_validation_error(response, "body", "role")
    assert stored_messages(session) == []


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"role": "user", "content": ""}, ("body", "content")),
        ({"role": "user", "content": "x" * 32_001}, ("body", "content")),
        ({"role": "user", "content": "a\x00b"}, ("body", "content")),
        ({"role": "user"}, ("body", "content")),
        ({"role": "user", "content": 42}, ("body", "content")),
        ({"role": "user", "content": "x", "tool_calls": {"name": "x"}}, ("body", "tool_calls")),
        ({"role": "user", "content": "x", "tool_calls": [{"result": 1}]}, ("body", "tool_calls")),
        ({"role": "user", "content": "x", "tool_calls": [{"name": ""}]}, ("body", "tool_calls")),
        (
            {"role": "user", "content": "x", "tool_calls": [{"name": "a", "arguments": [1]}]},
            ("body", "tool_calls"),
        ),
        ([{"role": "user", "content": "x"}], ("body",)),
    ],
)
def test_a_bad_message_is_422_and_nothing_is_stored(
    client: TestClient, session: Session, body: Any, loc: tuple[str, ...]
) -> None:
    conversation = start(client)
    response = client.post(
        f"{CONVERSATIONS}/{conversation['id']}/messages", json=body, headers=auth("alice")
    )
    assert_validation_error(response, *loc)
    assert stored_messages(session) == []
    assert fetch(client, conversation["id"]) == conversation  # updated_at did not move


def test_content_of_32000_characters_is_accepted(client: TestClient) -> None:
    conversation = start(client)
    content = "🎉" + "x" * 31_999
    assert post_message(client, conversation["id"], content=content)["content"] == content
    assert messages(client, conversation["id"])["data"][0]["content"] == content


def test_a_message_to_a_missing_conversation_is_404_and_stores_nothing(
    client: TestClient, session: Session
) -> None:
    response = client.post(
        f"{CONVERSATIONS}/424242/messages",
        json={"role": "user", "content": "hi"},
        headers=auth("alice"),
    )
    assert response.status_code == 404
    assert isinstance(response.json()["detail"], str)
    assert stored_messages(session) == []


def test_messages_are_listed_oldest_first_by_default_and_newest_first_on_desc(
    client: TestClient,
) -> None:
    conversation = start(client)
    other = start(client)
    sent = [
        post_message(client, conversation["id"], role=role, content=f"message {n}")
        for n, role in enumerate(["user", "assistant", "user", "assistant"])
    ]
    post_message(client, other["id"], content="elsewhere")

    default = messages(client, conversation["id"])
    assert default == {"data": sent, "has_more": False, "next_cursor": None}
    assert messages(client, conversation["id"], order="asc")["data"] == sent
    assert messages(client, conversation["id"], order="desc")["data"] == sent[::-1]


def test_an_unknown_order_is_422(client: TestClient) -> None:
    conversation = start(client)
    response = client.get(
        f"{CONVERSATIONS}/{conversation['id']}/messages",
        params={"order": "newest"},
        headers=auth("alice"),
    )
    assert_validation_error(response, "query", "order")


def test_a_new_conversation_has_no_messages(client: TestClient) -> None:
    conversation = start(client)
    assert messages(client, conversation["id"]) == {
        "data": [],
        "has_more": False,
        "next_cursor": None,
    }


def nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    "tool_call",
    [
        b'{"name": "x", "result": NaN}',
        b'{"name": "x", "result": {"score": Infinity}}',
        b'{"name": "x", "arguments": {"n": -1e400}}',
        b'{"name": "x", "arguments": {"title": "a\\ud800b"}}',
        b'{"name": "x", "arguments": {"\\udc00": 1}}',
        b'{"name": "x", "result": ' + json.dumps(nested(300)).encode() + b"}",
    ],
)
def test_tool_calls_that_cannot_round_trip_as_json_are_422_and_not_stored(
    client: TestClient, session: Session, tool_call: bytes
) -> None:
    conversation = start(client)
    raw = b'{"role": "assistant", "content": "x", "tool_calls": [' + tool_call + b"]}"
    response = client.post(
        f"{CONVERSATIONS}/{conversation['id']}/messages",
        content=raw,
        headers={**auth("alice"), "Content-Type": "application/json"},
    )

    assert_validation_error(response, "body", "tool_calls")
    assert stored_messages(session) == []
    # The conversation stays readable (a stored NaN or a too-deep result used to break it).
    assert messages(client, conversation["id"])["data"] == []


def test_nested_tool_results_within_reason_round_trip(client: TestClient) -> None:
    conversation = start(client)
    calls = [{"name": "x", "arguments": {"deep": nested(20)}, "result": nested(40)}]
    assert post_message(client, conversation["id"], tool_calls=calls)["tool_calls"] == calls
    assert messages(client, conversation["id"])["data"][0]["tool_calls"] == calls
