"""Concurrency with nothing lost: many clients at once against a real uvicorn server.

The server is a `python -m uvicorn` process on 127.0.0.1 (conftest.py) on the test database
— SQLite by default, PostgreSQL with TEST_DATABASE_URL — and the clients are threads with their
own HTTP connections, released together by a barrier. What the database holds afterwards is
checked row by row: every user message and every reply stored once, each reply after its own
user message, no 5xx (a "database is locked" would be a 503), no lost update on a task.
"""

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from sqlalchemy import Engine
from sqlmodel import Session, select

from backend.app.models import Message, Task
from tests.conftest import auth

CLIENTS = 20
TURNS = 10
TIMEOUT_S = 60.0


def run_together(count: int, work: Callable[[int, httpx.Client], Any]) -> list[Any]:
    """Run `work(i, client)` in `count` threads released at the same instant; their results."""
    barrier = threading.Barrier(count)

    def one(index: int) -> Any:
        with httpx.Client(timeout=TIMEOUT_S) as client:
            barrier.wait()
            return work(index, client)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


def assert_no_server_error(responses: list[httpx.Response]) -> None:
    failed = [(r.status_code, r.text[:200]) for r in responses if r.status_code >= 500]
    assert not failed, f"{len(failed)} of {len(responses)} requests failed: {failed[:5]}"
    assert not [r for r in responses if "locked" in r.text]


def chat_line(client_index: int, turn: int) -> tuple[str, str]:
    """A message the rules agent turns into one add_task, and the title it will add."""
    tag = f"c{client_index:02d}-t{turn:02d}"
    return f"Add a task to buy item {tag}", f"Buy item {tag}"


def check_turns(session: Session, results: list[list[tuple[str, str, dict]]]) -> None:
    """Each (message, title, answer) of each client: user message and reply stored once each,
    the reply after its user message, in the answer's conversation, naming the right task."""
    messages = session.exec(select(Message).order_by(Message.id)).all()
    assert len(messages) == 2 * CLIENTS * TURNS
    by_content: dict[tuple[int, str, str], list[Message]] = {}
    for message in messages:
        key = (message.conversation_id, message.role, message.content)
        by_content.setdefault(key, []).append(message)
    by_id = {message.id: message for message in messages}
    for client_turns in results:
        for text, title, answer in client_turns:
            conversation_id = answer["conversation_id"]
            [user_message] = by_content[(conversation_id, "user", text)]
            reply = by_id[answer["message_id"]]
            assert reply.role == "assistant" and reply.conversation_id == conversation_id
            assert reply.content == answer["response"] and title in reply.content
            assert len(by_content[(conversation_id, "assistant", reply.content)]) == 1
            assert user_message.id < reply.id
    titles = sorted(task.title for task in session.exec(select(Task)).all())
    expected = sorted(title for turns in results for _, title, _ in turns)
    assert titles == expected  # every tool call ran exactly once


def test_twenty_clients_chat_in_one_conversation(server: str, engine: Engine) -> None:
    with httpx.Client(base_url=server) as client:
        first = client.post("/api/alice/conversations", json={"title": "shared"}, headers=auth())
    conversation_id = first.json()["id"]
    responses: list[httpx.Response] = []

    def chat(index: int, client: httpx.Client) -> list[tuple[str, str, dict]]:
        turns = []
        for turn in range(TURNS):
            text, title = chat_line(index, turn)
            response = client.post(
                f"{server}/api/alice/chat",
                json={"message": text, "conversation_id": conversation_id},
                headers=auth(),
            )
            responses.append(response)
            if response.status_code == 200:
                turns.append((text, title, response.json()))
        return turns

    results = run_together(CLIENTS, chat)
    assert_no_server_error(responses)
    assert {r.status_code for r in responses} == {200}
    with Session(engine) as session:
        check_turns(session, results)
        # In one conversation the turns interleave, but every reply has its own user message
        # before it: the user and assistant rows are exactly half and half.
        roles = [m.role for m in session.exec(select(Message).order_by(Message.id)).all()]
        assert roles.count("user") == roles.count("assistant") == CLIENTS * TURNS


def test_twenty_clients_chat_in_their_own_conversations(server: str, engine: Engine) -> None:
    responses: list[httpx.Response] = []

    def chat(index: int, client: httpx.Client) -> list[tuple[str, str, dict]]:
        user = f"user{index:02d}"
        conversation_id = None
        turns = []
        for turn in range(TURNS):
            text, title = chat_line(index, turn)
            response = client.post(
                f"{server}/api/{user}/chat",
                json={"message": text, "conversation_id": conversation_id},
                headers=auth(user),
            )
            responses.append(response)
            if response.status_code == 200:
                conversation_id = response.json()["conversation_id"]
                turns.append((text, title, response.json()))
        return turns

    results = run_together(CLIENTS, chat)
    assert_no_server_error(responses)
    assert {r.status_code for r in responses} == {200}
    with Session(engine) as session:
        check_turns(session, results)
        for index, turns in enumerate(results):
            [conversation_id] = {answer["conversation_id"] for _, _, answer in turns}
            rows = session.exec(
                select(Message)
                .where(Message.conversation_id == conversation_id)
                .order_by(Message.id)
            ).all()
            # Strictly alternating, in the order sent: the conversation reads as it was had.
            expected = []
            for text, _, answer in turns:
                expected += [("user", text), ("assistant", answer["response"])]
            assert [(m.role, m.content) for m in rows] == expected
            assert {m.user_id for m in rows} == {f"user{index:02d}"}


def test_concurrent_toggles_lose_no_update(server: str, engine: Engine) -> None:
    with httpx.Client(base_url=server) as client:
        task = client.post("/api/alice/tasks", json={"title": "Flip me"}, headers=auth()).json()
    responses: list[httpx.Response] = []

    def toggle(_index: int, client: httpx.Client) -> None:
        for _ in range(TURNS):
            responses.append(
                client.patch(f"{server}/api/alice/tasks/{task['id']}/complete", headers=auth())
            )

    run_together(CLIENTS, toggle)
    assert_no_server_error(responses)
    assert [r.status_code for r in responses] == [200] * CLIENTS * TURNS
    with Session(engine) as session:
        stored = session.get(Task, task["id"])
    # 200 toggles: an even number, so the task is back where it started unless one was lost.
    assert stored.completed is task["completed"] is False
    # Every answer shows a state some toggle produced: half of them completed, half reopened.
    states = [r.json()["completed"] for r in responses]
    assert 0 < states.count(True) < len(states)


def test_concurrent_edits_of_different_fields_all_survive(server: str, engine: Engine) -> None:
    with httpx.Client(base_url=server) as client:
        task = client.post("/api/alice/tasks", json={"title": "Start"}, headers=auth()).json()
    url = f"{server}/api/alice/tasks/{task['id']}"
    # One writer per field, all at once, each writing its field 10 times (PATCH and PUT both).
    writers: list[Callable[[int], dict[str, Any]]] = [
        lambda n: {"title": f"title {n}"},
        lambda n: {"description": f"description {n}"},
        lambda n: {"completed": n % 2 == 1},
    ]
    responses: list[httpx.Response] = []

    def edit(index: int, client: httpx.Client) -> None:
        for n in range(TURNS):
            method = client.patch if n % 2 else client.put
            responses.append(method(url, json=writers[index](n), headers=auth()))

    run_together(len(writers), edit)
    assert_no_server_error(responses)
    assert {r.status_code for r in responses} == {200}
    with Session(engine) as session:
        stored = session.get(Task, task["id"])
    last = TURNS - 1
    assert (stored.title, stored.description, stored.completed) == (
        f"title {last}",
        f"description {last}",
        last % 2 == 1,
    )
