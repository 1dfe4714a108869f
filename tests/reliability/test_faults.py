"""Faults at every edge: the database, the model, the JWKS server, Redis, the process itself.

Each outside service is real or a real local stand-in reached over a socket (nothing of ours is
patched): PostgreSQL connections are killed with pg_terminate_backend, the model is a local
server that fails, hangs or answers garbage, Redis sits behind a TCP proxy that is cut, and the
server process is killed with SIGKILL and started again.
"""

import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, text
from sqlmodel import Session, select

from backend.app.db import make_engine
from backend.app.models import Message, User
from testkit.auth_server import JwksServer, make_signing_key
from testkit.model_server import FakeModelServer, answer, calls, hang, server_error, tool_call
from testkit.processes import running_server, server_process
from tests.conftest import auth

ALICE = auth("alice")


def chat(client: TestClient | httpx.Client, message: str, conversation_id: int | None = None):
    body = {"message": message, "conversation_id": conversation_id}
    return client.post("/api/alice/chat", json=body, headers=ALICE)


def stored_messages(engine: Engine) -> list[tuple[int, str, str]]:
    with Session(engine) as session:
        rows = session.exec(select(Message).order_by(Message.id)).all()
        return [(m.conversation_id, m.role, m.content) for m in rows]


def assert_clean_error(response: httpx.Response, status: int) -> dict:
    """The status asked for, with a JSON body whose `detail` is a sentence (never a traceback)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"].endswith(".")
    assert "Traceback" not in response.text
    return body


# ---------------------------------------------------------------------------------------------
# The database goes away (PostgreSQL: connections killed by the server)
# ---------------------------------------------------------------------------------------------

TERMINATE_OTHERS = text(
    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
)
WAITING_ON_A_LOCK = text(
    "SELECT count(*) FROM pg_stat_activity "
    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
)


@pytest.fixture
def postgres_admin(database_url: str, engine: Engine) -> Iterator[Connection]:
    """A connection of the test's own to the PostgreSQL test database (skipped on SQLite)."""
    if not database_url.startswith("postgresql"):
        pytest.skip(
            "pg_terminate_backend needs PostgreSQL: this suite runs on SQLite "
            "(set TEST_DATABASE_URL=postgresql://...; CI's PostgreSQL pass runs it)"
        )
    admin = make_engine(database_url)
    with admin.connect() as connection:
        yield connection
    admin.dispose()


def test_killed_idle_connections_are_replaced_before_the_next_request(
    client: TestClient, postgres_admin: Connection
) -> None:
    assert client.get("/api/alice/tasks", headers=ALICE).status_code == 200  # pool warmed
    killed = postgres_admin.execute(TERMINATE_OTHERS).scalar_one()
    postgres_admin.commit()
    assert killed >= 1

    # pool_pre_ping finds the dead connection and opens a new one: the user sees nothing.
    for _ in range(3):
        response = client.get("/api/alice/tasks", headers=ALICE)
        assert response.status_code == 200, response.text


def test_a_connection_killed_mid_request_is_a_503_and_the_next_request_works(
    client: TestClient, postgres_admin: Connection
) -> None:
    assert client.post("/api/alice/tasks", json={"title": "Kept"}, headers=ALICE).status_code == 201
    # Hold the tasks table so the next request is stuck inside its query, connection in hand.
    postgres_admin.execute(text("LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE"))
    result: list[httpx.Response] = []
    request = threading.Thread(
        target=lambda: result.append(client.get("/api/alice/tasks", headers=ALICE))
    )
    request.start()
    deadline = time.monotonic() + 10
    while postgres_admin.execute(WAITING_ON_A_LOCK).scalar_one() == 0:
        assert time.monotonic() < deadline, "the request never reached its query"
        time.sleep(0.02)

    postgres_admin.execute(TERMINATE_OTHERS)
    request.join(timeout=10)
    postgres_admin.rollback()  # releases the lock

    assert_clean_error(result[0], 503)
    response = client.get("/api/alice/tasks", headers=ALICE)
    assert response.status_code == 200, response.text
    assert [task["title"] for task in response.json()] == ["Kept"]


def test_connections_killed_while_the_model_thinks_do_not_fail_the_turn(
    make_openai_app: Callable[..., FastAPI],
    fake_model: FakeModelServer,
    postgres_admin: Connection,
    engine: Engine,
) -> None:
    # Found by this test: the turn held a connection, idle in a transaction, through each model
    # call; killed meanwhile, the turn failed with a 503 after the model had answered.
    fake_model.push(
        hang(0.5, then=calls(tool_call("add_task", {"title": "Buy milk"}))),
        hang(0.5, then=answer("Added 'Buy milk'.")),
    )
    with TestClient(make_openai_app()) as client:
        result: list[httpx.Response] = []
        turn = threading.Thread(target=lambda: result.append(chat(client, "Add buy milk")))
        turn.start()
        for model_round in (1, 2):  # kill every connection while each round is thinking
            deadline = time.monotonic() + 5
            while len(fake_model.received) < model_round:
                assert time.monotonic() < deadline
                time.sleep(0.01)
            postgres_admin.execute(TERMINATE_OTHERS)
            postgres_admin.commit()
        turn.join(timeout=10)

        assert result[0].status_code == 200, result[0].text
        assert [t["title"] for t in client.get("/api/alice/tasks", headers=ALICE).json()] == [
            "Buy milk"
        ]
    assert [(role, content) for _, role, content in stored_messages(engine)] == [
        ("user", "Add buy milk"),
        ("assistant", "Added 'Buy milk'."),
    ]


# ---------------------------------------------------------------------------------------------
# The model fails, hangs or answers garbage
# ---------------------------------------------------------------------------------------------


class RawModelServer:
    """A model endpoint answering every request with the same raw bytes (garbage included)."""

    def __init__(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.requests = 0
        reply = (status, body, content_type)
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server.requests += 1
                status, body, content_type = reply
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)

    def __enter__(self) -> "RawModelServer":
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


GARBAGE = {
    "not JSON": (200, b"<html>502 Bad Gateway</html>", "text/html"),
    "truncated JSON": (200, b'{"id": "chatcmpl-1", "choices": [', "application/json"),
    "JSON but not an object": (200, b'["hello"]', "application/json"),
    "no choices": (200, b'{"id": "chatcmpl-1", "object": "chat.completion"}', "application/json"),
    "empty choices": (200, b'{"id": "c", "choices": [], "model": "m"}', "application/json"),
    "choice without a message": (
        200,
        b'{"id": "c", "choices": [{"index": 0}]}',
        "application/json",
    ),
}


@pytest.mark.parametrize(("status", "body", "content_type"), GARBAGE.values(), ids=GARBAGE.keys())
def test_a_model_answering_garbage_is_a_502_that_keeps_the_message(
    make_app: Callable[..., FastAPI], engine: Engine, status: int, body: bytes, content_type: str
) -> None:
    with RawModelServer(status, body, content_type) as model:
        settings = {
            "agent": "openai",
            "openai_base_url": model.base_url,
            "openai_api_key": "test-key",
            "agent_timeout_s": 5.0,
        }
        with TestClient(make_app(**settings)) as client:
            failed = assert_clean_error(chat(client, "Add a task to buy milk"), 502)
            # Named as the model's fault (not an anonymous crash of ours).
            assert "the model" in failed["detail"], failed
            assert model.requests >= 1
            # The user message stays stored, and no assistant message or task was made.
            assert stored_messages(engine) == [
                (failed["conversation_id"], "user", "Add a task to buy milk")
            ]
            assert client.get("/api/alice/tasks", headers=ALICE).json() == []


def test_a_failing_then_hanging_model_is_502_then_504_and_the_next_turn_works(
    make_openai_app: Callable[..., FastAPI], fake_model: FakeModelServer, engine: Engine
) -> None:
    with TestClient(make_openai_app(agent_timeout_s=0.5)) as client:
        fake_model.push(server_error(400, "Bad request."))  # not retried
        failed = assert_clean_error(chat(client, "first"), 502)
        conversation_id = failed["conversation_id"]

        fake_model.push(hang(2.0))  # a time-out leaves no time for a retry
        timed_out = assert_clean_error(chat(client, "second", conversation_id), 504)
        assert timed_out["conversation_id"] == conversation_id

        fake_model.push(answer("Back again."))
        assert chat(client, "third", conversation_id).status_code == 200

    assert [(role, content) for _, role, content in stored_messages(engine)] == [
        ("user", "first"),
        ("user", "second"),
        ("user", "third"),
        ("assistant", "Back again."),
    ]


# ---------------------------------------------------------------------------------------------
# The JWKS server is down
# ---------------------------------------------------------------------------------------------


def test_the_jwks_server_down_is_a_503_and_nothing_is_stored(
    make_app: Callable[..., FastAPI], engine: Engine
) -> None:
    key = make_signing_key("EdDSA")
    jwks = JwksServer([key]).start()
    app = make_app(app_env="production", auth_jwks_url=jwks.url, auth_jwt_secret=None)
    jwks.stop()  # before the first token: no key is cached
    with TestClient(app) as client:
        headers = {"Authorization": f"Bearer {key.sign('alice')}"}
        response = client.post("/api/alice/tasks", json={"title": "x"}, headers=headers)
        assert_clean_error(response, 503)
    with Session(engine) as session:
        assert session.exec(select(User)).all() == []


# ---------------------------------------------------------------------------------------------
# Redis goes away: the chat is served without limits
# ---------------------------------------------------------------------------------------------


class CuttableProxy:
    """A TCP proxy to a real Redis that can be cut: its port then refuses connections, and the
    connections already open are closed — Redis going down, as the app sees it."""

    def __init__(self, target_port: int) -> None:
        self._target = ("127.0.0.1", target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self._target)
            with self._lock:
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        # shutdown() first: close() alone leaves a listener blocked in accept() accepting.
        self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()


def test_redis_going_down_mid_life_serves_the_chat(
    make_app: Callable[..., FastAPI], redis_url: str
) -> None:
    proxy = CuttableProxy(6379)
    user = f"faults-{os.getpid()}-{time.monotonic_ns()}"
    headers = auth(user)
    settings = {
        "chat_rate_limit": "2/minute",
        "rate_limit_storage_url": f"redis://127.0.0.1:{proxy.port}",
    }
    body = {"message": "Show me all my tasks"}
    with TestClient(make_app(**settings)) as client:
        # Redis up: the limit holds.
        codes = [
            client.post(f"/api/{user}/chat", json=body, headers=headers).status_code
            for _ in range(3)
        ]
        assert codes == [200, 200, 429]

        proxy.cut()
        codes = [
            client.post(f"/api/{user}/chat", json=body, headers=headers).status_code
            for _ in range(3)
        ]
        assert codes == [200, 200, 200]  # served (fail open), over the limit or not


def test_a_redis_that_accepts_but_never_answers_does_not_hang_the_chat(
    make_app: Callable[..., FastAPI],
) -> None:
    # A listening socket nobody reads: the TCP handshake succeeds, no reply ever comes. Without
    # socket time-outs of its own the limiter would wait forever; with them every turn is served.
    with socket.create_server(("127.0.0.1", 0), backlog=64) as silent:
        url = f"redis://127.0.0.1:{silent.getsockname()[1]}"
        app = make_app(chat_rate_limit="2/minute", rate_limit_storage_url=url)
        with TestClient(app) as client, ThreadPoolExecutor(max_workers=1) as pool:
            turns = [pool.submit(chat, client, "Show me all my tasks") for _ in range(3)]
            # A guard against hanging forever, not a claim about speed.
            codes = [turn.result(timeout=60).status_code for turn in turns]
            assert codes == [200, 200, 200]  # over the limit too: it could not be counted


# ---------------------------------------------------------------------------------------------
# The server process is killed (SIGKILL) and started again
# ---------------------------------------------------------------------------------------------


def test_a_conversation_continues_across_sigkill_and_restart(
    database_url: str,
    engine: Engine,
    fake_model: FakeModelServer,
) -> None:
    env = {
        "DATABASE_URL": database_url,
        "CHAT_RATE_LIMIT": "0",
        **{key.upper(): str(value) for key, value in fake_model.app_settings().items()},
    }

    with server_process(env) as (process, base_url):
        fake_model.push(answer("Noted."))
        with httpx.Client(base_url=base_url, timeout=10) as client:
            first = chat(client, "Remember the milk")
        assert first.status_code == 200, first.text
        conversation_id = first.json()["conversation_id"]

        # The next turn is under way (the model is thinking) when the process is killed
        # outright: no shutdown, no cleanup, its connections cut.
        fake_model.push(hang(5.0, then=answer("(never stored)")))
        outcome: list[BaseException | httpx.Response] = []

        def second_turn() -> None:
            try:
                with httpx.Client(base_url=base_url, timeout=10) as client:
                    outcome.append(chat(client, "Are you there?", conversation_id))
            except httpx.TransportError as exc:
                outcome.append(exc)

        turn = threading.Thread(target=second_turn)
        turn.start()
        deadline = time.monotonic() + 5
        while len(fake_model.received) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(timeout=10) == -signal.SIGKILL
        turn.join(timeout=10)
        assert isinstance(outcome[0], httpx.TransportError)  # the client saw it die

    # A new process picks the conversation up where the database says it is.
    with running_server(env) as base_url:
        fake_model.push(answer("Yes, still here."))
        with httpx.Client(base_url=base_url, timeout=10) as client:
            third = chat(client, "Hello?", conversation_id)
        assert third.status_code == 200, third.text
        assert third.json()["conversation_id"] == conversation_id
        # The model saw the whole story, the interrupted turn's user message included.
        sent = [(m["role"], m["content"]) for m in fake_model.requests[-1]["messages"][1:]]
        assert sent == [
            ("user", "Remember the milk"),
            ("assistant", "Noted."),
            ("user", "Are you there?"),
            ("user", "Hello?"),
        ]

    assert stored_messages(engine) == [
        (conversation_id, "user", "Remember the milk"),
        (conversation_id, "assistant", "Noted."),
        (conversation_id, "user", "Are you there?"),
        (conversation_id, "user", "Hello?"),
        (conversation_id, "assistant", "Yes, still here."),
    ]
