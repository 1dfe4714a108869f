"""Does a search cost about a message page while other users hold ten times more? And does the
export stream in constant memory? Prints ratios and sizes, not verdicts.

Seeds one user ("bench") with 50,000 messages in 250 conversations while 20 other users hold
500,000 more, all drawn from one vocabulary (Zipf-distributed pseudo-words), so every word the
user searches for also fills other users' index entries. Then measures in one run the median
latency of the message-page route and of searches (a rare word, a common word, two words, a
prefix, a word only the other users have), each against the message page (goal <= 3x). Last, it
exports a 100,000-message conversation of another user through a real HTTP server (uvicorn in a
thread, the body read with httpx's iter_bytes and dropped) and reports the peak memory growth of
the process while streaming: tracemalloc's peak of Python allocations and the growth of peak RSS
(VmHWM, reset through /proc/self/clear_refs), for 10,000 and for 100,000 messages.

    .venv/bin/python -m benchmarks.search                    # SQLite in a temporary folder
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_search \\
        .venv/bin/python -m benchmarks.search                # an existing, throwaway database
    BENCH_SCALE=0.1 .venv/bin/python -m benchmarks.search    # every size a tenth

BENCH_ROUNDS (default 60) sets the number of timed requests per route.
"""

import csv
import io
import os
import random
import socket
import threading
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlmodel import Session

from backend.app.search import service as search_service
from benchmarks.pages import bench_app, medians_ms

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "60"))
USER_MESSAGES = int(50_000 * SCALE)
OTHER_USERS = 20
OTHER_MESSAGES = int(500_000 * SCALE)
CONVERSATION_SIZE = 200
EXPORT_SIZES = (int(10_000 * SCALE), int(100_000 * SCALE))
VOCABULARY_SIZE = 5_000
BATCH = 20_000

SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
ONLY_OTHERS = "quixotic"  # never in the bench user's messages, in 2% of the others'


def vocabulary(rng: random.Random) -> list[str]:
    words: list[str] = []
    seen: set[str] = set()
    while len(words) < VOCABULARY_SIZE:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


class Texts:
    """Messages of 8-40 words, word ranks Zipf-distributed (rank 1 in ~1/9 of all words)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.words = vocabulary(rng)
        weights = [1 / rank for rank in range(1, VOCABULARY_SIZE + 1)]
        self.cumulative = []
        total = 0.0
        for weight in weights:
            total += weight
            self.cumulative.append(total)

    def message(self, extra: str | None = None) -> str:
        count = self.rng.randint(8, 40)
        words = self.rng.choices(self.words, cum_weights=self.cumulative, k=count)
        if extra:
            words.insert(self.rng.randrange(count), extra)
        return " ".join(words).capitalize() + "."

    def title(self) -> str:
        return " ".join(self.rng.choices(self.words, cum_weights=self.cumulative, k=3)).title()


def seed(engine: Engine, texts: Texts) -> dict[str, object]:
    """Users, conversations and messages in bulk (COPY on PostgreSQL, executemany on SQLite)."""
    start = datetime.now(UTC) - timedelta(days=365)
    users = ["bench"] + [f"other{n}" for n in range(OTHER_USERS)] + ["exporter"]
    conversations: list[tuple[int, str, str]] = []
    plan: list[tuple[int, str, int, str | None]] = []  # (conversation, user, size, extra word)

    def add_conversations(user: str, total: int, extra: str | None) -> None:
        while total > 0:
            size = min(CONVERSATION_SIZE, total)
            conversations.append((len(conversations) + 1, user, texts.title()))
            plan.append((len(conversations), user, size, extra))
            total -= size

    add_conversations("bench", USER_MESSAGES, None)
    bench_conversation = conversations[0][0]
    for n in range(OTHER_USERS):
        add_conversations(f"other{n}", OTHER_MESSAGES // OTHER_USERS, ONLY_OTHERS)
    export_conversations = []
    for size in EXPORT_SIZES:
        conversations.append((len(conversations) + 1, "exporter", f"Export of {size}"))
        plan.append((len(conversations), "exporter", size, None))
        export_conversations.append((len(conversations), size))

    def message_rows() -> Iterator[tuple]:
        n = 0
        for conversation_id, user, size, extra in plan:
            for i in range(size):
                n += 1
                planted = extra if extra and texts.rng.random() < 0.02 else None
                yield (
                    user,
                    conversation_id,
                    "user" if i % 2 == 0 else "assistant",
                    texts.message(planted),
                    start + timedelta(seconds=n),
                )

    now = datetime.now(UTC)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "postgresql":
            copy_rows(cursor, "users (id, created_at)", [(u, now) for u in users])
            copy_rows(
                cursor,
                "conversations (id, user_id, title, archived, created_at, updated_at)",
                [(cid, user, title, False, now, now) for cid, user, title in conversations],
            )
            cursor.execute(f"SELECT setval('conversations_id_seq', {len(conversations)})")
            batch: list[tuple] = []
            for row in message_rows():
                batch.append(row)
                if len(batch) == BATCH:
                    copy_rows(cursor, MESSAGE_COLUMNS, batch)
                    batch = []
            copy_rows(cursor, MESSAGE_COLUMNS, batch)
        else:
            cursor.executemany(
                "INSERT INTO users (id, created_at) VALUES (?, ?)",
                [(u, sqlite_time(now)) for u in users],
            )
            cursor.executemany(
                "INSERT INTO conversations (id, user_id, title, archived, created_at, "
                "updated_at) VALUES (?, ?, ?, 0, ?, ?)",
                [(c, u, t, sqlite_time(now), sqlite_time(now)) for c, u, t in conversations],
            )
            batch = []
            sql = f"INSERT INTO {MESSAGE_COLUMNS} VALUES (?, ?, ?, ?, ?)"
            for user, cid, role, content, created in message_rows():
                batch.append((user, cid, role, content, sqlite_time(created)))
                if len(batch) == BATCH:
                    cursor.executemany(sql, batch)
                    batch = []
            cursor.executemany(sql, batch)
        raw.commit()
    finally:
        raw.close()
    return {"bench_conversation": bench_conversation, "exports": export_conversations}


MESSAGE_COLUMNS = "messages (user_id, conversation_id, role, content, created_at)"


def copy_rows(cursor, table: str, rows: list[tuple]) -> None:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    buffer.seek(0)
    cursor.copy_expert(f"COPY {table} FROM STDIN WITH (FORMAT csv)", buffer)


def sqlite_time(moment: datetime) -> str:
    # The text the models' timestamp type stores on SQLite.
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")


def refresh_statistics(engine: Engine) -> None:
    """What autovacuum would do after a bulk load (VACUUM also empties GIN's pending list)."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))
            for fts in ("messages_fts", "conversations_fts"):
                connection.execute(text(f"INSERT INTO {fts}({fts}) VALUES ('optimize')"))


def vm_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def measure_export(base_url: str, headers: dict[str, str], conversation_id: int) -> dict:
    """Stream one export and drop its bytes; the process's memory growth while it ran."""
    url = f"{base_url}/api/exporter/conversations/{conversation_id}/export"
    result = {}
    for export_format in ("json", "markdown"):
        # Peak RSS, reset to the current RSS just before the request (Linux >= 4.0).
        Path("/proc/self/clear_refs").write_text("5")
        rss_before = vm_kib("VmRSS")
        tracemalloc.start()
        baseline, _ = tracemalloc.get_traced_memory()
        started = time.perf_counter()
        size = 0
        with httpx.Client(timeout=600) as client:
            with client.stream("GET", url, params={"format": export_format}, headers=headers) as r:
                assert r.status_code == 200, r.read()
                for chunk in r.iter_bytes():
                    size += len(chunk)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        result[export_format] = {
            "bytes": size,
            "seconds": elapsed,
            "tracemalloc_peak_mib": (peak - baseline) / 2**20,
            "rss_peak_growth_mib": (vm_kib("VmHWM") - rss_before) / 1024,
        }
    return result


def serve(app) -> tuple[uvicorn.Server, threading.Thread, str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{sock.getsockname()[1]}"


def main() -> None:
    app = bench_app()
    engine = app.state.engine
    texts = Texts(random.Random(8))
    started = time.perf_counter()
    seeded = seed(engine, texts)
    refresh_statistics(engine)
    seconds = time.perf_counter() - started
    total = USER_MESSAGES + OTHER_MESSAGES + sum(EXPORT_SIZES)
    print(f"database: {engine.dialect.name}; seeded {total:,} messages in {seconds:.0f} s")

    words = texts.words
    # Ranks in the Zipf vocabulary: rank 2000 is in ~0.1% of messages, rank 100 in ~2.5%,
    # rank 1 (the "the" of this language) in ~94%.
    queries = {
        "search, rare word": words[1999],
        "search, common word": words[99],
        "search, two words": f"{words[49]} {words[199]}",
        "search, frequent + rare word": f"{words[0]} {words[1999]}",
        "search, 3-letter prefix": words[299][:3],
        "search, only others have it": ONLY_OTHERS,
        "search, word in most messages": words[0],
    }
    with TestClient(app) as client:
        tokens = {
            user: client.post("/api/auth/dev-token", json={"user_id": user}).json()
            for user in ("bench", "exporter")
        }
        headers = {u: {"Authorization": f"Bearer {t['access_token']}"} for u, t in tokens.items()}
        bench = headers["bench"]
        page_url = f"/api/bench/conversations/{seeded['bench_conversation']}/messages"
        calls = {"message page": lambda: client.get(page_url, headers=bench)}
        for label, query in queries.items():
            calls[label] = lambda q=query: client.get(
                "/api/bench/search", params={"q": q}, headers=bench
            )
        results = medians_ms(calls, ROUNDS)
        with Session(engine) as session:
            matches = {
                label: len(search_service.search_page(session, "bench", q, 10**6, None))
                for label, q in queries.items()
            }
        # A cursor a few pages into the common word's hits (or as deep as they go).
        deep_cursor = None
        for _ in range(6):
            params = {"q": words[99]} | ({"cursor": deep_cursor} if deep_cursor else {})
            page_body = client.get("/api/bench/search", params=params, headers=bench).json()
            if not page_body["next_cursor"]:
                break
            deep_cursor = page_body["next_cursor"]
        results.update(
            medians_ms(
                {
                    "search, common word, deep cursor": lambda: client.get(
                        "/api/bench/search",
                        params={"q": words[99], "cursor": deep_cursor},
                        headers=bench,
                    )
                },
                ROUNDS,
            )
        )
        matches["search, common word, deep cursor"] = matches["search, common word"]

    page = results["message page"]
    print(
        f"bench user: {USER_MESSAGES:,} messages; {OTHER_USERS} other users: "
        f"{OTHER_MESSAGES:,}; medians of {ROUNDS} requests"
    )
    print(f"  {'message page (20 messages)':34s} {page:8.2f} ms")
    for label, value in results.items():
        if label == "message page":
            continue
        query = queries.get(label.removesuffix(", deep cursor"), "")
        print(
            f"  {label:34s} {value:8.2f} ms  {value / page:5.2f}x page  (goal <= 3)  "
            f"q={query!r}, {matches[label]:,} hits"
        )

    server, thread, base_url = serve(app)
    try:
        print("export, streamed over HTTP (memory growth of the whole process while streaming):")
        for conversation_id, size in seeded["exports"]:
            measured = measure_export(base_url, headers["exporter"], conversation_id)
            for export_format, m in measured.items():
                print(
                    f"  {size:>7,} messages, {export_format:8s} {m['bytes'] / 2**20:7.1f} MiB "
                    f"in {m['seconds']:5.1f} s; tracemalloc peak {m['tracemalloc_peak_mib']:5.1f}"
                    f" MiB, peak RSS growth {m['rss_peak_growth_mib']:5.1f} MiB"
                )
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    engine.dispose()


if __name__ == "__main__":
    main()
