"""The ownership matrix: no route ever returns, changes or deletes another user's row.

alice and bob each have tasks, conversations and messages. For every task and conversation
route of API.md: alice's token on bob's path is 403; alice's token on her own path with bob's
ids is the 404 of an id that never existed; and afterwards every one of bob's rows is unchanged.
"""

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from backend.app.models import Conversation, Message, Task
from tests.conftest import auth

NEVER_EXISTED = 999999

# (method, path under /api/{user}/, body); {task} and {conversation} are filled with ids.
TASK_ROUTES = [
    ("GET", "tasks", None),
    ("POST", "tasks", {"title": "planted"}),
    ("GET", "tasks/{task}", None),
    ("PUT", "tasks/{task}", {"title": "hijacked", "description": None, "completed": True}),
    ("PATCH", "tasks/{task}", {"title": "hijacked", "description": None, "completed": True}),
    ("DELETE", "tasks/{task}", None),
    ("PATCH", "tasks/{task}/complete", None),
]
CONVERSATION_ROUTES = [
    ("GET", "conversations", None),
    ("POST", "conversations", {"title": "planted"}),
    ("GET", "conversations/{conversation}", None),
    ("PATCH", "conversations/{conversation}", {"title": "hijacked"}),
    ("DELETE", "conversations/{conversation}", None),
    ("GET", "conversations/{conversation}/messages", None),
    ("POST", "conversations/{conversation}/messages", {"role": "user", "content": "planted"}),
]
ALL_ROUTES = TASK_ROUTES + CONVERSATION_ROUTES
ROUTES_WITH_AN_ID = [route for route in ALL_ROUTES if "{" in route[1]]


def route_id(route: tuple[str, str, Any]) -> str:
    return f"{route[0]} {route[1]}"


def seed(client: TestClient, user: str) -> dict[str, list[int]]:
    """Two tasks (one completed), two conversations with two messages each."""
    headers = auth(user)
    tasks = []
    for title in (f"{user}'s first", f"{user}'s second"):
        response = client.post(
            f"/api/{user}/tasks", json={"title": title, "description": "d"}, headers=headers
        )
        tasks.append(response.json()["id"])
    client.patch(f"/api/{user}/tasks/{tasks[1]}/complete", headers=headers)
    conversations, messages = [], []
    for n in range(2):
        response = client.post(
            f"/api/{user}/conversations", json={"title": f"{user} {n}"}, headers=headers
        )
        conversation = response.json()["id"]
        conversations.append(conversation)
        for role in ("user", "assistant"):
            body = {
                "role": role,
                "content": f"{user} says {role}",
                "tool_calls": [{"name": "list_tasks", "arguments": {}, "result": []}],
            }
            response = client.post(
                f"/api/{user}/conversations/{conversation}/messages", json=body, headers=headers
            )
            assert response.status_code == 201
            messages.append(response.json()["id"])
    return {"tasks": tasks, "conversations": conversations, "messages": messages}


@pytest.fixture
def ids(client: TestClient) -> dict[str, dict[str, list[int]]]:
    # Interleave the two users so that neither owns a contiguous range of ids.
    alice = seed(client, "alice")
    bob = seed(client, "bob")
    more = seed(client, "alice")
    return {"alice": {kind: alice[kind] + more[kind] for kind in alice}, "bob": bob}


def rows_of(session: Session, user: str) -> dict[str, list[tuple]]:
    """Every stored column of the user's rows, as the database holds them."""
    session.rollback()  # a fresh transaction sees what the requests committed

    def dump(model: type) -> list[tuple]:
        rows = session.exec(select(model).where(model.user_id == user).order_by(model.id)).all()
        return [tuple(sorted(row.model_dump().items())) for row in rows]

    return {"tasks": dump(Task), "conversations": dump(Conversation), "messages": dump(Message)}


def as_seen_by(client: TestClient, user: str) -> dict[str, Any]:
    """Everything the user can read through the API."""
    headers = auth(user)
    conversations = client.get(
        f"/api/{user}/conversations", params={"limit": 100}, headers=headers
    ).json()
    return {
        "tasks": client.get(f"/api/{user}/tasks", headers=headers).json(),
        "conversations": conversations,
        "messages": {
            c["id"]: client.get(
                f"/api/{user}/conversations/{c['id']}/messages",
                params={"limit": 100},
                headers=headers,
            ).json()
            for c in conversations["data"]
        },
    }


def call(
    client: TestClient,
    token_user: str,
    path_user: str,
    route: tuple[str, str, Any],
    task: int,
    conversation: int,
):
    method, path, body = route
    url = f"/api/{path_user}/" + path.format(task=task, conversation=conversation)
    return client.request(method, url, json=body, headers=auth(token_user))


@pytest.mark.parametrize("route", ALL_ROUTES, ids=route_id)
def test_alices_token_on_bobs_path_is_403_and_changes_nothing(
    client: TestClient, session: Session, ids: dict, route: tuple[str, str, Any]
) -> None:
    before = rows_of(session, "bob"), rows_of(session, "alice")
    seen_by_bob = as_seen_by(client, "bob")

    for task, conversation in [
        (ids["bob"]["tasks"][0], ids["bob"]["conversations"][0]),
        (ids["alice"]["tasks"][0], ids["alice"]["conversations"][0]),
        (NEVER_EXISTED, NEVER_EXISTED),
    ]:
        response = call(client, "alice", "bob", route, task, conversation)
        assert response.status_code == 403, response.text
        assert isinstance(response.json()["detail"], str)

    assert (rows_of(session, "bob"), rows_of(session, "alice")) == before
    assert as_seen_by(client, "bob") == seen_by_bob


@pytest.mark.parametrize("route", ROUTES_WITH_AN_ID, ids=route_id)
def test_bobs_ids_on_alices_path_are_the_404_of_ids_that_never_existed(
    client: TestClient, session: Session, ids: dict, route: tuple[str, str, Any]
) -> None:
    before = rows_of(session, "bob")
    seen_by_bob = as_seen_by(client, "bob")
    never = call(client, "alice", "alice", route, NEVER_EXISTED, NEVER_EXISTED)
    assert never.status_code == 404

    for task, conversation in zip(ids["bob"]["tasks"], ids["bob"]["conversations"], strict=True):
        response = call(client, "alice", "alice", route, task, conversation)
        bobs_id = task if "{task}" in route[1] else conversation
        assert response.status_code == 404, response.text
        # The same answer, but for the id asked about: nothing tells that the row exists.
        assert response.json() == json.loads(never.text.replace(str(NEVER_EXISTED), str(bobs_id)))
        assert response.headers.get("content-type") == never.headers.get("content-type")

    assert rows_of(session, "bob") == before
    assert as_seen_by(client, "bob") == seen_by_bob


def test_a_message_aimed_at_bobs_conversation_is_stored_nowhere(
    client: TestClient, session: Session, ids: dict
) -> None:
    before = rows_of(session, "alice")
    response = client.post(
        f"/api/alice/conversations/{ids['bob']['conversations'][0]}/messages",
        json={"role": "assistant", "content": "planted", "tool_calls": []},
        headers=auth("alice"),
    )
    assert response.status_code == 404
    session.rollback()
    assert session.exec(select(Message).where(Message.content == "planted")).all() == []
    assert rows_of(session, "alice") == before


def test_listings_never_return_another_users_rows(client: TestClient, ids: dict) -> None:
    alice = as_seen_by(client, "alice")

    assert {t["user_id"] for t in alice["tasks"]} == {"alice"}
    assert not {t["id"] for t in alice["tasks"]} & set(ids["bob"]["tasks"])
    assert len(alice["tasks"]) == 4
    for status in ("pending", "completed"):
        listed = client.get(
            "/api/alice/tasks", params={"status": status}, headers=auth("alice")
        ).json()
        assert len(listed) == 2
        assert {t["user_id"] for t in listed} == {"alice"}

    conversations = alice["conversations"]["data"]
    assert len(conversations) == 4 and alice["conversations"]["has_more"] is False
    assert {c["user_id"] for c in conversations} == {"alice"}
    assert not {c["id"] for c in conversations} & set(ids["bob"]["conversations"])

    messages = [m for page in alice["messages"].values() for m in page["data"]]
    assert len(messages) == 8
    assert {m["user_id"] for m in messages} == {"alice"}
    assert not {m["id"] for m in messages} & set(ids["bob"]["messages"])


def test_walking_alices_pages_never_reaches_bobs_rows(client: TestClient, ids: dict) -> None:
    def walk(url: str) -> list[int]:
        seen: list[int] = []
        params: dict[str, Any] = {"limit": 1}
        while True:
            page = client.get(url, params=params, headers=auth("alice")).json()
            seen += [row["id"] for row in page["data"]]
            if not page["has_more"]:
                return seen
            params["cursor"] = page["next_cursor"]

    conversations = walk("/api/alice/conversations")
    assert sorted(conversations) == sorted(ids["alice"]["conversations"])
    messages = [m for c in conversations for m in walk(f"/api/alice/conversations/{c}/messages")]
    assert sorted(messages) == sorted(ids["alice"]["messages"])
