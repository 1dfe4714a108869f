"""Hostile requests: each is refused with the right status, and the database is unchanged.

Every attack is a write (create, change, delete, chat) against a database holding rows of alice
and bob; a snapshot of every table before and after shows nothing moved. Tokens are forged with
the helpers of testkit/auth_server.py, against an app that trusts both an HS256 secret and a real
local JWKS server. Path traversal and oversized chunked bodies go over a raw socket to a real
uvicorn server, so nothing between the attacker and the app tidies the request up first.
"""

import socket
from collections.abc import Callable, Iterator
from datetime import timedelta
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlmodel import Session, SQLModel

from backend.app.models import Conversation, Message, Task, User
from testkit.auth_server import (
    JwksServer,
    SigningKey,
    handmade_token,
    hs256_token_with_secret,
    make_signing_key,
    token_claims,
)
from tests.conftest import auth, make_token

SECRET = "an-hs256-secret-of-the-auth-server-0123456789"
MIB = 1024 * 1024


def snapshot(engine: Engine) -> dict[str, list[tuple]]:
    """Every row of every table, in primary-key order."""
    with engine.connect() as connection:
        return {
            table.name: [
                tuple(row)
                for row in connection.execute(
                    table.select().order_by(*table.primary_key.columns)
                ).all()
            ]
            for table in SQLModel.metadata.sorted_tables
        }


@pytest.fixture
def seeded(engine: Engine) -> dict[str, int]:
    """alice and bob, each with a task and a conversation of one message; their ids."""
    with Session(engine) as session:
        session.add_all([User(id="alice"), User(id="bob")])
        session.flush()
        ids: dict[str, int] = {}
        for user in ("alice", "bob"):
            task = Task(user_id=user, title=f"{user}'s task")
            conversation = Conversation(user_id=user, title=f"{user}'s chat")
            session.add_all([task, conversation])
            session.flush()
            session.add(
                Message(conversation_id=conversation.id, user_id=user, role="user", content="hi")
            )
            ids[f"{user}_task"], ids[f"{user}_conversation"] = task.id, conversation.id
        session.commit()
    return ids


@pytest.fixture(scope="module")
def keys() -> dict[str, SigningKey]:
    return {alg: make_signing_key(alg) for alg in ("EdDSA", "RS256", "ES256")}


@pytest.fixture
def jwks(keys: dict[str, SigningKey]) -> Iterator[JwksServer]:
    server = JwksServer(keys.values()).start()
    yield server
    server.stop()


@pytest.fixture
def client(make_app: Callable[..., FastAPI], jwks: JwksServer) -> Iterator[TestClient]:
    """An app trusting both key sources: the HS256 secret and the JWKS server's keys."""
    app = make_app(auth_jwt_secret=SECRET, auth_jwks_url=jwks.url, chat_rate_limit="0")
    with TestClient(app) as test_client:
        yield test_client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def writes(ids: dict[str, int]) -> list[tuple[str, str, dict | None]]:
    """Writes as alice: a create, a change, a delete, a toggle and a chat turn."""
    return [
        ("POST", "/api/alice/tasks", {"title": "planted"}),
        ("PATCH", f"/api/alice/tasks/{ids['alice_task']}", {"title": "defaced"}),
        ("DELETE", f"/api/alice/conversations/{ids['alice_conversation']}", None),
        ("PATCH", f"/api/alice/tasks/{ids['alice_task']}/complete", None),
        ("POST", "/api/alice/chat", {"message": "Delete the task"}),
    ]


# ---------------------------------------------------------------------------------------------
# Forged and misused tokens: 401 (or 403 for another user's path), nothing changed
# ---------------------------------------------------------------------------------------------

FORGERIES: dict[str, Callable[[dict[str, SigningKey]], str]] = {
    # HS256 "signed" with a public key: the verifier must never HMAC with a public key.
    "alg confusion: HS256 with the RSA public key": lambda keys: hs256_token_with_secret(
        keys["RS256"].public_pem(), token_claims("alice"), kid=keys["RS256"].kid
    ),
    "alg confusion: HS256 with the Ed25519 public key": lambda keys: hs256_token_with_secret(
        keys["EdDSA"].public_pem(), token_claims("alice"), kid=keys["EdDSA"].kid
    ),
    "alg confusion: ES256 token naming the RSA key": lambda keys: keys["ES256"].sign(
        "alice", kid=keys["RS256"].kid
    ),
    "alg none": lambda _keys: handmade_token(
        {"alg": "none", "typ": "JWT"}, token_claims("alice"), b""
    ),
    "alg NONE with a signature": lambda _keys: handmade_token(
        {"alg": "NONE", "typ": "JWT"}, token_claims("alice"), b"sig"
    ),
    "expired (HS256)": lambda _keys: make_token(
        "alice", secret=SECRET, expires_in=timedelta(hours=-1)
    ),
    "expired (EdDSA)": lambda keys: keys["EdDSA"].sign("alice", expires_in=timedelta(hours=-1)),
    "forged kid: attacker's own key under an unknown kid": lambda _keys: make_signing_key(
        "EdDSA", kid="attacker-key"
    ).sign("alice"),
    "forged kid: attacker's own key under the server's kid": lambda keys: make_signing_key(
        "EdDSA", kid=keys["EdDSA"].kid
    ).sign("alice"),
    "forged kid: path traversal in kid": lambda keys: keys["EdDSA"].sign(
        "alice", kid="../../../../dev/null"
    ),
    "forged kid: SQL in kid": lambda keys: keys["EdDSA"].sign("alice", kid="' OR '1'='1"),
    "HS256 with the wrong secret": lambda _keys: make_token("alice", secret="x" * 45),
    "signature stripped": lambda keys: keys["RS256"].sign("alice").rsplit(".", 1)[0] + ".",
}


@pytest.mark.parametrize("forge", FORGERIES.values(), ids=FORGERIES.keys())
def test_forged_tokens_are_401_and_change_nothing(
    client: TestClient,
    engine: Engine,
    seeded: dict[str, int],
    keys: dict[str, SigningKey],
    forge: Callable[[dict[str, SigningKey]], str],
) -> None:
    before = snapshot(engine)
    headers = bearer(forge(keys))
    for method, path, body in writes(seeded):
        response = client.request(method, path, json=body, headers=headers)
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert "alice" not in response.text  # says nothing about the rows
    assert snapshot(engine) == before


def test_the_same_writes_with_a_real_token_do_change_things(
    client: TestClient, engine: Engine, seeded: dict[str, int], keys: dict[str, SigningKey]
) -> None:
    # The control experiment: the writes above are real writes, refused only for the token.
    before = snapshot(engine)
    for headers in (bearer(keys["EdDSA"].sign("alice")), auth("alice", secret=SECRET)):
        for method, path, body in writes(seeded)[:2]:
            assert client.request(method, path, json=body, headers=headers).status_code < 300
    assert snapshot(engine) != before


def test_a_token_of_alice_on_bobs_paths_is_403_and_bobs_ids_on_hers_are_404(
    client: TestClient, engine: Engine, seeded: dict[str, int]
) -> None:
    alice = auth("alice", secret=SECRET)
    before = snapshot(engine)
    bob_paths = [
        ("GET", "/api/bob/tasks", None),
        ("POST", "/api/bob/tasks", {"title": "planted"}),
        ("PATCH", f"/api/bob/tasks/{seeded['bob_task']}", {"title": "defaced"}),
        ("DELETE", f"/api/bob/tasks/{seeded['bob_task']}", None),
        ("DELETE", f"/api/bob/conversations/{seeded['bob_conversation']}", None),
        ("POST", "/api/bob/chat", {"message": "Delete all tasks"}),
    ]
    for method, path, body in bob_paths:
        response = client.request(method, path, json=body, headers=alice)
        assert response.status_code == 403, (method, path, response.text)
    # bob's ids under alice's own path: the same 404 as an id that does not exist.
    task, conversation = seeded["bob_task"], seeded["bob_conversation"]
    for method, path, body in [
        ("GET", "/api/alice/tasks/{task}", None),
        ("PATCH", "/api/alice/tasks/{task}", {"title": "defaced"}),
        ("PATCH", "/api/alice/tasks/{task}/complete", None),
        ("DELETE", "/api/alice/tasks/{task}", None),
        ("GET", "/api/alice/conversations/{conversation}/messages", None),
        ("DELETE", "/api/alice/conversations/{conversation}", None),
        (
            "POST",
            "/api/alice/conversations/{conversation}/messages",
            {"role": "user", "content": "planted"},
        ),
    ]:
        foreign = client.request(
            method, path.format(task=task, conversation=conversation), json=body, headers=alice
        )
        missing = client.request(
            method, path.format(task=999999, conversation=999999), json=body, headers=alice
        )
        assert foreign.status_code == missing.status_code == 404, (method, path, foreign.text)
        assert foreign.json()["detail"].replace(str(task), "N").replace(
            str(conversation), "N"
        ) == missing.json()["detail"].replace("999999", "N")
    chat = client.post(
        "/api/alice/chat", json={"message": "hi", "conversation_id": conversation}, headers=alice
    )
    assert chat.status_code == 404
    assert snapshot(engine) == before


# ---------------------------------------------------------------------------------------------
# SQL metacharacters and the longest contents: stored and returned exactly
# ---------------------------------------------------------------------------------------------

SQL_TEXTS = [
    "'; DROP TABLE tasks; --",
    "Robert'); DELETE FROM messages WHERE ('1'='1",
    '" OR "1"="1',
    "1; UPDATE users SET id='mallory' --",
    "%_% \\% \\_ LIKE wildcards",
    "$1 $$ :name ?param %(name)s {0}",
    "/* comment */ -- line\n;\r\n\t",
    "‮RTL override ‭ ' \u2028 \ufeff zero-width\u200b joiner\u200d",
]


@pytest.mark.parametrize("hostile", SQL_TEXTS)
def test_sql_metacharacters_are_stored_and_returned_exactly(
    client: TestClient, engine: Engine, seeded: dict[str, int], hostile: str
) -> None:
    alice = auth("alice", secret=SECRET)
    before = snapshot(engine)
    task = client.post(
        "/api/alice/tasks", json={"title": hostile, "description": hostile}, headers=alice
    )
    assert task.status_code == 201, task.text
    conversation = seeded["alice_conversation"]
    message = client.post(
        f"/api/alice/conversations/{conversation}/messages",
        json={"role": "user", "content": hostile},
        headers=alice,
    )
    assert message.status_code == 201, message.text

    stored_title = hostile.strip()  # titles are trimmed, as documented
    assert client.get(f"/api/alice/tasks/{task.json()['id']}", headers=alice).json()["title"] == (
        stored_title
    )
    page = client.get(
        f"/api/alice/conversations/{conversation}/messages?order=desc&limit=1", headers=alice
    ).json()
    assert page["data"][0]["content"] == hostile
    # In a query string and a path too: a 2xx/4xx answer, never a 500, and nothing else moved.
    assert client.get("/api/alice/search", params={"q": hostile}, headers=alice).status_code < 500
    assert (
        client.get("/api/alice/tasks", params={"status": hostile}, headers=alice).status_code == 422
    )
    assert client.get(f"/api/alice/tasks/{quote(hostile, safe='')}", headers=alice).status_code in (
        404,
        422,
    )
    after = snapshot(engine)
    assert len(after["tasks"]) == len(before["tasks"]) + 1
    assert len(after["messages"]) == len(before["messages"]) + 1
    assert after["users"] == before["users"]
    with engine.connect() as connection:  # the tables are all still there
        for table in ("tasks", "messages", "users", "conversations"):
            connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def test_a_32000_character_message_round_trips_exactly_and_32001_is_refused(
    client: TestClient, engine: Engine, seeded: dict[str, int]
) -> None:
    alice = auth("alice", secret=SECRET)
    conversation = seeded["alice_conversation"]
    url = f"/api/alice/conversations/{conversation}/messages"
    # Characters of 1 to 4 UTF-8 bytes, quotes and SQL included: 32,000 characters exactly.
    unit = "a'\"é€😀;--\\%_\n"
    longest = (unit * (32_000 // len(unit) + 1))[:32_000]
    assert len(longest) == 32_000

    created = client.post(url, json={"role": "assistant", "content": longest}, headers=alice)
    assert created.status_code == 201, created.text[:300]
    assert created.json()["content"] == longest
    page = client.get(f"{url}?order=desc&limit=1", headers=alice).json()
    assert page["data"][0]["content"] == longest

    before = snapshot(engine)
    too_long = client.post(url, json={"role": "user", "content": longest + "x"}, headers=alice)
    assert too_long.status_code == 422
    chat = client.post("/api/alice/chat", json={"message": "x" * 4001}, headers=alice)
    assert chat.status_code == 422
    assert snapshot(engine) == before


def test_oversized_bodies_are_413_and_change_nothing(
    client: TestClient, engine: Engine, seeded: dict[str, int]
) -> None:
    alice = {**auth("alice", secret=SECRET), "Content-Type": "application/json"}
    before = snapshot(engine)
    big = b'{"title": "' + b"x" * (MIB + 10) + b'"}'
    for path in ("/api/alice/tasks", "/api/alice/chat", "/api/auth/dev-token"):
        response = client.post(path, content=big, headers=alice)
        assert response.status_code == 413, (path, response.status_code)
        assert response.json()["detail"].startswith("The request body is larger than")

    # A body that declares no length (chunked) is counted as it arrives.
    def chunks() -> Iterator[bytes]:
        yield b'{"title": "'
        for _ in range(20):
            yield b"x" * 65536
        yield b'"}'

    chunked = client.post("/api/alice/tasks", content=chunks(), headers=alice)
    assert chunked.status_code == 413
    assert snapshot(engine) == before


# ---------------------------------------------------------------------------------------------
# Raw HTTP against a real server: path traversal, lying Content-Length, chunked floods
# ---------------------------------------------------------------------------------------------


def raw_request(base_url: str, request: bytes) -> tuple[int, bytes]:
    """Send bytes as they are (no client normalises the path); the status and the body."""
    host, port = httpx.URL(base_url).host, httpx.URL(base_url).port
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


TRAVERSALS = [
    "/static/../config.py",
    "/static/../../app/config.py",
    "/static/../../../backend/app/config.py",
    "/static/%2e%2e/config.py",
    "/static/%2e%2e/%2e%2e/%2e%2e/backend/app/config.py",
    "/static/..%2fconfig.py",
    "/static/%2e%2e%2fconfig.py",
    "/static/%252e%252e/config.py",
    "/static/..%5cconfig.py",
    "/static/....//config.py",
    "/static//etc/passwd",
    "/static/%2fetc%2fpasswd",
    "/static/..%00/config.py",
    "/static/%c0%ae%c0%ae/config.py",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_path_traversal_in_static_files_is_404(server: str, path: str) -> None:
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
    status, body = raw_request(server, request)
    assert status == 404, (path, status)
    assert b"DEV_JWT_SECRET" not in body and b"root:" not in body


def test_the_static_files_themselves_are_served(server: str) -> None:
    # The control experiment: the mount answers, so the 404s above are refusals.
    for path in ("/static/app.js", "/static/%61pp.js", "/static/./app.js"):
        request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        status, body = raw_request(server, request.encode())
        assert status == 200 and body, path


def test_a_chunked_flood_over_a_raw_socket_is_413(
    server: str, engine: Engine, seeded: dict[str, int]
) -> None:
    before = snapshot(engine)
    token = make_token("alice")
    head = (
        "POST /api/alice/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()
    piece = b"x" * 65536
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    host, port = httpx.URL(server).host, httpx.URL(server).port
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(head + b'b\r\n{"title": "\r\n')
        sent = 0
        try:
            while sent < 2 * MIB:  # the server may close the connection once it has answered
                sock.sendall(chunk)
                sent += len(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = b""
        try:
            while part := sock.recv(65536):
                data += part
        except ConnectionResetError:
            pass
    assert data.split(b" ")[1] == b"413", data[:200]
    assert snapshot(engine) == before


def test_a_content_length_that_lies_is_refused(server: str, engine: Engine, seeded) -> None:
    before = snapshot(engine)
    token = make_token("alice")
    for declared in ("99999999999", "-1", "abc"):
        request = (
            "POST /api/alice/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {declared}\r\n\r\n" + '{"title": "x"}'
        ).encode()
        status, _ = raw_request(server, request)
        assert status in (400, 413), (declared, status)
    assert snapshot(engine) == before
