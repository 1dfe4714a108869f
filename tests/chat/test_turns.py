"""Turns: follow, resume after a dropped connection, and stop (API.md "Turns: resume and stop").

Resuming and stopping are about sockets and processes, so most of these run real uvicorn
servers and read the streams over httpx; the model is FakeModelServer (a real local server).
"""

import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from alembic import command
from fastapi.testclient import TestClient

from backend.app.chat.service import STOPPED_BEFORE_ANSWERING
from testkit.model_server import FakeModelServer, answer, calls, hang, server_error, tool_call
from testkit.processes import running_server, running_servers
from tests.conftest import alembic_config, auth, service_missing, throwaway_postgres_database

ALICE = auth("alice")
EVENT_STREAM = {"Accept": "text/event-stream"}


@dataclass(frozen=True)
class Event:
    id: int | None
    name: str
    data: Any


def read_events(response: httpx.Response) -> Iterator[Event]:
    """Server-Sent Events as they arrive (comments skipped)."""
    event_id, name, data = None, "message", []
    for line in response.iter_lines():
        if not line:
            if data:
                yield Event(event_id, name, json.loads("\n".join(data)))
            event_id, name, data = None, "message", []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "id":
            event_id = int(value)
        elif field == "event":
            name = value
        elif field == "data":
            data.append(value)


def follow(
    http: httpx.Client | TestClient,
    turn_id: str,
    last_event_id: int | str | None = None,
    user: str = "alice",
) -> list[Event]:
    headers = {**auth(user), **EVENT_STREAM}
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    path = f"/api/{user}/chat/turns/{turn_id}/events"
    with http.stream("GET", path, headers=headers) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        return list(read_events(response))


def cancel(http: httpx.Client | TestClient, turn_id: str, user: str = "alice") -> httpx.Response:
    return http.post(f"/api/{user}/chat/turns/{turn_id}/cancel", headers=auth(user))


def stored(http: httpx.Client | TestClient, conversation_id: int) -> list[dict]:
    response = http.get(
        f"/api/alice/conversations/{conversation_id}/messages?limit=100", headers=ALICE
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]


def text_of(events: list[Event]) -> str:
    return "".join(event.data["text"] for event in events if event.name == "delta")


def task_titles(http: httpx.Client | TestClient) -> list[str]:
    return [task["title"] for task in http.get("/api/alice/tasks", headers=ALICE).json()]


def wait_for(condition: Callable[[], bool], timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def model_env(model: FakeModelServer, database_url: str, **extra: str) -> dict[str, str]:
    return {
        **model.environment(),
        "DATABASE_URL": database_url,
        "APP_ENV": "development",
        "CHAT_RATE_LIMIT": "0",
        "AGENT_TIMEOUT_S": "30",
        **extra,
    }


# -- following a turn in one process (the built-in agent) -------------------------------------


def test_a_finished_turn_can_be_read_again_whole_or_after_an_event(client: TestClient) -> None:
    answer_ = client.post(
        "/api/alice/chat", json={"message": "Add a task to buy milk"}, headers=ALICE
    ).json()
    turn_id = answer_["turn_id"]

    events = follow(client, turn_id)
    assert [e.id for e in events] == list(range(1, len(events) + 1))
    assert events[0].name == "start"
    assert events[0].data == {"conversation_id": answer_["conversation_id"], "turn_id": turn_id}
    assert events[-1].name == "done" and events[-1].data == answer_
    assert text_of(events) == answer_["response"]

    after = follow(client, turn_id, last_event_id=2)
    assert after == events[2:]
    # Something that is not an id of this turn counts as none: everything again.
    assert follow(client, turn_id, last_event_id="nonsense") == events
    assert follow(client, turn_id, last_event_id=999) == events


def test_the_streamed_turns_ids_increase_and_match_a_later_read(client: TestClient) -> None:
    body = {"message": "Add a task to call mom"}
    with client.stream(
        "POST", "/api/alice/chat", json=body, headers={**ALICE, **EVENT_STREAM}
    ) as r:
        live = list(read_events(r))
    assert [e.id for e in live] == list(range(1, len(live) + 1))
    assert follow(client, live[0].data["turn_id"]) == live


def test_unknown_and_foreign_turns_are_404(client: TestClient) -> None:
    turn_id = client.post("/api/alice/chat", json={"message": "Hi"}, headers=ALICE).json()[
        "turn_id"
    ]
    for user, turn in (("bob", turn_id), ("alice", "turn_doesnotexist"), ("alice", "x" * 300)):
        path = f"/api/{user}/chat/turns/{turn}/events"
        response = client.get(path, headers=auth(user))
        assert response.status_code == 404, response.text
        assert cancel(client, turn, user=user).status_code == 404
    # Another user's token cannot even ask about alice's turns.
    assert (
        client.get(f"/api/alice/chat/turns/{turn_id}/events", headers=auth("bob")).status_code
        == 403
    )


def test_cancelling_a_finished_turn_is_409(client: TestClient) -> None:
    turn_id = client.post("/api/alice/chat", json={"message": "Hi"}, headers=ALICE).json()[
        "turn_id"
    ]
    response = cancel(client, turn_id)
    assert response.status_code == 409
    assert "ended" in response.json()["detail"]


def test_once_the_log_is_gone_the_stored_result_is_sent(make_app) -> None:
    with TestClient(make_app()) as first:
        answer_ = first.post(
            "/api/alice/chat", json={"message": "Add a task to water the plants"}, headers=ALICE
        ).json()
    with TestClient(make_app()) as restarted:  # a new process: no event log in memory
        events = follow(restarted, answer_["turn_id"])
        assert [e.name for e in events] == ["start", "done"]
        assert events[1].data == answer_
        assert cancel(restarted, answer_["turn_id"]).status_code == 409


def test_a_failed_turn_read_from_the_database_ends_with_an_error(
    make_openai_app, fake_model: FakeModelServer, make_app
) -> None:
    fake_model.push(server_error(400, "No."))
    with TestClient(make_openai_app()) as client:
        failed = client.post("/api/alice/chat", json={"message": "Hi"}, headers=ALICE)
        assert failed.status_code == 502
        conversation_id = failed.json()["conversation_id"]
        [question] = stored(client, conversation_id)
        turn_id = question["turn_id"]
        assert turn_id
        live = follow(client, turn_id)
        assert [e.name for e in live] == ["start", "error"]
    with TestClient(make_app()) as restarted:
        later = follow(restarted, turn_id)
        assert [e.name for e in later] == ["start", "error"]
        assert later[1].data["conversation_id"] == conversation_id


# -- stopping (the model agent, in process) ---------------------------------------------------


def test_a_json_turn_stopped_while_the_model_thinks_answers_what_it_had(
    make_openai_app, fake_model: FakeModelServer
) -> None:
    fake_model.push(
        calls(tool_call("add_task", {"title": "Buy milk"})),
        hang(20, calls(tool_call("add_task", {"title": "Never added"}))),
    )
    with TestClient(make_openai_app()) as client:
        result: list[httpx.Response] = []
        turn = threading.Thread(
            target=lambda: result.append(
                client.post("/api/alice/chat", json={"message": "Add milk"}, headers=ALICE)
            )
        )
        turn.start()
        wait_for(lambda: len(fake_model.received) == 2)
        conversation_id = client.get("/api/alice/conversations", headers=ALICE).json()["data"][0][
            "id"
        ]
        turn_id = stored(client, conversation_id)[0]["turn_id"]
        assert cancel(client, turn_id).json() == {"turn_id": turn_id}
        turn.join(timeout=10)

        body = result[0].json()
        assert result[0].status_code == 200
        assert body["stopped"] is True
        assert body["response"] == STOPPED_BEFORE_ANSWERING
        assert [call["arguments"]["title"] for call in body["tool_calls"]] == ["Buy milk"]
        assert task_titles(client) == ["Buy milk"]
        answer_message = stored(client, conversation_id)[-1]
        assert answer_message["stopped"] is True
        assert answer_message["content"] == body["response"]
        assert cancel(client, turn_id).status_code == 409
    wait_for(lambda: fake_model.disconnected == 1)  # the model call was closed, not left


# -- over real sockets: a dropped connection, a stop mid-stream --------------------------------


@pytest.fixture
def model_server(database_url: str, engine) -> Iterator[tuple[FakeModelServer, str]]:
    """A fake model and a real server using it, on the test database."""
    with FakeModelServer() as model, running_server(model_env(model, database_url)) as base_url:
        yield model, base_url


def test_a_dropped_stream_resumes_after_its_last_event_without_gaps_or_repeats(
    model_server: tuple[FakeModelServer, str],
) -> None:
    model, base_url = model_server
    model.push(
        calls(tool_call("list_tasks", {}), content="Let me look at your list first. "),
        hang(1.5, answer("Your list is empty, so there is nothing to do today.")),
    )
    with httpx.Client(base_url=base_url, timeout=30) as http:
        body = {"message": "What should I do today?"}
        seen: list[Event] = []
        with http.stream(
            "POST", "/api/alice/chat", json=body, headers={**ALICE, **EVENT_STREAM}
        ) as r:
            for event in read_events(r):
                seen.append(event)
                if sum(e.name == "delta" for e in seen) == 2:
                    break  # the phone loses its connection
        turn_id = seen[0].data["turn_id"]
        rest = follow(http, turn_id, last_event_id=seen[-1].id)

        whole = seen + rest
        assert [e.id for e in whole] == list(range(1, len(whole) + 1))  # none missing, none twice
        done = whole[-1]
        assert done.name == "done"
        assert text_of(whole) == done.data["response"]
        assert "Let me look" in done.data["response"] and "nothing to do" in done.data["response"]
        assert stored(http, done.data["conversation_id"])[-1]["content"] == done.data["response"]


def test_stopping_mid_stream_keeps_the_partial_text_and_runs_no_more_tools(
    model_server: tuple[FakeModelServer, str],
) -> None:
    model, base_url = model_server
    model.push(
        calls(tool_call("add_task", {"title": "Buy milk"}), content="Adding milk first. "),
        hang(20, calls(tool_call("add_task", {"title": "Never added"}))),
    )
    with httpx.Client(base_url=base_url, timeout=30) as http:
        body = {"message": "Add milk, then think hard about bread"}
        events: list[Event] = []
        with http.stream(
            "POST", "/api/alice/chat", json=body, headers={**ALICE, **EVENT_STREAM}
        ) as r:
            for event in read_events(r):
                events.append(event)
                if event.name == "tool_call":
                    wait_for(lambda: len(model.received) == 2)  # now thinking about round two
                    assert cancel(http, events[0].data["turn_id"]).status_code == 202
        done = events[-1]
        assert done.name == "done"
        assert done.data["stopped"] is True
        assert done.data["response"] == "Adding milk first. "
        assert text_of(events) == done.data["response"]
        assert task_titles(http) == ["Buy milk"]
        message = stored(http, done.data["conversation_id"])[-1]
        assert (message["content"], message["stopped"]) == (done.data["response"], True)
        assert [c["arguments"]["title"] for c in message["tool_calls"]] == ["Buy milk"]
        assert cancel(http, done.data["turn_id"]).status_code == 409
        # Read back later, the turn is still a stopped one.
        assert follow(http, done.data["turn_id"])[-1].data["stopped"] is True
    wait_for(lambda: model.disconnected == 1)


# -- two processes sharing turns through Redis -------------------------------------------------


@pytest.fixture
def two_processes(
    postgres_url: str, redis_url: str
) -> Iterator[tuple[FakeModelServer, httpx.Client, httpx.Client]]:
    """Two servers on one fresh PostgreSQL database, one Redis and one fake model."""
    name = f"todo_turns_{os.getpid()}"
    with (
        throwaway_postgres_database(postgres_url, name) as database_url,
        FakeModelServer() as model,
    ):
        command.upgrade(alembic_config(database_url), "head")
        env = model_env(model, database_url, TURN_EVENTS_URL=redis_url)
        with (
            running_servers([env, env]) as (url_a, url_b),
            httpx.Client(base_url=url_a, timeout=30) as a,
            httpx.Client(base_url=url_b, timeout=30) as b,
        ):
            yield model, a, b


def test_a_turn_started_on_one_process_is_resumed_and_stopped_on_another(
    two_processes: tuple[FakeModelServer, httpx.Client, httpx.Client],
) -> None:
    model, a, b = two_processes
    model.push(
        calls(tool_call("add_task", {"title": "Buy milk"}), content="On it. "),
        hang(20, calls(tool_call("add_task", {"title": "Never added"}))),
    )
    body = {"message": "Add milk and then more"}
    first: list[Event] = []
    with a.stream("POST", "/api/alice/chat", json=body, headers={**ALICE, **EVENT_STREAM}) as r:
        for event in read_events(r):
            first.append(event)
            if event.name == "tool_call":
                break  # dropped, while the turn goes on in process A
    turn_id = first[0].data["turn_id"]
    wait_for(lambda: len(model.received) == 2)

    resumed: list[Event] = []

    def resume_on_b() -> None:
        resumed.extend(follow(b, turn_id, last_event_id=first[-1].id))

    reader = threading.Thread(target=resume_on_b)
    reader.start()
    time.sleep(0.3)
    assert cancel(b, turn_id).status_code == 202  # sent to B, the turn runs on A
    reader.join(timeout=15)

    whole = first + resumed
    assert [e.id for e in whole] == list(range(1, len(whole) + 1))
    assert whole[-1].name == "done" and whole[-1].data["stopped"] is True
    assert text_of(whole) == whole[-1].data["response"] == "On it. "
    assert task_titles(b) == ["Buy milk"]
    assert cancel(a, turn_id).status_code == 409
    assert cancel(b, turn_id).status_code == 409
    assert follow(b, turn_id) == follow(a, turn_id)


@pytest.fixture
def own_redis() -> Iterator[tuple[str, subprocess.Popen]]:
    """A Redis server of this test's own (it gets stopped), on a free port."""
    binary = shutil.which("redis-server")
    if binary is None:
        service_missing("redis-server is not installed")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: socket.socket().connect_ex(("127.0.0.1", port)) == 0, 10)
        yield f"redis://127.0.0.1:{port}/0", process
    finally:
        process.kill()
        process.wait()


def test_redis_stopped_during_a_turn_does_not_stop_the_turn(
    database_url: str, engine, own_redis: tuple[str, subprocess.Popen]
) -> None:
    redis_url, redis_process = own_redis
    with FakeModelServer() as model:
        model.push(hang(1.5, answer("Still here, and done.")))
        env = model_env(model, database_url, TURN_EVENTS_URL=redis_url)
        with running_server(env) as base_url, httpx.Client(base_url=base_url, timeout=30) as http:
            result: list[httpx.Response] = []
            turn = threading.Thread(
                target=lambda: result.append(
                    http.post("/api/alice/chat", json={"message": "Hello?"}, headers=ALICE)
                )
            )
            turn.start()
            wait_for(lambda: len(model.received) == 1)
            redis_process.kill()
            redis_process.wait()
            turn.join(timeout=20)
            assert result[0].status_code == 200, result[0].text
            body = result[0].json()
            assert body["response"] == "Still here, and done."
            assert stored(http, body["conversation_id"])[-1]["content"] == body["response"]
            # This process still has the turn's log; the events can be read back.
            assert follow(http, body["turn_id"])[-1].data == body
            # And a new turn works with Redis gone.
            model.push(answer("Fine."))
            again = http.post("/api/alice/chat", json={"message": "Again"}, headers=ALICE)
            assert again.status_code == 200


def test_the_events_route_is_in_the_openapi_schema(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    events = paths["/api/{user_id}/chat/turns/{turn_id}/events"]["get"]
    assert "text/event-stream" in events["responses"]["200"]["content"]
    assert {p["name"] for p in events["parameters"]} >= {"turn_id", "Last-Event-ID"}
    assert "202" in paths["/api/{user_id}/chat/turns/{turn_id}/cancel"]["post"]["responses"]
    message = client.get("/openapi.json").json()["components"]["schemas"]["MessagePublic"]
    assert {"turn_id", "stopped"} <= set(message["properties"])
