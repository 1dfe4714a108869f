"""Request and response bodies of the task routes."""

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, field_validator

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


class TaskUpdate(BaseModel):
    """Any subset of the fields; only those sent are changed (`description: null` clears it)."""

    title: Title | None = None
    description: Description | None = None
    completed: bool | None = None

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
