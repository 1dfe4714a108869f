"""The daily token budget holds across server processes: two uvicorn processes on one
PostgreSQL database refuse a user as soon as the user's tokens of the day, wherever they were
spent, reach the budget. Needs PostgreSQL on 127.0.0.1 (skipped when missing, failed when
REQUIRE_SERVICES=1)."""

import os
from collections.abc import Iterator

import httpx
import pytest
from alembic import command

from backend.app.db import make_engine
from testkit.processes import running_servers
from tests.conftest import alembic_config, make_token, throwaway_postgres_database
from tests.usage.seeding import seed_turn, usage

SECRET = "budget-scale-out-test-secret-long-enough"
BUDGET = 500


@pytest.fixture(scope="module")
def servers(postgres_url: str) -> Iterator[tuple[str, list[httpx.Client]]]:
    name = f"todo_budget_{os.getpid()}"
    with throwaway_postgres_database(postgres_url, name) as database_url:
        command.upgrade(alembic_config(database_url), "head")
        env = {
            "DATABASE_URL": database_url,
            "APP_ENV": "development",
            "AUTH_JWT_SECRET": SECRET,
            "AGENT": "rules",
            "CHAT_RATE_LIMIT": "0",
            "CHAT_TOKEN_BUDGET_DAILY": str(BUDGET),
        }
        with running_servers([env, env]) as urls:
            clients = [httpx.Client(base_url=url, timeout=10) for url in urls]
            try:
                yield database_url, clients
            finally:
                for client in clients:
                    client.close()


def chat(client: httpx.Client, conversation_id: int) -> httpx.Response:
    return client.post(
        "/api/carol/chat",
        json={"message": "What's pending?", "conversation_id": conversation_id},
        headers={"Authorization": f"Bearer {make_token('carol', secret=SECRET)}"},
    )


def test_tokens_spent_anywhere_count_on_every_process(
    servers: tuple[str, list[httpx.Client]],
) -> None:
    database_url, clients = servers
    engine = make_engine(database_url)
    try:
        # Turns finished by any process land in the same day row (the usage service).
        conversation_id, _ = seed_turn(engine, "carol", usage(BUDGET - 100, 99))
        assert [chat(client, conversation_id).status_code for client in clients] == [200, 200]

        seed_turn(engine, "carol", usage(1, 0), conversation_id=conversation_id)
        refused = [chat(client, conversation_id) for client in clients]
    finally:
        engine.dispose()

    assert [r.status_code for r in refused] == [429, 429], [r.text for r in refused]
    assert all(int(r.headers["Retry-After"]) >= 1 for r in refused)
    page = clients[0].get(
        f"/api/carol/conversations/{conversation_id}/messages?limit=100",
        headers={"Authorization": f"Bearer {make_token('carol', secret=SECRET)}"},
    )
    # 2 seeded + 2 turns of 2 messages + 2 seeded; the refused turns stored nothing.
    assert len(page.json()["data"]) == 8
