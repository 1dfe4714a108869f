"""Stopping a reply and getting it back after a reload, in the chat page (API.md, "Turns: resume
and stop"), against a server whose model is the fake one in testkit/model_server.py: it writes a
first sentence, calls a tool, then thinks for a long time before the rest.
"""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from testkit.model_server import FakeModelServer, answer, calls, hang, tool_call
from tests.browser.test_chat_page import message_box, sign_in

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails under REQUIRE_SERVICES=1)
    expect = None

FIRST = "Let me look at your list first. "
REST = "Your list has **one** task, so do that today."


def model_server(serve: Any, model: FakeModelServer) -> str:
    return serve(**model.app_settings(agent_timeout_s=30.0))


def start_turn(page: Any, text: str) -> Any:
    """Send `text` and wait until the reply has shown its first sentence; its bubble."""
    box = message_box(page)
    box.fill(text)
    box.press("Enter")
    reply = page.locator(".message.assistant").last
    expect(reply.locator(".message-text")).to_have_text(FIRST.strip())
    expect(reply).to_have_attribute("aria-busy", "true")
    return reply


def test_stop_ends_a_slow_reply_and_the_partial_text_stays_after_a_reload(
    serve: Any, page: Any, fake_model: FakeModelServer, tmp_path: Path
) -> None:
    fake_model.push(
        calls(tool_call("list_tasks", {}), content=FIRST),
        hang(20, answer("(never shown: the person stopped the reply)")),
    )
    sign_in(page, model_server(serve, fake_model))
    reply = start_turn(page, "What should I do today?")
    expect(page.get_by_role("button", name="Send")).to_be_hidden()
    page.screenshot(path=tmp_path / "streaming.png")

    page.get_by_role("button", name="Stop").click()

    expect(reply).not_to_have_attribute("aria-busy", "true")
    expect(reply.locator(".message-note")).to_have_text("Stopped")
    expect(reply.locator(".message-text")).to_have_text(FIRST.strip())
    expect(reply.locator(".tool-call summary")).to_have_text("Listed 0 tasks")
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    expect(page.get_by_role("button", name="Stop")).to_be_hidden()
    expect(message_box(page)).to_be_focused()
    page.screenshot(path=tmp_path / "stopped.png")

    page.reload()  # read back from the server: still the partial text, still marked stopped
    replies = page.locator(".message.assistant")
    expect(replies).to_have_count(1)
    expect(replies.locator(".message-text")).to_have_text(FIRST.strip())
    expect(replies.locator(".message-note")).to_have_text("Stopped")
    expect(page.get_by_role("button", name="Stop")).to_be_hidden()
    assert len(fake_model.received) == 2  # no third model call after the stop


def test_a_reload_mid_reply_shows_the_whole_reply_once_without_sending_again(
    serve: Any, page: Any, fake_model: FakeModelServer
) -> None:
    fake_model.push(calls(tool_call("list_tasks", {}), content=FIRST), hang(2, answer(REST)))
    sign_in(page, model_server(serve, fake_model))
    start_turn(page, "What should I do today?")

    page.reload()

    # The reply carries on where it was (its first sentence at once, the rest when it comes),
    # in one bubble, under the one message that was sent.
    replies = page.locator(".message.assistant")
    expect(replies).to_have_count(1)
    expect(replies.locator(".message-text")).to_contain_text("Let me look at your list first.")
    expect(page.get_by_role("button", name="Stop")).to_be_visible()
    expect(replies).not_to_have_attribute("aria-busy", "true")
    expect(replies.locator(".message-text")).to_have_text(
        "Let me look at your list first. Your list has one task, so do that today."
    )
    expect(replies.locator(".message-text strong")).to_have_text("one")  # Markdown, once done
    expect(replies.locator(".tool-call")).to_have_count(1)
    expect(replies.locator(".message-note")).to_have_count(0)
    expect(page.locator(".message.user")).to_have_count(1)
    expect(page.get_by_role("button", name="Send")).to_be_visible()

    # Once finished, another reload shows the stored reply, and nothing is followed again.
    page.reload()
    expect(page.locator(".message.assistant .message-text")).to_have_text(
        ["Let me look at your list first. Your list has one task, so do that today."]
    )
    expect(page.locator(".message.user")).to_have_count(1)
    expect(page.get_by_role("button", name="Stop")).to_be_hidden()
    assert len(fake_model.received) == 2  # the message went to the model once


def test_a_dropped_connection_mid_reply_resumes_after_the_last_event_seen(
    serve: Any, open_page: Callable[..., Any], fake_model: FakeModelServer
) -> None:
    fake_model.push(calls(tool_call("list_tasks", {}), content=FIRST), hang(1.5, answer(REST)))
    base_url = model_server(serve, fake_model)
    page = open_page(timezone_id="Europe/Berlin")
    sign_in(page, base_url)

    # The chat request goes through, but its connection "drops" after the first few events:
    # the page gets those, then the end of the stream, with no `done`.
    sent: list[dict[str, Any]] = []

    def drop_after_two_deltas(route: Any) -> None:
        sent.append(json.loads(route.request.post_data))
        headers = {k: v for k, v in route.request.headers.items() if k.lower() != "host"}
        received = b""
        with (
            httpx.Client(timeout=30) as http,
            http.stream(
                "POST", route.request.url, content=route.request.post_data, headers=headers
            ) as r,
        ):
            for chunk in r.iter_bytes():
                received += chunk
                if received.count(b"event: delta") >= 2 and b"\n\n" in received:
                    break
        whole_events = received[: received.rindex(b"\n\n") + 2]
        route.fulfill(status=200, headers={"Content-Type": "text/event-stream"}, body=whole_events)

    page.route("**/api/*/chat", drop_after_two_deltas)
    resumed_after: list[str | None] = []
    page.on(
        "request",
        lambda request: (
            resumed_after.append(request.headers.get("last-event-id"))
            if "/events" in request.url
            else None
        ),
    )
    box = message_box(page)
    box.fill("What should I do today?")
    box.press("Enter")

    reply = page.locator(".message.assistant")
    expect(reply).not_to_have_attribute("aria-busy", "true")
    expect(reply.locator(".message-text")).to_have_text(
        "Let me look at your list first. Your list has one task, so do that today."
    )
    expect(page.locator(".message.assistant")).to_have_count(1)
    expect(reply.locator(".tool-call")).to_have_count(1)
    expect(page.locator(".message-error")).to_have_count(0)
    assert len(resumed_after) == 1 and int(resumed_after[0] or 0) >= 3  # start + two deltas
    assert len(sent) == 1 and len(fake_model.received) == 2  # never sent again
    # The browser's time zone goes with the message (servers that predate it ignore it).
    assert sent[0]["timezone"] == "Europe/Berlin"


def test_a_row_menu_opened_while_a_reply_streams_stays_open_when_the_reply_ends(
    serve: Any, page: Any, fake_model: FakeModelServer
) -> None:
    # The end of a turn refreshes its sidebar row; an open "⋯" menu on it must survive that.
    question = "What should I do today?"
    fake_model.push(calls(tool_call("list_tasks", {}), content=FIRST), hang(2, answer(REST)))
    sign_in(page, model_server(serve, fake_model))
    reply = start_turn(page, question)
    page.get_by_role("button", name=f"Actions for “{question}”").click()
    menu = page.get_by_role("menu", name=f"Actions for “{question}”")
    expect(menu).to_be_visible()

    expect(reply).not_to_have_attribute("aria-busy", "true", timeout=15_000)  # the turn ended

    expect(menu).to_be_visible()
    menu.get_by_role("menuitem", name=f"Archive “{question}”").click()
    expect(page.locator(".conversation-open", has_text=question)).to_have_count(0)
