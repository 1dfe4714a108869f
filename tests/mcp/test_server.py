"""/mcp through the SDK's own client against a real server process: the registry's five tools,
acting for the token's `sub` only, checked through the REST API; then the HTTP guards."""

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import anyio
import httpx
import httpx2
import mcp_types as types
import pytest
from fastapi.testclient import TestClient
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from sqlalchemy import Engine

from backend.app.agent.tools import TOOLS
from testkit.processes import running_server
from tests.conftest import auth, make_token

ERAS = ["legacy", "modern"]  # initialize handshake (2025-11-25) and server/discover (2026-07-28)
JSON_RPC_HEADERS = {"Accept": "application/json, text/event-stream"}


def server_env(database_url: str, **overrides: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "APP_ENV": "development",
        "AGENT": "rules",
        "AUTH_JWT_SECRET": "",  # the development secret, which tests.conftest.make_token signs with
        "AUTH_JWKS_URL": "",
        "CHAT_RATE_LIMIT": "0",
        "RATE_LIMIT_STORAGE_URL": "memory://",
        "MCP_ALLOWED_HOSTS": "127.0.0.1:*,localhost:*,[::1]:*",
        "CORS_ORIGINS": "http://localhost:3000",
        **overrides,
    }


@pytest.fixture(scope="module")
def base_url(database_url: str, migrated_engine: Engine) -> Iterator[str]:
    """One server process for the module, on the test database (each test empties its tables)."""
    with running_server(server_env(database_url)) as url:
        yield url


@pytest.fixture
def server(base_url: str, engine: Engine) -> str:
    """The running server, its tables empty."""
    return base_url


@asynccontextmanager
async def mcp_session(base_url: str, era: str, user: str = "alice") -> AsyncIterator[ClientSession]:
    async with (
        httpx2.AsyncClient(headers=auth(user)) as http,
        streamable_http_client(f"{base_url}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        if era == "legacy":
            await session.initialize()
        else:
            await session.discover()
        yield session


def with_session(
    base_url: str, era: str, scenario: Callable[[ClientSession], Awaitable[Any]], user="alice"
) -> Any:
    async def main() -> Any:
        async with mcp_session(base_url, era, user) as session:
            return await scenario(session)

    return anyio.run(main)


def call(base_url: str, era: str, name: str, arguments: dict[str, Any], user="alice"):
    async def scenario(session: ClientSession) -> types.CallToolResult:
        return await session.call_tool(name, arguments)

    return with_session(base_url, era, scenario, user)


def payload(result: types.CallToolResult) -> Any:
    """The tool's JSON result, from the text content (and the structured content agrees)."""
    [content] = result.content
    assert isinstance(content, types.TextContent)
    value = json.loads(content.text)
    expected_structured = value if isinstance(value, dict) else {"result": value}
    assert result.structured_content == expected_structured
    return value


def rest_tasks(base_url: str, user: str = "alice") -> list[dict[str, Any]]:
    response = httpx.get(f"{base_url}/api/{user}/tasks", headers=auth(user))
    assert response.status_code == 200, response.text
    return response.json()


def rest_create(base_url: str, title: str, user: str = "alice") -> dict[str, Any]:
    response = httpx.post(f"{base_url}/api/{user}/tasks", json={"title": title}, headers=auth(user))
    assert response.status_code == 201, response.text
    return response.json()


@pytest.mark.parametrize("era", ERAS)
def test_lists_exactly_the_registry_tools(server: str, era: str) -> None:
    async def scenario(session: ClientSession) -> types.ListToolsResult:
        return await session.list_tools()

    tools = with_session(server, era, scenario).tools
    assert [tool.name for tool in tools] == list(TOOLS)
    for tool in tools:
        assert tool.description == TOOLS[tool.name].description
        assert tool.input_schema == TOOLS[tool.name].parameters_schema
    listing = json.dumps([tool.model_dump(mode="json") for tool in tools])
    assert "user_id" not in listing


@pytest.mark.parametrize("era", ERAS)
def test_each_tool_acts_on_the_callers_tasks(server: str, era: str) -> None:
    # The first call comes before alice has a user row: the MCP call creates it.
    added = payload(call(server, era, "add_task", {"title": "Buy milk", "description": "2 l"}))
    task_id = added["task_id"]
    assert added == {"task_id": task_id, "status": "created", "title": "Buy milk"}
    [task] = rest_tasks(server)
    assert (task["id"], task["title"], task["description"]) == (task_id, "Buy milk", "2 l")
    assert task["completed"] is False

    other_id = payload(call(server, era, "add_task", {"title": "Call mom"}))["task_id"]
    listed = payload(call(server, era, "list_tasks", {}))
    tool_fields = ("id", "title", "description", "completed", "due_at", "priority", "tags")
    assert listed == [
        {**{name: t[name] for name in tool_fields}, "recurrence": None} for t in rest_tasks(server)
    ]

    renamed = {"task_id": task_id, "title": "Buy oat milk"}
    updated = payload(call(server, era, "update_task", renamed))
    assert updated == {"task_id": task_id, "status": "updated", "title": "Buy oat milk"}
    assert rest_tasks(server)[0]["title"] == "Buy oat milk"

    completed = payload(call(server, era, "complete_task", {"task_id": task_id}))
    assert completed == {"task_id": task_id, "status": "completed", "title": "Buy oat milk"}
    assert [t["completed"] for t in rest_tasks(server)] == [True, False]
    for status, expected in (("pending", [other_id]), ("completed", [task_id])):
        listed = payload(call(server, era, "list_tasks", {"status": status}))
        assert [t["id"] for t in listed] == expected

    deleted = payload(call(server, era, "delete_task", {"task_id": task_id}))
    assert deleted == {"task_id": task_id, "status": "deleted", "title": "Buy oat milk"}
    assert [t["id"] for t in rest_tasks(server)] == [other_id]


@pytest.mark.parametrize("era", ERAS)
def test_the_task_fields_are_in_the_schemas_and_the_calls(server: str, era: str) -> None:
    async def list_tools(session: ClientSession) -> types.ListToolsResult:
        return await session.list_tools()

    schemas = {tool.name: tool.input_schema for tool in with_session(server, era, list_tools).tools}
    fields = {"due_at", "priority", "tags", "recurrence"}
    assert fields <= set(schemas["add_task"]["properties"])
    assert fields <= set(schemas["update_task"]["properties"])
    filters = {"due_before", "due_after", "tag", "priority"}
    assert filters <= set(schemas["list_tasks"]["properties"])

    weekly = {
        "title": "Team sync",
        "due_at": "2031-01-06T10:00:00+01:00",
        "priority": "high",
        "tags": ["Work", "#meetings"],
        "recurrence": "FREQ=WEEKLY;BYDAY=MO",
    }
    task_id = payload(call(server, era, "add_task", weekly))["task_id"]
    payload(call(server, era, "add_task", {"title": "Someday", "priority": "low"}))
    [stored] = [t for t in rest_tasks(server) if t["id"] == task_id]
    assert stored["due_at"] in ("2031-01-06T09:00:00Z", "2031-01-06T09:00:00+00:00")
    assert (stored["priority"], stored["tags"], stored["recurrence"]) == (
        "high",
        ["meetings", "work"],
        "FREQ=WEEKLY;BYDAY=MO",
    )
    [listed] = payload(call(server, era, "list_tasks", {"tag": "WORK", "priority": "high"}))
    assert (listed["id"], listed["due_at"], listed["tags"]) == (
        task_id,
        "2031-01-06T09:00:00+00:00",  # the turn's zone: UTC over MCP
        ["meetings", "work"],
    )
    completed = payload(call(server, era, "complete_task", {"task_id": task_id}))
    assert completed == {
        "task_id": task_id,
        "status": "completed",
        "title": "Team sync",
        "next_due_at": "2031-01-13T09:00:00+00:00",
    }
    [stored] = [t for t in rest_tasks(server) if t["id"] == task_id]
    assert stored["completed"] is False

    bad = call(server, era, "add_task", {"title": "x", "recurrence": "FREQ=DAILY"})
    assert bad.is_error is True
    assert "due_at" in payload(bad)["error"]
    assert len(rest_tasks(server)) == 2


@pytest.mark.parametrize("era", ERAS)
def test_another_users_task_ids_give_errors_and_change_nothing(server: str, era: str) -> None:
    bobs = rest_create(server, "Bob's secret", user="bob")

    async def scenario(session: ClientSession) -> list[types.CallToolResult]:
        return [
            await session.call_tool("complete_task", {"task_id": bobs["id"]}),
            await session.call_tool("update_task", {"task_id": bobs["id"], "title": "Mine now"}),
            await session.call_tool("delete_task", {"task_id": bobs["id"]}),
            await session.call_tool("list_tasks", {}),
        ]

    *changes, listing = with_session(server, era, scenario)
    for result in changes:
        assert result.is_error is True
        assert payload(result) == {"error": f"task {bobs['id']} not found", "code": "not_found"}
    assert listing.is_error is False
    assert payload(listing) == []
    assert rest_tasks(server, user="bob") == [bobs]


@pytest.mark.parametrize("era", ERAS)
def test_a_user_id_argument_is_refused(server: str, era: str) -> None:
    async def scenario(session: ClientSession) -> list[types.CallToolResult]:
        return [
            await session.call_tool("add_task", {"title": "Sneaky", "user_id": "bob"}),
            await session.call_tool("list_tasks", {"user_id": "bob"}),
        ]

    for result in with_session(server, era, scenario):
        assert result.is_error is True
        error = payload(result)["error"]
        assert "user_id" in error and "not permitted" in error
    assert rest_tasks(server) == []
    assert rest_tasks(server, user="bob") == []


def test_bad_arguments_and_unknown_tools_are_error_results(server: str) -> None:
    async def scenario(session: ClientSession) -> list[types.CallToolResult]:
        return [
            await session.call_tool("add_task", {}),
            await session.call_tool("complete_task", {"task_id": "seven"}),
            await session.call_tool("drop_database", {}),
        ]

    missing, wrong_type, unknown = with_session(server, "legacy", scenario)
    assert all(result.is_error for result in (missing, wrong_type, unknown))
    assert payload(missing)["error"].startswith("invalid arguments: title")
    assert payload(wrong_type)["error"].startswith("invalid arguments: task_id")
    assert payload(unknown) == {"error": "unknown tool 'drop_database'", "code": "unknown_tool"}
    assert rest_tasks(server) == []


def rpc(method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}}


def test_a_plain_post_to_mcp_is_served_statelessly(server: str) -> None:
    # No redirect to /mcp/, no session id, no handshake needed first: one POST, one JSON answer.
    response = httpx.post(
        f"{server}/mcp",
        json=rpc("tools/call", {"name": "add_task", "arguments": {"title": "From curl"}}),
        headers={**JSON_RPC_HEADERS, **auth("alice")},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert "mcp-session-id" not in response.headers
    result = response.json()["result"]
    assert result["isError"] is False
    assert json.loads(result["content"][0]["text"])["title"] == "From curl"
    assert [t["title"] for t in rest_tasks(server)] == ["From curl"]


def test_get_and_delete_are_refused_with_405(server: str) -> None:
    for method in ("GET", "DELETE"):
        response = httpx.request(
            method, f"{server}/mcp", headers={"Accept": "text/event-stream", **auth("alice")}
        )
        assert response.status_code == 405, (method, response.text)
        assert response.headers["allow"] == "POST"


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-token"),
        pytest.param({"Authorization": "Basic YWxpY2U6cHc="}, id="not-bearer"),
        pytest.param({"Authorization": "Bearer not-a-jwt"}, id="malformed"),
        pytest.param(
            {"Authorization": f"Bearer {make_token('alice', secret='x' * 40)}"}, id="wrong-key"
        ),
        pytest.param(
            {"Authorization": f"Bearer {make_token('alice', expires_in=timedelta(hours=-1))}"},
            id="expired",
        ),
    ],
)
def test_a_missing_or_bad_token_is_401(server: str, headers: dict[str, str]) -> None:
    response = httpx.post(
        f"{server}/mcp",
        json=rpc("tools/call", {"name": "add_task", "arguments": {"title": "Nope"}}),
        headers={**JSON_RPC_HEADERS, **headers},
    )
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert set(response.json()) == {"detail"}
    assert rest_tasks(server) == []


def test_the_sdk_client_without_a_token_cannot_connect(server: str) -> None:
    async def main() -> None:
        async with (
            httpx2.AsyncClient() as http,
            streamable_http_client(f"{server}/mcp", http_client=http) as (read, write),
            ClientSession(read, write) as session,
        ):
            with anyio.fail_after(10):
                await session.initialize()

    with pytest.raises(BaseException) as caught:
        anyio.run(main)
    # The SDK client reports a non-JSON-RPC 4xx body as a generic error, without the status.
    assert caught.group_contains(MCPError, match="Server returned an error response", depth=None)


def post_with_host(base_url: str, host: str, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{base_url}/mcp",
        json=rpc("tools/list"),
        headers={**JSON_RPC_HEADERS, **auth("alice"), "Host": host, **headers},
    )


def test_an_unknown_host_header_is_refused(server: str) -> None:
    port = server.rsplit(":", 1)[1]
    assert post_with_host(server, f"127.0.0.1:{port}").status_code == 200
    assert post_with_host(server, f"localhost:{port}").status_code == 200
    refused = post_with_host(server, f"evil.example.com:{port}")
    assert refused.status_code == 421, refused.text
    # The 2026-era entry of the transport checks the Host too.
    modern = {"MCP-Protocol-Version": "2026-07-28"}
    assert post_with_host(server, f"evil.example.com:{port}", **modern).status_code == 421


def test_a_browser_origin_must_be_one_the_api_allows(server: str) -> None:
    host = server.removeprefix("http://")
    allowed = post_with_host(server, host, Origin="http://localhost:3000")
    assert allowed.status_code == 200, allowed.text
    assert post_with_host(server, host, Origin="http://evil.example.com").status_code == 403


def test_the_allowed_hosts_come_from_settings(database_url: str, migrated_engine: Engine) -> None:
    env = server_env(database_url, MCP_ALLOWED_HOSTS="todo.example.com, api.example.com:*")
    with running_server(env) as url:
        assert post_with_host(url, "todo.example.com").status_code == 200
        assert post_with_host(url, "api.example.com:8443").status_code == 200
        assert post_with_host(url, url.removeprefix("http://")).status_code == 421
        assert post_with_host(url, "evil.example.com").status_code == 421


def test_the_endpoint_serves_each_time_the_app_starts(make_app) -> None:
    # The SDK's session manager runs only once, so each start of the app makes a fresh one.
    app = make_app(mcp_allowed_hosts="testserver")  # the TestClient's Host
    request = {"json": rpc("tools/list"), "headers": {**JSON_RPC_HEADERS, **auth("alice")}}
    with TestClient(app) as client:
        assert client.post("/mcp", **request).status_code == 200
    with TestClient(app) as client:
        assert client.post("/mcp", **request).status_code == 200
    # Outside the lifespan there is no transport to hand the request to.
    stopped = TestClient(app).post("/mcp", **request)
    assert stopped.status_code == 503
    assert "detail" in stopped.json()


def authorization_headers() -> list[Any]:
    token = make_token("alice")
    return [
        pytest.param("", id="empty"),
        pytest.param("Basic YWxpY2U6cHc=", id="basic"),
        pytest.param("Bearer", id="scheme-only"),
        pytest.param(f"Token {token}", id="other-scheme"),
        pytest.param(f"bearer {token}", id="lower-case-scheme"),
        pytest.param(f"BEARER   {token}", id="spaces-before-the-token"),
        pytest.param(f"Bearer {token} x", id="two-words"),
    ]


@pytest.mark.parametrize("authorization", authorization_headers())
def test_rest_and_mcp_read_the_authorization_header_alike(server: str, authorization: str) -> None:
    rest = httpx.get(f"{server}/api/alice/tasks", headers={"Authorization": authorization})
    over_mcp = httpx.post(
        f"{server}/mcp",
        json=rpc("tools/call", {"name": "list_tasks", "arguments": {}}),
        headers={**JSON_RPC_HEADERS, "Authorization": authorization},
    )

    assert rest.status_code == over_mcp.status_code, (rest.text, over_mcp.text)
    if rest.status_code == 401:
        assert rest.json()["detail"] == over_mcp.json()["detail"]
    else:
        assert rest.status_code == 200
        assert over_mcp.json()["result"]["isError"] is False
