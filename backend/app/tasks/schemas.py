"""Request and response bodies of the task routes."""

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from backend.app.models import TAG_MAX
from backend.app.tasks.recurrence import check_due, normalise_rule
from backend.app.text import Description, Title
from backend.app.timezones import DEFAULT_TIMEZONE, TimezoneName

TAGS_MAX = 10
NEEDS_DUE = "a recurrence needs a due_at: the first occurrence"


class TaskStatus(StrEnum):
    all = "all"
    pending = "pending"
    completed = "completed"


class TaskSort(StrEnum):
    created = "created"  # oldest first
    due = "due"  # soonest first, no due date last
    priority = "priority"  # high first, then soonest due


Priority = Literal["low", "normal", "high"]


def normalise_tag(value: str) -> str:
    """A tag as stored: trimmed, lower-case, without a leading '#'; 1-32 printable characters."""
    tag = value.strip().removeprefix("#").strip().lower()
    if not 1 <= len(tag) <= TAG_MAX:
        raise ValueError(f"a tag must be 1 to {TAG_MAX} characters long (after trimming)")
    if not tag.isprintable():
        raise ValueError("a tag must not contain control characters")
    return tag


def _normalise_tags(values: list[str]) -> list[str]:
    tags = sorted({normalise_tag(value) for value in values})  # "Work" and "work" are one tag
    if len(tags) > TAGS_MAX:
        raise ValueError(f"a task may have at most {TAGS_MAX} tags")
    return tags


_ISO_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt].+")


def _iso_text(value: object) -> object:
    # Only ISO 8601 text, as the schema says (`format: date-time`): pydantic alone would also
    # read numbers and numeric strings ("0.5") as Unix timestamps.
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_DATE_TIME.fullmatch(value):
        raise ValueError("must be an ISO 8601 date and time with an offset, e.g. 2026-12-04T15:00Z")
    return value


IsoDatetime = Annotated[AwareDatetime, BeforeValidator(_iso_text)]
DueAt = Annotated[
    IsoDatetime,
    AfterValidator(check_due),
    Field(description="When the task is due: ISO 8601 with an offset, years 2000 to 2999."),
]
Tags = Annotated[
    list[str],
    AfterValidator(_normalise_tags),
    Field(
        description=f"Up to {TAGS_MAX} tags of 1-{TAG_MAX} characters; trimmed, lower-cased, "
        "without a leading '#', duplicates merged.",
        examples=[["work", "errands"]],
    ),
]
Recurrence = Annotated[
    str,
    AfterValidator(normalise_rule),
    Field(
        description="An RFC 5545 RRULE (FREQ=DAILY|WEEKLY|MONTHLY|YEARLY with INTERVAL, BYDAY, "
        "BYMONTHDAY, BYMONTH, BYSETPOS, COUNT or UNTIL...); needs a due_at.",
        examples=["FREQ=WEEKLY;BYDAY=MO"],
    ),
]
Timezone = Annotated[
    TimezoneName,
    Field(
        description="The IANA time zone a recurrence keeps its wall-clock time in (default UTC). "
        "Input only: it is not part of the Task."
    ),
]


class TaskCreate(BaseModel):
    """Unknown fields (an `id`, a `user_id`) are ignored: the owner always comes from the token."""

    title: Title
    description: Description | None = None
    due_at: DueAt | None = None
    priority: Priority = "normal"
    tags: Tags = []
    recurrence: Recurrence | None = None
    timezone: Timezone = DEFAULT_TIMEZONE

    @field_validator("description")
    @classmethod
    def _empty_description_is_none(cls, value: str | None) -> str | None:
        return value or None

    @model_validator(mode="after")
    def _recurrence_needs_a_due_date(self) -> "TaskCreate":
        if self.recurrence is not None and self.due_at is None:
            raise ValueError(NEEDS_DUE)
        return self


def _no_default(json_schema: dict[str, Any]) -> None:
    json_schema.pop("default", None)


class TaskUpdate(BaseModel):
    """Any subset of the fields; only those sent are changed (`description`, `due_at` and
    `recurrence` null clear them)."""

    # Null is refused for these (below), so the schema does not offer it either: left out,
    # they stay as they are.
    title: Title | SkipJsonSchema[None] = Field(default=None, json_schema_extra=_no_default)
    description: Description | None = None
    # Strict: JSON true/false only, as documented (lax pydantic also took 0, 1, "yes"...).
    completed: StrictBool | SkipJsonSchema[None] = Field(
        default=None, json_schema_extra=_no_default
    )
    due_at: DueAt | None = None
    priority: Priority | SkipJsonSchema[None] = Field(default=None, json_schema_extra=_no_default)
    tags: Tags | SkipJsonSchema[None] = Field(default=None, json_schema_extra=_no_default)
    recurrence: Recurrence | None = None
    timezone: Timezone | SkipJsonSchema[None] = Field(default=None, json_schema_extra=_no_default)

    @field_validator("title", "completed", "priority", "tags", "timezone")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("may be left out but not set to null")
        return value

    @field_validator("description")
    @classmethod
    def _empty_description_is_none(cls, value: str | None) -> str | None:
        return value or None


class TaskPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: str
    title: str
    description: str | None
    completed: bool
    due_at: datetime | None
    priority: Priority
    tags: list[str]
    recurrence: str | None
    created_at: datetime
    updated_at: datetime
