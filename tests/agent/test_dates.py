"""The built-in agent reads due dates, repetitions, priorities and tags in the turn's time zone.

Each case is a chat message sent through POST /chat with a `timezone`, on an app whose clock is
fixed (create_app(..., clock=...)); the stored task is then read back through the REST API. The
expected due time is written as a wall-clock time in the user's zone ("2026-03-28 15:00"), a date
alone (the end of that day there), or an offset from now ("+2h"); the test turns it into UTC.
"""

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from backend.app.main import create_app
from tests.conftest import auth

# Friday 27 March 2026: 11:00 in Berlin (CET, two days before its summer time), 06:00 in New
# York (EDT since 8 March), 15:30 in Kolkata. The same date in all three.
FIXED = datetime(2026, 3, 27, 10, 0, tzinfo=UTC)
ZONES = ("Europe/Berlin", "America/New_York", "Asia/Kolkata")
CHAT = "/api/alice/chat"


def expected_due(local: str | None, zone: str) -> datetime | None:
    """The UTC time a wall-clock expectation in `zone` stands for."""
    if local is None:
        return None
    if local.startswith("+"):
        amount, unit = int(local[1:-1]), local[-1]
        return FIXED + (timedelta(hours=amount) if unit == "h" else timedelta(minutes=amount))
    if len(local) == 10:  # a date alone: the end of that day where the user is
        day = datetime.fromisoformat(local).date()
        return datetime.combine(day, time(23, 59, 59), ZoneInfo(zone)).astimezone(UTC)
    return datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


def case(
    message: str,
    title: str,
    due: str | None = None,
    *,
    priority: str = "normal",
    tags: tuple[str, ...] = (),
    rule: str | None = None,
) -> tuple[str, str, str | None, str, tuple[str, ...], str | None]:
    return message, title, due, priority, tags, rule


CASES = [
    # dates and times
    case("remind me to call the dentist tomorrow at 3pm", "Call the dentist", "2026-03-28 15:00"),
    case("I need to call the dentist tomorrow", "Call the dentist", "2026-03-28"),
    case("add call mom next friday", "Call mom", "2026-04-03"),
    case("add check the oven in 2 hours", "Check the oven", "+2h"),
    case("add call grandma in 30 minutes", "Call grandma", "+30m"),
    case("add pay rent on the 5th", "Pay rent", "2026-04-05"),
    case("add see the doctor on the 15th at 11am", "See the doctor", "2026-04-15 11:00"),
    case("add call mom at 6pm tomorrow", "Call mom", "2026-03-28 18:00"),
    case("add pay the bills in three days", "Pay the bills", "2026-03-30"),
    case("add dinner with sam tonight", "Dinner with sam", "2026-03-27 20:00"),
    case("add renew passport on may 5", "Renew passport", "2026-05-05"),
    case("add read 1984 by sunday", "Read 1984", "2026-03-29"),
    case("add clean the gutters next week", "Clean the gutters", "2026-04-03"),
    case("add submit the report by 5pm", "Submit the report", "2026-03-27 17:00"),
    case("add buy flowers on december 24", "Buy flowers", "2026-12-24"),
    case(
        "add dentist appointment on 2026-04-14 at 10:30", "Dentist appointment", "2026-04-14 10:30"
    ),
    case("add pick up the kids at 3:30pm tomorrow", "Pick up the kids", "2026-03-28 15:30"),
    case("add call the landlord the day after tomorrow", "Call the landlord", "2026-03-29"),
    case("remind me to water the garden on saturday", "Water the garden", "2026-03-28"),
    case("add return library books in a week", "Return library books", "2026-04-03"),
    case("add meeting prep tmrw", "Meeting prep", "2026-03-28"),
    case("add call the plumber this sunday", "Call the plumber", "2026-03-29"),
    case("add make coffee at noon tomorrow", "Make coffee", "2026-03-28 12:00"),
    case("add order pizza tomorrow at 7:30 pm", "Order pizza", "2026-03-28 19:30"),
    case("add meet tom at the cafe on april 2nd", "Meet tom at the cafe", "2026-04-02"),
    case("add call the bank monday", "Call the bank", "2026-03-30"),
    case("add book a table for saturday", "Book a table", "2026-03-28"),
    case("add tomorrow: call the plumber", "Call the plumber", "2026-03-28"),
    # Berlin moves its clocks on Sunday 29 March: 8pm there is then 18:00 UTC, not 19:00.
    case("add watch the game on sunday at 8pm", "Watch the game", "2026-03-29 20:00"),
    # repetitions
    case(
        "add team meeting every monday", "Team meeting", "2026-03-30", rule="FREQ=WEEKLY;BYDAY=MO"
    ),
    case(
        "add water the plants every other day",
        "Water the plants",
        "2026-03-27",
        rule="FREQ=DAILY;INTERVAL=2",
    ),
    case("add call dad every day at 9pm", "Call dad", "2026-03-27 21:00", rule="FREQ=DAILY"),
    case(
        "add gym every monday and wednesday at 7am",
        "Gym",
        "2026-03-30 07:00",
        rule="FREQ=WEEKLY;BYDAY=MO,WE",
    ),
    case(
        "add check email every weekday",
        "Check email",
        "2026-03-27",
        rule="FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
    ),
    case("add pay rent every month", "Pay rent", "2026-03-27", rule="FREQ=MONTHLY"),
    case("add backup the laptop weekly", "Backup the laptop", "2026-03-27", rule="FREQ=WEEKLY"),
    case(
        "add pay the nanny every friday at 5pm",
        "Pay the nanny",
        "2026-03-27 17:00",
        rule="FREQ=WEEKLY;BYDAY=FR",
    ),
    case("add pay insurance every year", "Pay insurance", "2026-03-27", rule="FREQ=YEARLY"),
    case(
        "add water the lawn every 3 days",
        "Water the lawn",
        "2026-03-27",
        rule="FREQ=DAILY;INTERVAL=3",
    ),
    case(
        "add go to the gym fortnightly",
        "Go to the gym",
        "2026-03-27",
        rule="FREQ=WEEKLY;INTERVAL=2",
    ),
    case(
        "add walk the dog every other day at 7pm",
        "Walk the dog",
        "2026-03-27 19:00",
        rule="FREQ=DAILY;INTERVAL=2",
    ),
    # priorities
    case("add call the bank urgent", "Call the bank", priority="high"),
    case("add urgent: call the bank", "Call the bank", priority="high"),
    case("add an urgent task to call the bank", "Call the bank", priority="high"),
    case("add buy milk low priority", "Buy milk", priority="low"),
    case("add email the team asap", "Email the team", priority="high"),
    case("add update the cv, important", "Update the cv", priority="high"),
    case("add clean the attic, low priority", "Clean the attic", priority="low"),
    case("add fix the bike not urgent", "Fix the bike", priority="low"),
    case("add renew the lease high priority", "Renew the lease", priority="high"),
    # tags
    case("add write the report #work", "Write the report", tags=("work",)),
    case("add send invoices #work #finance", "Send invoices", tags=("work", "finance")),
    case("add buy #groceries for the weekend", "Buy for the weekend", tags=("groceries",)),
    case(
        "add plan the trip, high priority, #travel",
        "Plan the trip",
        priority="high",
        tags=("travel",),
    ),
    case("add book flights low priority #travel", "Book flights", priority="low", tags=("travel",)),
    # all together
    case(
        "add file taxes by april 15 #finance high priority",
        "File taxes",
        "2026-04-15",
        priority="high",
        tags=("finance",),
    ),
    case(
        "I need to finish the slides by monday #work urgent",
        "Finish the slides",
        "2026-03-30",
        priority="high",
        tags=("work",),
    ),
    case(
        "add prepare the talk tomorrow at 10am #work #conference urgent",
        "Prepare the talk",
        "2026-03-28 10:00",
        priority="high",
        tags=("work", "conference"),
    ),
    case(
        "add standup every weekday at 9:30am #work",
        "Standup",
        "2026-03-30 09:30",
        tags=("work",),
        rule="FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
    ),
    # ordinary titles keep their words: nothing in them is a date by accident
    case("add call may", "Call may"),
    case("add Call May", "Call May"),
    case("add read 1984", "Read 1984"),
    case("add buy 2 apples", "Buy 2 apples"),
    case("add watch friday night lights", "Watch friday night lights"),
    case("add buy a birthday gift for anna", "Buy a birthday gift for anna"),
    case("add read chapter 5", "Read chapter 5"),
    case("add book a table for 4", "Book a table for 4"),
    case("add urgent care appointment", "Urgent care appointment"),
    case("add 'call the dentist tomorrow'", "call the dentist tomorrow"),
]
# "every weekday at 9:30am" on a Friday at 11:00 (Berlin) / 15:30 (Kolkata) is Monday; in New
# York (06:00) it is still today.
ZONE_SPECIFIC = {
    ("add standup every weekday at 9:30am #work", "America/New_York"): "2026-03-27 09:30"
}


@pytest.fixture
def fixed_client(engine: Engine, make_settings) -> Iterator[TestClient]:
    app = create_app(make_settings(), clock=lambda: FIXED)
    with TestClient(app) as client:
        yield client
    app.state.engine.dispose()


def chat(client: TestClient, message: str, zone: str) -> dict[str, Any]:
    body = {"message": message, "timezone": zone}
    response = client.post(CHAT, json=body, headers=auth("alice"))
    assert response.status_code == 200, response.text
    return response.json()


def stored_tasks(client: TestClient) -> list[dict[str, Any]]:
    response = client.get("/api/alice/tasks", headers=auth("alice"))
    assert response.status_code == 200
    return response.json()


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize(
    ("message", "title", "due", "priority", "tags", "recurrence"), CASES, ids=[c[0] for c in CASES]
)
def test_a_task_is_stored_with_what_its_message_says(
    fixed_client: TestClient,
    zone: str,
    message: str,
    title: str,
    due: str | None,
    priority: str,
    tags: tuple[str, ...],
    recurrence: str | None,
) -> None:
    chat(fixed_client, message, zone)
    [task] = stored_tasks(fixed_client)
    due = ZONE_SPECIFIC.get((message, zone), due)
    assert task["title"] == title
    stored_due = datetime.fromisoformat(task["due_at"]) if task["due_at"] else None
    assert stored_due == expected_due(due, zone)
    assert task["priority"] == priority
    assert sorted(task["tags"]) == sorted(tags)
    assert task["recurrence"] == recurrence


def test_at_a_time_already_past_today_means_tomorrow(fixed_client: TestClient) -> None:
    # 3pm: still ahead in New York (06:00), already past in Kolkata (15:30).
    chat(fixed_client, "add call the office at 3pm", "America/New_York")
    chat(fixed_client, "add call home at 3pm", "Asia/Kolkata")
    office, home = stored_tasks(fixed_client)
    assert datetime.fromisoformat(office["due_at"]) == expected_due(
        "2026-03-27 15:00", "America/New_York"
    )
    assert datetime.fromisoformat(home["due_at"]) == expected_due(
        "2026-03-28 15:00", "Asia/Kolkata"
    )


def test_every_day_at_9am_is_9am_in_summer_time_too(engine: Engine, make_settings) -> None:
    # Sunday 29 March 2026, 05:30 UTC: 07:30 in Berlin, an hour after the clocks went forward.
    app = create_app(make_settings(), clock=lambda: datetime(2026, 3, 29, 5, 30, tzinfo=UTC))
    with TestClient(app) as client:
        chat(client, "add standup every day at 9am", "Europe/Berlin")
        [task] = stored_tasks(client)
    app.state.engine.dispose()
    assert datetime.fromisoformat(task["due_at"]) == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)
    assert task["recurrence"] == "FREQ=DAILY"


def test_the_reply_says_when_the_task_is_due(fixed_client: TestClient) -> None:
    answer = chat(fixed_client, "remind me to call the dentist tomorrow at 3pm", "Asia/Kolkata")
    assert "due tomorrow at 3:00 PM" in answer["response"]
    answer = chat(fixed_client, "add pay rent on the 5th #home urgent", "Asia/Kolkata")
    assert "due on Apr 5" in answer["response"]
    assert "high priority" in answer["response"] and "#home" in answer["response"]


def test_what_is_due_today_this_week_and_overdue(fixed_client: TestClient) -> None:
    zone = "America/New_York"  # Friday 27 March, 06:00
    for message in (
        "add submit the report at 5pm",  # today
        "add call the bank on sunday",  # this week
        "add pay rent on the 5th",  # later
        "add renew the lease",  # no date
        "add buy milk today",
    ):
        chat(fixed_client, message, zone)
    # Overdue: made due an hour ago through the REST API.
    response = fixed_client.post(
        "/api/alice/tasks",
        json={"title": "Send the invoice", "due_at": "2026-03-27T05:00:00-04:00"},
        headers=auth("alice"),
    )
    assert response.status_code == 201, response.text

    today = chat(fixed_client, "what's due today?", zone)
    [listing] = [c for c in today["tool_calls"] if c["name"] == "list_tasks"]
    assert listing["arguments"]["status"] == "pending"
    assert "Submit the report" in today["response"] and "Buy milk" in today["response"]
    assert "due today at 5:00 PM" in today["response"]
    assert "Call the bank" not in today["response"] and "Pay rent" not in today["response"]

    week = chat(fixed_client, "what is due this week", zone)["response"]
    assert "Call the bank" in week and "Submit the report" in week
    assert "Pay rent" not in week and "Renew the lease" not in week

    tomorrow = chat(fixed_client, "anything due tomorrow?", zone)["response"]
    assert tomorrow.startswith("Nothing is due tomorrow")

    overdue = chat(fixed_client, "what's overdue?", zone)["response"]
    assert "Send the invoice" in overdue and "was due today at 5:00 AM" in overdue
    assert "Submit the report" not in overdue


def test_a_task_without_a_date_is_listed_as_before(fixed_client: TestClient) -> None:
    chat(fixed_client, "add buy milk", "Europe/Berlin")
    chat(fixed_client, "add call mom tomorrow", "Europe/Berlin")
    listing = chat(fixed_client, "show my tasks", "Europe/Berlin")["response"]
    assert "Buy milk\n" in listing + "\n" or listing.endswith("Buy milk")
    assert "Call mom (due tomorrow)" in listing


def test_a_task_is_moved_and_reprioritised_by_name_id_or_it(fixed_client: TestClient) -> None:
    zone = "Europe/Berlin"
    chat(fixed_client, "add call the dentist", zone)
    chat(fixed_client, "add write the report", zone)
    moved = chat(fixed_client, "move the dentist to friday at 3pm", zone)
    assert moved["tool_calls"][-1]["name"] == "update_task"
    assert "due on Apr 3 at 3:00 PM" in moved["response"]  # next Friday: today is a Friday
    body = {"message": "postpone it to the day after tomorrow", "timezone": zone}
    body["conversation_id"] = chat(fixed_client, "make task 2 urgent", zone)["conversation_id"]
    response = fixed_client.post(CHAT, json=body, headers=auth("alice"))  # "it": task 2
    assert response.status_code == 200, response.text
    report = stored_tasks(fixed_client)[1]
    assert datetime.fromisoformat(report["due_at"]) == expected_due("2026-03-29", zone)
    chat(fixed_client, "set the report due tomorrow at 9am", zone)
    dentist, report = stored_tasks(fixed_client)
    assert (dentist["title"], report["title"]) == ("Call the dentist", "Write the report")
    assert datetime.fromisoformat(dentist["due_at"]) == expected_due("2026-04-03 15:00", zone)
    assert report["priority"] == "high"
    assert datetime.fromisoformat(report["due_at"]) == expected_due("2026-03-28 09:00", zone)
