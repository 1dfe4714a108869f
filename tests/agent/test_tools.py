"""The task tools' new arguments and results (API.md "Task tools"), run through execute_tool
with a ToolContext as the chat turn and MCP build it: the fields, the turn's time zone, errors."""

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import Session

from backend.app.agent.tools import ToolContext, execute_tool
from backend.app.models import User
from backend.app.tasks import service as task_service

USER = "alice"


@pytest.fixture
def call(session: Session):
    session.add(User(id=USER))
    session.commit()

    def run(name: str, timezone: str = "UTC", **arguments: Any) -> Any:
        return execute_tool(ToolContext(session, USER, timezone), name, arguments)

    return run


def stored(session: Session, task_id: int):
    session.expire_all()
    return task_service.get_task(session, USER, task_id)


def test_a_date_means_the_end_of_that_day_in_the_turns_time_zone(call, session) -> None:
    added = call("add_task", "America/New_York", title="Rent", due_at="2031-06-01")
    due = stored(session, added["task_id"]).due_at
    assert due == datetime(2031, 6, 2, 3, 59, 59, tzinfo=UTC)  # 23:59:59 EDT


def test_a_time_without_an_offset_is_read_in_the_turns_time_zone(call, session) -> None:
    added = call("add_task", "Asia/Tokyo", title="Call", due_at="2031-06-01T15:00:00")
    assert stored(session, added["task_id"]).due_at == datetime(2031, 6, 1, 6, 0, tzinfo=UTC)
    offset = call("add_task", "Asia/Tokyo", title="Call", due_at="2031-06-01T15:00:00Z")
    assert stored(session, offset["task_id"]).due_at == datetime(2031, 6, 1, 15, 0, tzinfo=UTC)


def test_add_takes_every_field_and_list_returns_them_in_the_turns_time_zone(call) -> None:
    added = call(
        "add_task",
        "Europe/Berlin",
        title="Review",
        description="Q3",
        due_at="2031-06-01T15:00:00+02:00",
        priority="high",
        tags=["Work"],
        recurrence="FREQ=WEEKLY",
    )
    assert added == {"task_id": added["task_id"], "status": "created", "title": "Review"}
    [listed] = call("list_tasks", "Europe/Berlin")
    assert listed == {
        "id": added["task_id"],
        "title": "Review",
        "description": "Q3",
        "completed": False,
        "due_at": "2031-06-01T15:00:00+02:00",
        "priority": "high",
        "tags": ["work"],
        "recurrence": "FREQ=WEEKLY",
    }
    [in_utc] = call("list_tasks")
    assert in_utc["due_at"] == "2031-06-01T13:00:00+00:00"


def test_list_filters_a_date_window_as_whole_days_in_the_turns_time_zone(call) -> None:
    zone = "Europe/Berlin"
    for title, due_at in (
        ("before", "2031-06-01T23:59:00+02:00"),
        ("first minute", "2031-06-02T00:00:00+02:00"),
        ("last minute", "2031-06-03T23:59:00+02:00"),
        ("after", "2031-06-04T00:00:00+02:00"),
    ):
        call("add_task", zone, title=title, due_at=due_at, tags=["x"])
    window = call("list_tasks", zone, due_after="2031-06-02", due_before="2031-06-03")
    assert [t["title"] for t in window] == ["first minute", "last minute"]
    assert call("list_tasks", zone, tag="#X", priority="normal", status="pending") == call(
        "list_tasks", zone
    )
    assert call("list_tasks", zone, priority="high") == []


def test_completing_a_repeating_task_returns_the_next_due_date(call, session) -> None:
    # Created in Berlin on a Saturday before the spring change: Sunday 9am is CEST.
    added = call(
        "add_task",
        "Europe/Berlin",
        title="Stretch",
        due_at="2031-03-29T09:00:00",
        recurrence="FREQ=DAILY",
    )
    result = call("complete_task", "Europe/Berlin", task_id=added["task_id"])
    assert result == {
        "task_id": added["task_id"],
        "status": "completed",
        "title": "Stretch",
        "next_due_at": "2031-03-30T09:00:00+02:00",
    }
    task = stored(session, added["task_id"])
    assert task.completed is False
    # The same over another turn in UTC: the rule keeps Berlin's 9am, shown in UTC.
    again = call("complete_task", task_id=added["task_id"])
    assert again["next_due_at"] == "2031-03-31T07:00:00+00:00"


def test_completing_a_plain_task_has_no_next_due_date(call, session) -> None:
    added = call("add_task", title="Once", due_at="2031-03-29")
    result = call("complete_task", task_id=added["task_id"])
    assert result == {"task_id": added["task_id"], "status": "completed", "title": "Once"}
    assert stored(session, added["task_id"]).completed is True


def test_update_changes_the_fields_and_empty_values_clear_them(call, session) -> None:
    task_id = call("add_task", title="Plan", description="d")["task_id"]
    updated = call(
        "update_task",
        "Europe/Berlin",
        task_id=task_id,
        due_at="2031-07-01T08:00:00",
        priority="low",
        tags=["home", "garden"],
        recurrence="FREQ=MONTHLY",
        title=None,  # models send unused arguments as null: nothing changes
    )
    assert updated == {"task_id": task_id, "status": "updated", "title": "Plan"}
    task = stored(session, task_id)
    assert (task.due_at, task.priority, task.tags, task.recurrence, task.timezone) == (
        datetime(2031, 7, 1, 6, 0, tzinfo=UTC),
        "low",
        ["garden", "home"],
        "FREQ=MONTHLY",
        "Europe/Berlin",
    )
    call("update_task", task_id=task_id, due_at="", recurrence="", tags=[], description="")
    task = stored(session, task_id)
    assert (task.due_at, task.recurrence, task.tags, task.description) == (None, None, [], None)


BAD_CALLS = {
    "a rule without a due date": ("add_task", {"title": "x", "recurrence": "FREQ=DAILY"}),
    "a malformed rule": ("add_task", {"title": "x", "due_at": "2031-01-01", "recurrence": "x"}),
    "a date that is not one": ("add_task", {"title": "x", "due_at": "next tuesday"}),
    "a date out of range": ("add_task", {"title": "x", "due_at": "1999-12-31"}),
    "eleven tags": ("add_task", {"title": "x", "tags": [str(i) for i in range(11)]}),
    "an unknown priority": ("add_task", {"title": "x", "priority": "urgent"}),
    "a bad filter date": ("list_tasks", {"due_before": "2031-13-01"}),
}


@pytest.mark.parametrize("name, arguments", BAD_CALLS.values(), ids=BAD_CALLS.keys())
def test_bad_arguments_are_error_results_and_store_nothing(call, name, arguments) -> None:
    result = call(name, **arguments)
    assert set(result) == {"error", "code"} and "invalid arguments" in result["error"]
    assert result["code"] == "invalid_arguments"
    assert call("list_tasks") == []


def test_a_repetition_left_without_a_due_date_is_an_error_result(call, session) -> None:
    task_id = call("add_task", title="Gym", due_at="2031-01-01", recurrence="FREQ=DAILY")["task_id"]
    result = call("update_task", task_id=task_id, due_at="")
    assert "due_at" in result["error"]
    assert stored(session, task_id).due_at is not None


def test_completing_a_completed_task_changes_nothing_and_says_so(call, session) -> None:
    added = call("add_task", title="Pay rent")
    first = call("complete_task", task_id=added["task_id"])
    assert first == {"task_id": added["task_id"], "status": "completed", "title": "Pay rent"}
    again = call("complete_task", task_id=added["task_id"])
    assert again == {**first, "already_completed": True}
    assert stored(session, added["task_id"]).completed is True


def test_failures_carry_a_typed_code_beside_the_sentence(call) -> None:
    assert call("complete_task", task_id=999) == {
        "error": "task 999 not found",
        "code": "not_found",
    }
    assert call("no_such_tool")["code"] == "unknown_tool"
    assert call("add_task")["code"] == "invalid_arguments"
