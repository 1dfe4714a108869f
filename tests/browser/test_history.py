"""The chat page's history features, used as a person would: searching old chats from the
sidebar, archiving chats and bringing them back (API.md, "History features").

Same fixtures as test_chat_page.py (see conftest.py beside this file) and its helpers.
"""

import re
from pathlib import Path
from typing import Any

import httpx

from tests.browser.conftest import PageWatch
from tests.browser.test_chat_page import (
    PHONE,
    conversation_rows,
    message_box,
    open_conversation,
    row_action,
    send,
    sign_in,
)
from tests.conftest import make_token

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails under REQUIRE_SERVICES=1)
    expect = None

GROCERIES = "Add a task to buy groceries"
PLUMBER = "Add a task to call the plumber"


def search_box(page: Any) -> Any:
    return page.get_by_role("searchbox", name="Search chats")


def search_results(page: Any) -> Any:
    return page.locator("#search-results li")


def two_chats(page: Any) -> None:
    send(page, GROCERIES)
    page.get_by_role("button", name="New chat").click()
    send(page, PLUMBER)
    expect(page.locator(".conversation-open")).to_have_text([PLUMBER, GROCERIES])


def test_a_person_finds_an_old_chat_by_searching(base_url: str, page: Any, tmp_path: Path) -> None:
    sign_in(page, base_url)
    two_chats(page)
    open_conversation(page, GROCERIES)

    # Typing searches once the typing pauses; the results take the conversation list's place.
    search_box(page).fill("plumber")
    results = search_results(page)
    expect(results).to_have_count(1)
    expect(page.locator("#conversation-list")).to_be_hidden()
    expect(results.locator(".result-title")).to_have_text(PLUMBER)
    expect(results.locator(".result-title mark")).to_have_text(["plumber"])
    expect(results.locator(".result-snippet mark")).to_have_text([re.compile("plumber", re.I)])
    expect(results.locator("time")).to_be_visible()
    # The title, the question and the answer: one result per conversation, the rest counted.
    expect(page.locator("#search-status")).to_have_text("3 matches in 1 chat.")
    expect(results.locator(".result-meta")).to_contain_text("1 more match")
    page.screenshot(path=tmp_path / "search-results.png")

    # By keyboard: Down arrow to the result, Enter opens it with the matched messages marked.
    search_box(page).press("ArrowDown")
    expect(results.get_by_role("button")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#chat-title")).to_have_text(PLUMBER)
    expect(page.locator(".message.found")).to_have_count(2)
    expect(message_box(page)).to_be_focused()
    expect(results.get_by_role("button")).to_have_attribute("aria-current", "true")
    page.screenshot(path=tmp_path / "search-opened.png")

    # Enter searches at once; no hit is said in words.
    search_box(page).fill("dentist")
    search_box(page).press("Enter")
    expect(page.locator("#search-status")).to_have_text("No chats match “dentist”.")
    expect(results).to_have_count(0)

    # Escape ends the search: the box is emptied and the conversation list is back.
    search_box(page).press("Escape")
    expect(search_box(page)).to_have_value("")
    expect(page.locator("#search-view")).to_be_hidden()
    expect(conversation_rows(page)).to_have_count(2)

    # On a phone the search lives in the Chats drawer; opening a result closes the drawer.
    page.set_viewport_size(PHONE)
    page.get_by_role("button", name="Chats").click()
    search_box(page).fill("groceries")
    expect(results.locator(".result-title")).to_have_text([GROCERIES])
    page.screenshot(path=tmp_path / "phone-search.png")
    results.get_by_role("button").click()
    expect(page.locator("#conversations-panel")).to_be_hidden()
    expect(page.locator("#chat-title")).to_have_text(GROCERIES)


def test_a_snippet_shows_markup_from_a_message_as_text(
    base_url: str, page: Any, watch: PageWatch
) -> None:
    content = 'Call the <b>bold</b> plumber & "fix" <img src=x onerror=alert(1)> &amp; it'
    headers = {"Authorization": f"Bearer {make_token('alice')}"}
    with httpx.Client(base_url=base_url, headers=headers) as api:
        created = api.post("/api/alice/conversations", json={"title": "Notes"})
        assert created.status_code == 201, created.text
        path = f"/api/alice/conversations/{created.json()['id']}/messages"
        added = api.post(path, json={"role": "user", "content": content})
        assert added.status_code == 201, added.text
    sign_in(page, base_url)

    search_box(page).fill("bold plumber")

    snippet = search_results(page).locator(".result-snippet")
    expect(snippet).to_have_text(f"You: {content}")  # every character, `&amp;` included
    expect(snippet.locator("mark")).to_have_text(["bold", "plumber"])
    assert page.locator("#search-results b, #search-results img").count() == 0
    assert watch.dialogs == []


def test_a_person_archives_a_chat_and_brings_it_back(
    base_url: str, page: Any, tmp_path: Path
) -> None:
    sign_in(page, base_url)
    two_chats(page)

    # Archiving the open conversation: it leaves the list but stays open, marked as archived.
    row_action(page, PLUMBER, "Archive")
    expect(page.locator(".conversation-open")).to_have_text([GROCERIES])
    expect(page.locator(".conversation-open")).to_be_focused()  # the row that took its place
    expect(page.locator("#chat-title")).to_have_text(PLUMBER)
    expect(page.locator("#chat-archived")).to_have_text("Archived")

    # "Show archived" lists it; "Unarchive" puts it back among the chats.
    page.get_by_role("button", name="Show archived").click()
    expect(page.locator("#conversations-title")).to_have_text("Archived chats")
    expect(page.locator(".conversation-open")).to_have_text([PLUMBER])
    page.screenshot(path=tmp_path / "archived-list.png")
    row_action(page, PLUMBER, "Unarchive")
    expect(page.get_by_text("No archived chats.")).to_be_visible()
    expect(page.locator("#chat-archived")).to_be_hidden()
    page.get_by_role("button", name="Back to chats").click()
    expect(page.locator("#conversations-title")).to_have_text("Chats")
    expect(page.locator(".conversation-open")).to_have_text([PLUMBER, GROCERIES])

    # Chatting in an archived conversation brings it back (the server un-archives it).
    row_action(page, GROCERIES, "Archive")
    expect(page.locator(".conversation-open")).to_have_text([PLUMBER])
    page.get_by_role("button", name="Show archived").click()
    open_conversation(page, GROCERIES)
    expect(page.locator("#chat-archived")).to_be_visible()
    send(page, "Show me all my tasks")
    expect(page.locator("#chat-archived")).to_be_hidden()
    expect(page.get_by_text("No archived chats.")).to_be_visible()
    page.get_by_role("button", name="Back to chats").click()
    expect(page.locator(".conversation-open")).to_have_text([GROCERIES, PLUMBER])


def test_a_person_downloads_a_chat_as_markdown(base_url: str, page: Any, tmp_path: Path) -> None:
    sign_in(page, base_url)
    send(page, GROCERIES)

    page.get_by_role("button", name=f"Actions for “{GROCERIES}”").click()
    with page.expect_download() as download_info:
        page.get_by_role("menuitem", name=f"Download as Markdown “{GROCERIES}”").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".md")
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    text = saved.read_text(encoding="utf-8")
    assert GROCERIES in text and "Buy groceries" in text
