"""How the chat page looks and reads: Markdown rendered safely, dark mode, no console error,
no serious accessibility problem (axe-core) at desktop and phone sizes, and screenshots of the
main screens for a reviewer (in each test's tmp_path).
"""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from backend.app.text import CHAT_MESSAGE_MAX
from testkit.model_server import FakeModelServer, answer, calls, tool_call
from tests.browser.conftest import DESKTOP, PageWatch
from tests.browser.test_chat_page import PHONE, message_box, send, sign_in

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails under REQUIRE_SERVICES=1)
    expect = None

AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1" / "axe.min.js"

MARKDOWN_REPLY = """I added **Buy milk** — *only* the one task.

- first item
- second item with `inline code`

```
print("a code block")
```

See [the docs](https://example.com/docs) for more.

Now the tricks: <img src=x onerror=alert(1)> and <script>alert(2)</script> and \
[a trap](javascript:alert(3)) and <a href="javascript:alert(4)">raw link</a>."""


def model_turn(fake_model: FakeModelServer) -> None:
    """The next turn of the fake model: a tool call, then a Markdown answer."""
    fake_model.push(
        calls(tool_call("add_task", {"title": "Buy milk"})),
        answer(MARKDOWN_REPLY),
    )


def run_axe(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now (WCAG 2.x A/AA and
    best practices). axe is injected through the DevTools protocol: the page's CSP forbids
    any script but its own, and it is never served by the app."""
    page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    violations = page.evaluate(
        """async () => {
            const result = await axe.run(document, { resultTypes: ["violations"] });
            return result.violations
                .filter((v) => v.impact === "serious" || v.impact === "critical")
                .map((v) => ({ id: v.id, impact: v.impact, help: v.help,
                               nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ")) }));
        }"""
    )
    return violations


def assert_accessible(page: Any, where: str) -> None:
    violations = run_axe(page)
    assert violations == [], f"{where}: {json.dumps(violations, indent=1)}"


def test_markdown_in_a_reply_is_rendered_and_html_in_it_stays_inert(
    serve: Any, page: Any, watch: PageWatch, fake_model: FakeModelServer, tmp_path: Path
) -> None:
    model_turn(fake_model)
    sign_in(page, serve(**fake_model.app_settings(agent_timeout_s=10.0)))
    reply = send(page, "Add milk and explain")

    for shown in (reply, page.locator(".message.assistant")):  # streamed, then read back
        text = shown.locator(".message-text")
        expect(text.locator("strong")).to_have_text(["Buy milk"])
        expect(text.locator("em")).to_have_text(["only"])
        expect(text.locator("ul > li")).to_have_text(["first item", "second item with inline code"])
        expect(text.locator("li code")).to_have_text("inline code")
        expect(text.locator("pre code")).to_have_text('print("a code block")')
        link = text.get_by_role("link", name="the docs")
        expect(link).to_have_attribute("href", "https://example.com/docs")
        expect(link).to_have_attribute("target", "_blank")
        expect(link).to_have_attribute("rel", "noopener noreferrer")
        # Raw HTML is shown as the text it is; a javascript: link is no link at all.
        expect(text).to_contain_text("<img src=x onerror=alert(1)>")
        expect(text).to_contain_text("<script>alert(2)</script>")
        expect(text).to_contain_text('<a href="javascript:alert(4)">raw link</a>')
        expect(text).to_contain_text("a trap")
        assert text.locator("img, script, a[href^='javascript'], [onerror]").count() == 0
        assert [a.get_attribute("href") for a in text.locator("a[href]").all()] == [
            "https://example.com/docs"
        ]
        page.screenshot(path=tmp_path / "markdown.png", full_page=True)
        page.reload()

    assert page.locator("img").count() == 0
    assert watch.dialogs == []


def test_the_message_box_takes_as_much_as_the_api(base_url: str, page: Any) -> None:
    sign_in(page, base_url)
    assert message_box(page).get_attribute("maxlength") == str(CHAT_MESSAGE_MAX)
    message_box(page).fill("x" * CHAT_MESSAGE_MAX)
    expect(page.locator("#composer-count")).to_have_text("0 characters left.")


def test_the_page_loads_without_a_console_error(base_url: str, page: Any, watch: PageWatch) -> None:
    page.goto(base_url)
    expect(page.get_by_label("User id")).to_be_focused()
    sign_in(page, base_url)
    send(page, "Add a task to buy groceries")
    page.reload()
    expect(page.locator(".message.assistant")).to_have_count(1)
    expect(page.locator("#task-list li")).to_have_count(1)
    assert watch.console_errors == []


@pytest.mark.parametrize("color_scheme", ["light", "dark"])
def test_no_serious_accessibility_problem_at_desktop_and_phone_sizes(
    color_scheme: str,
    serve: Any,
    open_page: Callable[..., Any],
    fake_model: FakeModelServer,
    tmp_path: Path,
) -> None:
    base_url = serve(**fake_model.app_settings(agent_timeout_s=10.0))
    for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page = open_page(viewport=viewport, color_scheme=color_scheme)
        page.goto(base_url)
        expect(page.get_by_label("User id")).to_be_focused()
        page.screenshot(path=tmp_path / f"{size}-{color_scheme}-sign-in.png")
        assert_accessible(page, f"sign-in, {size}, {color_scheme}")

        sign_in(page, base_url, user_id=f"{size}-{color_scheme}")
        model_turn(fake_model)
        reply = send(page, "Add milk and explain")
        reply.locator(".tool-call summary").click()  # the details open, for axe to see too
        expect(reply.locator(".tool-call dl")).to_be_visible()
        page.screenshot(path=tmp_path / f"{size}-{color_scheme}-chat.png")
        assert_accessible(page, f"chat after a turn, {size}, {color_scheme}")

        if size == "phone":
            for drawer, panel in (("Chats", "#conversations-panel"), ("Tasks", "#tasks-panel")):
                page.get_by_role("button", name=drawer).click()
                expect(page.locator(panel)).to_be_visible()
                page.screenshot(path=tmp_path / f"{size}-{color_scheme}-{drawer.lower()}.png")
                assert_accessible(page, f"{drawer} drawer, {size}, {color_scheme}")
                page.get_by_role("button", name=f"Close {drawer.lower()}").click()
        else:
            page.get_by_role("button", name="Actions for “Add milk and explain”").click()
            page.screenshot(path=tmp_path / f"{size}-{color_scheme}-menu.png")
            assert_accessible(page, f"conversation menu, {size}, {color_scheme}")
            page.keyboard.press("Escape")

        # Dark mode is really dark (so axe's contrast checks above were made on it).
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        channels = [int(part) for part in background[background.index("(") + 1 : -1].split(",")]
        assert (max(channels) < 60) == (color_scheme == "dark"), background
