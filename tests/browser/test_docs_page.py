"""The OpenAPI page renders in a browser that can reach nothing but the server (API.md,
"Operations": /docs works with no internet access)."""

from typing import Any

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails under REQUIRE_SERVICES=1)
    expect = None


def offline(page: Any, base_url: str) -> list[str]:
    """Refuse every request that leaves `base_url`; the refused URLs are returned (live list)."""
    refused: list[str] = []

    def route(request_route: Any) -> None:
        url = request_route.request.url
        if url.startswith(base_url) or url.startswith("data:"):
            request_route.continue_()
        else:
            refused.append(url)
            request_route.abort()

    page.route("**/*", route)
    return refused


def test_swagger_ui_renders_with_nothing_but_the_server(page: Any, base_url: str) -> None:
    refused = offline(page, base_url)
    page.goto(base_url + "/docs")
    operation = page.locator('.opblock-summary-path[data-path="/api/{user_id}/tasks"]')
    expect(operation.first).to_be_visible()
    assert refused == []
