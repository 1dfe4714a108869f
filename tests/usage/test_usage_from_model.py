"""Token usage as the model reports it, through real turns against the fake model server
(its counts are in every completion, and in the last chunk of a stream that asks for them)."""

import json
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from testkit.model_server import FakeModelServer, answer, calls, tool_call
from tests.conftest import auth

ALICE = auth("alice")


def turn(client: TestClient, message: str, streamed: bool) -> dict:
    body = {"message": message}
    if not streamed:
        response = client.post("/api/alice/chat", json=body, headers=ALICE)
        assert response.status_code == 200, response.text
        return response.json()
    headers = {**ALICE, "Accept": "text/event-stream"}
    with client.stream("POST", "/api/alice/chat", json=body, headers=headers) as response:
        assert response.status_code == 200
        data = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
    return json.loads(data[-1])


def last_message(client: TestClient, conversation_id: int) -> dict:
    page = client.get(
        f"/api/alice/conversations/{conversation_id}/messages?order=desc&limit=1", headers=ALICE
    ).json()
    return page["data"][0]


@pytest.mark.parametrize("streamed", [False, True], ids=["json", "streamed"])
def test_a_turn_stores_the_models_usage_summed_over_its_rounds(
    make_openai_app: Callable[..., FastAPI], fake_model: FakeModelServer, streamed: bool
) -> None:
    fake_model.push(
        calls(tool_call("add_task", {"title": "Buy milk"})),
        calls(tool_call("list_tasks", {})),
        answer("Added milk; your list has one task."),
    )
    with TestClient(make_openai_app()) as client:
        done = turn(client, "Add milk and show me my list", streamed)
        message = last_message(client, done["conversation_id"])
        usage = message["usage"]
        # The fake model's own counts (from each request's and answer's size), added up.
        assert usage["model"] == fake_model.model_name
        assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
        assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
        if streamed:
            assert all(r["stream_options"] == {"include_usage": True} for r in fake_model.requests)
        report = client.get("/api/alice/usage", headers=ALICE).json()
        assert report["total"] == {"turns": 1, **{k: usage[k] for k in usage if k != "model"}}


def test_the_built_in_agent_stores_no_usage_but_counts_the_turn(client: TestClient) -> None:
    done = client.post("/api/alice/chat", json={"message": "Add milk"}, headers=ALICE).json()
    assert last_message(client, done["conversation_id"])["usage"] is None
    total = client.get("/api/alice/usage", headers=ALICE).json()["total"]
    assert total == {"turns": 1, "prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}


def test_a_replayed_turn_does_not_count_twice(
    make_openai_app: Callable[..., FastAPI], fake_model: FakeModelServer
) -> None:
    fake_model.push(answer("Hello!"))
    with TestClient(make_openai_app()) as client:
        headers = {**ALICE, "Idempotency-Key": "once"}
        for _ in range(3):
            client.post("/api/alice/chat", json={"message": "Hi"}, headers=headers)
        assert client.get("/api/alice/usage", headers=ALICE).json()["total"]["turns"] == 1
