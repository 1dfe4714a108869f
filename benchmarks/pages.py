"""Does a request cost the same on a short and a long history? Prints ratios, not verdicts.

Seeds one user with a conversation of 100 messages and one of 20,000, then measures in one run:
the first message page of each, a deep page of the long one, the conversation list, `/health`
(the framework's own floor), and a chat turn on each conversation with the number of SQL
statements it runs.

    .venv/bin/python -m benchmarks.pages                        # SQLite in a temporary folder
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1/bench .venv/bin/python -m benchmarks.pages
"""

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from alembic import command
from alembic.config import Config
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event, insert, text
from sqlmodel import Session

from backend.app.config import DEV_JWT_SECRET, Settings
from backend.app.main import create_app
from backend.app.models import Conversation, Message, User

SHORT, LONG = 100, 20_000
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "200"))
CHAT_ROUNDS = int(os.environ.get("BENCH_CHAT_ROUNDS", "60"))


def medians_ms(calls: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Median latency of each call, measured round-robin so drift hits all of them alike."""
    for call in calls.values():  # warm caches and the connection pool
        for _ in range(5):
            call()
    samples: dict[str, list[float]] = {label: [] for label in calls}
    for _ in range(rounds):
        for label, call in calls.items():
            start = time.perf_counter()
            call()
            samples[label].append(time.perf_counter() - start)
    return {label: statistics.median(values) * 1000 for label, values in samples.items()}


def seed_conversation(session: Session, user_id: str, size: int) -> int:
    conversation = Conversation(user_id=user_id, title=f"{size} messages")
    session.add(conversation)
    session.commit()
    start = datetime.now(UTC) - timedelta(days=30)
    rows = [
        {
            "conversation_id": conversation.id,
            "user_id": user_id,
            "role": "user" if i % 2 == 0 else "assistant",
            "content": f"message {i} about groceries, bills and meetings",
            "tool_calls": None,
            "created_at": start + timedelta(seconds=i),
        }
        for i in range(size)
    ]
    for chunk in range(0, size, 5000):
        session.execute(insert(Message), rows[chunk : chunk + 5000])
    session.commit()
    return conversation.id


def prepare_database(url: str) -> None:
    config = Config("alembic.ini")
    config.set_main_option("sqlalchemy.url", url)
    config.attributes["configure_logger"] = False
    command.downgrade(config, "base")
    command.upgrade(config, "head")


def bench_app() -> FastAPI:
    """An app on a freshly migrated BENCH_DATABASE_URL (or a temporary SQLite file)."""
    url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    prepare_database(url)
    settings = Settings(
        _env_file=None, database_url=url, chat_rate_limit="0", auth_jwt_secret=DEV_JWT_SECRET
    )
    return create_app(settings)


def main() -> None:
    app = bench_app()
    engine = app.state.engine
    with Session(engine) as session:
        session.add(User(id="bench"))
        session.commit()
        short_id = seed_conversation(session, "bench", SHORT)
        long_id = seed_conversation(session, "bench", LONG)
        # Refresh planner statistics after the bulk load, as autovacuum would in production.
        session.execute(text("ANALYZE"))
        session.commit()

    statements = 0

    def count(*_args) -> None:
        nonlocal statements
        statements += 1

    event.listen(engine, "before_cursor_execute", count)
    with TestClient(app) as client:
        token = client.post("/api/auth/dev-token", json={"user_id": "bench"}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        base = "/api/bench/conversations"
        deep = client.get(f"{base}/{long_id}/messages?limit=20&order=desc", headers=headers)
        deep_cursor = None
        for _ in range(3):  # walk a few pages in so the cursor sits deep in the index
            deep_cursor = deep.json()["next_cursor"]
            deep = client.get(
                f"{base}/{long_id}/messages?limit=20&order=desc&cursor={deep_cursor}",
                headers=headers,
            )

        results = medians_ms(
            {
                "/health": lambda: client.get("/health"),
                "page, 100 msgs": lambda: client.get(
                    f"{base}/{short_id}/messages", headers=headers
                ),
                "page, 20k msgs": lambda: client.get(f"{base}/{long_id}/messages", headers=headers),
                "page, 20k msgs, desc+cursor": lambda: client.get(
                    f"{base}/{long_id}/messages?order=desc&cursor={deep_cursor}", headers=headers
                ),
                "conversation list": lambda: client.get(base, headers=headers),
            },
            ROUNDS,
        )

        def turn(conversation_id: int) -> Callable[[], object]:
            body = {"message": "What's pending?", "conversation_id": conversation_id}
            return lambda: client.post("/api/bench/chat", json=body, headers=headers)

        conversations = (("chat turn, 100 msgs", short_id), ("chat turn, 20k msgs", long_id))
        results.update(medians_ms({label: turn(cid) for label, cid in conversations}, CHAT_ROUNDS))
        per_turn = {}
        for label, conversation_id in conversations:
            statements = 0
            response = turn(conversation_id)()
            assert response.status_code == 200, response.text
            per_turn[label] = statements

    health = results["/health"]
    print(f"database: {engine.dialect.name}; medians of {ROUNDS} requests ({CHAT_ROUNDS} turns)")
    for label, value in results.items():
        print(f"  {label:32s} {value:8.2f} ms   {value / health:5.1f}x /health")
    print("ratios:")
    for label, over, under, goal in (
        ("page 20k / page 100", "page, 20k msgs", "page, 100 msgs", "goal <= 1.2"),
        ("deep page 20k / page 100", "page, 20k msgs, desc+cursor", "page, 100 msgs", ""),
        ("chat turn 20k / turn 100", "chat turn, 20k msgs", "chat turn, 100 msgs", "goal <= 1.2"),
    ):
        print(f"  {label:32s} {results[over] / results[under]:5.2f}x  {goal}")
    print("SQL statements per chat turn: " + ", ".join(f"{k}: {v}" for k, v in per_turn.items()))
    engine.dispose()


if __name__ == "__main__":
    main()
