"""Repeating tasks: RFC 5545 RRULEs checked and stepped with python-dateutil's `rrule`.

A rule repeats in the task's own time zone (the one it was created in), by wall-clock time: a
task due every day at 09:00 in Europe/Berlin stays due at 09:00 there across daylight-saving
changes, so its UTC time moves by an hour twice a year.
"""

import re
from datetime import UTC, datetime

from dateutil import tz
from dateutil.rrule import rrule, rrulestr

from backend.app.models import RECURRENCE_MAX
from backend.app.timezones import zone

# Due dates are refused outside these (a 422), and a repetition ends rather than step past the
# last: every database and every offset can hold them, and stepping a rule is bounded.
DUE_MIN = datetime(2000, 1, 1, tzinfo=UTC)
DUE_MAX = datetime(2999, 12, 31, 23, 59, 59, tzinfo=UTC)

# A task repeats at most daily; its time of day is its due time. Finer rules (BYHOUR, BYMINUTE,
# HOURLY...) are refused: stepping an overdue minutely rule over years would take minutes.
FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
PARTS = {
    "FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO",
    "BYMONTH", "BYSETPOS", "WKST",
}  # fmt: skip
_UNTIL_UTC = re.compile(r"\d{8}T\d{6}Z")
_COUNT = re.compile(r"(^|;)COUNT=(\d+)")


def check_due(value: datetime) -> datetime:
    """An aware due date in range, in UTC; ValueError with a sentence otherwise."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("a due date needs a UTC offset, e.g. 2026-12-04T15:00:00+01:00")
    if not DUE_MIN <= value <= DUE_MAX:
        raise ValueError("a due date must lie between the years 2000 and 2999")
    return value.astimezone(UTC)


def normalise_rule(text: str) -> str:
    """The rule in canonical form ("FREQ=WEEKLY;BYDAY=MO"); ValueError with a sentence if it is
    not an RRULE this service repeats tasks by."""
    rule = text.strip().upper().removeprefix("RRULE:").strip().rstrip(";")
    if not rule:
        raise ValueError("a recurrence must be an RRULE such as FREQ=WEEKLY;BYDAY=MO")
    if len(rule) > RECURRENCE_MAX:
        raise ValueError(f"a recurrence may have at most {RECURRENCE_MAX} characters")
    parts: dict[str, str] = {}
    for part in rule.split(";"):
        name, equals, value = part.partition("=")
        if not equals or not value or name in parts:
            raise ValueError(f"{part!r} is not a NAME=VALUE part of an RRULE (or is repeated)")
        if name not in PARTS:
            raise ValueError(f"RRULE part {name} is not supported; use {', '.join(sorted(PARTS))}")
        parts[name] = value
    if parts.get("FREQ") not in FREQUENCIES:
        raise ValueError(f"an RRULE needs FREQ= one of {', '.join(FREQUENCIES)}")
    for name in ("INTERVAL", "COUNT"):
        if name in parts and not (parts[name].isdigit() and 1 <= int(parts[name]) <= 1000):
            raise ValueError(f"{name} must be a whole number from 1 to 1000")
    if "COUNT" in parts and "UNTIL" in parts:
        raise ValueError("an RRULE may have COUNT or UNTIL, not both")
    if "UNTIL" in parts and not _UNTIL_UTC.fullmatch(parts["UNTIL"]):
        raise ValueError("UNTIL must be a UTC time such as 20271231T235959Z")
    try:
        rrulestr(rule, dtstart=datetime(2026, 1, 1, tzinfo=UTC))
    except (ValueError, TypeError, OverflowError) as exc:
        raise ValueError(f"not a valid RRULE: {exc}") from None
    return rule


def next_due(rule: str, due_at: datetime, timezone: str, now: datetime) -> tuple[datetime, str]:
    """The occurrence after `due_at` (after `now` if the task is overdue), in UTC, and the rule
    to keep (a COUNT counts down by the occurrences used up). LookupError when none is left."""
    local_zone = zone(timezone)
    start = due_at.astimezone(local_zone)
    steps = rrulestr(rule, dtstart=start)
    assert isinstance(steps, rrule)  # one RRULE (normalise_rule admits no other line): no set
    if "COUNT=" not in rule and "UNTIL=" not in rule:
        steps = steps.replace(until=DUE_MAX.astimezone(local_zone))  # bounds every search
    after = max(due_at, now).astimezone(local_zone)
    found = steps.after(after)
    if found is None:
        raise LookupError("the repetition has ended")
    # A wall-clock time skipped by a daylight-saving change (02:30 on a spring-forward night)
    # moves forward to the first real time after it.
    result = tz.resolve_imaginary(found).astimezone(UTC)
    if result > DUE_MAX:
        raise LookupError("the repetition has ended")
    if match := _COUNT.search(rule):
        # Occurrences from the old due date up to the new one (both ends) are used up; the
        # stored rule counts from the new due date.
        used = len(steps.between(start, found, inc=True)) - 1
        remaining = int(match.group(2)) - max(used, 1)
        if remaining < 1:
            raise LookupError("the repetition has ended")
        rule = _COUNT.sub(rf"\g<1>COUNT={remaining}", rule)
    return result, rule
