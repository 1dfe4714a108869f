"""Slow model, everyone else served: bystanders' latency while hundreds of turns wait.

Starts a real server (`python -m uvicorn`, AGENT=openai) on 127.0.0.1 against a fresh SQLite
file, or BENCH_DATABASE_URL on a local PostgreSQL (its tables are dropped and recreated), and
an asynchronous fake model that answers every request after BENCH_MODEL_DELAY_S (default 10 s).
Then, for 0, 100 and 500 turns waiting on that model at once (streamed and JSON alike), another
user's task list and message page are read one request after another, and the script prints
their p50/p99 against the idle baseline, the errors, and the server's resident memory. The reads
start once every turn is waiting on the model and stop when the first answer comes back (the
table says how long the turns took to all be waiting, and how many reads fitted).

    .venv/bin/python -m benchmarks.slow_model
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1/bench make bench-slow-model
    .venv/bin/python -m benchmarks.slow_model --waiting 0,100,500,1000 --kinds streamed

Goal at 500 waiting turns: bystander p99 <= idle p99 + 50 ms, 0 errors, RSS <= 250 MiB.
Everything is bounded in time; the servers stop with the script. Results: RESULTS.md.
"""

import argparse
import asyncio
import functools
import json
import multiprocessing
import os
import statistics
import tempfile
import time

import httpx

from backend.app.config import normalize_database_url
from benchmarks.load import (
    bearer,
    benchmark_server,
    create_database_if_missing,
    rss_mib,
    seed,
    table,
)
from benchmarks.pages import prepare_database
from testkit.model_server import FakeModelServer, answer, hang, slowly

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
RESUMED_REPLY = " ".join(f"word{n}" for n in range(60))  # streamed 4 characters a chunk
# Seconds between the model's chunks in the resume phase (0.05 = 20 chunks/s per stream).
CHUNK_INTERVAL_S = float(os.environ.get("BENCH_CHUNK_INTERVAL_S", 0.25))
BYSTANDER = "bench"  # seeded by benchmarks.load.seed: tasks and a 200-message conversation
SAMPLES = 200
GOAL_EXTRA_P99_MS = 50
GOAL_RSS_MIB = 250


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def one_turn(http: httpx.AsyncClient, number: int, streamed: bool) -> bool:
    """One chat turn of user `chatter-<n>`; True when it ended with its answer."""
    user = f"chatter-{number}"
    headers = dict(token(user))
    body = {"message": f"Slow question number {number}"}
    try:
        if not streamed:
            response = await http.post(f"/api/{user}/chat", json=body, headers=headers)
            return response.status_code == 200
        headers["Accept"] = "text/event-stream"
        last = ""
        async with http.stream("POST", f"/api/{user}/chat", json=body, headers=headers) as r:
            async for line in r.aiter_lines():
                if line.startswith("event:"):
                    last = line
        return r.status_code == 200 and last == "event: done"
    except httpx.HTTPError:
        return False


@functools.cache
def token(user: str) -> dict[str, str]:
    """A user's Authorization header, made once (signing is client CPU, not the server's)."""
    return bearer(user)


async def bystander(
    http: httpx.AsyncClient,
    conversation_id: int,
    turns: list[asyncio.Task[bool]] = (),
    reads: int = SAMPLES,
) -> tuple[list[float], int]:
    """Up to SAMPLES reads of the bystander (task list, message page, alternating), while no
    turn has finished yet: seconds each, errors."""
    paths = [
        f"/api/{BYSTANDER}/tasks",
        f"/api/{BYSTANDER}/conversations/{conversation_id}/messages?limit=50",
    ]
    took, errors = [], 0
    for n in range(reads):
        if any(turn.done() for turn in turns):
            break  # the model started answering: what follows is no longer "waiting"
        started = time.perf_counter()
        try:
            response = await http.get(paths[n % 2], headers=token(BYSTANDER))
            errors += response.status_code != 200
        except httpx.HTTPError:
            errors += 1
        took.append(time.perf_counter() - started)
    return took, errors


async def phase(
    base_url: str, model: FakeModelServer, conversation_id: int, waiting: int, streamed: bool
) -> dict[str, float]:
    limits = httpx.Limits(max_connections=waiting + 20, max_keepalive_connections=waiting + 20)
    timeout = httpx.Timeout(120, pool=None)
    async with httpx.AsyncClient(base_url=base_url, timeout=timeout, limits=limits) as http:
        await bystander(http, conversation_id)  # warm connections and caches
        asked_before = len(model.received)
        started = time.monotonic()
        turns = [asyncio.create_task(one_turn(http, n, streamed)) for n in range(waiting)]
        while len(model.received) - asked_before < waiting and time.monotonic() < started + 60:
            await asyncio.sleep(0.05)
        arrival_s = time.monotonic() - started
        took, errors = await bystander(http, conversation_id, turns)
        answered = await asyncio.gather(*turns)
    if not took:  # the first answers came back before every turn was even waiting
        took = [float("nan")]
    return {
        "p50": statistics.median(took) * 1000,
        "p99": percentile(took, 0.99) * 1000,
        "errors": errors,
        "turn errors": answered.count(False),
        "samples": sum(value == value for value in took),  # NaN != NaN
        "arrival s": arrival_s,
    }


async def dropped_and_resumed(
    a: httpx.AsyncClient, b: httpx.AsyncClient, number: int
) -> tuple[bool, int]:
    """A streamed turn on A whose client drops after three deltas and resumes on B with
    Last-Event-ID: (every event exactly once and the deltas equal the answer, events)."""
    user = f"resumer-{number}"
    headers = {**token(user), "Accept": "text/event-stream"}
    seen: list[tuple[int, str, str]] = []  # (id, event, data)

    async def read(response: httpx.Response, stop_after_deltas: int | None) -> None:
        event_id, name = 0, ""
        async for line in response.aiter_lines():
            field, _, value = line.partition(": ")
            if field == "id":
                event_id = int(value)
            elif field == "event":
                name = value
            elif field == "data":
                seen.append((event_id, name, value))
                deltas = sum(event == "delta" for _, event, _ in seen)
                if stop_after_deltas is not None and deltas >= stop_after_deltas:
                    return

    body = {"message": f"Tell me a long story, number {number}"}
    async with a.stream("POST", f"/api/{user}/chat", json=body, headers=headers) as response:
        await read(response, 3)
    turn_id = json.loads(seen[0][2])["turn_id"]
    headers["Last-Event-ID"] = str(seen[-1][0])
    async with b.stream("GET", f"/api/{user}/chat/turns/{turn_id}/events", headers=headers) as r:
        await read(r, None)
    ids = [event_id for event_id, _, _ in seen]
    text = "".join(json.loads(data)["text"] for _, event, data in seen if event == "delta")
    done = json.loads(seen[-1][2]) if seen[-1][1] == "done" else {}
    intact = ids == list(range(1, len(ids) + 1)) and text == done.get("response")
    return intact, len(ids)


def _serve_model(environment: "multiprocessing.Queue", stop: "multiprocessing.Event") -> None:
    """A process of its own for the model, writing slowly: its 4,000 chunks a second must not
    share the measuring process's interpreter (nor the server's)."""
    reply = slowly(hang(1, answer(RESUMED_REPLY)), chunk_interval_s=CHUNK_INTERVAL_S)
    with FakeModelServer(default_reply=reply) as model:
        environment.put(model.environment())
        stop.wait()


def _run_streams(url_a: str, url_b: str, streams: int, results: "multiprocessing.Queue") -> None:
    """A process of its own for the streaming clients; puts [(intact, events)] when done."""

    async def run() -> list[tuple[bool, int]]:
        limits = httpx.Limits(max_connections=streams + 20, max_keepalive_connections=streams + 20)
        timeout = httpx.Timeout(120, pool=None)
        async with (
            httpx.AsyncClient(base_url=url_a, timeout=timeout, limits=limits) as a,
            httpx.AsyncClient(base_url=url_b, timeout=timeout, limits=limits) as b,
        ):
            return await asyncio.gather(*(dropped_and_resumed(a, b, n) for n in range(streams)))

    results.put(asyncio.run(run()))


async def _bystander_while(
    url: str, conversation_id: int, running: "multiprocessing.Process"
) -> tuple[list[float], int]:
    """Bystander reads, one after another, for as long as `running` lives."""
    took, errors = [], 0
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        while running.is_alive():
            batch, batch_errors = await bystander(http, conversation_id, reads=10)
            took += batch
            errors += batch_errors
    return took, errors


def resume_benchmark(url: str, conversation_id: int, streams: int) -> None:
    """Streams that drop and resume on another process while the model writes (Redis)."""
    import redis

    context = multiprocessing.get_context("spawn")
    environment, stop = context.Queue(), context.Event()
    model = context.Process(target=_serve_model, args=(environment, stop), daemon=True)
    model.start()
    env = {
        **environment.get(timeout=30),
        "DATABASE_URL": url,
        "APP_ENV": "development",
        "CHAT_RATE_LIMIT": "0",
        "AGENT_TIMEOUT_S": "120",
        "TURN_EVENTS_URL": REDIS_URL,
    }
    client = redis.Redis.from_url(REDIS_URL)
    try:
        with benchmark_server(env) as (_pid_a, url_a), benchmark_server(env) as (_pid_b, url_b):

            async def idle() -> list[float]:
                async with httpx.AsyncClient(base_url=url_a, timeout=30) as http:
                    await bystander(http, conversation_id)
                    return (await bystander(http, conversation_id))[0]

            baseline = asyncio.run(idle())
            commands_before = client.info("stats")["total_commands_processed"]
            results = context.Queue()
            clients = context.Process(target=_run_streams, args=(url_a, url_b, streams, results))
            clients.start()
            during, errors = asyncio.run(_bystander_while(url_a, conversation_id, clients))
            outcome = results.get(timeout=120)
            clients.join()
            commands = client.info("stats")["total_commands_processed"] - commands_before
    finally:
        stop.set()
        model.join(timeout=10)
        client.close()
    events = sum(count for _, count in outcome)
    base_p99 = percentile(baseline, 0.99) * 1000
    p99 = percentile(during, 0.99) * 1000 if during else float("nan")
    print(
        f"\n{streams} streams dropped after 3 deltas and resumed on a second process (Redis), "
        f"while the model writes ({len(RESUMED_REPLY) // 4} chunks, "
        f"{CHUNK_INTERVAL_S * 1000:.0f} ms apart):"
    )
    print(
        f"  bystander p99 {p99:.1f} ms vs {base_p99:.1f} ms idle ({p99 - base_p99:+.1f} ms, "
        f"goal <= +{GOAL_EXTRA_P99_MS}; {len(during)} reads, {errors} errors)"
    )
    print(
        f"  streams with a lost or repeated event: {sum(not ok for ok, _ in outcome)} of "
        f"{streams} (goal 0); Redis commands per event: {commands / max(events, 1):.2f} "
        f"({events} events; writes are pipelined per batch, the resuming process reads with "
        "XRANGE then blocking XREAD)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--waiting", default="0,100,500", help="turns waiting at once")
    parser.add_argument("--kinds", default="streamed,json", help="streamed and/or json")
    parser.add_argument(
        "--resume", type=int, default=200, help="streams that drop and resume (0: skip)"
    )
    args = parser.parse_args()
    waiting_counts = [int(n) for n in args.waiting.split(",")]
    kinds = args.kinds.split(",")
    delay_s = float(os.environ.get("BENCH_MODEL_DELAY_S", 10))

    url = normalize_database_url(
        os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    )
    create_database_if_missing(url)
    prepare_database(url)
    conversation_id = seed(url)
    rows, baseline_p99, worst = [], None, []
    reply = hang(delay_s, answer("Thanks for waiting."))
    with FakeModelServer(default_reply=reply) as model:
        env = {
            **model.environment(),
            "DATABASE_URL": url,
            "APP_ENV": "development",
            "CHAT_RATE_LIMIT": "0",
            "AGENT_TIMEOUT_S": str(delay_s * 6),
        }
        with benchmark_server(env) as (pid, base_url):
            for kind in kinds:
                for waiting in waiting_counts:
                    result = asyncio.run(
                        phase(base_url, model, conversation_id, waiting, kind == "streamed")
                    )
                    rss = rss_mib(pid)
                    if waiting == 0:
                        baseline_p99 = result["p99"]
                    extra = result["p99"] - (baseline_p99 or result["p99"])
                    if waiting == max(waiting_counts):
                        worst.append((kind, extra, result["errors"] + result["turn errors"], rss))
                    rows.append(
                        [
                            kind,
                            str(waiting),
                            f"{result['p50']:.1f}",
                            f"{result['p99']:.1f}",
                            f"{extra:+.1f}",
                            str(int(result["errors"])),
                            str(int(result["turn errors"])),
                            f"{rss:.0f}",
                            f"{result['arrival s']:.1f}",
                            str(result["samples"]),
                        ]
                    )
    backend = url.split(":")[0]
    table(
        f"Bystander reads while turns wait on a {delay_s:g} s model ({backend}, "
        f"{SAMPLES} reads each)",
        [
            *("turns", "waiting", "p50 ms", "p99 ms", "p99 vs idle", "errors", "turn errors"),
            *("RSS MiB", "all waiting after s", "reads"),
        ],
        rows,
    )
    for kind, extra, errors, rss in worst:
        ok = extra <= GOAL_EXTRA_P99_MS and errors == 0 and rss <= GOAL_RSS_MIB
        print(
            f"{kind} at {max(waiting_counts)} waiting: p99 {extra:+.1f} ms vs idle "
            f"(goal <= +{GOAL_EXTRA_P99_MS}), {errors} errors (goal 0), RSS {rss:.0f} MiB "
            f"(goal <= {GOAL_RSS_MIB}): {'met' if ok else 'NOT met'}"
        )

    if args.resume:
        resume_benchmark(url, conversation_id, args.resume)


if __name__ == "__main__":
    main()
