"""The chat turn as Server-Sent Events, read event by event with httpx streaming.

The rules agent streams its finished reply in pieces; the OpenAI agent streams the model's own
chunks (its model is FakeModelServer, a real local chat-completions server). A client that hangs
up is tried against a real uvicorn server, since only a socket can be closed mid-stream.
"""

import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from backend.app.agent.openai_loop import NO_ANSWER
from testkit.model_server import FakeModelServer, answer, calls, hang, server_error, tool_call
from testkit.processes import running_server
from tests.conftest import auth

ALICE = auth("alice")
BOB = auth("bob")
EVENT_STREAM = {"Accept": "text/event-stream"}
ANSWER_KEYS = {"conversation_id", "response", "tool_calls", "message_id", "turn_id", "stopped"}
# FakeModelServer streams a scripted answer's text four characters per chunk.
FAKE_CHUNK = 4

Client = TestClient | httpx.Client


@dataclass(frozen=True)
class Event:
    name: str
    data: Any


def wait_until(condition: Callable[[], bool], timeout_s: float = 5) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def read_events(response: httpx.Response) -> Iterator[Event]:
    """Parse a text/event-stream body event by event as its lines arrive (comments skipped)."""
    name, data = "message", []
    for line in response.iter_lines():
        if not line:  # a blank line ends the event
            if data:
                yield Event(name, json.loads("\n".join(data)))
            name, data = "message", []
        elif not line.startswith(":"):
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)


def stream_chat(
    client: Client,
    message: str,
    conversation_id: int | None = None,
    *,
    user: str = "alice",
    headers: dict[str, str] | None = None,
) -> list[Event]:
    """One streamed turn: every event, in order (the status and media type checked)."""
    body = {"message": message, "conversation_id": conversation_id}
    with client.stream(
        "POST",
        f"/api/{user}/chat",
        json=body,
        headers={**auth(user), **EVENT_STREAM, **(headers or {})},
    ) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        return list(read_events(response))


def json_chat(client: Client, message: str, conversation_id: int | None = None) -> dict:
    body = {"message": message, "conversation_id": conversation_id}
    response = client.post("/api/alice/chat", json=body, headers=ALICE)
    assert response.status_code == 200, response.text
    return response.json()


def messages(client: Client, conversation_id: int, user: str = "alice") -> list[dict]:
    response = client.get(
        f"/api/{user}/conversations/{conversation_id}/messages?limit=100", headers=auth(user)
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]


def deltas(events: list[Event]) -> list[str]:
    return [event.data["text"] for event in events if event.name == "delta"]


def check_turn(events: list[Event], *, strict_order: bool = True) -> dict:
    """Check a finished turn's events against the contract; return `done`'s answer.

    start, then tool_call and delta events, then done; with `strict_order` every tool call
    comes before the first delta (the rules agent, or a model that says nothing before its
    tool calls)."""
    names = " ".join(event.name for event in events)
    middle = r"( tool_call)*( delta)+" if strict_order else r"( tool_call| delta)+"
    assert re.fullmatch(f"start{middle} done", names), names
    start, done = events[0].data, events[-1].data
    assert set(done) == ANSWER_KEYS
    assert start == {"conversation_id": done["conversation_id"], "turn_id": done["turn_id"]}
    assert all(set(e.data) == {"text"} and e.data["text"] for e in events if e.name == "delta")
    assert "".join(deltas(events)) == done["response"]
    assert [e.data for e in events if e.name == "tool_call"] == done["tool_calls"]
    return done


def check_stored(client: Client, done: dict) -> list[dict]:
    """The turn's assistant message is stored as `done` tells it; return the conversation."""
    stored = messages(client, done["conversation_id"])
    assistant = stored[-1]
    assert assistant["role"] == "assistant"
    assert assistant["id"] == done["message_id"]
    assert assistant["content"] == done["response"]
    assert assistant["tool_calls"] == done["tool_calls"]
    return stored


def comparable(stored: list[dict]) -> list[tuple]:
    return [(m["role"], m["content"], m["tool_calls"]) for m in stored]


# -- the rules agent ---------------------------------------------------------------------------


def test_a_streamed_turn_is_start_tool_calls_deltas_then_done(client: TestClient) -> None:
    events = stream_chat(client, "Add a task to buy crème brûlée ☕")

    done = check_turn(events)
    assert len(deltas(events)) > 1, "the rules agent streams its reply in pieces"
    [call] = done["tool_calls"]
    assert call["name"] == "add_task"
    assert call["arguments"] == {"title": "Buy crème brûlée ☕"}
    assert call["result"]["status"] == "created"
    assert "Buy crème brûlée ☕" in done["response"]
    stored = check_stored(client, done)
    assert comparable(stored) == [
        ("user", "Add a task to buy crème brûlée ☕", None),
        ("assistant", done["response"], done["tool_calls"]),
    ]
    tasks = client.get("/api/alice/tasks", headers=ALICE).json()
    assert [task["title"] for task in tasks] == ["Buy crème brûlée ☕"]


def test_a_streamed_turn_stores_what_a_json_turn_stores(client: TestClient) -> None:
    for title in ("Buy milk", "Pay bills"):
        client.post("/api/alice/tasks", json={"title": title}, headers=ALICE)
    [_, bills] = client.get("/api/alice/tasks", headers=ALICE).json()
    client.patch(f"/api/alice/tasks/{bills['id']}/complete", headers=ALICE)
    # Turns that change no task, so both conversations see the same list.
    turns = ["Show me all my tasks", "What have I completed?", "Tell me a joke"]

    streamed_id = json_id = None
    for message in turns:
        done = check_turn(stream_chat(client, message, streamed_id))
        answer_ = json_chat(client, message, json_id)
        streamed_id, json_id = done["conversation_id"], answer_["conversation_id"]
        assert set(done) == set(answer_)
        assert done["response"] == answer_["response"]
        assert done["tool_calls"] == answer_["tool_calls"]
        check_stored(client, done)

    assert streamed_id != json_id
    streamed, plain = messages(client, streamed_id), messages(client, json_id)
    assert len(streamed) == 2 * len(turns)
    assert comparable(streamed) == comparable(plain)
    titles = [
        client.get(f"/api/alice/conversations/{cid}", headers=ALICE).json()["title"]
        for cid in (streamed_id, json_id)
    ]
    assert titles[0] == titles[1] == "Show me all my tasks"


def test_an_unknown_or_foreign_conversation_is_a_plain_json_404(client: TestClient) -> None:
    bobs = client.post("/api/bob/conversations", json={"title": "Bob's"}, headers=BOB).json()

    for conversation_id in (999_999, bobs["id"]):
        body = {"message": "Show me all my tasks", "conversation_id": conversation_id}
        response = client.post("/api/alice/chat", json=body, headers={**ALICE, **EVENT_STREAM})
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/json"
        assert set(response.json()) == {"detail"}

    assert client.get("/api/alice/conversations", headers=ALICE).json()["data"] == []
    assert messages(client, bobs["id"], "bob") == []


def test_a_repeated_idempotency_key_streams_the_first_answer(client: TestClient) -> None:
    key = {"Idempotency-Key": "stream-1"}
    first = stream_chat(client, "Add a task to buy milk", headers=key)
    done = check_turn(first)

    repeat = stream_chat(client, "Add a task to buy milk", headers=key)

    assert check_turn(repeat) == done
    assert [e.name for e in repeat] == [e.name for e in first]
    assert json_chat_with_key(client, "Add a task to buy milk", key) == done
    assert len(messages(client, done["conversation_id"])) == 2
    assert [t["title"] for t in client.get("/api/alice/tasks", headers=ALICE).json()] == [
        "Buy milk"
    ]


def json_chat_with_key(client: TestClient, message: str, key: dict[str, str]) -> dict:
    response = client.post("/api/alice/chat", json={"message": message}, headers={**ALICE, **key})
    assert response.status_code == 200
    return response.json()


# -- the OpenAI agent: the model's own stream -----------------------------------------------


@pytest.fixture
def openai_client(
    make_openai_app: Callable[..., FastAPI], fake_model: FakeModelServer
) -> Iterator[TestClient]:
    with TestClient(make_openai_app()) as test_client:
        yield test_client
    assert fake_model.unscripted == 0, "the app asked the model more often than scripted"


def test_the_deltas_are_the_models_own_chunks(
    openai_client: TestClient, fake_model: FakeModelServer
) -> None:
    text = "Here is a longer answer, so that the model has to send it in several chunks."
    fake_model.push(answer(text))

    events = stream_chat(openai_client, "Say something long")

    done = check_turn(events)
    assert done["response"] == text
    assert done["tool_calls"] == []
    assert deltas(events) == [text[i : i + FAKE_CHUNK] for i in range(0, len(text), FAKE_CHUNK)]
    assert fake_model.requests[0]["stream"] is True
    check_stored(openai_client, done)


def test_a_tool_round_then_an_answer_streams_the_call_then_the_text(
    openai_client: TestClient, fake_model: FakeModelServer
) -> None:
    fake_model.push(
        calls(tool_call("add_task", {"title": "Buy milk"})),
        answer("I added 'Buy milk' to your list."),
    )

    events = stream_chat(openai_client, "Add buy milk")

    done = check_turn(events)
    assert [e.name for e in events[:2]] == ["start", "tool_call"]
    [call] = done["tool_calls"]
    assert call["name"] == "add_task" and call["arguments"] == {"title": "Buy milk"}
    assert call["result"]["status"] == "created"
    assert done["response"] == "I added 'Buy milk' to your list."
    assert len(deltas(events)) > 1
    assert [request["stream"] for request in fake_model.requests] == [True, True]
    # The call's id and arguments were put together from the streamed fragments.
    [assistant, tool] = fake_model.requests[1]["messages"][-2:]
    assert json.loads(assistant["tool_calls"][0]["function"]["arguments"]) == {"title": "Buy milk"}
    assert tool["tool_call_id"] == assistant["tool_calls"][0]["id"]
    assert json.loads(tool["content"]) == call["result"]
    check_stored(openai_client, done)
    tasks = openai_client.get("/api/alice/tasks", headers=ALICE).json()
    assert [t["title"] for t in tasks] == ["Buy milk"]


def test_text_said_before_a_tool_call_is_streamed_live_and_kept(
    openai_client: TestClient, fake_model: FakeModelServer
) -> None:
    fake_model.push(
        calls(tool_call("add_task", {"title": "Buy milk"}), content="Let me add that."),
        answer("Done: 'Buy milk' is on your list."),
    )

    events = stream_chat(openai_client, "Add buy milk")

    # The first round's words arrive before its tool call has run.
    done = check_turn(events, strict_order=False)
    names = [e.name for e in events]
    assert names.index("delta") < names.index("tool_call")
    assert done["response"] == "Let me add that.\n\nDone: 'Buy milk' is on your list."
    check_stored(openai_client, done)


@pytest.mark.parametrize("blank", ["\n\n", " "])
def test_blank_text_before_a_tool_call_is_not_streamed(
    openai_client: TestClient, fake_model: FakeModelServer, blank: str
) -> None:
    # Models often write a newline before their tool calls; the reply leaves a blank round out,
    # so the deltas must too, or they no longer concatenate to the stored reply.
    fake_model.push(
        calls(tool_call("list_tasks", {}), content=blank),
        answer("You have no tasks yet."),
    )

    events = stream_chat(openai_client, "What's on my list?")

    done = check_turn(events)
    assert done["response"] == "You have no tasks yet."
    check_stored(openai_client, done)


def test_a_blank_answer_streams_the_stored_fallback(
    openai_client: TestClient, fake_model: FakeModelServer
) -> None:
    fake_model.push(answer("  \n"))

    events = stream_chat(openai_client, "Hello?")

    done = check_turn(events)
    assert done["response"] == NO_ANSWER
    check_stored(openai_client, done)


def test_a_streamed_openai_turn_stores_what_a_json_turn_stores(
    openai_client: TestClient, fake_model: FakeModelServer
) -> None:
    script = (calls(tool_call("list_tasks", {})), answer("Your list is empty: add something!"))
    fake_model.push(*script)
    done = check_turn(stream_chat(openai_client, "What's on my list?"))
    fake_model.push(*script)
    answer_ = json_chat(openai_client, "What's on my list?")

    ids = {"conversation_id": 0, "message_id": 0, "turn_id": ""}
    assert done["turn_id"] != answer_["turn_id"]
    assert {**done, **ids} == {**answer_, **ids}
    streamed = messages(openai_client, done["conversation_id"])
    assert comparable(streamed) == comparable(messages(openai_client, answer_["conversation_id"]))
    assert [r.get("stream", False) for r in fake_model.requests] == [True, True, False, False]


def test_a_model_failing_mid_turn_streams_an_error_and_keeps_the_user_message(
    openai_client: TestClient, fake_model: FakeModelServer
) -> None:
    final_failure = replace(server_error(500), headers={"x-should-retry": "false"})
    fake_model.push(calls(tool_call("list_tasks", {})), final_failure)

    events = stream_chat(openai_client, "What's on my list?")

    assert [e.name for e in events] == ["start", "tool_call", "error"]
    conversation_id = events[0].data["conversation_id"]
    error = events[-1].data
    assert set(error) == {"detail", "conversation_id"}
    assert error["conversation_id"] == conversation_id
    assert "500" in error["detail"]
    assert comparable(messages(openai_client, conversation_id)) == [
        ("user", "What's on my list?", None)
    ]

    # The next turn works, and the failed one left no assistant message behind.
    fake_model.push(answer("Your list is empty."))
    done = check_turn(stream_chat(openai_client, "And now?", conversation_id))
    assert [m["role"] for m in check_stored(openai_client, done)] == ["user", "user", "assistant"]


def test_a_model_that_hangs_streams_a_time_out_error(
    make_openai_app: Callable[..., FastAPI], fake_model: FakeModelServer
) -> None:
    fake_model.push(hang(3.0, then=answer("(too late)")))

    with TestClient(make_openai_app(agent_timeout_s=0.5)) as client:
        events = stream_chat(client, "Anything?")

        assert [e.name for e in events] == ["start", "error"]
        conversation_id = events[0].data["conversation_id"]
        assert events[1].data["conversation_id"] == conversation_id
        assert "too long" in events[1].data["detail"]
        # Ended by the deadline, not by the model: one call, which the turn hung up on.
        assert len(fake_model.requests) == 1
        wait_until(lambda: fake_model.disconnected == 1)
        assert [m["role"] for m in messages(client, conversation_id)] == ["user"]


# -- a client that hangs up ------------------------------------------------------------------


@pytest.mark.usefixtures("engine")  # empty tables, migrated: the server uses the test database
def test_a_client_that_disconnects_mid_stream_loses_nothing(
    database_url: str, fake_model: FakeModelServer
) -> None:
    reply = "Sorry for the wait: you have nothing planned today."
    # The model answers only well after the client has gone.
    fake_model.push(hang(1.5, then=answer(reply)))
    env = {name.upper(): str(value) for name, value in fake_model.app_settings().items()}
    env.update(DATABASE_URL=database_url, APP_ENV="development", CHAT_RATE_LIMIT="0")

    with running_server(env) as base_url, httpx.Client(base_url=base_url, timeout=10) as http:
        body = {"message": "What should I do today?"}
        with http.stream(
            "POST", "/api/alice/chat", json=body, headers={**ALICE, **EVENT_STREAM}
        ) as response:
            assert response.status_code == 200
            first = next(read_events(response))
        # Leaving the block closed the connection after the first event.
        assert first.name == "start"
        conversation_id = first.data["conversation_id"]
        assert comparable(messages(http, conversation_id)) == [
            ("user", "What should I do today?", None)
        ]

        deadline = time.monotonic() + 10
        stored = messages(http, conversation_id)
        while len(stored) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
            stored = messages(http, conversation_id)

    assert comparable(stored) == [
        ("user", "What should I do today?", None),
        ("assistant", reply, []),
    ]
    assert fake_model.pending == 0
    assert fake_model.unscripted == 0
