"""`/docs` works with no internet access: every asset it loads is served by the app (API.md,
"Operations"). There is no `/redoc`: ReDoc loads its logo from its CDN."""

from html.parser import HTMLParser

from fastapi.testclient import TestClient


class AssetLinks(HTMLParser):
    """The URLs a page loads by itself: script sources, stylesheets, icons, images."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in {"script", "img"} and values.get("src"):
            self.urls.append(values["src"] or "")
        if tag == "link" and values.get("href"):
            self.urls.append(values["href"] or "")


def asset_urls(html: str) -> list[str]:
    parser = AssetLinks()
    parser.feed(html)
    return parser.urls


def test_the_docs_page_loads_only_assets_the_app_serves(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    urls = asset_urls(response.text)
    assert any(url.endswith(".js") for url in urls)
    assert "http://" not in response.text and "https://" not in response.text
    for url in urls:
        assert url.startswith("/"), f"/docs loads {url} from another host"
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert asset.content, url


def test_swagger_assets_have_their_content_types(client: TestClient) -> None:
    urls = asset_urls(client.get("/docs").text)
    types = {url.rsplit(".", 1)[-1]: client.get(url).headers["content-type"] for url in urls}
    assert types["js"].startswith("text/javascript")
    assert types["css"].startswith("text/css")


def test_the_docs_page_reads_the_apps_own_schema(client: TestClient) -> None:
    assert "'/openapi.json'" in client.get("/docs").text
    assert "/api/{user_id}/tasks" in client.get("/openapi.json").json()["paths"]


def test_there_is_no_redoc_page(client: TestClient) -> None:
    assert client.get("/redoc").status_code == 404
