"""The chat request's `timezone` (API.md "Chat"): an IANA name, UTC by default."""

import pytest
from fastapi.testclient import TestClient

from tests.conftest import auth

CHAT = "/api/alice/chat"


def conversations(client: TestClient) -> list[dict]:
    response = client.get("/api/alice/conversations", headers=auth("alice"))
    assert response.status_code == 200
    return response.json()["data"]


@pytest.mark.parametrize("timezone", ["Europe/Berlin", "America/New_York", "UTC", "Asia/Kolkata"])
def test_a_known_time_zone_is_accepted(client: TestClient, timezone: str) -> None:
    body = {"message": "Show me all my tasks", "timezone": timezone}
    assert client.post(CHAT, json=body, headers=auth("alice")).status_code == 200


def test_no_time_zone_is_utc_and_accepted(client: TestClient) -> None:
    body = {"message": "Show me all my tasks"}
    assert client.post(CHAT, json=body, headers=auth("alice")).status_code == 200


@pytest.mark.parametrize(
    "timezone", ["Mars/Olympus", "europe/berlin", "", "../../etc/passwd", "localtime", None, 5]
)
def test_an_unknown_time_zone_is_422_with_a_sentence_and_nothing_is_stored(
    client: TestClient, timezone: object
) -> None:
    body = {"message": "Add a task to buy milk", "timezone": timezone}
    response = client.post(CHAT, json=body, headers=auth("alice"))
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "timezone"]
    assert len(error["msg"]) > 10
    assert conversations(client) == []
    assert client.get("/api/alice/tasks", headers=auth("alice")).json() == []
