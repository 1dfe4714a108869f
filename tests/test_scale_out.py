"""Two real server processes on one PostgreSQL database and one Redis, as behind a load balancer.

Nothing is shared between the processes but the database and Redis: a conversation begun on one
is continued on the other, and both spend from the same rate-limit budget. Needs PostgreSQL and
Redis on 127.0.0.1 (skipped when missing, failed when REQUIRE_SERVICES=1).
"""

import os
import uuid
from collections.abc import Iterator

import httpx
import pytest
from alembic import command

from testkit.processes import running_servers
from tests.conftest import alembic_config, make_token, throwaway_postgres_database

SECRET = "scale-out-test-secret-that-is-long-enough"
LIMIT = 4  # turns a minute, per user


def headers(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(user, secret=SECRET)}"}


@pytest.fixture(scope="module")
def servers(postgres_url: str, redis_url: str) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """Clients of two server processes on one freshly migrated database and one Redis."""
    name = f"todo_scale_out_{os.getpid()}"
    with throwaway_postgres_database(postgres_url, name) as database_url:
        command.upgrade(alembic_config(database_url), "head")
        env = {
            "DATABASE_URL": database_url,
            "RATE_LIMIT_STORAGE_URL": redis_url,
            "CHAT_RATE_LIMIT": f"{LIMIT}/minute",
            "APP_ENV": "development",
            "AUTH_JWT_SECRET": SECRET,
            "AGENT": "rules",
        }
        with (
            running_servers([env, env]) as (url_a, url_b),
            httpx.Client(base_url=url_a) as a,
            httpx.Client(base_url=url_b) as b,
        ):
            yield a, b


def chat(client: httpx.Client, user: str, message: str, conversation_id: int | None = None):
    body = {"message": message, "conversation_id": conversation_id}
    return client.post(f"/api/{user}/chat", json=body, headers=headers(user))


def test_a_conversation_begun_on_one_process_continues_on_the_other(
    servers: tuple[httpx.Client, httpx.Client],
) -> None:
    a, b = servers
    user = f"scale-{uuid.uuid4().hex[:12]}"

    first = chat(a, user, "Add a task to buy groceries")
    assert first.status_code == 200, first.text
    conversation_id = first.json()["conversation_id"]
    # "it" is the task of A's turn: B finds it only in the stored history.
    second = chat(b, user, "Mark it as complete", conversation_id)
    assert second.status_code == 200, second.text
    assert second.json()["conversation_id"] == conversation_id
    [call] = second.json()["tool_calls"]
    assert call["name"] == "complete_task"
    assert call["arguments"]["task_id"] == first.json()["tool_calls"][0]["result"]["task_id"]
    assert "Buy groceries" in second.json()["response"]

    expected = [
        ("user", "Add a task to buy groceries"),
        ("assistant", first.json()["response"]),
        ("user", "Mark it as complete"),
        ("assistant", second.json()["response"]),
    ]
    for server in (a, b):
        page = server.get(
            f"/api/{user}/conversations/{conversation_id}/messages", headers=headers(user)
        ).json()
        assert [(m["role"], m["content"]) for m in page["data"]] == expected
        tasks = server.get(f"/api/{user}/tasks", headers=headers(user)).json()
        assert [(t["title"], t["completed"]) for t in tasks] == [("Buy groceries", True)]


def test_the_rate_limit_is_shared_by_the_processes(
    servers: tuple[httpx.Client, httpx.Client],
) -> None:
    a, b = servers
    user = f"scale-{uuid.uuid4().hex[:12]}"

    for server in (a, a, b, b):
        assert chat(server, user, "Show me all my tasks").status_code == 200

    for server in (a, b):
        refused = chat(server, user, "Show me all my tasks")
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) >= 1
    # Another user still has a budget of their own.
    assert chat(b, f"scale-{uuid.uuid4().hex[:12]}", "Show me all my tasks").status_code == 200
