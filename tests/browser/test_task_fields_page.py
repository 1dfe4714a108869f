"""Due dates, priorities and tags in the chat page's task list, and today's token usage.

These need the server side of "Tasks as people keep them" (Task `due_at`, `priority`, `tags`,
`recurrence`; `GET /tasks?sort=&tag=`) and of "Usage and budget" (`GET /api/{user_id}/usage`,
the model's usage stored per turn): run them once those are merged. Against an older server the
page shows none of this and has no error (tests/browser/test_look.py checks the console).
"""

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from testkit.model_server import FakeModelServer, answer
from tests.browser.test_chat_page import send, sign_in
from tests.browser.test_look import assert_accessible
from tests.conftest import make_token

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails under REQUIRE_SERVICES=1)
    expect = None


def at_noon(days_from_today: int) -> str:
    day = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    return (day + timedelta(days=days_from_today)).isoformat().replace("+00:00", "Z")


def task_row(page: Any, title: str) -> Any:
    return page.locator("#task-list li", has_text=title)


def test_due_dates_priorities_and_tags_are_shown_sorted_and_filtered(
    base_url: str, open_page: Any, tmp_path: Path
) -> None:
    headers = {"Authorization": f"Bearer {make_token('alice')}"}
    with httpx.Client(base_url=base_url, headers=headers) as api:
        for body in (
            {"title": "Pay rent", "due_at": at_noon(1), "priority": "high", "tags": ["home"]},
            {"title": "File taxes", "due_at": at_noon(-1), "priority": "low", "tags": ["work"]},
            {"title": "Read a book"},
        ):
            created = api.post("/api/alice/tasks", json=body)
            assert created.status_code == 201, created.text
    page = open_page(timezone_id="UTC")
    sign_in(page, base_url)

    expect(task_row(page, "Pay rent").locator(".badge.due")).to_have_text(
        re.compile(r"^Due Tomorrow ")
    )
    expect(task_row(page, "Pay rent").locator(".badge.priority")).to_have_text("High priority")
    expect(task_row(page, "File taxes").locator(".badge.due")).to_have_text(
        re.compile(r"^Overdue · Yesterday")
    )
    expect(task_row(page, "File taxes").locator(".badge.priority")).to_have_text("Low priority")
    expect(task_row(page, "Read a book").locator(".badge")).to_have_count(0)
    page.screenshot(path=tmp_path / "tasks-with-due-dates.png")
    assert_accessible(page, "task list with due dates, priorities and tags")

    titles = page.locator("#task-list .task-title")
    page.get_by_label("Sort by", exact=True).select_option(label="Due date")
    expect(titles).to_have_text(["File taxes", "Pay rent", "Read a book"])  # no due date last
    page.get_by_label("Sort by", exact=True).select_option(label="Priority")
    expect(titles).to_have_text(["Pay rent", "Read a book", "File taxes"])

    page.get_by_role("button", name="Show tasks tagged work").click()
    expect(titles).to_have_text(["File taxes"])
    expect(page.locator("#task-tag-filter")).to_contain_text("Tagged #work")
    page.get_by_role("button", name="Show all tags").click()
    expect(titles).to_have_count(3)

    page.get_by_label("Show", exact=True).select_option(label="Completed")
    expect(page.get_by_text("No tasks match.")).to_be_visible()


def test_todays_token_usage_is_shown_once_a_model_used_some(
    serve: Any, page: Any, fake_model: FakeModelServer
) -> None:
    fake_model.push(answer("Hello! Your list is empty."))
    sign_in(page, serve(**fake_model.app_settings(agent_timeout_s=10.0)))
    expect(page.locator("#usage")).to_be_hidden()  # no turn yet today

    send(page, "Hello")

    expect(page.locator("#usage")).to_have_text(re.compile(r"^Today: [\d,]+ tokens$"))
