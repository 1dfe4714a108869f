"""The chat request's `timezone` (API.md "Chat"): an IANA name, UTC by default."""

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from backend.app.main import create_app
from testkit.model_server import FakeModelServer, answer, calls, tool_call
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


# -- the turn's time zone reaches the model and the tools --------------------------------------

FIXED_NOW = datetime(2026, 3, 28, 23, 30, tzinfo=UTC)  # Sunday 00:30 in Berlin, before DST


def test_the_model_is_told_the_time_and_its_dates_are_read_in_the_turns_zone(
    make_settings, fake_model: FakeModelServer
) -> None:
    fake_model.push(
        calls(tool_call("add_task", {"title": "Call the dentist", "due_at": "2026-03-30"})),
        answer("Added for Monday."),
    )
    settings = make_settings(**fake_model.app_settings())
    app = create_app(settings, clock=lambda: FIXED_NOW)
    with TestClient(app) as client:
        body = {"message": "Remind me to call the dentist on Monday", "timezone": "Europe/Berlin"}
        response = client.post(CHAT, json=body, headers=auth("alice"))
        assert response.status_code == 200, response.text
        [task] = client.get("/api/alice/tasks", headers=auth("alice")).json()
    app.state.engine.dispose()
    system = fake_model.requests[0]["messages"][0]["content"]
    assert "Sunday 29 March 2026, 00:30" in system
    assert "Europe/Berlin" in system and "UTC+0100" in system
    # A date alone is the end of that day where the user is: 23:59:59 CEST is 21:59:59 UTC.
    assert task["due_at"].startswith("2026-03-30T21:59:59")
