"""Slow models never stall the service: a turn waits on its model holding no worker thread and
no database connection, so hundreds of turns can wait while everyone else is served as usual.

Real uvicorn servers, a real (asynchronous) fake model server answering after a delay, real
sockets. The tests assert orders and counts (every bystander request is answered while the
model still holds every turn's answer; no connection idle in a transaction), not durations;
the bystanders' latency in milliseconds is the benchmark's job (benchmarks/slow_model.py,
`make bench-slow-model`).
"""

import asyncio
import json
import signal
import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session

from backend.app.models import Conversation, Message, User
from testkit.model_server import FakeModelServer, answer, hang, held
from testkit.processes import server_process
from tests.conftest import auth

TURNS_PER_KIND = 200  # streamed, and as many JSON turns
USERS = 40
BYSTANDER = "bystander"
BYSTANDER_SAMPLES = 30
BYSTANDER_TIMEOUT_S = 30.0  # a guard against a stall, far above any real answer
REPLY = "Thanks for waiting: here is my answer."


def server_env(database_url: str, model: FakeModelServer, **extra: str) -> dict[str, str]:
    return {
        **model.environment(),
        "DATABASE_URL": database_url,
        "APP_ENV": "development",
        "CHAT_RATE_LIMIT": "0",
        "AGENT_TIMEOUT_S": "120",
        **extra,
    }


@pytest.fixture
def slow_model() -> Iterator[FakeModelServer]:
    """A model that answers every request (streamed or not) only once the test releases it."""
    with FakeModelServer(default_reply=held(answer(REPLY))) as server:
        yield server


async def streamed_turn(http: httpx.AsyncClient, user: str, message: str) -> list[str]:
    """The event names of one streamed turn, in order."""
    names = []
    headers = {**auth(user), "Accept": "text/event-stream"}
    body = {"message": message}
    async with http.stream("POST", f"/api/{user}/chat", json=body, headers=headers) as response:
        assert response.status_code == 200, await response.aread()
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                names.append(line.partition(":")[2].strip())
    return names


async def json_turn(http: httpx.AsyncClient, user: str, message: str) -> dict:
    response = await http.post(f"/api/{user}/chat", json={"message": message}, headers=auth(user))
    assert response.status_code == 200, response.text
    return response.json()


async def bystander_requests(http: httpx.AsyncClient, samples: int) -> int:
    """Another user's ordinary requests (a task list, one at a time); how many succeeded.
    A stalled service fails them at the client's time-out instead of answering late."""
    answered = 0
    for _ in range(samples):
        response = await http.get(
            f"/api/{BYSTANDER}/tasks", headers=auth(BYSTANDER), timeout=BYSTANDER_TIMEOUT_S
        )
        assert response.status_code == 200, response.text
        answered += 1
    return answered


async def until(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def idle_in_transaction(engine: Engine) -> int:
    """Connections of the test database sitting in an open transaction (PostgreSQL)."""
    with engine.connect() as connection:
        return connection.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND state LIKE 'idle in transaction%' "
                "AND pid <> pg_backend_pid()"
            )
        ).scalar_one()


def stored_roles_per_conversation(engine: Engine) -> list[list[str]]:
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT conversation_id, role FROM messages ORDER BY conversation_id, id")
        ).all()
    by_conversation: dict[int, list[str]] = {}
    for conversation_id, role in rows:
        by_conversation.setdefault(conversation_id, []).append(role)
    return list(by_conversation.values())


def test_hundreds_of_turns_waiting_on_a_slow_model_stall_nobody(
    database_url: str, engine: Engine, slow_model: FakeModelServer
) -> None:
    turns = 2 * TURNS_PER_KIND

    async def scenario(base_url: str) -> tuple[int, int | None, list]:
        limits = httpx.Limits(max_connections=turns + 10, max_keepalive_connections=turns + 10)
        async with httpx.AsyncClient(base_url=base_url, timeout=120, limits=limits) as http:
            await bystander_requests(http, 5)  # the bystander's row exists before the turns
            running = [
                asyncio.create_task(
                    (streamed_turn if number % 2 else json_turn)(
                        http, f"user{number % USERS}", f"Turn number {number}"
                    )
                )
                for number in range(turns)
            ]
            # Every turn has stored its message and is now waiting on the model.
            await until(lambda: len(slow_model.received) >= turns, 60, "all turns to wait")
            idle = idle_in_transaction(engine) if engine.dialect.name == "postgresql" else None
            # The order that matters: every bystander request is answered while the model still
            # holds every turn. A turn holding a worker thread or a connection would make the
            # bystander queue behind the turns, which cannot end before the release: a stall.
            answered = await bystander_requests(http, BYSTANDER_SAMPLES)
            still_waiting = sum(not task.done() for task in running)
            assert still_waiting == turns, f"{turns - still_waiting} turns failed while held"
            slow_model.release()
            results = await asyncio.gather(*running)
        return answered, idle, results

    env = server_env(database_url, slow_model)
    with server_process(env) as (_process, base_url):
        answered, idle, results = asyncio.run(scenario(base_url))

    assert answered == BYSTANDER_SAMPLES
    if idle is not None:
        assert idle == 0, f"{idle} connections idle in a transaction while the model thinks"
    streamed = [names for names in results if isinstance(names, list)]
    answered = [body for body in results if isinstance(body, dict)]
    assert len(streamed) == len(answered) == TURNS_PER_KIND
    assert all(names[0] == "start" and names[-1] == "done" for names in streamed)
    assert all(body["response"] == REPLY for body in answered)
    # Every turn stored once: its user message, then its one answer.
    conversations = stored_roles_per_conversation(engine)
    assert len(conversations) == turns
    assert all(roles == ["user", "assistant"] for roles in conversations)
    assert len(slow_model.received) == turns  # no turn asked twice


def test_a_two_connection_pool_serves_twenty_slow_streamed_turns_and_a_bystander(
    database_url: str, engine: Engine
) -> None:
    turns = 20

    async def scenario(base_url: str, model: FakeModelServer) -> tuple[list, int]:
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
            running = [
                asyncio.create_task(streamed_turn(http, "alice", f"Slow question {n}"))
                for n in range(turns)
            ]
            await until(lambda: len(model.received) >= turns, 30, "all turns to wait")
            bystander = await http.get(f"/api/{BYSTANDER}/tasks", headers=auth(BYSTANDER))
            return await asyncio.gather(*running), bystander.status_code

    with FakeModelServer(default_reply=hang(2, answer(REPLY))) as model:
        env = server_env(database_url, model, DATABASE_POOL_SIZE="2", DATABASE_MAX_OVERFLOW="0")
        with server_process(env) as (_process, base_url):
            results, bystander_status = asyncio.run(scenario(base_url, model))

    assert bystander_status == 200
    assert all(names[0] == "start" and names[-1] == "done" for names in results)
    assert stored_roles_per_conversation(engine) == [["user", "assistant"]] * turns


def test_a_server_shut_down_mid_turn_keeps_the_message_and_writes_no_half_answer(
    database_url: str, engine: Engine
) -> None:
    with FakeModelServer(default_reply=hang(60, answer("Too late."))) as model:
        with server_process(server_env(database_url, model)) as (process, base_url):
            with httpx.Client(base_url=base_url, timeout=30) as http:
                headers = {**auth("alice"), "Accept": "text/event-stream"}
                body = {"message": "Plan my week, slowly"}
                with http.stream("POST", "/api/alice/chat", json=body, headers=headers) as stream:
                    lines = stream.iter_lines()
                    assert next(lines).startswith("id:")
                    deadline = time.monotonic() + 10
                    while not model.received:
                        assert time.monotonic() < deadline
                        time.sleep(0.05)
                    process.send_signal(signal.SIGTERM)
                    rest = list(lines)  # the stream ends when the server stops
                # uvicorn shuts down cleanly, then re-raises the signal it caught; the model
                # would answer only after 60 s, so exiting means the turn was not waited out.
                assert process.wait(timeout=30) in (0, -signal.SIGTERM)
        # The running turn was cancelled at the end of the grace period: it hung up on the
        # model instead of waiting for the answer (the model notices a moment later).
        deadline = time.monotonic() + 5
        while model.disconnected < 1:
            assert time.monotonic() < deadline, "the model call was never hung up"
            time.sleep(0.05)

    errors = [line for line in rest if line.startswith("data:") and "detail" in line]
    if errors:  # the turn told why it stopped before the connection closed
        assert "saved" in json.loads(errors[0].partition(":")[2])["detail"]
    assert stored_roles_per_conversation(engine) == [["user"]]


def test_a_slow_download_pins_no_connection(database_url: str, engine: Engine) -> None:
    # One connection in the pool: if the export kept the request's session (the ownership
    # check's read) while the client dawdles, the bystander would wait for the pool time-out.
    with Session(engine) as session:
        session.add(User(id="alice"))
        session.commit()
        conversation = Conversation(user_id="alice", title="Long")
        session.add(conversation)
        session.commit()
        conversation_id = conversation.id
        session.add_all(
            Message(
                conversation_id=conversation_id,
                user_id="alice",
                role="user",
                content=f"message {n} " + "x" * 400,
            )
            for n in range(3000)
        )
        session.commit()
    with FakeModelServer() as model:
        env = server_env(database_url, model, DATABASE_POOL_SIZE="1", DATABASE_MAX_OVERFLOW="0")
        with (
            server_process(env) as (_process, base_url),
            httpx.Client(base_url=base_url, timeout=httpx.Timeout(10, pool=None)) as http,
        ):
            path = f"/api/alice/conversations/{conversation_id}/export"
            with http.stream("GET", path, headers=auth("alice")) as download:
                assert download.status_code == 200
                chunks = download.iter_bytes()
                next(chunks)  # the first bytes, then the client dawdles
                bystander = http.get(f"/api/{BYSTANDER}/tasks", headers=auth(BYSTANDER))
                assert bystander.status_code == 200
                rest = b"".join(chunks)
    assert rest.count(b"message 2999 ") == 1
