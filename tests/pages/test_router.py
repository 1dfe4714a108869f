"""The built-in chat page: `/` serves it, `/static/...` its assets and nothing outside them."""

import asyncio
from urllib.parse import unquote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient


def get_as_sent(app: FastAPI, target: str) -> tuple[int, bytes]:
    """GET `target` byte for byte, as uvicorn hands it to the app (`path` percent-decoded,
    `raw_path` as sent). httpx would normalise `..` away before sending, so no client is used."""
    path, _, query = target.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": unquote(path),
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent: list[dict] = []

    async def call() -> None:
        answered = asyncio.Event()
        requested = False

        async def receive() -> dict:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await answered.wait()  # like a server: the client "leaves" once answered
            return {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            sent.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                answered.set()

        await app(scope, receive, send)

    asyncio.run(call())
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body


def test_the_root_serves_the_chat_page(client: TestClient) -> None:
    response = client.get("/")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/static/app.js">' in response.text
    # Only this origin's own scripts: an injected inline script would not run.
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/static/app.js", "javascript"),
        ("/static/app.css", "text/css"),
        ("/static/index.html", "html"),
    ],
)
def test_the_assets_are_served_from_static(
    client: TestClient, path: str, content_type: str
) -> None:
    response = client.get(path)

    assert response.status_code == 200
    assert content_type in response.headers["content-type"]


def test_the_page_loads_nothing_from_another_host(client: TestClient) -> None:
    page = (
        client.get("/").text
        + client.get("/static/app.js").text
        + client.get("/static/app.css").text
    )

    assert "http://" not in page
    assert "https://" not in page
    assert "innerHTML" not in client.get("/static/app.js").text


# Ways a script hands a string to the HTML parser (or to the script engine). The page builds
# every node itself, search snippets included (their `<mark>` tags are split out by hand).
HTML_SINKS = [
    "innerHTML",
    "outerHTML",
    "insertAdjacentHTML",
    "createContextualFragment",
    "DOMParser",
    "document.write",
    "srcdoc",
    "eval(",
    "new Function",
]


@pytest.mark.parametrize("sink", HTML_SINKS)
def test_the_page_script_never_parses_text_as_html(client: TestClient, sink: str) -> None:
    assert sink not in client.get("/static/app.js").text


def test_the_page_has_search_and_the_archived_list(client: TestClient) -> None:
    page = client.get("/").text
    script = client.get("/static/app.js").text

    assert 'id="search-input"' in page and 'type="search"' in page
    assert '<label for="search-input"' in page  # a labelled box
    assert 'id="toggle-archived"' in page
    # The routes of API.md's "History features", as the page calls them.
    assert "/search?" in script
    assert "archived" in script


def test_the_page_is_not_part_of_the_api_schema(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]

    assert "/" not in paths
    assert not any(path.startswith("/static") for path in paths)


@pytest.mark.parametrize(
    "target",
    [
        "/static/../config.py",
        "/static/../../../pyproject.toml",
        "/static/%2e%2e/config.py",
        "/static/..%2fconfig.py",
        "/static/%2e%2e%2fconfig.py",
        "/static/%2E%2E%2Fconfig.py",
        "/static/..%5cconfig.py",
        "/static/%252e%252e/config.py",
        "/static/%2e%2e/%2e%2e/%2e%2e/pyproject.toml",
        "/static//etc/passwd",
        "/static/%2fetc%2fpasswd",
        "/static/../pages/router.py",
    ],
)
def test_a_path_out_of_static_is_not_found(app: FastAPI, target: str) -> None:
    status, body = get_as_sent(app, target)

    assert status == 404
    assert b"Settings" not in body
    assert b"[project]" not in body
    assert b"root:" not in body


def test_a_file_in_static_is_found_by_the_same_helper(app: FastAPI) -> None:
    status, body = get_as_sent(app, "/static/./app.css")

    assert status == 200
    assert b".message" in body
