"""The time and repetition arguments of the task tools: how a model's `due_at`, `due_before`,
`due_after` and `recurrence` are checked and read in the turn's time zone."""

from datetime import date, datetime, time, timedelta
from typing import Annotated, Literal

from dateutil import tz
from pydantic import AfterValidator

from backend.app.tasks.recurrence import check_due, normalise_rule
from backend.app.timezones import DEFAULT_TIMEZONE, zone

# What a bare date stands for: the end of that day (a due date), its start (`due_after`), or
# the start of the next day (`due_before`, so the whole day is included).
DateMeans = Literal["end", "start", "next"]


def when(value: str, timezone: str, *, date_means: DateMeans = "end") -> datetime:
    """A tool's time argument in UTC: ISO 8601 with an offset; without one, a wall-clock time in
    the turn's zone; a bare date, a moment of that day there (see DateMeans)."""
    local_zone = zone(timezone)
    text = value.strip()
    try:
        parsed = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError:
        example = "e.g. 2026-12-04 or 2026-12-04T15:00:00+01:00"
        raise ValueError(f"{value!r} is not an ISO 8601 date or time, {example}") from None
    if isinstance(parsed, datetime):
        moment = parsed
        if moment.tzinfo is None:
            moment = tz.resolve_imaginary(moment.replace(tzinfo=local_zone))
    else:
        day = parsed
        if date_means == "next":
            day += timedelta(days=1)
        day_time = time(23, 59, 59) if date_means == "end" else time(0)
        moment = tz.resolve_imaginary(datetime.combine(day, day_time, local_zone))
    return check_due(moment)


def _valid_time(value: str) -> str:
    # Checked here (in UTC) so a bad value is refused before the tool runs; read in the turn's
    # zone by the tool itself.
    if value.strip():
        when(value, DEFAULT_TIMEZONE)
    return value


def _valid_rule(value: str) -> str:
    return normalise_rule(value) if value.strip() else ""


ToolTime = Annotated[str, AfterValidator(_valid_time)]
ToolRule = Annotated[str, AfterValidator(_valid_rule)]
