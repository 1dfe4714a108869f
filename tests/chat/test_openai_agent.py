"""The chat turn through HTTP with the OpenAI agent, its model played by a real local server.

The app talks to FakeModelServer through the real OpenAI SDK (serialisation, retries and
time-outs included); the tests script the model's answers and read back what it was sent.
"""

import json
import time
from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from backend.app.agent.openai_loop import MAX_RETRIES, NO_ANSWER
from backend.app.agent.prompts import SYSTEM_PROMPT
from testkit.model_server import (
    FakeModelServer,
    answer,
    broken_off,
    calls,
    hang,
    server_error,
    tool_call,
)
from tests.conftest import auth

ALICE = auth("alice")
BOB = auth("bob")
ATTEMPTS = 1 + MAX_RETRIES  # the first try and the SDK's retries
TOOL_NAMES = ["add_task", "list_tasks", "complete_task", "delete_task", "update_task"]


@pytest.fixture(autouse=True)
def _script_not_overrun(fake_model: FakeModelServer) -> Iterator[None]:
    yield
    assert fake_model.unscripted == 0, "the app asked the model more often than scripted"


@pytest.fixture
def client(make_openai_app: Callable[..., FastAPI]) -> Iterator[TestClient]:
    """A client of an app whose agent is the OpenAI loop talking to `fake_model`."""
    with TestClient(make_openai_app()) as test_client:
        yield test_client


def chat(client: TestClient, message: str, conversation_id: int | None = None):
    body = {"message": message, "conversation_id": conversation_id}
    return client.post("/api/alice/chat", json=body, headers=ALICE)


def tasks(client: TestClient, headers: dict[str, str] = ALICE, user: str = "alice") -> list[dict]:
    response = client.get(f"/api/{user}/tasks", headers=headers)
    assert response.status_code == 200
    return response.json()


def messages(client: TestClient, conversation_id: int) -> list[dict]:
    page = client.get(
        f"/api/alice/conversations/{conversation_id}/messages?limit=100", headers=ALICE
    )
    assert page.status_code == 200
    return page.json()["data"]


def sent_messages(fake_model: FakeModelServer, index: int = -1) -> list[dict]:
    """The `messages` of one request the model received (the last one by default), with the
    system prompt's closing line (the current time in the user's zone, checked in
    test_timezone.py) taken off."""
    first, *rest = fake_model.requests[index]["messages"]
    assert first["content"].startswith(SYSTEM_PROMPT + "\n\nIt is now ")
    return [{**first, "content": SYSTEM_PROMPT}, *rest]


def system() -> dict:
    return {"role": "system", "content": SYSTEM_PROMPT}


# -- one turn with tools ---------------------------------------------------------------------


def test_a_tool_call_runs_and_the_answer_is_stored_with_it(
    client: TestClient, fake_model: FakeModelServer
) -> None:
    fake_model.push(
        calls(tool_call("add_task", {"title": "Buy groceries"}, call_id="call_add")),
        answer("I added 'Buy groceries' to your list."),
    )

    response = chat(client, "Add a task to buy groceries")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["response"] == "I added 'Buy groceries' to your list."
    [task] = tasks(client)
    assert task["title"] == "Buy groceries"
    assert task["completed"] is False
    result = {"task_id": task["id"], "status": "created", "title": "Buy groceries"}
    assert body["tool_calls"] == [
        {"name": "add_task", "arguments": {"title": "Buy groceries"}, "result": result}
    ]

    stored = messages(client, body["conversation_id"])
    assert [(m["role"], m["content"]) for m in stored] == [
        ("user", "Add a task to buy groceries"),
        ("assistant", body["response"]),
    ]
    assert stored[0]["tool_calls"] is None
    assert stored[1]["tool_calls"] == body["tool_calls"]
    assert stored[1]["id"] == body["message_id"]

    first, second = fake_model.received
    assert first.headers["authorization"] == "Bearer test-key"
    assert first.body["model"] == fake_model.model_name
    assert first.body["tool_choice"] == "auto"
    assert not first.body.get("stream")
    assert sent_messages(fake_model, 0) == [
        system(),
        {"role": "user", "content": "Add a task to buy groceries"},
    ]
    sent_system, sent_user, sent_assistant, sent_tool = sent_messages(fake_model, 1)
    assert sent_system == system()
    assert sent_user == {"role": "user", "content": "Add a task to buy groceries"}
    assert sent_assistant["role"] == "assistant"
    assert sent_assistant["tool_calls"] == [
        {
            "id": "call_add",
            "type": "function",
            "function": {"name": "add_task", "arguments": json.dumps({"title": "Buy groceries"})},
        }
    ]
    assert sent_tool["role"] == "tool"
    assert sent_tool["tool_call_id"] == "call_add"
    assert json.loads(sent_tool["content"]) == result


def test_the_model_is_offered_the_five_tools_without_a_user_id(
    client: TestClient, fake_model: FakeModelServer
) -> None:
    fake_model.push(answer("Hello!"))

    assert chat(client, "Hi").status_code == 200

    tools = fake_model.requests[0]["tools"]
    assert [tool["function"]["name"] for tool in tools] == TOOL_NAMES
    for tool in tools:
        assert tool["type"] == "function"
        assert tool["function"]["description"]
        parameters = tool["function"]["parameters"]
        assert parameters["type"] == "object"
        assert isinstance(parameters["properties"], dict)
    by_name = {tool["function"]["name"]: tool["function"]["parameters"] for tool in tools}
    assert by_name["add_task"]["required"] == ["title"]
    assert set(by_name["add_task"]["properties"]) == {
        "title", "description", "due_at", "priority", "tags", "recurrence"
    }  # fmt: skip
    assert by_name["list_tasks"]["properties"]["status"]["enum"] == ["all", "pending", "completed"]
    for name in ("complete_task", "delete_task", "update_task"):
        assert by_name[name]["required"] == ["task_id"]
        assert by_name[name]["properties"]["task_id"]["type"] == "integer"
    assert "user_id" not in json.dumps(tools)


def test_two_tool_calls_in_one_round_run_in_order(
    client: TestClient, fake_model: FakeModelServer
) -> None:
    fake_model.push(
        calls(
            tool_call("add_task", {"title": "Buy milk"}, call_id="call_1"),
            tool_call("add_task", {"title": "Call mom"}, call_id="call_2"),
        ),
        answer("Added both."),
    )

    body = chat(client, "Add buy milk and call mom").json()

    milk, mom = tasks(client)
    assert (milk["title"], mom["title"]) == ("Buy milk", "Call mom")
    assert milk["id"] < mom["id"]
    assert body["tool_calls"] == [
        {
            "name": "add_task",
            "arguments": {"title": "Buy milk"},
            "result": {"task_id": milk["id"], "status": "created", "title": "Buy milk"},
        },
        {
            "name": "add_task",
            "arguments": {"title": "Call mom"},
            "result": {"task_id": mom["id"], "status": "created", "title": "Call mom"},
        },
    ]
    *_, sent_assistant, tool_1, tool_2 = sent_messages(fake_model)
    assert [call["id"] for call in sent_assistant["tool_calls"]] == ["call_1", "call_2"]
    assert (tool_1["tool_call_id"], tool_2["tool_call_id"]) == ("call_1", "call_2")
    assert json.loads(tool_1["content"])["task_id"] == milk["id"]
    assert json.loads(tool_2["content"])["task_id"] == mom["id"]


def test_an_answer_without_tools_ends_the_turn(
    client: TestClient, fake_model: FakeModelServer
) -> None:
    fake_model.push(answer("I can help you manage your tasks."))

    response = chat(client, "What can you do?")

    assert response.status_code == 200
    body = response.json()
    assert body["response"] == "I can help you manage your tasks."
    assert body["tool_calls"] == []
    assert len(fake_model.requests) == 1
    assert tasks(client) == []
    stored = messages(client, body["conversation_id"])
    assert [m["role"] for m in stored] == ["user", "assistant"]
    assert stored[1]["content"] == body["response"]
    assert not stored[1]["tool_calls"]


def parse_events(text: str) -> list[tuple[str, dict]]:
    """Server-Sent Events as (event, data) pairs, comments (keep-alives) left out."""
    events = []
    for block in text.strip().split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in block.splitlines() if not line.startswith(":")
        )
        if fields:
            events.append((fields["event"], json.loads(fields["data"])))
    return events


def test_a_streamed_turn_tells_the_tool_call_and_the_answer(
    client: TestClient, fake_model: FakeModelServer
) -> None:
    fake_model.push(
        calls(tool_call("add_task", {"title": "Buy bread"})),
        answer("I added 'Buy bread' to your list."),
    )

    response = client.post(
        "/api/alice/chat",
        json={"message": "Add buy bread"},
        headers={**ALICE, "Accept": "text/event-stream"},
    )

    assert response.status_code == 200
    events = parse_events(response.text)
    names = [name for name, _ in events]
    assert names[0] == "start" and names[1] == "tool_call" and names[-1] == "done"
    assert set(names[2:-1]) == {"delta"}
    done = events[-1][1]
    assert "".join(data["text"] for name, data in events if name == "delta") == done["response"]
    assert done["response"] == "I added 'Buy bread' to your list."
    assert events[1][1] == done["tool_calls"][0]
    assert events[0][1] == {"conversation_id": done["conversation_id"], "turn_id": done["turn_id"]}
    assert [t["title"] for t in tasks(client)] == ["Buy bread"]
    stored = messages(client, done["conversation_id"])
    assert [m["role"] for m in stored] == ["user", "assistant"]
    assert stored[1]["id"] == done["message_id"]


# -- the model failing -----------------------------------------------------------------------


def test_a_model_stream_that_breaks_off_ends_the_turn_with_an_error_event(
    client: TestClient, fake_model: FakeModelServer
) -> None:
    fake_model.push(broken_off(answer("Here is a long answer, word by word, until it stops."), 3))

    response = client.post(
        "/api/alice/chat",
        json={"message": "Tell me a story"},
        headers={**ALICE, "Accept": "text/event-stream"},
    )

    assert response.status_code == 200
    events = parse_events(response.text)
    name, error = events[-1]
    assert name == "error", events
    assert "the model's stream broke off" in error["detail"], error
    assert len(fake_model.requests) == 1  # a stream cut mid-way is not asked again
    stored = messages(client, error["conversation_id"])
    assert [m["role"] for m in stored] == ["user"]  # kept; no half answer


def test_a_failing_model_is_a_502_that_keeps_the_user_message(
    client: TestClient, fake_model: FakeModelServer
) -> None:
    fake_model.push(*[server_error(500, retry_after_ms=10) for _ in range(ATTEMPTS)])

    response = chat(client, "Add a task to buy groceries")

    assert response.status_code == 502
    body = response.json()
    assert isinstance(body["detail"], str)
    assert body["detail"].endswith(".")
    assert isinstance(body["conversation_id"], int)
    conversation_id = body["conversation_id"]
    assert len(fake_model.requests) == ATTEMPTS  # every attempt of the SDK failed
    stored = messages(client, conversation_id)
    assert [(m["role"], m["content"]) for m in stored] == [("user", "Add a task to buy groceries")]
    assert tasks(client) == []

    # The next turn works and continues the same conversation.
    fake_model.push(answer("Sorry about that! What would you like to add?"))
    retry = chat(client, "Are you there?", conversation_id)

    assert retry.status_code == 200, retry.text
    assert retry.json()["conversation_id"] == conversation_id
    assert sent_messages(fake_model) == [
        system(),
        {"role": "user", "content": "Add a task to buy groceries"},
        {"role": "user", "content": "Are you there?"},
    ]
    stored = messages(client, conversation_id)
    assert [(m["role"], m["content"]) for m in stored] == [
        ("user", "Add a task to buy groceries"),
        ("user", "Are you there?"),
        ("assistant", "Sorry about that! What would you like to add?"),
    ]


def test_a_passing_server_error_is_retried(client: TestClient, fake_model: FakeModelServer) -> None:
    fake_model.push(server_error(503, retry_after_ms=10), answer("Hello again!"))

    response = chat(client, "Hi")

    assert response.status_code == 200, response.text
    assert response.json()["response"] == "Hello again!"
    first, retry = fake_model.requests
    assert retry == first


def test_a_model_refusing_the_request_is_a_502(
    client: TestClient, fake_model: FakeModelServer
) -> None:
    fake_model.push(server_error(400, "Invalid 'messages': too long."))  # not retried

    response = chat(client, "Hi")

    assert response.status_code == 502
    assert "conversation_id" in response.json()
    assert len(fake_model.requests) == 1


def test_a_retry_wait_past_the_deadline_ends_the_turn_at_the_deadline(
    make_openai_app: Callable[..., FastAPI], fake_model: FakeModelServer
) -> None:
    # The SDK's own retry policy waits as the server's Retry-After says; the turn's deadline
    # bounds that wait too, and the user message stays for the next try.
    fake_model.push(server_error(429, "Rate limit reached.", retry_after_ms=60_000))
    with TestClient(make_openai_app(agent_timeout_s=1)) as client:
        response = chat(client, "Hi")

        # A 504, so the deadline ended the wait: once the wait was over the retry would have
        # found the script empty (a 502).
        assert response.status_code == 504
        assert len(fake_model.requests) == 1
        stored = messages(client, response.json()["conversation_id"])
        assert [m["role"] for m in stored] == ["user"]


def test_an_unreachable_model_server_is_a_502(
    make_openai_app: Callable[..., FastAPI], fake_model: FakeModelServer
) -> None:
    with TestClient(make_openai_app()) as client:
        fake_model.stop()
        response = chat(client, "Hi")

        assert response.status_code == 502
        assert "could not be reached" in response.json()["detail"]
        stored = messages(client, response.json()["conversation_id"])
        assert [m["role"] for m in stored] == ["user"]


def test_a_model_that_hangs_is_a_504_within_the_time_out(
    make_openai_app: Callable[..., FastAPI], fake_model: FakeModelServer
) -> None:
    fake_model.push(*[hang(3) for _ in range(ATTEMPTS)])
    with TestClient(make_openai_app(agent_timeout_s=1)) as client:
        response = chat(client, "Add a task to buy groceries")

        assert response.status_code == 504
        body = response.json()
        assert isinstance(body["detail"], str)
        conversation_id = body["conversation_id"]
        # The time-out bounds the whole turn, retries included: one call (each hangs 3 s, far
        # past the 1 s deadline) and no retry after it ...
        assert len(fake_model.requests) == 1
        # ... and cancels the model call: its connection is closed, not left waiting.
        deadline = time.monotonic() + 2
        while fake_model.disconnected < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert fake_model.disconnected == 1
        stored = messages(client, conversation_id)
        assert [(m["role"], m["content"]) for m in stored] == [
            ("user", "Add a task to buy groceries")
        ]


# -- tools refusing what the model asks ------------------------------------------------------


@pytest.mark.parametrize(
    ("raw_arguments", "error_start"),
    [
        ("{not json", "the arguments were not valid JSON"),
        ('["Buy milk"]', "the arguments must be a JSON object"),
        ('{"name": "Buy milk"}', "invalid arguments"),
        # Python's json reads these; stored, they would break every later listing.
        ('{"title": NaN}', "the arguments were not valid JSON"),
        ('{"title": "Buy milk", "n": -Infinity}', "the arguments were not valid JSON"),
    ],
)
def test_bad_tool_arguments_become_an_error_result(
    client: TestClient, fake_model: FakeModelServer, raw_arguments: str, error_start: str
) -> None:
    fake_model.push(
        calls(tool_call("add_task", raw_arguments, call_id="call_bad")),
        answer("Sorry, I could not add that."),
    )

    response = chat(client, "Add a task to buy milk")

    assert response.status_code == 200, response.text
    [call] = response.json()["tool_calls"]
    assert call["name"] == "add_task"
    assert call["result"]["error"].startswith(error_start)
    assert tasks(client) == []
    *_, sent_tool = sent_messages(fake_model)
    assert sent_tool["tool_call_id"] == "call_bad"
    assert json.loads(sent_tool["content"]) == call["result"]


def test_an_unknown_tool_becomes_an_error_result(
    client: TestClient, fake_model: FakeModelServer
) -> None:
    fake_model.push(calls(tool_call("drop_database", {})), answer("I can't do that."))

    response = chat(client, "Drop everything")

    assert response.status_code == 200
    [call] = response.json()["tool_calls"]
    assert call["result"] == {"error": "unknown tool 'drop_database'", "code": "unknown_tool"}


@pytest.mark.parametrize(
    ("asked_name", "stored_name"),
    [("", "(no name)"), ("x" * 300, "x" * 100), ("add\x00task", "addtask")],
)
def test_a_tool_name_no_tool_has_is_answered_and_stored_readable(
    client: TestClient, fake_model: FakeModelServer, asked_name: str, stored_name: str
) -> None:
    fake_model.push(calls(tool_call(asked_name, {})), answer("Sorry, that went wrong."))

    response = chat(client, "Add milk")

    assert response.status_code == 200, response.text
    [call] = response.json()["tool_calls"]
    assert call["name"] == stored_name
    assert call["result"]["code"] == "unknown_tool"
    [_, stored] = messages(client, response.json()["conversation_id"])
    assert stored["tool_calls"] == response.json()["tool_calls"]


def test_the_model_cannot_touch_another_users_task(
    client: TestClient, fake_model: FakeModelServer
) -> None:
    created = client.post("/api/bob/tasks", json={"title": "Bob's secret"}, headers=BOB)
    assert created.status_code == 201
    bob_task = created.json()
    task_id = bob_task["id"]
    fake_model.push(
        calls(
            tool_call("complete_task", {"task_id": task_id}),
            tool_call("update_task", {"task_id": task_id, "title": "Hacked"}),
            tool_call("delete_task", {"task_id": task_id}),
            tool_call("list_tasks", {"status": "all"}),
        ),
        answer("I couldn't find that task."),
    )

    response = chat(client, f"Complete task {task_id}")

    assert response.status_code == 200, response.text
    results = [call["result"] for call in response.json()["tool_calls"]]
    not_found = {"error": f"task {task_id} not found", "code": "not_found"}
    assert results == [not_found, not_found, not_found, []]
    assert tasks(client, BOB, "bob") == [bob_task]


def test_a_user_id_argument_is_refused(client: TestClient, fake_model: FakeModelServer) -> None:
    bob_task = client.post("/api/bob/tasks", json={"title": "Bob's task"}, headers=BOB).json()
    fake_model.push(
        calls(
            tool_call("add_task", {"title": "Planted", "user_id": "bob"}),
            tool_call("complete_task", {"task_id": bob_task["id"], "user_id": "bob"}),
            tool_call("list_tasks", {"user_id": "bob"}),
        ),
        answer("Done."),
    )

    response = chat(client, "Act for bob")

    assert response.status_code == 200, response.text
    for call in response.json()["tool_calls"]:
        assert call["result"]["error"].startswith("invalid arguments")
        assert "user_id" in call["result"]["error"]
    assert tasks(client, BOB, "bob") == [bob_task]
    assert tasks(client) == []


# -- history ---------------------------------------------------------------------------------


def test_the_next_turn_sends_the_history_with_tool_calls_replayed(
    client: TestClient, fake_model: FakeModelServer
) -> None:
    fake_model.push(
        calls(tool_call("add_task", {"title": "Pay bills"})),
        answer("Added 'Pay bills'."),
    )
    first = chat(client, "Remind me to pay bills").json()
    fake_model.push(answer("You have one task: Pay bills."))

    second = chat(client, "What's on my list?", first["conversation_id"])

    assert second.status_code == 200, second.text
    assert second.json()["conversation_id"] == first["conversation_id"]
    sent = sent_messages(fake_model)
    [earlier_call] = first["tool_calls"]
    assert sent[0] == system()
    assert sent[1] == {"role": "user", "content": "Remind me to pay bills"}
    assert sent[2]["role"] == "assistant"
    [replayed] = sent[2]["tool_calls"]
    assert replayed["type"] == "function"
    assert replayed["function"]["name"] == "add_task"
    assert json.loads(replayed["function"]["arguments"]) == {"title": "Pay bills"}
    assert sent[3]["role"] == "tool"
    assert sent[3]["tool_call_id"] == replayed["id"]
    assert json.loads(sent[3]["content"]) == earlier_call["result"]
    assert sent[4] == {"role": "assistant", "content": "Added 'Pay bills'."}
    assert sent[5] == {"role": "user", "content": "What's on my list?"}
    assert len(sent) == 6


def test_only_the_history_window_is_sent(
    make_openai_app: Callable[..., FastAPI], fake_model: FakeModelServer
) -> None:
    with TestClient(make_openai_app(chat_history_window=2)) as client:
        conversation_id = None
        for turn in range(1, 6):
            fake_model.push(answer(f"answer {turn}"))
            response = chat(client, f"message {turn}", conversation_id)
            assert response.status_code == 200, response.text
            conversation_id = response.json()["conversation_id"]
        fake_model.push(answer("answer 6"))

        assert chat(client, "message 6", conversation_id).status_code == 200

        assert sent_messages(fake_model) == [
            system(),
            {"role": "user", "content": "message 5"},
            {"role": "assistant", "content": "answer 5"},
            {"role": "user", "content": "message 6"},
        ]
        assert len(messages(client, conversation_id)) == 12


def test_a_conversation_continues_across_a_restart(
    make_app: Callable[..., FastAPI], fake_model: FakeModelServer
) -> None:
    fake_model.push(
        calls(tool_call("add_task", {"title": "Water the plants"})),
        answer("Added 'Water the plants'."),
    )
    with TestClient(make_app(**fake_model.app_settings())) as before:
        first = chat(before, "Add water the plants").json()

    # A new app instance (another process, or the same after a restart) on the same database.
    with (
        FakeModelServer() as other_model,
        TestClient(make_app(**other_model.app_settings())) as after,
    ):
        other_model.push(answer("You asked me to add 'Water the plants'."))
        response = chat(after, "What did I ask you?", first["conversation_id"])

        assert response.status_code == 200, response.text
        assert response.json()["conversation_id"] == first["conversation_id"]
        [request] = other_model.requests
        sent = request["messages"]
        roles = [m["role"] for m in sent]
        assert roles == ["system", "user", "assistant", "tool", "assistant", "user"]
        assert sent[1]["content"] == "Add water the plants"
        assert sent[2]["tool_calls"][0]["function"]["name"] == "add_task"
        assert json.loads(sent[3]["content"]) == first["tool_calls"][0]["result"]
        assert sent[4]["content"] == "Added 'Water the plants'."
        assert [m["role"] for m in messages(after, first["conversation_id"])] == [
            "user",
            "assistant",
            "user",
            "assistant",
        ]
    assert len(fake_model.requests) == 2


# -- the round limit -------------------------------------------------------------------------


def test_a_model_that_keeps_calling_tools_is_stopped_after_the_round_limit(
    make_openai_app: Callable[..., FastAPI], fake_model: FakeModelServer
) -> None:
    fake_model.push(
        calls(tool_call("list_tasks", {})),
        calls(tool_call("list_tasks", {"status": "pending"})),
        answer("You have no tasks."),
    )
    with TestClient(make_openai_app(agent_max_tool_rounds=2)) as client:
        response = chat(client, "Show my tasks")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["response"] == "You have no tasks."
    assert [call["name"] for call in body["tool_calls"]] == ["list_tasks", "list_tasks"]
    requests = fake_model.requests
    assert [request["tool_choice"] for request in requests] == ["auto", "auto", "none"]
    assert requests[2]["tools"] == requests[0]["tools"]  # offered, but not to be called
    assert fake_model.pending == 0


def test_tool_calls_asked_for_after_the_last_round_are_not_run(
    make_openai_app: Callable[..., FastAPI], fake_model: FakeModelServer
) -> None:
    # Some servers ignore `tool_choice: "none"`; the turn still ends, with a non-blank answer.
    fake_model.push(
        calls(tool_call("list_tasks", {})),
        calls(tool_call("add_task", {"title": "One more"})),
    )
    with TestClient(make_openai_app(agent_max_tool_rounds=1)) as client:
        response = chat(client, "Show my tasks")

        assert response.status_code == 200, response.text
        body = response.json()
        assert [call["name"] for call in body["tool_calls"]] == ["list_tasks"]
        assert body["response"] == NO_ANSWER
        assert tasks(client) == []
        assert messages(client, body["conversation_id"])[1]["content"] == NO_ANSWER


def test_an_empty_answer_is_never_stored_blank(
    client: TestClient, fake_model: FakeModelServer
) -> None:
    fake_model.push(answer(""))

    response = chat(client, "Hi")

    assert response.status_code == 200, response.text
    assert response.json()["response"] == NO_ANSWER
    stored = messages(client, response.json()["conversation_id"])
    assert stored[1]["content"] == NO_ANSWER


@pytest.mark.parametrize(
    ("status", "cause", "setting"),
    [(401, "rejected the API key (401)", "OPENAI_API_KEY"), (404, "model (404)", "OPENAI_MODEL")],
)
def test_a_misconfigured_model_says_what_to_fix_not_try_again(
    client: TestClient, fake_model: FakeModelServer, status: int, cause: str, setting: str
) -> None:
    fake_model.push(server_error(status, "Incorrect API key provided."))

    response = chat(client, "Hi")

    assert response.status_code == 502
    detail = response.json()["detail"]
    assert cause in detail and setting in detail
    assert "try again" not in detail
    assert len(fake_model.requests) == 1  # not retried: it cannot get better by itself
