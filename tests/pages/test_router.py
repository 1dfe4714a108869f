"""The built-in chat page: `/` serves it, `/static/...` its assets and nothing outside them."""

import asyncio
import posixpath
import re
from urllib.parse import unquote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from backend.app.pages.router import STATIC_DIR


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


def page_scripts(client: TestClient) -> dict[str, str]:
    """The page's own scripts as served: app.js and its modules (vendored libraries apart)."""
    names = ["app.js"] + sorted(f"js/{path.name}" for path in (STATIC_DIR / "js").glob("*.js"))
    scripts = {}
    for name in names:
        response = client.get(f"/static/{name}")
        assert response.status_code == 200, name
        assert "javascript" in response.headers["content-type"], name
        scripts[name] = response.text
    return scripts


def test_the_page_loads_nothing_from_another_host(client: TestClient) -> None:
    scripts = page_scripts(client)
    page = client.get("/").text + client.get("/static/app.css").text + "".join(scripts.values())

    assert "http://" not in page
    assert "https://" not in page
    # Modules import only each other and the vendored libraries, by relative path.
    for name, script in scripts.items():
        imports = re.findall(r'^import [^;]*? from "([^"]+)";', script, re.MULTILINE)
        assert imports or name != "app.js"  # the entry point imports the others
        for source in imports:
            assert source.startswith(("./", "../vendor/")), (name, source)
            served = posixpath.normpath(posixpath.join("/static", posixpath.dirname(name), source))
            assert client.get(served).status_code == 200, (name, source)


def test_the_vendored_libraries_are_pinned_and_licensed(client: TestClient) -> None:
    for library in ("marked-18.2.1/marked.esm.js", "dompurify-3.4.18/purify.es.mjs"):
        response = client.get(f"/static/vendor/{library}")
        assert response.status_code == 200
        assert "javascript" in response.headers["content-type"]
        folder = library.split("/")[0]
        assert client.get(f"/static/vendor/{folder}/LICENSE").status_code == 200


# Ways a script hands a string to the HTML parser (or to the script engine). The page builds
# every node itself, search snippets included (their `<mark>` tags are split out by hand); the
# assistant's Markdown is the one exception, parsed by DOMPurify (a vendored library) only.
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
    for name, script in page_scripts(client).items():
        assert sink not in script, name


def test_the_page_has_search_and_the_archived_list(client: TestClient) -> None:
    page = client.get("/").text
    script = "".join(page_scripts(client).values())

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
