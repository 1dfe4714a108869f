"""The built-in chat page at `/`, used as a person would: in headless Chromium, against a real
uvicorn server (testkit/processes.py) on the test database.

Fixtures are in conftest.py beside this file: `base_url` is a shared development server,
`serve(**settings)` starts one of a test's own, `page` is a fresh browser tab, `watch` records
dialogs and script errors.
"""

import re
from pathlib import Path
from typing import Any

import httpx

from backend.app.agent.openai_loop import MAX_RETRIES
from testkit.model_server import FakeModelServer, server_error
from tests.browser.conftest import PageWatch
from tests.conftest import make_token

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails under REQUIRE_SERVICES=1)
    expect = None

PHONE = {"width": 390, "height": 844}
GROCERIES_REPLY = 'Added "Buy groceries" to your list (task 1).'
XSS = "<img src=x onerror=alert(1)>"


# -- how a person uses the page --------------------------------------------------------------


def sign_in(page: Any, base_url: str, user_id: str = "alice") -> None:
    """Development sign-in, by keyboard alone: the user id box has the focus, Enter signs in."""
    page.goto(base_url)
    expect(page.get_by_label("User id")).to_be_focused()
    page.keyboard.type(user_id)
    page.keyboard.press("Enter")
    expect(page.locator("#signed-in-as")).to_have_text(f"Signed in as {user_id}")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(message_box(page)).to_be_focused()


def message_box(page: Any) -> Any:
    return page.get_by_label("Message", exact=True)


def send(page: Any, text: str) -> Any:
    """Type a message, press Enter, wait for the streamed turn to end; the reply's bubble."""
    before = page.locator(".message.assistant").count()
    box = message_box(page)
    box.fill(text)
    box.press("Enter")
    reply = page.locator(".message.assistant").nth(before)
    expect(reply).to_be_visible()
    expect(reply).not_to_have_attribute("aria-busy", "true")
    expect(page.locator("#send-button")).to_have_text(re.compile(r"Send|Wait"))
    return reply


def conversation_rows(page: Any) -> Any:
    return page.locator("#conversation-list li")


def row_action(page: Any, title: str, action: str) -> None:
    """Open a sidebar row's "⋯" menu and choose `action` ("Rename", "Archive", "Delete"…)."""
    page.get_by_role("button", name=f"Actions for “{title}”").click()
    menu = page.get_by_role("menu", name=f"Actions for “{title}”")
    # The menu takes the focus (its first item): arrows and Enter work from here.
    expect(menu.get_by_role("menuitem").first).to_be_focused()
    menu.get_by_role("menuitem", name=f"{action} “{title}”").click()


def open_conversation(page: Any, title: str) -> None:
    page.locator(".conversation-open", has_text=title).click()
    expect(page.locator("#chat-title")).to_have_text(title)


# -- the scenarios ---------------------------------------------------------------------------


def test_a_person_chats_sees_the_tool_and_the_task_and_comes_back(
    base_url: str, page: Any, watch: PageWatch, tmp_path: Path
) -> None:
    sign_in(page, base_url)
    expect(page.get_by_text("No tasks yet.")).to_be_visible()

    reply = send(page, "Add a task to buy groceries")

    expect(reply.locator(".message-text")).to_have_text(GROCERIES_REPLY)
    # The tool call is a sentence; what exactly was sent and returned is one click away.
    call = reply.locator(".tool-call")
    expect(call.locator("summary")).to_have_text("Added Buy groceries")
    expect(call.get_by_text('"status": "created"')).to_be_hidden()
    call.locator("summary").click()
    expect(call.locator(".tool-name")).to_have_text("add_task")
    arguments, result = call.locator("pre").all()
    expect(arguments).to_be_visible()
    expect(arguments).to_contain_text('"title": "Buy groceries"')
    expect(result).to_contain_text('"status": "created"')
    expect(page.locator("#task-list li")).to_have_count(1)
    expect(page.locator("#task-list li")).to_contain_text("Buy groceries")
    expect(conversation_rows(page)).to_have_count(1)
    expect(page.locator("#chat-title")).to_have_text("Add a task to buy groceries")
    page.screenshot(path=tmp_path / "after-first-turn.png")

    # A reload keeps the session (sessionStorage) and reopens the conversation from the server.
    page.reload()
    expect(page.locator(".conversation-open")).to_have_text(["Add a task to buy groceries"])
    expect(page.locator(".message.user .message-text")).to_have_text(
        ["Add a task to buy groceries"]
    )
    expect(page.locator(".message.assistant .message-text")).to_have_text([GROCERIES_REPLY])
    expect(page.locator(".message.assistant .tool-call summary")).to_have_text(
        ["Added Buy groceries"]
    )

    # A second conversation, newest first in the sidebar; then back and forth between them.
    page.get_by_role("button", name="New chat").click()
    expect(page.locator("#chat-title")).to_have_text("New chat")
    expect(page.locator("#message-list li")).to_have_count(0)
    expect(message_box(page)).to_be_focused()
    reply = send(page, "What's pending?")
    expect(reply.locator(".message-text")).to_contain_text("Buy groceries")
    expect(reply.locator(".tool-call summary")).to_have_text("Listed 1 pending task")
    expect(page.locator(".conversation-open")).to_have_text(
        ["What's pending?", "Add a task to buy groceries"]
    )
    open_conversation(page, "Add a task to buy groceries")
    expect(page.locator(".message-text")).to_have_text(
        ["Add a task to buy groceries", GROCERIES_REPLY]
    )
    expect(page.locator("#conversation-list li.selected")).to_contain_text("Add a task")
    open_conversation(page, "What's pending?")
    expect(page.locator(".message.user .message-text")).to_have_text(["What's pending?"])

    # The next message continues the open conversation.
    send(page, "Show me all my tasks")
    expect(page.locator(".message.user")).to_have_count(2)
    expect(conversation_rows(page)).to_have_count(2)

    # Tick the task off in the task list; the server keeps it ticked.
    task = page.get_by_role("checkbox", name=re.compile("Buy groceries"))
    task.check()
    expect(page.locator("#task-list li.completed")).to_have_count(1)
    page.reload()
    expect(page.get_by_role("checkbox", name=re.compile("Buy groceries"))).to_be_checked()

    # Rename, by keyboard: the form takes the focus, Enter saves.
    row_action(page, "What's pending?", "Rename")
    page.keyboard.press("Control+A")
    page.keyboard.type("Pending things")
    page.keyboard.press("Enter")
    expect(page.locator(".conversation-open").first).to_have_text("Pending things")
    expect(page.locator("#chat-title")).to_have_text("Pending things")

    # Delete asks first; a dismissed question deletes nothing.
    row_action(page, "Pending things", "Delete")
    assert watch.dialogs == ["confirm: Delete “Pending things” and all its messages?"]
    expect(page.locator(".conversation-open")).to_have_count(2)
    watch.accept_dialogs = True
    row_action(page, "Pending things", "Delete")
    expect(page.locator(".conversation-open")).to_have_text(["Add a task to buy groceries"])
    expect(page.locator("#chat-title")).to_have_text("New chat")
    expect(page.get_by_role("button", name="New chat")).to_be_focused()
    open_conversation(page, "Add a task to buy groceries")

    # On a phone the side panels are drawers, opened from the header over a backdrop, closed
    # with Escape, with their own close button, or with a tap on the backdrop.
    page.set_viewport_size(PHONE)
    expect(page.locator("#conversations-panel")).to_be_hidden()
    expect(page.locator("#tasks-panel")).to_be_hidden()
    expect(page.locator("#backdrop")).to_be_hidden()
    expect(message_box(page)).to_be_visible()
    page.get_by_role("button", name="Tasks").click()
    expect(page.locator("#tasks-panel")).to_be_visible()
    expect(page.locator("#backdrop")).to_be_visible()
    expect(page.get_by_role("checkbox", name=re.compile("Buy groceries"))).to_be_visible()
    page.screenshot(path=tmp_path / "phone-tasks.png")
    page.keyboard.press("Escape")
    expect(page.locator("#tasks-panel")).to_be_hidden()
    expect(page.locator("#backdrop")).to_be_hidden()
    expect(page.get_by_role("button", name="Tasks")).to_be_focused()
    page.get_by_role("button", name="Tasks").click()
    page.get_by_role("button", name="Close tasks").click()
    expect(page.locator("#tasks-panel")).to_be_hidden()
    expect(page.get_by_role("button", name="Tasks")).to_be_focused()
    page.get_by_role("button", name="Chats").click()
    page.locator("#backdrop").click(position={"x": 370, "y": 400})  # beside the drawer
    expect(page.locator("#conversations-panel")).to_be_hidden()
    page.get_by_role("button", name="Chats").click()
    page.locator(".conversation-open", has_text="Add a task to buy groceries").click()
    expect(page.locator("#conversations-panel")).to_be_hidden()
    expect(page.locator("#chat-title")).to_have_text("Add a task to buy groceries")
    page.screenshot(path=tmp_path / "phone-chat.png")


def test_a_failing_model_is_said_in_words_and_the_message_is_kept(
    serve: Any, page: Any, fake_model: FakeModelServer, tmp_path: Path
) -> None:
    # The model answers 500 to the first try and to every retry: the turn fails (a 502).
    fake_model.push(*[server_error(500, retry_after_ms=10) for _ in range(1 + MAX_RETRIES)])
    settings = fake_model.app_settings(agent_timeout_s=10.0)
    base_url = serve(**settings)
    sign_in(page, base_url)

    reply = send(page, "Add a task to buy groceries")

    expect(reply.locator(".message-error")).to_contain_text(
        "The model failed to answer. Your message is saved"
    )
    page.screenshot(path=tmp_path / "model-failed.png")
    expect(page.locator(".message.user .message-text")).to_have_text(
        ["Add a task to buy groceries"]
    )
    expect(message_box(page)).to_be_enabled()
    expect(page.locator("#send-button")).to_be_enabled()
    assert fake_model.unscripted == 0

    page.reload()  # the message was stored before the model ran
    expect(page.locator(".conversation-open")).to_have_text(["Add a task to buy groceries"])
    expect(page.locator(".message.user .message-text")).to_have_text(
        ["Add a task to buy groceries"]
    )
    expect(page.locator(".message.assistant")).to_have_count(0)


def test_text_from_the_server_is_shown_as_text_never_as_html(
    base_url: str, page: Any, watch: PageWatch
) -> None:
    sign_in(page, base_url)

    # Shift+Enter is a new line, not a send.
    box = message_box(page)
    box.fill(f"Add a task to {XSS}")
    box.press("Shift+Enter")
    expect(page.locator(".message")).to_have_count(0)
    expect(box).to_have_value(f"Add a task to {XSS}\n")
    reply = send(page, f"Add a task to {XSS}")

    # The message, the conversation title, the tool call and the task: all literal text.
    expect(page.locator(".message.user .message-text")).to_have_text(f"Add a task to {XSS}")
    expect(page.locator(".conversation-open")).to_have_text([f"Add a task to {XSS}"])
    expect(reply.locator(".tool-call summary")).to_have_text(f"Added {XSS}")
    expect(page.locator("#task-list")).to_contain_text(XSS)
    page.reload()  # and the same when rendered from the stored history
    expect(page.locator(".message.user .message-text")).to_have_text(f"Add a task to {XSS}")
    expect(page.locator("#task-list")).to_contain_text(XSS)

    assert page.locator("img").count() == 0
    assert watch.dialogs == []


def test_a_refused_message_says_how_long_to_wait_and_gives_the_text_back(
    serve: Any, page: Any, tmp_path: Path
) -> None:
    base_url = serve(chat_rate_limit="1/minute")
    sign_in(page, base_url)
    send(page, "Add a task to buy groceries")

    reply = send(page, "Add a task to pay bills")

    expect(reply.locator(".message-error")).to_have_text(
        re.compile(r"Too many messages\. Please wait \d+ seconds")
    )
    expect(message_box(page)).to_have_value("Add a task to pay bills")
    expect(page.locator("#send-button")).to_have_text(re.compile(r"Wait \d+ s"))
    expect(page.locator("#send-button")).to_be_disabled()
    page.screenshot(path=tmp_path / "rate-limited.png")


def test_production_asks_for_a_bearer_token_and_a_bad_one_is_refused_in_words(
    serve: Any, page: Any
) -> None:
    secret = "a-production-secret-of-at-least-32-characters"
    base_url = serve(app_env="production", auth_jwt_secret=secret)
    page.goto(base_url)
    token_box = page.get_by_label("Bearer token")
    expect(token_box).to_be_focused()
    expect(page.get_by_label("User id")).to_be_hidden()

    token_box.fill(make_token("alice", secret="another-secret-that-the-server-does-not-know"))
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("alert")).to_have_text(re.compile("Please sign in again"))
    expect(page.get_by_label("Bearer token")).to_be_visible()

    page.get_by_label("Bearer token").fill(make_token("alice", secret=secret))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Signed in as alice")).to_be_visible()
    expect(page.get_by_text("No tasks yet.")).to_be_visible()


def test_long_lists_load_more_as_they_are_scrolled(base_url: str, page: Any) -> None:
    # 25 conversations (the sidebar shows 20 at first) and 45 messages in the newest one (the
    # page shows the last 30 at first), stored through the API.
    headers = {"Authorization": f"Bearer {make_token('bob')}"}
    with httpx.Client(base_url=base_url, headers=headers) as api:
        ids = []
        for number in range(1, 26):
            created = api.post("/api/bob/conversations", json={"title": f"Chat {number:02d}"})
            assert created.status_code == 201, created.text
            ids.append(created.json()["id"])
        for number in range(1, 46):
            role = "user" if number % 2 else "assistant"
            body = {"role": role, "content": f"message {number:02d}"}
            added = api.post(f"/api/bob/conversations/{ids[-1]}/messages", json=body)
            assert added.status_code == 201, added.text
    sign_in(page, base_url, "bob")

    titles = page.locator(".conversation-open")
    expect(titles).to_have_count(20)
    expect(titles.first).to_have_text("Chat 25")
    page.get_by_role("button", name="Load more chats").scroll_into_view_if_needed()
    expect(titles).to_have_count(25)
    expect(titles.last).to_have_text("Chat 01")

    open_conversation(page, "Chat 25")
    texts = page.locator("#message-list .message-text")
    expect(texts).to_have_count(30)
    expect(texts.last).to_have_text("message 45")
    expect(texts.first).to_have_text("message 16")
    page.locator("#messages").evaluate("box => { box.scrollTop = 0; }")
    expect(texts).to_have_count(45)
    expect(texts).to_have_text([f"message {number:02d}" for number in range(1, 46)])
    expect(page.get_by_role("button", name="Load earlier messages")).to_be_hidden()

    # Scrolled up to read, the reader gets a way back to the newest message.
    latest = page.get_by_role("button", name="Latest")
    expect(latest).to_be_visible()
    latest.click()
    expect(latest).to_be_hidden()
    expect(texts.last).to_be_in_viewport()
    expect(message_box(page)).to_be_focused()
