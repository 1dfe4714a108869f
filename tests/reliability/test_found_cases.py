"""What the reliability tests found, kept as plain regression tests (each names its finder).

The schema fuzzer (test_schema_fuzz.py) found the responses and inputs that did not match the
OpenAPI document; the fault tests (test_faults.py) found a chat turn holding its database
connection through the model call.
"""

import re
import threading
import time
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from testkit.model_server import FakeModelServer, answer, calls, hang, tool_call
from tests.conftest import auth

ALICE = auth("alice")


@pytest.fixture
def task_id(client: TestClient) -> int:
    return client.post("/api/alice/tasks", json={"title": "Buy milk"}, headers=ALICE).json()["id"]


@pytest.fixture
def openapi(client: TestClient) -> dict:
    return client.get("/openapi.json").json()


def request_schema(openapi: dict, path: str, method: str) -> dict:
    body = openapi["paths"][path][method]["requestBody"]["content"]["application/json"]
    reference = body["schema"]["$ref"].rsplit("/", 1)[-1]
    return openapi["components"]["schemas"][reference]


# -- schemathesis: a body that is not UTF-8 got an undocumented 400 ---------------------------


def test_a_body_that_is_not_utf8_is_a_documented_400(client: TestClient, openapi: dict) -> None:
    # Found as: POST /api/auth/dev-token with the body b"\x01\xff" -> 400, documented 200, 422.
    headers = {**ALICE, "Content-Type": "application/json"}
    for path in ("/api/auth/dev-token", "/api/alice/tasks", "/api/alice/chat"):
        response = client.post(path, content=b"\x01\xff", headers=headers)
        assert response.status_code == 400
        assert response.json() == {"detail": "There was an error parsing the body"}
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            if "requestBody" in operation:
                assert "400" in operation["responses"], (method, path)


# -- schemathesis: 405 listed only some of the path's methods in Allow ------------------------


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/api/alice/tasks", {"GET", "POST"}),
        ("/api/alice/tasks/{task}", {"GET", "PUT", "PATCH", "DELETE"}),
        ("/api/alice/conversations", {"GET", "POST"}),
        ("/api/alice/conversations/1/messages", {"GET", "POST"}),
    ],
)
def test_a_405_lists_every_method_of_the_path_in_allow(
    client: TestClient, task_id: int, path: str, allowed: set[str]
) -> None:
    # Found as: OPTIONS /api/alice/tasks -> 405 with `Allow: GET` (POST missing).
    response = client.request("OPTIONS", path.format(task=task_id), headers=ALICE)
    assert response.status_code == 405
    assert response.json() == {"detail": "Method Not Allowed"}
    assert set(response.headers["Allow"].split(", ")) - {"HEAD"} == allowed


# -- schemathesis: the schema offered null where the API refuses it --------------------------


@pytest.mark.parametrize("method", ["patch", "put"])
@pytest.mark.parametrize("body", [{"completed": None}, {"title": None}])
def test_null_title_or_completed_is_refused_and_the_schema_does_not_offer_it(
    client: TestClient, openapi: dict, task_id: int, method: str, body: dict
) -> None:
    # Found as: PATCH {"title": "0", "description": "", "completed": null} -> 422, while the
    # schema said `boolean | null`.
    response = client.request(method, f"/api/alice/tasks/{task_id}", json=body, headers=ALICE)
    assert response.status_code == 422
    properties = request_schema(openapi, "/api/{user_id}/tasks/{task_id}", method)["properties"]
    [field] = body
    assert properties[field].get("type") in ("string", "boolean")
    assert "anyOf" not in properties[field] and "default" not in properties[field]


# -- schemathesis: lax booleans took 0, 1 and "true" where the schema says boolean ------------


@pytest.mark.parametrize("value", [0, 1, "true", "yes", 1.0])
def test_booleans_must_be_json_booleans(client: TestClient, task_id: int, value: object) -> None:
    # Found as: PATCH {"title": "0", "completed": 0} -> 200 (and {"archived": 0} on a
    # conversation), a schema-violating request accepted.
    conversation = client.post("/api/alice/conversations", json={}, headers=ALICE).json()["id"]
    task = client.patch(f"/api/alice/tasks/{task_id}", json={"completed": value}, headers=ALICE)
    assert task.status_code == 422
    archived = client.patch(
        f"/api/alice/conversations/{conversation}", json={"archived": value}, headers=ALICE
    )
    assert archived.status_code == 422
    assert client.get(f"/api/alice/tasks/{task_id}", headers=ALICE).json()["completed"] is False
    ok = client.patch(f"/api/alice/tasks/{task_id}", json={"completed": True}, headers=ALICE)
    assert ok.json()["completed"] is True


# -- schemathesis: NUL and blank titles were schema-valid but refused ------------------------


def test_the_schema_patterns_say_what_the_validators_refuse(
    client: TestClient, openapi: dict
) -> None:
    # Found as: POST /api/auth/dev-token {"user_id": "omVÐ…\x00…"} -> 422 for a schema-valid
    # body (PostgreSQL cannot store NUL, so the API refuses it: now the schema says so).
    dev_token = request_schema(openapi, "/api/auth/dev-token", "post")["properties"]["user_id"]
    task_title = request_schema(openapi, "/api/{user_id}/tasks", "post")["properties"]["title"]
    message = request_schema(openapi, "/api/{user_id}/chat", "post")["properties"]["message"]
    cases = [
        (dev_token, "/api/auth/dev-token", "user_id", {}),
        (task_title, "/api/alice/tasks", "title", {}),
        (message, "/api/alice/chat", "message", {}),
    ]
    for schema, path, field, extra in cases:
        for value in ("alice", " a b ", "a\x00b", "\x00", " ", "\t\n"):
            in_schema = re.search(schema["pattern"], value) is not None and len(value) >= 1
            response = client.post(path, json={field: value, **extra}, headers=ALICE)
            accepted = response.status_code < 300
            assert accepted == in_schema, (path, repr(value), response.status_code)


def test_a_made_up_cursor_is_the_documented_422(client: TestClient, openapi: dict) -> None:
    # Not a bug, but what the fuzzer keeps meeting: a cursor is opaque, so any string is
    # schema-valid and only the API's own are accepted; the 422 is documented.
    response = client.get("/api/alice/conversations?cursor=" + "0" * 500, headers=ALICE)
    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [["query", "cursor"]]
    assert "422" in openapi["paths"]["/api/{user_id}/conversations"]["get"]["responses"]


# -- test_faults: a chat turn held a database connection through every model call ------------


def test_no_connection_is_held_while_the_model_thinks(
    make_openai_app: Callable[..., FastAPI], fake_model: FakeModelServer
) -> None:
    # Found as: PostgreSQL connections killed during the model call -> the turn failed with a
    # 503 once the model had answered. Held connections also capped concurrent slow turns at
    # the pool size. Measured here on any database: nothing is checked out while it waits.
    fake_model.push(
        hang(0.4, then=calls(tool_call("add_task", {"title": "Buy milk"}))),
        hang(0.4, then=answer("Added 'Buy milk'.")),
    )
    app = make_openai_app()
    pool = app.state.engine.pool
    with TestClient(app) as client:
        result = []
        turn = threading.Thread(
            target=lambda: result.append(
                client.post("/api/alice/chat", json={"message": "Add milk"}, headers=ALICE)
            )
        )
        turn.start()
        held = []
        for model_round in (1, 2):
            deadline = time.monotonic() + 5
            while len(fake_model.received) < model_round:
                assert time.monotonic() < deadline
                time.sleep(0.01)
            time.sleep(0.1)  # well inside the model's 0.4 s
            held.append(pool.checkedout())
        turn.join(timeout=10)

    assert result[0].status_code == 200, result[0].text
    assert held == [0, 0]
