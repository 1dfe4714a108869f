"""Load on a real server: throughput, latency, memory, a slow model, and a profile. Prints tables.

Starts `python -m uvicorn` on 127.0.0.1 (a fresh SQLite file, or BENCH_DATABASE_URL on a local
PostgreSQL — its tables are dropped and recreated) with AGENT=openai pointed at a local fake
model (testkit/model_server.py), then, with N client threads (keep-alive connections, nothing but
127.0.0.1):

1. throughput: `/health`, the message page, the task list and the chat turn, each for a fixed
   time: requests/s, p50/p99 latency, errors, and p50 as a ratio of `/health`'s p50 (the
   framework's own floor) measured in the same run;
2. memory: the server's VmRSS before any request, after warm-up, and when 10,000, 20,000 and
   40,000 requests have been sent (the phases count; a mix of the four routes makes up the rest);
3. a slow model (1 s per answer): other users' p50 on the task list and the message page
   without chat traffic, then with chat clients waiting on the model;
4. in-process: CPU per request and thread hand-offs per request of each route, then a
   pyinstrument profile of the message page, its top frames and its self time by package.

Everything is bounded: each phase by time (and the memory phase by count and a time cap), and
the servers stop with the script.

    .venv/bin/python -m benchmarks.load                         # SQLite in a temporary folder
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1/bench .venv/bin/python -m benchmarks.load
    .venv/bin/python -m benchmarks.load --clients 8 --seconds 10 --chat-clients 16
    .venv/bin/python -m benchmarks.load --memory-marks 10000,20000,40000,80000 --memory-cap-s 600

BENCH_SERVER_ROOT=<another checkout> serves that checkout's code instead (a before/after);
BENCH_PROFILE_LINES / BENCH_PROFILE_ALL shape the profile printout. Results: RESULTS.md.
"""

import argparse
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from backend.app.config import DEV_JWT_SECRET, Settings, normalize_database_url
from backend.app.db import make_engine
from backend.app.models import Task, User
from benchmarks.pages import prepare_database, seed_conversation
from testkit.model_server import FakeModelServer, ModelReply
from testkit.processes import server_process

ROOT = Path(__file__).resolve().parents[1]
LOCAL_HOSTS = {None, "", "127.0.0.1", "localhost", "::1"}
READER = "bench"  # the user whose pages are read; chat users are chat-<n>
PAGE_MESSAGES = 200
TASKS = 50
MEMORY_MARKS = (10_000, 20_000, 40_000)
MEMORY_GOAL_MIB = 150
SLOW_MODEL_S = 1.0
SHOW_ALL = bool(os.environ.get("BENCH_PROFILE_ALL"))
PROFILE_LINES = int(os.environ.get("BENCH_PROFILE_LINES", 40))


# ---------------------------------------------------------------------------------------------
# The fake model, answering forever, as slowly as asked
# ---------------------------------------------------------------------------------------------


class EndlessModel(FakeModelServer):
    """testkit/model_server.py's model server without a script: every request gets the same short
    answer after `delay_s` seconds, and nothing is kept (a long run must not grow it)."""

    delay_s = 0.0

    def _next_reply(self, path: str, headers: dict[str, str], body: dict[str, Any]) -> ModelReply:
        return ModelReply(message={"role": "assistant", "content": "Noted."}, delay_s=self.delay_s)


# ---------------------------------------------------------------------------------------------
# The server process
# ---------------------------------------------------------------------------------------------


@contextmanager
def benchmark_server(env: dict[str, str]) -> Iterator[tuple[int, str]]:
    """The server under test: its pid (for VmRSS) and URL; stopped at the end."""
    # BENCH_SERVER_ROOT: serve another checkout (an older version, for a before/after).
    root = Path(os.environ.get("BENCH_SERVER_ROOT", ROOT))
    with server_process(env, cwd=root, timeout_s=60, uvicorn_args=["--no-access-log"]) as (
        process,
        base_url,
    ):
        yield process.pid, base_url


def rss_mib(pid: int) -> float:
    """The process's resident memory (VmRSS), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


# ---------------------------------------------------------------------------------------------
# Clients
# ---------------------------------------------------------------------------------------------


def bearer(user: str) -> dict[str, str]:
    claims = {"sub": user, "exp": datetime.now(UTC) + timedelta(hours=2)}
    return {"Authorization": f"Bearer {jwt.encode(claims, DEV_JWT_SECRET, algorithm='HS256')}"}


Request = Callable[[httpx.Client, int], httpx.Response]


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed: float = 0.0

    @property
    def count(self) -> int:
        return len(self.latencies) + self.errors

    @property
    def rps(self) -> float:
        return self.count / self.elapsed if self.elapsed else 0.0

    def percentile(self, q: float) -> float:
        """Latency percentile in ms (0 when nothing was measured)."""
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    @property
    def p50(self) -> float:
        return self.percentile(0.50)

    @property
    def p99(self) -> float:
        return self.percentile(0.99)


class MemorySampler:
    """Reads the server's VmRSS the moment the count of requests sent passes each mark."""

    def __init__(self, pid: int, marks: tuple[int, ...]) -> None:
        self.readings: list[tuple[str, int, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(pid, marks), daemon=True)
        self._thread.start()

    def _run(self, pid: int, marks: tuple[int, ...]) -> None:
        pending = list(marks)
        while pending and not self._stop.is_set():
            if SENT.value >= pending[0]:
                self.readings.append((f"at {pending.pop(0):,} requests", SENT.value, rss_mib(pid)))
            else:
                time.sleep(0.005)

    def finish(self) -> None:
        self._stop.set()
        self._thread.join()


class Counter:
    """Requests sent to the server so far (for the memory marks), across all phases."""

    def __init__(self) -> None:
        self.value = 0
        self._lock = threading.Lock()

    def add(self) -> int:
        with self._lock:
            self.value += 1
            return self.value


SENT = Counter()


def run_load(
    base_url: str,
    requests: list[Request],
    *,
    seconds: float,
    until_total: int | None = None,
    stop: threading.Event | None = None,
) -> Stats:
    """One client thread per entry of `requests`, each calling it in a loop, for `seconds` (or
    until SENT reaches `until_total`, or `stop` is set, whichever comes first)."""
    stats = Stats()
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    barrier = threading.Barrier(len(requests) + 1)

    def client(index: int, request: Request) -> None:
        latencies: list[float] = []
        errors = 0
        with httpx.Client(base_url=base_url, timeout=30) as http:
            barrier.wait()
            n = 0
            while time.monotonic() < deadline and not (stop and stop.is_set()):
                if until_total is not None and SENT.value >= until_total:
                    break
                started = time.perf_counter()
                try:
                    ok = request(http, index * 1_000_000 + n).status_code < 400
                except httpx.HTTPError:
                    ok = False
                SENT.add()
                if ok:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1
                n += 1
        with lock:
            stats.latencies += latencies
            stats.errors += errors

    threads = [
        threading.Thread(target=client, args=(i, request), daemon=True)
        for i, request in enumerate(requests)
    ]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.monotonic()
    for thread in threads:
        thread.join()
    stats.elapsed = time.monotonic() - started
    return stats


# ---------------------------------------------------------------------------------------------
# The requests
# ---------------------------------------------------------------------------------------------


@dataclass
class Routes:
    conversation_id: int
    reader: dict[str, str]

    def health(self, http: httpx.Client, _n: int) -> httpx.Response:
        return http.get("/health")

    def message_page(self, http: httpx.Client, _n: int) -> httpx.Response:
        path = f"/api/{READER}/conversations/{self.conversation_id}/messages"
        return http.get(path, headers=self.reader)

    def task_list(self, http: httpx.Client, _n: int) -> httpx.Response:
        return http.get(f"/api/{READER}/tasks", headers=self.reader)

    def reads(self, http: httpx.Client, n: int) -> httpx.Response:
        """What another user does while chats run: task list and message page, alternately."""
        return (self.task_list if n % 2 else self.message_page)(http, n)


class Chatter:
    """A chat user continuing one conversation of its own, turn after turn."""

    def __init__(self, user: str) -> None:
        self.user = user
        self.headers = bearer(user)
        self.conversation_id: int | None = None

    def __call__(self, http: httpx.Client, n: int) -> httpx.Response:
        body = {"message": f"Turn {n}: noted?", "conversation_id": self.conversation_id}
        response = http.post(f"/api/{self.user}/chat", json=body, headers=self.headers)
        if response.status_code == 200:
            self.conversation_id = response.json()["conversation_id"]
        return response


def mixed(routes: Routes, chatter: Chatter) -> Request:
    """Health, message page, task list and a chat turn, in turn."""
    calls = (routes.health, routes.message_page, routes.task_list, chatter)
    return lambda http, n: calls[n % len(calls)](http, n)


# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------


def create_database_if_missing(url: str) -> None:
    """A PostgreSQL BENCH_DATABASE_URL may name a database that does not exist yet."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return
    admin = make_engine(parsed.set(database="postgres").render_as_string(hide_password=False))
    with admin.execution_options(isolation_level="AUTOCOMMIT").connect() as connection:
        exists = connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": parsed.database}
        ).first()
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


def seed(url: str) -> int:
    """The reader with TASKS tasks and a conversation of PAGE_MESSAGES messages; its id."""
    engine = make_engine(url)
    with Session(engine) as session:
        session.add(User(id=READER))
        session.commit()
        session.add_all(Task(user_id=READER, title=f"Task {i}") for i in range(TASKS))
        session.commit()
        conversation_id = seed_conversation(session, READER, PAGE_MESSAGES)
    engine.dispose()
    return conversation_id


def table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    line = "  ".join("-" * w for w in widths)
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print(line)
    for row in rows:
        print("  ".join(str(c).rjust(w) for c, w in zip(row, widths, strict=True)))


async def _inline_run_sync(func: Callable[..., Any], *args: Any, **_options: Any) -> Any:
    return func(*args)


def in_process_costs(url: str, conversation_id: int, rounds: int) -> None:
    """CPU per request of each route in-process (no socket, no client threads competing), and
    how many times each request is handed to a worker thread: the costs behind the ratios."""
    import asyncio

    import anyio.to_thread

    from backend.app.main import create_app

    settings = Settings(
        _env_file=None, database_url=url, chat_rate_limit="0", auth_jwt_secret=DEV_JWT_SECRET
    )
    app = create_app(settings)
    headers = bearer(READER)
    paths = {
        "/health": "/health",
        "message page": f"/api/{READER}/conversations/{conversation_id}/messages",
        "task list": f"/api/{READER}/tasks",
    }
    original = anyio.to_thread.run_sync
    hops = 0

    async def counting_run_sync(func: Callable[..., Any], *args: Any, **options: Any) -> Any:
        nonlocal hops
        hops += 1
        return await original(func, *args, **options)

    async def measure(path: str) -> tuple[float, float]:
        nonlocal hops
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for _ in range(100):
                assert (await client.get(path, headers=headers)).status_code == 200
            hops = 0
            started = time.process_time()
            for _ in range(rounds):
                await client.get(path, headers=headers)
            return (time.process_time() - started) / rounds * 1000, hops / rounds

    anyio.to_thread.run_sync = counting_run_sync
    try:
        costs = {label: asyncio.run(measure(path)) for label, path in paths.items()}
    finally:
        anyio.to_thread.run_sync = original
        app.state.engine.dispose()
    floor = costs["/health"][0]
    table(
        f"In-process cost per request ({rounds} requests each; CPU time of the whole process)",
        ["route", "CPU ms", "x /health", "thread hand-offs"],
        [
            [label, f"{cpu:.3f}", f"{cpu / floor:.1f}x", f"{n:.0f}"]
            for label, (cpu, n) in costs.items()
        ],
    )


def profile_message_page(url: str, conversation_id: int, rounds: int) -> float:
    """pyinstrument on the message page, in-process; prints the heaviest frames and the self time
    by package, and returns the time per request (ms, profiler overhead included).

    Starlette runs sync routes and dependencies in worker threads, where a profiler started in
    this thread sees nothing: for this measurement only, anyio's run_sync runs them inline, so
    the whole request (middleware, auth, database, serialisation) is in one thread. (The
    hand-offs themselves are measured by in_process_costs.)"""
    import asyncio

    import anyio.to_thread
    from pyinstrument import Profiler

    from backend.app.main import create_app

    settings = Settings(
        _env_file=None, database_url=url, chat_rate_limit="0", auth_jwt_secret=DEV_JWT_SECRET
    )
    app = create_app(settings)
    headers = bearer(READER)
    path = f"/api/{READER}/conversations/{conversation_id}/messages"
    profiler = Profiler(interval=0.0002, async_mode="disabled")

    async def requests() -> float:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for _ in range(100):
                assert (await client.get(path, headers=headers)).status_code == 200
            started = time.perf_counter()
            profiler.start()
            for _ in range(rounds):
                await client.get(path, headers=headers)
            profiler.stop()
            return (time.perf_counter() - started) / rounds * 1000

    original = anyio.to_thread.run_sync
    anyio.to_thread.run_sync = _inline_run_sync
    try:
        per_request = asyncio.run(requests())
    finally:
        anyio.to_thread.run_sync = original
        app.state.engine.dispose()
    print(
        f"\nProfile of the message page, in-process, work inline: {rounds} requests, "
        f"{per_request:.2f} ms each (profiler overhead included)"
    )
    text = profiler.output_text(unicode=False, color=False, show_all=SHOW_ALL, short_mode=False)
    print("\n".join(line for line in text.splitlines()[:PROFILE_LINES] if line.strip()))
    root = profiler.last_session.root_frame()
    by_package: dict[str, float] = {}
    for frame in _frames(root):
        # Self time sits in synthetic leaf frames ([self], [await]...) under the frame it is of.
        own = frame.time - sum(c.time for c in frame.children if not c.is_synthetic)
        package = _package_of(frame.file_path or "")
        by_package[package] = by_package.get(package, 0.0) + own
    server_side = {k: v for k, v in by_package.items() if k not in CLIENT_SIDE}
    total = sum(server_side.values())
    table(
        "Where the message page's time goes (self time by package, the test client excluded)",
        ["package", "ms per request", "share"],
        [
            [package, f"{seconds / rounds * 1000:.3f}", f"{seconds / total:.0%}"]
            for package, seconds in sorted(server_side.items(), key=lambda kv: -kv[1])[:12]
        ],
    )
    return per_request


CLIENT_SIDE = {"httpx", "httpcore", "asyncio", "benchmarks", "anyio", "h11"}


def _frames(frame: Any) -> Iterator[Any]:
    yield frame
    for child in frame.children:
        if not child.is_synthetic:
            yield from _frames(child)


def _package_of(path: str) -> str:
    """`sqlalchemy`, `pydantic`...; our own code by domain (`backend.app.auth`)."""
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if "/backend/app/" in path:
        rest = path.split("/backend/app/", 1)[1].split("/")
        return "backend.app." + rest[0].removesuffix(".py")
    if "/benchmarks/" in path:
        return "benchmarks"
    if path.startswith("<"):
        return path
    return Path(path).stem or "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=int(os.environ.get("BENCH_CLIENTS", 8)))
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("BENCH_SECONDS", 10)))
    parser.add_argument("--chat-clients", type=int, default=16, help="slow-model phase")
    parser.add_argument("--memory-cap-s", type=float, default=240, help="memory phase cap")
    parser.add_argument(
        "--memory-marks",
        default=",".join(str(mark) for mark in MEMORY_MARKS),
        help="VmRSS is read when this many requests have been sent (comma-separated)",
    )
    parser.add_argument("--profile-rounds", type=int, default=1000)
    parser.add_argument("--skip-profile", action="store_true")
    args = parser.parse_args()
    if not 1 <= args.clients <= 64 or not 1 <= args.chat_clients <= 64:
        raise SystemExit("--clients and --chat-clients: 1 to 64")
    if not 0 < args.seconds <= 120:
        raise SystemExit("--seconds: more than 0, at most 120")
    marks = tuple(sorted(int(mark) for mark in args.memory_marks.split(",")))
    if not marks or marks[-1] > 500_000 or not 0 < args.memory_cap_s <= 1800:
        raise SystemExit("--memory-marks: at most 500,000; --memory-cap-s: at most 1800")

    workdir = Path(tempfile.mkdtemp(prefix="bench-load-"))
    url = normalize_database_url(
        os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{workdir / 'load.db'}"
    )
    if make_url(url).host not in LOCAL_HOSTS:
        raise SystemExit("BENCH_DATABASE_URL must be on 127.0.0.1: this script loads nothing else")
    create_database_if_missing(url)
    prepare_database(url)
    conversation_id = seed(url)
    routes = Routes(conversation_id, bearer(READER))

    with EndlessModel() as model:
        env = {
            "DATABASE_URL": url,
            "AGENT": "openai",
            "OPENAI_BASE_URL": model.base_url,
            "OPENAI_API_KEY": "bench",
            "OPENAI_MODEL": model.model_name,
            "CHAT_RATE_LIMIT": "0",
            "AGENT_TIMEOUT_S": "30",
        }
        with benchmark_server(env) as (pid, base_url):
            backend = make_url(url).get_backend_name()
            print(
                f"database: {backend}; server pid {pid}; {args.clients} clients; "
                f"{args.seconds:g} s per phase; {os.cpu_count()} CPUs"
            )
            chatters = [Chatter(f"chat-{i}") for i in range(max(args.clients, args.chat_clients))]
            started_rss = rss_mib(pid)
            # Warm up every route (and the chat users' conversations).
            run_load(base_url, [routes.health, routes.message_page, routes.task_list], seconds=1)
            run_load(base_url, chatters[: args.clients], seconds=1)
            memory = [
                ("started, before any request", 0, started_rss),
                ("after warm-up", SENT.value, rss_mib(pid)),
            ]
            sampler = MemorySampler(pid, marks)

            # 1. Throughput, one route at a time.
            phases = {
                "/health": [routes.health] * args.clients,
                "message page (20 of 200)": [routes.message_page] * args.clients,
                f"task list ({TASKS} tasks)": [routes.task_list] * args.clients,
                "chat turn (fast model)": chatters[: args.clients],
            }
            results = {
                name: run_load(base_url, reqs, seconds=args.seconds)
                for name, reqs in phases.items()
            }
            floor = results["/health"].p50
            table(
                f"Throughput ({args.clients} clients, {args.seconds:g} s each)",
                ["route", "requests", "req/s", "p50 ms", "p99 ms", "errors", "p50 / health"],
                [
                    [
                        name,
                        s.count,
                        f"{s.rps:.0f}",
                        f"{s.p50:.2f}",
                        f"{s.p99:.2f}",
                        s.errors,
                        f"{s.p50 / floor:.1f}x",
                    ]
                    for name, s in results.items()
                ],
            )

            # 2. Memory at 10,000, 20,000 and 40,000 requests sent (the phases above count;
            # a mix of the four routes makes up the rest).
            mix = [mixed(routes, chatter) for chatter in chatters[: args.clients]]
            mixed_stats = run_load(base_url, mix, seconds=args.memory_cap_s, until_total=marks[-1])
            sampler.finish()
            memory += sampler.readings
            table(
                f"Server memory (VmRSS; goal < {MEMORY_GOAL_MIB} MiB and not growing)",
                ["when", "requests sent", "VmRSS MiB"],
                [[label, f"{sent:,}", f"{mib:.1f}"] for label, sent, mib in memory],
            )
            if len(memory) > 3:
                print(
                    f"growth from {memory[2][0].removeprefix('at ')} to "
                    f"{memory[-1][0].removeprefix('at ')}: {memory[-1][2] - memory[2][2]:+.1f} MiB;"
                    f" errors in the mix: {mixed_stats.errors} of {mixed_stats.count}"
                )

            # 3. A slow model must not slow other users.
            model.delay_s = SLOW_MODEL_S
            readers = [routes.reads] * args.clients
            quiet = run_load(base_url, readers, seconds=args.seconds)
            stop = threading.Event()
            chat_stats: list[Stats] = []
            slow_chats = chatters[: args.chat_clients]
            chat_thread = threading.Thread(
                target=lambda: chat_stats.append(
                    run_load(base_url, slow_chats, seconds=args.seconds + 30, stop=stop)
                ),
                daemon=True,
            )
            chat_thread.start()
            time.sleep(SLOW_MODEL_S)  # every chat client is waiting on the model
            busy = run_load(base_url, readers, seconds=args.seconds)
            stop.set()
            chat_thread.join()
            model.delay_s = 0.0
            chats = chat_stats[0]
            table(
                f"Slow model ({SLOW_MODEL_S:g} s per answer): other users' reads "
                f"(task list + message page, {args.clients} clients)",
                ["", "requests", "req/s", "p50 ms", "p99 ms", "errors"],
                [
                    [
                        "no chat traffic",
                        quiet.count,
                        f"{quiet.rps:.0f}",
                        f"{quiet.p50:.2f}",
                        f"{quiet.p99:.2f}",
                        quiet.errors,
                    ],
                    [
                        f"{args.chat_clients} slow chats running",
                        busy.count,
                        f"{busy.rps:.0f}",
                        f"{busy.p50:.2f}",
                        f"{busy.p99:.2f}",
                        busy.errors,
                    ],
                    [
                        "  the chats themselves",
                        chats.count,
                        f"{chats.rps:.1f}",
                        f"{chats.p50:.0f}",
                        f"{chats.p99:.0f}",
                        chats.errors,
                    ],
                ],
            )
            print(f"p50 difference: {busy.p50 - quiet.p50:+.2f} ms (goal: within 10 ms)")

    # 4. Where the message page spends its time.
    if not args.skip_profile:
        in_process_costs(url, conversation_id, args.profile_rounds)
        profile_message_page(url, conversation_id, args.profile_rounds)


if __name__ == "__main__":
    main()
