"""Due dates, priorities, tags and repetitions through the task routes (API.md "Tasks")."""

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from tests.conftest import auth
from tests.tasks.test_router import TASKS, assert_validation_error, create, get, timestamp

BERLIN = ZoneInfo("Europe/Berlin")


def listed(client: TestClient, **params: str) -> list[dict[str, Any]]:
    response = client.get(TASKS, params=params, headers=auth("alice"))
    assert response.status_code == 200, response.text
    return response.json()


def titles(client: TestClient, **params: str) -> list[str]:
    return [task["title"] for task in listed(client, **params)]


def update(client: TestClient, task_id: int, method: str = "patch", **fields: Any):
    return client.request(method, f"{TASKS}/{task_id}", json=fields, headers=auth("alice"))


def complete(client: TestClient, task_id: int) -> dict[str, Any]:
    response = client.patch(f"{TASKS}/{task_id}/complete", headers=auth("alice"))
    assert response.status_code == 200, response.text
    return response.json()


def local(task: dict[str, Any], zone: ZoneInfo = BERLIN) -> datetime:
    return timestamp(task["due_at"]).astimezone(zone)


# --- the fields on create, read and update ----------------------------------------------------


def test_a_new_task_has_no_due_date_normal_priority_no_tags_and_no_repetition(
    client: TestClient,
) -> None:
    task = create(client)
    assert (task["due_at"], task["priority"], task["tags"], task["recurrence"]) == (
        None,
        "normal",
        [],
        None,
    )


def test_create_stores_every_field_and_answers_due_at_in_utc(client: TestClient) -> None:
    task = create(
        client,
        "Call the dentist",
        due_at="2031-05-06T15:00:00+02:00",
        priority="high",
        tags=["  Health ", "#calls", "health"],
        recurrence="rrule:freq=weekly;byday=tu",
    )
    assert timestamp(task["due_at"]) == datetime(2031, 5, 6, 13, 0, tzinfo=UTC)
    assert task["priority"] == "high"
    assert task["tags"] == ["calls", "health"]  # trimmed, lower-cased, no '#', merged, sorted
    assert task["recurrence"] == "FREQ=WEEKLY;BYDAY=TU"
    assert get(client, task["id"]) == task


def test_update_sets_and_null_clears_the_nullable_fields(client: TestClient) -> None:
    task = create(client)
    changed = update(
        client,
        task["id"],
        due_at="2031-01-01T09:00:00Z",
        priority="low",
        tags=["home"],
        recurrence="FREQ=DAILY",
    ).json()
    assert (changed["priority"], changed["tags"], changed["recurrence"]) == (
        "low",
        ["home"],
        "FREQ=DAILY",
    )
    assert update(client, task["id"], tags=["garden", "home"]).json()["tags"] == ["garden", "home"]
    cleared = update(client, task["id"], "put", due_at=None, recurrence=None, tags=[]).json()
    assert (cleared["due_at"], cleared["recurrence"], cleared["tags"]) == (None, None, [])
    assert cleared["priority"] == "low"  # not sent, not changed
    assert get(client, task["id"]) == cleared


@pytest.mark.parametrize("field", ["priority", "tags", "timezone"])
def test_null_for_a_field_that_cannot_be_empty_is_422(client: TestClient, field: str) -> None:
    task = create(client, priority="high", tags=["a"])
    assert_validation_error(update(client, task["id"], **{field: None}), "body", field)
    assert get(client, task["id"]) == task


# --- bad input: 422 with a sentence, nothing stored -------------------------------------------

BAD_CREATES = {
    "malformed rule": {"due_at": "2031-01-01T09:00:00Z", "recurrence": "FREQ=SOMETIMES"},
    "unknown rule part": {"due_at": "2031-01-01T09:00:00Z", "recurrence": "FREQ=DAILY;FOO=1"},
    "bad weekday": {"due_at": "2031-01-01T09:00:00Z", "recurrence": "FREQ=WEEKLY;BYDAY=XX"},
    "no FREQ": {"due_at": "2031-01-01T09:00:00Z", "recurrence": "BYDAY=MO"},
    "zero interval": {"due_at": "2031-01-01T09:00:00Z", "recurrence": "FREQ=DAILY;INTERVAL=0"},
    "hourly": {"due_at": "2031-01-01T09:00:00Z", "recurrence": "FREQ=HOURLY"},
    "by minute": {"due_at": "2031-01-01T09:00:00Z", "recurrence": "FREQ=DAILY;BYMINUTE=5"},
    "DTSTART": {"due_at": "2031-01-01T09:00:00Z", "recurrence": "DTSTART:20310101T090000Z"},
    "local UNTIL": {"due_at": "2031-01-01T09:00:00Z", "recurrence": "FREQ=DAILY;UNTIL=20311231"},
    "empty rule": {"due_at": "2031-01-01T09:00:00Z", "recurrence": " "},
    "rule without due date": {"recurrence": "FREQ=DAILY"},
    "due date without offset": {"due_at": "2031-01-01T09:00:00"},
    "due date only a date": {"due_at": "2031-01-01"},
    "due date a Unix time": {"due_at": 1924992000},
    "due date a Unix time in a string": {"due_at": "1924992000"},
    "due date before 2000": {"due_at": "1999-12-31T23:59:59Z"},
    "due date after 2999": {"due_at": "3000-01-01T00:00:00Z"},
    "due date in year 1": {"due_at": "0001-01-01T00:00:00+05:00"},
    "due date in year 9999": {"due_at": "9999-12-31T23:59:59-05:00"},
    "impossible date": {"due_at": "2031-02-30T09:00:00Z"},
    "eleven tags": {"tags": [f"tag{i}" for i in range(11)]},
    "tag of 33 characters": {"tags": ["x" * 33]},
    "empty tag": {"tags": ["  "]},
    "tag that is only #": {"tags": ["#"]},
    "tag with a control character": {"tags": ["a\tb"]},
    "tags not a list": {"tags": "work"},
    "unknown priority": {"priority": "urgent"},
    "unknown time zone": {"timezone": "Mars/Olympus_Mons"},
    "time zone path": {"timezone": "../../etc/passwd"},
}


@pytest.mark.parametrize("fields", BAD_CREATES.values(), ids=BAD_CREATES.keys())
def test_bad_fields_on_create_are_422_with_a_sentence_and_store_nothing(
    client: TestClient, fields: dict[str, Any]
) -> None:
    response = client.post(TASKS, json={"title": "x", **fields}, headers=auth("alice"))
    assert_validation_error(response)
    assert all(len(error["msg"]) > 10 for error in response.json()["detail"])
    assert listed(client) == []


def test_ten_tags_of_32_characters_are_accepted(client: TestClient) -> None:
    tags = [f"{i}".rjust(32, "x") for i in range(10)]
    assert create(client, tags=tags)["tags"] == sorted(tags)


def test_the_boundaries_of_the_due_date_range_are_accepted(client: TestClient) -> None:
    for due_at in ("2000-01-01T00:00:00Z", "2999-12-31T23:59:59Z"):
        assert timestamp(create(client, due_at=due_at)["due_at"]) == datetime.fromisoformat(due_at)


# A rule alone is fine on an update of a task that has a due date: see the test below.
BAD_UPDATES = {name: f for name, f in BAD_CREATES.items() if name != "rule without due date"}


@pytest.mark.parametrize("fields", BAD_UPDATES.values(), ids=BAD_UPDATES.keys())
def test_bad_fields_on_update_are_422_and_change_nothing(
    client: TestClient, fields: dict[str, Any]
) -> None:
    task = create(client, tags=["keep"])
    assert_validation_error(update(client, task["id"], **fields))
    assert get(client, task["id"]) == task


def test_an_update_that_leaves_a_repetition_without_a_due_date_is_422(client: TestClient) -> None:
    plain = create(client, "plain")
    response = update(client, plain["id"], recurrence="FREQ=DAILY")
    assert_validation_error(response, "body", "recurrence")
    assert "due_at" in response.json()["detail"][0]["msg"]
    assert get(client, plain["id"]) == plain

    weekly = create(client, "weekly", due_at="2031-01-06T09:00:00Z", recurrence="FREQ=WEEKLY")
    response = update(client, weekly["id"], due_at=None)
    assert_validation_error(response, "body", "due_at")
    assert get(client, weekly["id"]) == weekly
    # Clearing both at once is fine.
    cleared = update(client, weekly["id"], due_at=None, recurrence=None).json()
    assert (cleared["due_at"], cleared["recurrence"]) == (None, None)


# --- filters and sort -------------------------------------------------------------------------


@pytest.fixture
def agenda(client: TestClient) -> dict[str, int]:
    """Six tasks of alice's with due dates, priorities and tags; one of bob's."""
    specs = [
        ("report", {"due_at": "2031-03-10T09:00:00Z", "priority": "high", "tags": ["work"]}),
        ("groceries", {"due_at": "2031-03-09T17:00:00Z", "tags": ["errands", "home"]}),
        ("novel", {"priority": "low"}),
        ("taxes", {"due_at": "2031-03-12T00:00:00Z", "priority": "high"}),
        ("plants", {"due_at": "2031-03-10T08:00:00Z", "priority": "low", "tags": ["home"]}),
        ("review", {"tags": ["Work"], "priority": "high"}),
    ]
    ids = {title: create(client, title, **fields)["id"] for title, fields in specs}
    complete(client, ids["plants"])
    response = client.post(
        "/api/bob/tasks", json={"title": "bob's", "tags": ["work"]}, headers=auth("bob")
    )
    assert response.status_code == 201
    return ids


def test_filter_by_due_window_is_after_inclusive_and_before_exclusive(
    client: TestClient, agenda: dict[str, int]
) -> None:
    assert titles(client, due_after="2031-03-10T08:00:00Z", due_before="2031-03-12T00:00:00Z") == [
        "report",
        "plants",
    ]
    assert titles(client, due_before="2031-03-10T09:00:00+00:00") == ["groceries", "plants"]
    # An offset other than UTC is the same instant.
    assert titles(client, due_after="2031-03-12T01:00:00+01:00") == ["taxes"]


def test_filter_by_tag_priority_and_status_together(
    client: TestClient, agenda: dict[str, int]
) -> None:
    assert titles(client, tag="work") == ["report", "review"]  # never bob's
    assert titles(client, tag="#HOME") == ["groceries", "plants"]
    assert titles(client, tag="home", status="pending") == ["groceries"]
    assert titles(client, tag="home", status="completed") == ["plants"]
    assert titles(client, priority="high") == ["report", "taxes", "review"]
    assert titles(client, priority="low", status="pending") == ["novel"]
    assert titles(client, priority="high", tag="work", due_before="2031-03-11T00:00:00Z") == [
        "report"
    ]
    assert titles(client, tag="nothing") == []


def test_sort_by_created_due_and_priority(client: TestClient, agenda: dict[str, int]) -> None:
    created = ["report", "groceries", "novel", "taxes", "plants", "review"]
    assert titles(client) == created
    assert titles(client, sort="created") == created
    assert titles(client, sort="due") == [
        "groceries",
        "plants",
        "report",
        "taxes",
        "novel",  # no due date: last, oldest first
        "review",
    ]
    # High first; within a priority the soonest due first, no due date last.
    assert titles(client, sort="priority") == [
        "report",
        "taxes",
        "review",
        "groceries",
        "plants",
        "novel",
    ]
    assert titles(client, sort="due", status="pending", tag="work") == ["report", "review"]


BAD_FILTERS = {
    "naive due_before": {"due_before": "2031-03-10T09:00:00"},
    "not a time": {"due_after": "soon"},
    "a Unix time": {"due_before": "0.5"},
    "unknown priority": {"priority": "urgent"},
    "unknown sort": {"sort": "title"},
    "empty tag": {"tag": " "},
    "tag too long": {"tag": "x" * 33},
}


@pytest.mark.parametrize("params", BAD_FILTERS.values(), ids=BAD_FILTERS.keys())
def test_bad_filters_are_422(client: TestClient, params: dict[str, str]) -> None:
    assert_validation_error(client.get(TASKS, params=params, headers=auth("alice")), "query")


# --- ids are never reused ---------------------------------------------------------------------


def test_the_id_of_a_deleted_last_task_is_not_given_again(client: TestClient) -> None:
    first = create(client, "one")
    last = create(client, "two")
    assert client.delete(f"{TASKS}/{last['id']}", headers=auth("alice")).status_code == 204
    again = create(client, "three")
    assert again["id"] > last["id"] > first["id"]
    # An old link to task `last` still finds nothing rather than the new task.
    assert client.get(f"{TASKS}/{last['id']}", headers=auth("alice")).status_code == 404


def test_the_ids_of_a_deleted_last_conversation_and_its_messages_are_not_given_again(
    client: TestClient,
) -> None:
    base = "/api/alice/conversations"

    def conversation_with_message() -> tuple[int, int]:
        conversation = client.post(base, json={"title": "t"}, headers=auth("alice")).json()
        message = client.post(
            f"{base}/{conversation['id']}/messages",
            json={"role": "user", "content": "hello"},
            headers=auth("alice"),
        ).json()
        return conversation["id"], message["id"]

    conversation_id, message_id = conversation_with_message()
    assert client.delete(f"{base}/{conversation_id}", headers=auth("alice")).status_code == 204
    new_conversation_id, new_message_id = conversation_with_message()
    assert new_conversation_id > conversation_id
    assert new_message_id > message_id


# --- repeating tasks --------------------------------------------------------------------------


def test_completing_a_repeating_task_moves_it_to_the_next_occurrence_and_keeps_it_pending(
    client: TestClient,
) -> None:
    task = create(
        client,
        "Team sync",
        due_at="2031-01-06T09:00:00Z",  # a Monday
        recurrence="FREQ=WEEKLY;BYDAY=MO,TH",
    )
    moved = complete(client, task["id"])
    assert moved["completed"] is False
    assert timestamp(moved["due_at"]) == datetime(2031, 1, 9, 9, 0, tzinfo=UTC)  # Thursday
    assert timestamp(moved["updated_at"]) >= timestamp(task["updated_at"])
    # PUT completed=true does the same.
    moved = update(client, task["id"], "put", completed=True).json()
    assert (moved["completed"], timestamp(moved["due_at"])) == (
        False,
        datetime(2031, 1, 13, 9, 0, tzinfo=UTC),
    )
    assert get(client, task["id"]) == moved


def test_an_overdue_repeating_task_moves_to_the_first_occurrence_after_now(
    client: TestClient,
) -> None:
    task = create(
        client,
        "Water the plants",
        due_at="2020-02-03T09:00:00+01:00",
        recurrence="FREQ=DAILY",
        timezone="Europe/Berlin",
    )
    before = datetime.now(UTC)
    moved = complete(client, task["id"])
    after = datetime.now(UTC)
    due = local(moved)
    assert (due.hour, due.minute) == (9, 0)  # still 9am in Berlin
    # The first 9am after now: within a day of now, never in the past.
    assert before < due <= after + timedelta(days=1)


def test_a_repetition_with_a_count_ends_and_then_the_task_completes(client: TestClient) -> None:
    task = create(client, "Physio", due_at="2031-01-01T09:00:00Z", recurrence="FREQ=DAILY;COUNT=3")
    second = complete(client, task["id"])
    assert (second["recurrence"], second["due_at"][:10]) == ("FREQ=DAILY;COUNT=2", "2031-01-02")
    third = complete(client, task["id"])
    assert (third["recurrence"], third["due_at"][:10]) == ("FREQ=DAILY;COUNT=1", "2031-01-03")
    done = complete(client, task["id"])
    assert done["completed"] is True
    assert done["due_at"][:10] == "2031-01-03"
    # Toggling it back reopens it where it was.
    reopened = complete(client, task["id"])
    assert (reopened["completed"], reopened["due_at"]) == (False, done["due_at"])


def test_a_repetition_past_its_until_completes_the_task(client: TestClient) -> None:
    task = create(
        client,
        "Last one",
        due_at="2031-01-05T09:00:00Z",
        recurrence="FREQ=WEEKLY;UNTIL=20310110T000000Z",
    )
    assert complete(client, task["id"])["completed"] is True


CALENDAR_CASES = {
    # rule, first due (local), time zone, the next three due dates (local)
    "last day of the month": (
        "FREQ=MONTHLY;BYMONTHDAY=-1",
        "2031-01-31T18:00",
        "Europe/Berlin",
        ["2031-02-28T18:00", "2031-03-31T18:00", "2031-04-30T18:00"],
    ),
    "the 31st skips shorter months": (
        "FREQ=MONTHLY",
        "2031-01-31T18:00",
        "UTC",
        ["2031-03-31T18:00", "2031-05-31T18:00", "2031-07-31T18:00"],
    ),
    "month end into a leap February": (
        "FREQ=MONTHLY;BYMONTHDAY=-1",
        "2032-01-31T12:00",
        "America/New_York",
        ["2032-02-29T12:00", "2032-03-31T12:00", "2032-04-30T12:00"],
    ),
    "a leap day repeats on leap days": (
        "FREQ=YEARLY",
        "2032-02-29T08:00",
        "UTC",
        ["2036-02-29T08:00", "2040-02-29T08:00", "2044-02-29T08:00"],
    ),
    "every day at 9 across Europe's spring change": (
        "FREQ=DAILY",
        "2031-03-29T09:00",
        "Europe/Berlin",
        ["2031-03-30T09:00", "2031-03-31T09:00", "2031-04-01T09:00"],
    ),
    "every day at 9 across America's autumn change": (
        "FREQ=DAILY",
        "2031-11-01T09:00",
        "America/New_York",
        ["2031-11-02T09:00", "2031-11-03T09:00", "2031-11-04T09:00"],
    ),
    "every other week across a change": (
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=SU",
        "2031-10-19T07:30",
        "Europe/Berlin",
        ["2031-11-02T07:30", "2031-11-16T07:30", "2031-11-30T07:30"],
    ),
    "a time skipped by the spring change moves past the gap": (
        "FREQ=DAILY",
        "2031-03-29T02:30",
        "Europe/Berlin",
        # (Known limit: the stored due date is then 03:30, and the days after repeat that.)
        ["2031-03-30T03:30"],
    ),
}


@pytest.mark.parametrize("case", CALENDAR_CASES.values(), ids=CALENDAR_CASES.keys())
def test_repetitions_follow_the_calendar_in_the_time_zone_of_creation(
    client: TestClient, case: tuple[str, str, str, list[str]]
) -> None:
    rule, first, zone_name, expected = case
    zone = ZoneInfo(zone_name)
    first_due = datetime.fromisoformat(first).replace(tzinfo=zone)
    task = create(
        client, "Repeat", due_at=first_due.isoformat(), recurrence=rule, timezone=zone_name
    )
    seen = []
    for _ in expected:
        task = complete(client, task["id"])
        assert task["completed"] is False
        seen.append(local(task, zone).strftime("%Y-%m-%dT%H:%M"))
    assert seen == expected


def test_the_spring_change_shifts_the_utc_time_of_a_daily_9am_task(client: TestClient) -> None:
    task = create(
        client,
        "Stand-up",
        due_at="2031-03-29T09:00:00+01:00",
        recurrence="FREQ=DAILY",
        timezone="Europe/Berlin",
    )
    moved = complete(client, task["id"])
    assert timestamp(moved["due_at"]) == datetime(2031, 3, 30, 7, 0, tzinfo=UTC)  # 9:00 CEST


def test_a_repeating_task_without_a_time_zone_repeats_in_utc(client: TestClient) -> None:
    task = create(client, "UTC sync", due_at="2031-03-29T09:00:00+01:00", recurrence="FREQ=DAILY")
    moved = complete(client, task["id"])
    assert timestamp(moved["due_at"]) == datetime(2031, 3, 30, 8, 0, tzinfo=UTC)
