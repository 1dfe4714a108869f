"""CHAT_TOKEN_BUDGET_DAILY: once a user's tokens of the current UTC day reach it, a chat turn
is refused before it starts (429, Retry-After to the next UTC midnight), and nothing is stored."""

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event

from backend.app.usage.budget import seconds_to_next_utc_midnight
from tests.conftest import auth
from tests.usage.seeding import seed_turn, usage

BUDGET = 1000


@pytest.fixture
def budget_client(make_app) -> TestClient:
    with TestClient(make_app(chat_token_budget_daily=BUDGET)) as client:
        yield client


def chat(client: TestClient, conversation_id: int | None = None, user: str = "alice"):
    body = {"message": "Add a task to buy milk", "conversation_id": conversation_id}
    return client.post(f"/api/{user}/chat", json=body, headers=auth(user))


def message_count(client: TestClient, conversation_id: int) -> int:
    page = client.get(
        f"/api/alice/conversations/{conversation_id}/messages?limit=100", headers=auth()
    )
    return len(page.json()["data"])


def test_a_user_under_the_budget_chats(budget_client: TestClient, engine: Engine) -> None:
    conversation_id, _ = seed_turn(engine, "alice", usage(BUDGET - 11, 10))  # one token left
    assert chat(budget_client, conversation_id).status_code == 200


def test_a_spent_budget_is_429_until_midnight_and_stores_nothing(
    budget_client: TestClient, engine: Engine
) -> None:
    conversation_id, _ = seed_turn(engine, "alice", usage(BUDGET - 10, 10))
    tasks_before = budget_client.get("/api/alice/tasks", headers=auth()).json()
    conversations_before = budget_client.get("/api/alice/conversations", headers=auth()).json()

    in_conversation = chat(budget_client, conversation_id)
    new_conversation = chat(budget_client)
    expected_wait = seconds_to_next_utc_midnight(datetime.now(UTC))

    for response in (in_conversation, new_conversation):
        assert response.status_code == 429, response.text
        assert "budget" in response.json()["detail"]
        assert abs(int(response.headers["Retry-After"]) - expected_wait) <= 5
    assert message_count(budget_client, conversation_id) == 2
    assert budget_client.get("/api/alice/conversations", headers=auth()).json() == (
        conversations_before
    )
    assert budget_client.get("/api/alice/tasks", headers=auth()).json() == tasks_before


def test_the_budget_is_per_user(budget_client: TestClient, engine: Engine) -> None:
    seed_turn(engine, "bob", usage(BUDGET, 0))
    assert chat(budget_client, user="bob").status_code == 429
    assert chat(budget_client, user="alice").status_code == 200


def test_yesterdays_tokens_do_not_count(budget_client: TestClient, engine: Engine) -> None:
    yesterday = datetime.now(UTC) - timedelta(days=1)
    seed_turn(engine, "alice", usage(BUDGET * 5, 0), at=yesterday)
    assert chat(budget_client).status_code == 200


def test_no_budget_by_default(client: TestClient, engine: Engine) -> None:
    seed_turn(engine, "alice", usage(10**9, 10**9))
    assert chat(client).status_code == 200


def test_the_check_is_one_query_and_none_without_a_budget(make_app, engine: Engine) -> None:
    seed_turn(engine, "alice", usage(1, 1))

    def statements_of_one_turn(budget: int) -> list[str]:
        app = make_app(chat_token_budget_daily=budget)
        seen: list[str] = []

        def record(_connection, _cursor, statement, *_args) -> None:
            seen.append(statement)

        with TestClient(app) as client:
            event.listen(app.state.engine, "before_cursor_execute", record)
            chat(client)
            event.remove(app.state.engine, "before_cursor_execute", record)
        return seen

    spent = statements_of_one_turn(1)
    # One read of the day's row, and it is the last statement: the refused turn wrote nothing.
    assert [s for s in spent if "usage_days" in s] == [spent[-1]]
    assert spent[-1].lstrip().upper().startswith("SELECT")
    # Without a budget nothing reads the day's row (the finished turn only adds to it).
    unbudgeted = statements_of_one_turn(0)
    assert not [
        s for s in unbudgeted if "usage_days" in s and s.lstrip().upper().startswith("SELECT")
    ]
    assert [s for s in unbudgeted if "usage_days" in s][0].lstrip().upper().startswith("INSERT")
