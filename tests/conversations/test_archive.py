"""Archiving conversations: the flag, PATCH, the filtered list, and chatting un-archives."""

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from testkit.model_server import FakeModelServer, server_error
from tests.conftest import auth

CONVERSATIONS = "/api/alice/conversations"


def start(client: TestClient, title: str = "Plans") -> dict[str, Any]:
    response = client.post(CONVERSATIONS, json={"title": title}, headers=auth())
    assert response.status_code == 201, response.text
    return response.json()


def patch(client: TestClient, conversation_id: int, **body: Any):
    return client.patch(f"{CONVERSATIONS}/{conversation_id}", json=body, headers=auth())


def archive(client: TestClient, conversation_id: int, archived: bool = True) -> dict[str, Any]:
    response = patch(client, conversation_id, archived=archived)
    assert response.status_code == 200, response.text
    return response.json()


def listed(client: TestClient, **params: Any) -> list[int]:
    response = client.get(CONVERSATIONS, params={"limit": 100, **params}, headers=auth())
    assert response.status_code == 200, response.text
    return [c["id"] for c in response.json()["data"]]


def fetch(client: TestClient, conversation_id: int) -> dict[str, Any]:
    return client.get(f"{CONVERSATIONS}/{conversation_id}", headers=auth()).json()


def test_a_new_conversation_is_not_archived(client: TestClient) -> None:
    conversation = start(client)
    assert conversation["archived"] is False
    assert fetch(client, conversation["id"])["archived"] is False


def test_patch_archives_and_unarchives_without_touching_the_rest(client: TestClient) -> None:
    conversation = start(client, "Keep me")

    archived = archive(client, conversation["id"])

    assert archived == {**conversation, "archived": True}
    assert fetch(client, conversation["id"]) == archived
    assert archive(client, conversation["id"], False) == conversation


def test_patch_may_rename_and_archive_at_once(client: TestClient) -> None:
    conversation = start(client, "Old")

    response = patch(client, conversation["id"], title="New", archived=True)

    assert response.status_code == 200
    assert response.json() == {**conversation, "title": "New", "archived": True}
    # Renaming alone leaves the flag as it is.
    assert patch(client, conversation["id"], title="Newer").json()["archived"] is True


@pytest.mark.parametrize("body", [{"archived": None}, {"archived": "maybe"}, {"archived": [1]}])
def test_archived_must_be_a_boolean(client: TestClient, body: dict[str, Any]) -> None:
    conversation = start(client)
    response = patch(client, conversation["id"], **body)
    assert response.status_code == 422, response.text
    assert fetch(client, conversation["id"])["archived"] is False


def test_another_users_conversation_cannot_be_archived(client: TestClient) -> None:
    response = client.post("/api/bob/conversations", json={}, headers=auth("bob"))
    bobs = response.json()["id"]

    assert patch(client, bobs, archived=True).status_code == 404
    bob_view = client.get(f"/api/bob/conversations/{bobs}", headers=auth("bob")).json()
    assert bob_view["archived"] is False


def test_the_list_shows_active_conversations_by_default(client: TestClient) -> None:
    active = start(client, "Active")
    archived = start(client, "Archived")
    archive(client, archived["id"])

    assert listed(client) == [active["id"]]
    assert listed(client, archived="false") == [active["id"]]
    assert listed(client, archived="true") == [archived["id"]]
    assert listed(client, archived="all") == [archived["id"], active["id"]]


@pytest.mark.parametrize("value", ["yes", "1", "", "ALL", "none"])
def test_an_unknown_archived_filter_is_422(client: TestClient, value: str) -> None:
    response = client.get(CONVERSATIONS, params={"archived": value}, headers=auth())
    assert response.status_code == 422


@pytest.mark.parametrize("archived", ["false", "true", "all"])
def test_walking_a_filtered_list_visits_each_conversation_once(
    client: TestClient, archived: str
) -> None:
    ids = [start(client, f"c{n}")["id"] for n in range(9)]
    for n, conversation_id in enumerate(ids):
        client.post(
            f"{CONVERSATIONS}/{conversation_id}/messages",
            json={"role": "user", "content": f"message {n}"},
            headers=auth(),
        )
        if n % 3 == 0:
            archive(client, conversation_id)
    expected = {
        "false": [c for n, c in enumerate(ids) if n % 3],
        "true": [c for n, c in enumerate(ids) if n % 3 == 0],
        "all": ids,
    }[archived]

    walked: list[int] = []
    params: dict[str, Any] = {"limit": 2, "archived": archived}
    while True:
        page = client.get(CONVERSATIONS, params=params, headers=auth()).json()
        walked.extend(c["id"] for c in page["data"])
        if not page["has_more"]:
            break
        params["cursor"] = page["next_cursor"]

    # Most recently updated first (each got its message in id order).
    assert walked == list(reversed(expected))


def test_archiving_does_not_move_updated_at(client: TestClient) -> None:
    conversation = start(client)
    assert archive(client, conversation["id"])["updated_at"] == conversation["updated_at"]


def test_chatting_in_an_archived_conversation_unarchives_it(client: TestClient) -> None:
    conversation = start(client)
    archive(client, conversation["id"])

    response = client.post(
        "/api/alice/chat",
        json={"message": "Show me all my tasks", "conversation_id": conversation["id"]},
        headers=auth(),
    )

    assert response.status_code == 200, response.text
    assert fetch(client, conversation["id"])["archived"] is False
    assert listed(client) == [conversation["id"]]


def test_a_streamed_chat_turn_unarchives_too(client: TestClient) -> None:
    conversation = start(client)
    archive(client, conversation["id"])

    with client.stream(
        "POST",
        "/api/alice/chat",
        json={"message": "What's pending?", "conversation_id": conversation["id"]},
        headers={**auth(), "Accept": "text/event-stream"},
    ) as response:
        assert response.status_code == 200
        body = "".join(response.iter_text())

    assert "event: done" in body
    assert fetch(client, conversation["id"])["archived"] is False


def test_a_failed_turn_still_unarchives_with_its_saved_message(
    make_openai_app: Callable[..., FastAPI], fake_model: FakeModelServer
) -> None:
    fake_model.push(server_error(400, "Invalid request."))
    with TestClient(make_openai_app()) as client:
        conversation = start(client)
        archive(client, conversation["id"])

        response = client.post(
            "/api/alice/chat",
            json={"message": "hello", "conversation_id": conversation["id"]},
            headers=auth(),
        )

        assert response.status_code == 502
        # The user message and the un-archiving were committed together, before the agent ran.
        assert fetch(client, conversation["id"])["archived"] is False
        messages = client.get(
            f"{CONVERSATIONS}/{conversation['id']}/messages", headers=auth()
        ).json()["data"]
        assert [m["content"] for m in messages] == ["hello"]


def test_a_foreign_conversation_id_in_chat_changes_nothing(client: TestClient) -> None:
    response = client.post("/api/bob/conversations", json={}, headers=auth("bob"))
    bobs = response.json()["id"]
    client.patch(f"/api/bob/conversations/{bobs}", json={"archived": True}, headers=auth("bob"))

    response = client.post(
        "/api/alice/chat", json={"message": "hi", "conversation_id": bobs}, headers=auth()
    )

    assert response.status_code == 404
    bob_view = client.get(f"/api/bob/conversations/{bobs}", headers=auth("bob")).json()
    assert bob_view["archived"] is True


def test_appending_a_message_directly_leaves_the_conversation_archived(
    client: TestClient,
) -> None:
    """POST .../messages stores history as given (imports, sync): it does not resume it."""
    conversation = start(client)
    archive(client, conversation["id"])

    response = client.post(
        f"{CONVERSATIONS}/{conversation['id']}/messages",
        json={"role": "user", "content": "imported"},
        headers=auth(),
    )

    assert response.status_code == 201
    assert fetch(client, conversation["id"])["archived"] is True
    assert listed(client, archived="true") == [conversation["id"]]
