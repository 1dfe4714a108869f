"""Request and response bodies of the task routes."""

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator
from pydantic.json_schema import SkipJsonSchema

from backend.app.text import Description, Title


class TaskStatus(StrEnum):
    all = "all"
    pending = "pending"
    completed = "completed"


class TaskCreate(BaseModel):
    """Unknown fields (an `id`, a `user_id`) are ignored: the owner always comes from the token."""

    title: Title
    description: Description | None = None

    @field_validator("description")
    @classmethod
    def _empty_description_is_none(cls, value: str | None) -> str | None:
        return value or None


def _no_default(json_schema: dict) -> None:
    json_schema.pop("default", None)


class TaskUpdate(BaseModel):
    """Any subset of the fields; only those sent are changed (`description: null` clears it)."""

    # Null is refused for these two (below), so the schema does not offer it either: left out,
    # they stay as they are.
    title: Title | SkipJsonSchema[None] = Field(default=None, json_schema_extra=_no_default)
    description: Description | None = None
    # Strict: JSON true/false only, as documented (lax pydantic also took 0, 1, "yes"...).
    completed: StrictBool | SkipJsonSchema[None] = Field(
        default=None, json_schema_extra=_no_default
    )

    @field_validator("title", "completed")
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
    created_at: datetime
    updated_at: datetime
