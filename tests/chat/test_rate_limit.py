"""The per-user chat rate limit: memory storage, Redis shared by app instances, Redis down.

The Redis tests use the real Redis at 127.0.0.1:6379 (skipped when it is missing, failed when
REQUIRE_SERVICES=1), each with user ids of its own, so runs sharing that Redis never collide.
"""

import logging
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import Session, select

from backend.app.config import ConfigError, load_settings
from backend.app.models import Conversation, IdempotencyKey, Message
from tests.conftest import auth

RATE_LIMIT_LOGGER = "backend.app.chat.rate_limit"


def chat(
    client: TestClient,
    user: str = "alice",
    conversation_id: int | None = None,
    headers: dict[str, str] | None = None,
):
    body = {"message": "Show me all my tasks", "conversation_id": conversation_id}
    return client.post(f"/api/{user}/chat", json=body, headers={**auth(user), **(headers or {})})


def stored_rows(session: Session) -> tuple[int, int, int]:
    """How many conversations, messages and idempotency keys the database holds."""
    return tuple(
        session.exec(select(func.count()).select_from(table)).one()
        for table in (Conversation, Message, IdempotencyKey)
    )


def random_user() -> str:
    return f"rate-{uuid.uuid4().hex[:12]}"


def assert_too_many(response) -> int:
    """A 429 as the contract has it; return its Retry-After (whole seconds)."""
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/json"
    retry_after = response.headers["Retry-After"]
    assert retry_after.isdigit(), retry_after
    detail = response.json()["detail"]
    assert isinstance(detail, str) and detail.endswith(".")
    return int(retry_after)


# -- memory storage ----------------------------------------------------------------------------


def test_over_the_limit_is_a_429_with_retry_after_and_stores_nothing(
    make_app, session: Session
) -> None:
    with TestClient(make_app(chat_rate_limit="3/minute")) as client:
        conversation_id = chat(client).json()["conversation_id"]
        for _ in range(2):
            assert chat(client, conversation_id=conversation_id).status_code == 200
        before = stored_rows(session)
        assert before == (1, 6, 0)

        # Neither a new conversation, nor a message, nor an idempotency key is stored.
        refused = [
            chat(client),
            chat(client, conversation_id=conversation_id),
            chat(client, headers={"Idempotency-Key": "over-the-limit"}),
        ]

        for response in refused:
            assert 1 <= assert_too_many(response) <= 60
        assert "3 per 1 minute" in refused[0].json()["detail"]
        assert stored_rows(session) == before


def test_a_streamed_request_over_the_limit_is_a_plain_429(make_app, session: Session) -> None:
    with TestClient(make_app(chat_rate_limit="1/minute")) as client:
        assert chat(client).status_code == 200
        before = stored_rows(session)

        response = chat(client, headers={"Accept": "text/event-stream"})

        assert_too_many(response)
        assert stored_rows(session) == before


def test_the_limit_is_per_user(make_app) -> None:
    with TestClient(make_app(chat_rate_limit="2/minute")) as client:
        for _ in range(2):
            assert chat(client, "alice").status_code == 200
        assert_too_many(chat(client, "alice"))

        for _ in range(2):
            assert chat(client, "bob").status_code == 200
        assert_too_many(chat(client, "bob"))


def test_requests_that_fail_authentication_spend_nothing(make_app) -> None:
    with TestClient(make_app(chat_rate_limit="1/minute")) as client:
        body = {"message": "hello"}
        for _ in range(3):
            assert client.post("/api/alice/chat", json=body).status_code == 401
            assert client.post("/api/alice/chat", json=body, headers=auth("bob")).status_code == 403
        assert chat(client, "alice").status_code == 200


def test_zero_turns_the_limit_off(make_app) -> None:
    with TestClient(make_app(chat_rate_limit="0")) as client:
        conversation_id = None
        for _ in range(31):  # more than the default budget of 30 a minute
            response = chat(client, conversation_id=conversation_id)
            assert response.status_code == 200
            conversation_id = response.json()["conversation_id"]


@pytest.mark.parametrize("value", ["abc", "5/fortnight", "-1/minute", "", "ten per minute"])
def test_a_malformed_limit_stops_the_settings_with_one_line(value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(_env_file=None, chat_rate_limit=value)
    message = str(raised.value)
    assert "CHAT_RATE_LIMIT" in message
    assert "\n" not in message


def test_a_malformed_limit_in_the_environment_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAT_RATE_LIMIT", "abc")
    with pytest.raises(ConfigError, match="CHAT_RATE_LIMIT"):
        load_settings(_env_file=None)


@pytest.mark.parametrize("value", ["30/minute", "5 per second", " 100/hour ", "0"])
def test_well_formed_limits_load(value: str) -> None:
    assert load_settings(_env_file=None, chat_rate_limit=value).chat_rate_limit == value.strip()


# -- Redis -------------------------------------------------------------------------------------


def test_two_app_instances_on_one_redis_share_the_budget(make_app, redis_url: str) -> None:
    user, other = random_user(), random_user()
    settings = {"chat_rate_limit": "3/minute", "rate_limit_storage_url": redis_url}

    with TestClient(make_app(**settings)) as first, TestClient(make_app(**settings)) as second:
        for _ in range(2):
            assert chat(first, user).status_code == 200
        assert chat(second, user).status_code == 200

        # The second instance sees the first one's spending, and the other way round.
        assert 1 <= assert_too_many(chat(second, user)) <= 60
        assert_too_many(chat(first, user))
        # Still per user.
        assert chat(second, other).status_code == 200


def test_an_unreachable_redis_serves_the_chat_and_warns_once(
    make_app, caplog: pytest.LogCaptureFixture
) -> None:
    settings = {"chat_rate_limit": "2/minute", "rate_limit_storage_url": "redis://127.0.0.1:1"}
    caplog.set_level(logging.WARNING, logger=RATE_LIMIT_LOGGER)

    with TestClient(make_app(**settings)) as client:
        # Over the limit, yet served: the limiter fails open.
        for _ in range(4):
            assert chat(client).status_code == 200

    warnings = [r for r in caplog.records if r.name == RATE_LIMIT_LOGGER]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert warnings[0].levelno == logging.WARNING
    assert "unreachable" in warnings[0].getMessage()
