"""Does a filtered task list cost what a short list does, however many tasks there are? Prints
ratios and the query plans, not verdicts.

Seeds 1,000,000 tasks: a user ("bench") with 10,000 of them, a user ("small") with 50, and 99
other users with the rest, all interleaved in id order (as tasks arrive in a shared service) and
drawn from the same distributions, so every tag, priority and due date of the bench user's also
fills the others' index entries. The bench user's filters each return about 50 tasks: a rare tag,
the high priority, a due window. Each is measured (median latency through the HTTP API) against
the whole list of the small user's 50 tasks (goal <= 1.5x), and the plan of each list query is
printed (EXPLAIN on PostgreSQL, EXPLAIN QUERY PLAN on SQLite).

    .venv/bin/python -m benchmarks.tasks                     # SQLite in a temporary folder
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_tasks \\
        .venv/bin/python -m benchmarks.tasks                 # an existing, throwaway database
    BENCH_SCALE=0.1 .venv/bin/python -m benchmarks.tasks     # 100,000 tasks, the bench user 1,000

BENCH_ROUNDS (default 200) sets the number of timed requests per route.
"""

import os
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from fastapi.testclient import TestClient
from sqlalchemy import Engine, event

from benchmarks.pages import bench_app, medians_ms
from benchmarks.search import copy_rows, sqlite_time

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "200"))
TOTAL_TASKS = int(1_000_000 * SCALE)
BENCH_TASKS = int(10_000 * SCALE)
SMALL_TASKS = 50
OTHER_USERS = 99
TARGET = 50  # tasks each filter should return
BATCH = 20_000
START = datetime(2031, 1, 1, tzinfo=UTC)
DUE_SPAN = timedelta(days=730)
COMMON_TAGS = ["work", "home", "errands", "health", "calls", "reading", "garden", "admin"]
RARE_TAG = "taxes"
TASK_COLUMNS = (
    "tasks (id, user_id, title, description, completed, due_at, priority, recurrence, timezone, "
    "created_at, updated_at)"
)
TAG_COLUMNS = "task_tags (task_id, tag, user_id)"


def owners() -> Iterator[str]:
    """The owner of each task id: the bench and small users' tasks spread evenly among the rest."""
    bench_every = TOTAL_TASKS // BENCH_TASKS
    small_every = TOTAL_TASKS // SMALL_TASKS
    for n in range(TOTAL_TASKS):
        if n % bench_every == 0 and n // bench_every < BENCH_TASKS:
            yield "bench"
        elif n % small_every == 1:
            yield "small"
        else:
            yield f"other{n % OTHER_USERS}"


def rows(rng: random.Random) -> Iterator[tuple[tuple, list[tuple]]]:
    """(task row, its tag rows) for every task. A rare tag and the high priority each on
    TARGET / BENCH_TASKS of the tasks; 90% have a due date, uniform over two years."""
    rare = TARGET / BENCH_TASKS
    now = datetime.now(UTC)
    for task_id, owner in enumerate(owners(), start=1):
        tags = set(rng.sample(COMMON_TAGS, rng.randint(0, 2)))
        if rng.random() < rare:
            tags.add(RARE_TAG)
        roll = rng.random()
        priority = 2 if roll < rare else (0 if roll < 0.2 else 1)
        due = START + DUE_SPAN * rng.random() if rng.random() < 0.9 else None
        task = (task_id, owner, f"Task {task_id}", None, rng.random() < 0.3, due, priority)
        yield (
            (*task, None, "UTC", now, now),
            [(task_id, tag, owner) for tag in sorted(tags)],
        )


def seed(engine: Engine) -> None:
    """Users, tasks and tags in bulk (COPY on PostgreSQL, executemany on SQLite)."""
    rng = random.Random(14)
    users = ["bench", "small"] + [f"other{n}" for n in range(OTHER_USERS)]
    now = datetime.now(UTC)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        postgres = engine.dialect.name == "postgresql"
        if postgres:
            copy_rows(cursor, "users (id, created_at)", [(u, now) for u in users])
        else:
            cursor.executemany(
                "INSERT INTO users (id, created_at) VALUES (?, ?)",
                [(u, sqlite_time(now)) for u in users],
            )
        tasks: list[tuple] = []
        tags: list[tuple] = []

        def flush() -> None:
            if postgres:
                copy_rows(cursor, TASK_COLUMNS, tasks)
                copy_rows(cursor, TAG_COLUMNS, tags)
            else:
                cursor.executemany(f"INSERT INTO {TASK_COLUMNS} VALUES ({', '.join('?' * 11)})", [
                    (*t[:5], t[5] and sqlite_time(t[5]), *t[6:9], sqlite_time(t[9]),
                     sqlite_time(t[10]))
                    for t in tasks
                ])  # fmt: skip
                cursor.executemany(f"INSERT INTO {TAG_COLUMNS} VALUES (?, ?, ?)", tags)
            tasks.clear()
            tags.clear()

        for task, task_tags in rows(rng):
            tasks.append(task)
            tags.extend(task_tags)
            if len(tasks) == BATCH:
                flush()
        flush()
        if postgres:
            cursor.execute(f"SELECT setval('tasks_id_seq', {TOTAL_TASKS})")
        # Planner statistics after the bulk load, as autovacuum would gather them.
        cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()


def due_window(client: TestClient, headers: dict[str, str]) -> dict[str, str]:
    """A window of the bench user's due dates holding about TARGET tasks."""
    width = DUE_SPAN * (TARGET / (BENCH_TASKS * 0.9))
    after = START + DUE_SPAN / 2
    return {"due_after": after.isoformat(), "due_before": (after + width).isoformat()}


def explain(engine: Engine, statement: str, parameters) -> list[str]:
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "postgresql":
            cursor.execute("EXPLAIN " + statement, parameters)
            return [row[0] for row in cursor.fetchall()]
        cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
        return [row[-1] for row in cursor.fetchall()]
    finally:
        raw.close()


def main() -> None:
    app = bench_app()
    engine = app.state.engine
    print(f"seeding {TOTAL_TASKS:,} tasks ({BENCH_TASKS:,} of the bench user) ...", flush=True)
    seed(engine)
    with TestClient(app) as client:

        def token(user: str) -> dict[str, str]:
            answer = client.post("/api/auth/dev-token", json={"user_id": user}).json()
            return {"Authorization": f"Bearer {answer['access_token']}"}

        bench, small = token("bench"), token("small")
        window = due_window(client, bench)
        routes = {
            "small user, whole list (50)": ("small", small, {}),
            f"bench, tag={RARE_TAG}": ("bench", bench, {"tag": RARE_TAG}),
            "bench, priority=high": ("bench", bench, {"priority": "high"}),
            "bench, due window": ("bench", bench, window),
            "bench, due window, sort=due": ("bench", bench, {**window, "sort": "due"}),
            f"bench, tag={RARE_TAG}, pending": (
                "bench", bench, {"tag": RARE_TAG, "status": "pending"}
            ),
        }  # fmt: skip
        urls = {
            label: (f"/api/{user}/tasks?{urlencode(params)}", headers)
            for label, (user, headers, params) in routes.items()
        }
        sizes = {}
        for label, (url, headers) in urls.items():
            response = client.get(url, headers=headers)
            assert response.status_code == 200, response.text
            sizes[label] = len(response.json())

        # The SQL each route runs, for its plan.
        captured: list[tuple[str, object]] = []

        def capture(_conn, _cursor, statement, parameters, _context, _many) -> None:
            if "FROM tasks" in statement or "FROM task_tags" in statement:
                captured.append((statement, parameters))

        plans = {}
        event.listen(engine, "before_cursor_execute", capture)
        for label, (url, headers) in urls.items():
            captured.clear()
            client.get(url, headers=headers)
            plans[label] = [(s, explain(engine, s, p)) for s, p in captured]
        event.remove(engine, "before_cursor_execute", capture)

        results = medians_ms(
            {
                label: (lambda url=url, headers=headers: client.get(url, headers=headers))
                for label, (url, headers) in urls.items()
            },
            ROUNDS,
        )

    baseline = results["small user, whole list (50)"]
    print(f"database: {engine.dialect.name}; {TOTAL_TASKS:,} tasks; medians of {ROUNDS} requests")
    for label, value in results.items():
        print(
            f"  {label:34s} {sizes[label]:4d} tasks {value:8.2f} ms   "
            f"{value / baseline:5.2f}x the small list  (goal <= 1.5)"
        )
    print("query plans:")
    for label, statements in plans.items():
        print(f"  {label}:")
        for statement, plan in statements:
            table = "task_tags" if "FROM task_tags" in statement else "tasks"
            # (Long IN lists of ids cut short: the plan's shape is what matters.)
            lines = [line if len(line) < 150 else line[:146] + " ..." for line in plan]
            print(f"    [{table}] " + "\n      ".join(lines))
    engine.dispose()


if __name__ == "__main__":
    main()
