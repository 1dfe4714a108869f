"""Your data and its cost: does deleting an account, exporting it and checking the daily
budget stay cheap for a user with 100,000 messages? Prints figures and ratios, not verdicts.

Seeds "heavy" (100,000 messages in 50 conversations, a year of daily usage rows), "light"
(1,000 messages) and 20,000 messages of other users, then measures in one run:

- the budget check: SQL statements a chat turn runs with CHAT_TOKEN_BUDGET_DAILY set and
  unset, and the median time of a refused turn (the check alone, nothing stored) against
  `/health`; `GET /usage` (365 days) for heavy against light;
- the account export over HTTP (uvicorn in a thread, body read with httpx and dropped):
  tracemalloc's peak of Python allocations and the growth of peak RSS while streaming, for
  light and for heavy;
- `DELETE /api/{user_id}` of light and of heavy (time of the request; the other users' rows
  are checked untouched).

    .venv/bin/python -m benchmarks.your_data                    # SQLite in a temporary folder
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_your_data \\
        .venv/bin/python -m benchmarks.your_data                # an existing, throwaway database
    BENCH_SCALE=0.1 .venv/bin/python -m benchmarks.your_data    # every size a tenth
"""

import os
import tempfile
import time
import tracemalloc
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, func, insert, text
from sqlmodel import Session, select

from backend.app.config import DEV_JWT_SECRET, Settings
from backend.app.main import create_app
from backend.app.models import Conversation, Message, UsageDay, User
from benchmarks.pages import medians_ms, prepare_database
from benchmarks.search import refresh_statistics, serve, vm_kib

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "100"))
HEAVY = int(100_000 * SCALE)
LIGHT = int(1_000 * SCALE)
OTHERS = int(20_000 * SCALE)
CONVERSATIONS = 50
USAGE_DAYS = 365
BUDGET = 1_000_000
TURN_USAGE = '{"model":"m","prompt_tokens":900,"completion_tokens":100,"total_tokens":1000}'


def seed_user(engine: Engine, user_id: str, messages: int, conversations: int) -> None:
    start = datetime.now(UTC) - timedelta(days=USAGE_DAYS)
    with Session(engine) as session:
        session.add(User(id=user_id, email=f"{user_id}@example.com"))
        session.commit()
        ids = []
        for n in range(conversations):
            conversation = Conversation(user_id=user_id, title=f"{user_id} #{n}")
            session.add(conversation)
            session.commit()
            ids.append(conversation.id)
        per = max(1, messages // conversations)
        rows = [
            {
                "conversation_id": ids[min(i // per, conversations - 1)],
                "user_id": user_id,
                "role": "user" if i % 2 == 0 else "assistant",
                "content": f"message {i} about groceries, bills and meetings",
                "tool_calls": None,
                "usage": None if i % 2 == 0 else TURN_USAGE,
                "created_at": start + timedelta(seconds=i * 60),
            }
            for i in range(messages)
        ]
        for chunk in range(0, len(rows), 5000):
            session.execute(insert(Message), rows[chunk : chunk + 5000])
        today = datetime.now(UTC).date()
        session.execute(
            insert(UsageDay),
            [
                {
                    "user_id": user_id,
                    "day": today - timedelta(days=d),
                    "turns": messages // 2 // USAGE_DAYS + 1,
                    "prompt_tokens": 900 * (messages // 2 // USAGE_DAYS + 1),
                    "completion_tokens": 100 * (messages // 2 // USAGE_DAYS + 1),
                    "total_tokens": 1000 * (messages // 2 // USAGE_DAYS + 1),
                }
                for d in range(USAGE_DAYS)
            ],
        )
        session.commit()


def counted_statements(engine: Engine, call) -> list[str]:
    seen: list[str] = []

    def record(_connection, _cursor, statement, *_args) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return seen


def measure_export(base_url: str, user: str, token: str) -> dict[str, float]:
    Path("/proc/self/clear_refs").write_text("5")  # peak RSS := current RSS (Linux >= 4.0)
    rss_before = vm_kib("VmRSS")
    tracemalloc.start()
    baseline, _ = tracemalloc.get_traced_memory()
    started = time.perf_counter()
    size = lines = 0
    with httpx.Client(timeout=600) as client:
        headers = {"Authorization": f"Bearer {token}"}
        with client.stream("GET", f"{base_url}/api/{user}/export", headers=headers) as response:
            assert response.status_code == 200, response.read()
            for chunk in response.iter_bytes():
                size += len(chunk)
                lines += chunk.count(b"\n")
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "lines": lines,
        "mib": size / 2**20,
        "seconds": elapsed,
        "tracemalloc_peak_mib": (peak - baseline) / 2**20,
        "rss_peak_growth_mib": (vm_kib("VmHWM") - rss_before) / 1024,
    }


def message_count(engine: Engine, user_id: str) -> int:
    with Session(engine) as session:
        return session.exec(
            select(func.count()).select_from(Message).where(Message.user_id == user_id)
        ).one()


def main() -> None:
    url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    prepare_database(url)
    settings = {"database_url": url, "chat_rate_limit": "0", "auth_jwt_secret": DEV_JWT_SECRET}
    app = create_app(Settings(_env_file=None, chat_token_budget_daily=BUDGET, **settings))
    no_budget_app = create_app(Settings(_env_file=None, **settings))
    engine = app.state.engine
    started = time.perf_counter()
    seed_user(engine, "heavy", HEAVY, CONVERSATIONS)
    seed_user(engine, "light", LIGHT, 5)
    seed_user(engine, "other", OTHERS, 10)
    refresh_statistics(engine)
    print(
        f"database: {engine.dialect.name}; seeded {HEAVY + LIGHT + OTHERS:,} messages "
        f"in {time.perf_counter() - started:.0f} s"
    )

    with TestClient(app) as client, TestClient(no_budget_app) as unlimited:
        tokens = {
            u: client.post("/api/auth/dev-token", json={"user_id": u}).json()["access_token"]
            for u in ("heavy", "light", "other")
        }
        headers = {u: {"Authorization": f"Bearer {t}"} for u, t in tokens.items()}
        turn = {"message": "What's pending?"}
        # heavy's today is over the budget: its turns stop at the check (429, nothing stored).
        with Session(engine) as session:
            session.execute(
                text(
                    "UPDATE usage_days SET total_tokens = :t WHERE user_id = 'heavy' AND day = :d"
                ),
                {"t": BUDGET, "d": datetime.now(UTC).date()},
            )
            session.commit()
        assert (
            client.post("/api/heavy/chat", json=turn, headers=headers["heavy"]).status_code == 429
        )

        budgeted = counted_statements(
            engine, lambda: client.post("/api/light/chat", json=turn, headers=headers["light"])
        )
        unbudgeted = counted_statements(
            no_budget_app.state.engine,
            lambda: unlimited.post("/api/light/chat", json=turn, headers=headers["light"]),
        )
        refused = counted_statements(
            engine, lambda: client.post("/api/heavy/chat", json=turn, headers=headers["heavy"])
        )
        year = {"from": (date.today() - timedelta(days=USAGE_DAYS)).isoformat()}
        results = medians_ms(
            {
                "/health": lambda: client.get("/health"),
                "refused turn (budget spent)": lambda: client.post(
                    "/api/heavy/chat", json=turn, headers=headers["heavy"]
                ),
                "/usage, light, 365 days": lambda: client.get(
                    "/api/light/usage", params=year, headers=headers["light"]
                ),
                "/usage, heavy, 365 days": lambda: client.get(
                    "/api/heavy/usage", params=year, headers=headers["heavy"]
                ),
            },
            ROUNDS,
        )

    health = results["/health"]
    print(f"budget check and usage (medians of {ROUNDS} requests):")
    for label, value in results.items():
        print(f"  {label:34s} {value:8.2f} ms   {value / health:5.1f}x /health")
    usage_ratio = results["/usage, heavy, 365 days"] / results["/usage, light, 365 days"]
    print(f"  /usage heavy / light: {usage_ratio:.2f}x")
    print(
        "  SQL statements of a chat turn: "
        f"budget set {len(budgeted)} ({sum('usage_days' in s for s in budgeted)} on usage_days), "
        f"unset {len(unbudgeted)} ({sum('usage_days' in s for s in unbudgeted)} on usage_days); "
        f"a refused turn {len(refused)} (the user row, the budget read)"
    )

    server, thread, base_url = serve(app)
    try:
        print("export, streamed over HTTP (memory growth of the whole process while streaming):")
        for user, size in (("light", LIGHT), ("heavy", HEAVY)):
            m = measure_export(base_url, user, tokens[user])
            print(
                f"  {size:>7,} messages: {m['lines']:,} lines, {m['mib']:6.1f} MiB in "
                f"{m['seconds']:5.1f} s; tracemalloc peak {m['tracemalloc_peak_mib']:5.1f} MiB, "
                f"peak RSS growth {m['rss_peak_growth_mib']:6.1f} MiB"
            )
    finally:
        server.should_exit = True
        thread.join()

    others_before = message_count(engine, "other")
    with TestClient(app) as client:
        timings = {}
        for user in ("light", "heavy"):
            started = time.perf_counter()
            response = client.delete(f"/api/{user}", headers=headers[user])
            timings[user] = (time.perf_counter() - started) * 1000
            assert response.status_code == 204, response.text
            assert message_count(engine, user) == 0
    assert message_count(engine, "other") == others_before
    print("DELETE /api/{user_id} (one transaction):")
    for user, size in (("light", LIGHT), ("heavy", HEAVY)):
        print(f"  {size:>7,} messages  {timings[user]:9.1f} ms")
    ratio = timings["heavy"] / timings["light"]
    print(f"  heavy / light: {ratio:.1f}x for {HEAVY / LIGHT:.0f}x the rows")
    app.state.engine.dispose()
    no_budget_app.state.engine.dispose()


if __name__ == "__main__":
    main()
