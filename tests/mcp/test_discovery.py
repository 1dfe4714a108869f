"""MCP clients find the authorization server themselves (API.md, "MCP"; RFC 9728): the
protected-resource metadata, and the 401 from /mcp that points at it."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.conftest import make_token

ISSUER = "https://auth.example.com"
METADATA_PATHS = [
    "/.well-known/oauth-protected-resource",
    "/.well-known/oauth-protected-resource/mcp",
]
JSON_RPC = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


@pytest.fixture
def issuer_client(make_app) -> Iterator[TestClient]:
    with TestClient(make_app(auth_issuer=ISSUER, mcp_allowed_hosts="testserver")) as client:
        yield client


@pytest.mark.parametrize("path", METADATA_PATHS)
def test_the_metadata_names_the_resource_and_the_issuer(
    issuer_client: TestClient, path: str
) -> None:
    response = issuer_client.get(path)
    assert response.status_code == 200
    assert response.json() == {
        "resource": "http://testserver/mcp",
        "authorization_servers": [ISSUER],
        "bearer_methods_supported": ["header"],
    }


def test_the_resource_is_the_url_the_client_used(issuer_client: TestClient) -> None:
    response = issuer_client.get(METADATA_PATHS[0], headers={"Host": "todo.example.org:8443"})
    assert response.json()["resource"] == "http://todo.example.org:8443/mcp"


@pytest.mark.parametrize("path", METADATA_PATHS)
def test_no_metadata_without_an_issuer(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert "AUTH_ISSUER" in response.json()["detail"]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-a-jwt"}, {"Authorization": "Basic YWxpY2U6c2VjcmV0"}],
    ids=["no token", "bad token", "other scheme"],
)
def test_a_401_from_mcp_points_at_the_metadata(
    issuer_client: TestClient, headers: dict[str, str]
) -> None:
    response = issuer_client.post("/mcp", json=JSON_RPC, headers={**MCP_HEADERS, **headers})
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    url = "http://testserver/.well-known/oauth-protected-resource/mcp"
    assert challenge == f'Bearer resource_metadata="{url}"'
    # A client follows it and finds the authorization server.
    assert issuer_client.get(url).json()["authorization_servers"] == [ISSUER]


def test_a_valid_token_still_reaches_the_tools(issuer_client: TestClient) -> None:
    token = make_token("alice", iss=ISSUER)
    response = issuer_client.post(
        "/mcp", json=JSON_RPC, headers={**MCP_HEADERS, "Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    assert {tool["name"] for tool in response.json()["result"]["tools"]} >= {"add_task"}


def test_without_an_issuer_a_401_is_the_plain_bearer_challenge(client: TestClient) -> None:
    response = client.post("/mcp", json=JSON_RPC, headers=MCP_HEADERS)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_the_rest_api_challenge_is_unchanged(issuer_client: TestClient) -> None:
    response = issuer_client.get("/api/alice/tasks")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
