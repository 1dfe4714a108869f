"""Request and response bodies of the conversation and message routes."""

import json
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from backend.app.text import NoNulStr, Title

MESSAGE_CONTENT_MAX = 32_000
MessageContent = Annotated[
    NoNulStr, StringConstraints(min_length=1, max_length=MESSAGE_CONTENT_MAX)
]


class MessageOrder(StrEnum):
    asc = "asc"
    desc = "desc"


class ConversationCreate(BaseModel):
    title: Title | None = None


class ConversationUpdate(BaseModel):
    """Only the fields sent change; `title: null` clears the title."""

    title: Title | None = None


class ConversationPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: str
    title: str | None
    created_at: datetime
    updated_at: datetime


class ToolCallPublic(BaseModel):
    name: Annotated[NoNulStr, StringConstraints(min_length=1, max_length=100)]
    arguments: dict[str, Any] = Field(default_factory=dict)
    result: Any = None


class MessageCreate(BaseModel):
    role: Literal["user", "assistant"]
    content: MessageContent
    tool_calls: list[ToolCallPublic] | None = None


class MessagePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    conversation_id: int
    user_id: str
    role: Literal["user", "assistant"]
    content: str
    tool_calls: list[ToolCallPublic] | None
    created_at: datetime

    @field_validator("tool_calls", mode="before")
    @classmethod
    def _parse_stored_json(cls, value: Any) -> Any:
        # The database keeps tool calls as JSON text; the wire carries parsed JSON.
        return json.loads(value) if isinstance(value, str) else value
