"""Request and response bodies of the conversation and message routes."""

import json
import math
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    field_validator,
)
from pydantic.json_schema import SkipJsonSchema

from backend.app.text import MessageContent, Title
from backend.app.tool_calls import ToolCall
from backend.app.usage.schemas import TurnUsage


class MessageOrder(StrEnum):
    asc = "asc"
    desc = "desc"


class ArchivedFilter(StrEnum):
    false = "false"
    true = "true"
    all = "all"

    @property
    def archived(self) -> bool | None:
        """The `archived` value to keep, or None for all conversations."""
        return {"false": False, "true": True}.get(self.value)


class ExportFormat(StrEnum):
    json = "json"
    markdown = "markdown"


class ConversationCreate(BaseModel):
    title: Title | None = None


def _no_default(json_schema: dict[str, Any]) -> None:
    json_schema.pop("default", None)


class ConversationUpdate(BaseModel):
    """Only the fields sent change; `title: null` clears the title. `archived: true` hides the
    conversation from the default list (it stays searchable); `false` brings it back."""

    title: Title | None = None
    # Null is refused (below), so the schema does not offer it: left out, it stays as it is.
    # Strict: JSON true/false only, as documented (lax pydantic also took 0, 1, "yes"...).
    archived: StrictBool | SkipJsonSchema[None] = Field(default=None, json_schema_extra=_no_default)

    @field_validator("archived")
    @classmethod
    def _not_null(cls, value: bool | None) -> bool:
        if value is None:
            raise ValueError("may be left out but not set to null")
        return value


class ConversationPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: str
    title: str | None
    archived: bool
    created_at: datetime
    updated_at: datetime


# Real tool arguments and results nest a few levels; far below pydantic's serialisation limit.
TOOL_CALL_MAX_DEPTH = 64


def _json_problem(value: Any, depth: int = 0) -> str | None:
    """Why `value` could be stored but not served back as JSON, or None when it is fine."""
    if depth > TOOL_CALL_MAX_DEPTH:
        return f"are nested deeper than {TOOL_CALL_MAX_DEPTH} levels"
    if isinstance(value, float) and not math.isfinite(value):
        return "contain NaN or Infinity, which JSON cannot carry"
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "contain an unpaired surrogate character, which UTF-8 cannot carry"
        return None
    if isinstance(value, dict):
        children = [*value.keys(), *value.values()]
    elif isinstance(value, list):
        children = value
    else:
        return None
    for child in children:
        if problem := _json_problem(child, depth + 1):
            return problem
    return None


class MessageCreate(BaseModel):
    role: Literal["user", "assistant"]
    content: MessageContent
    tool_calls: list[ToolCall] | None = None

    @field_validator("tool_calls")
    @classmethod
    def _round_trips_as_json(cls, calls: list[ToolCall] | None) -> object:
        # Unchecked, a NaN, a lone surrogate or a 900-level nesting was stored and then broke
        # every later listing of the conversation. (The 422 handler in main.py makes the echo
        # of such input renderable.)
        for call in calls or []:
            if problem := _json_problem(call.arguments) or _json_problem(call.result):
                raise ValueError(f"tool call arguments and results must be JSON: these {problem}")
        return calls


class MessagePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    conversation_id: int
    user_id: str
    role: Literal["user", "assistant"]
    content: str
    tool_calls: list[ToolCall] | None
    # The model's token counts of the chat turn that wrote this assistant message; null when
    # no model was called (the built-in agent) and on messages not written by a turn.
    usage: TurnUsage | None = None
    created_at: datetime
    turn_id: str | None = Field(
        default=None, description="The chat turn that wrote this message (null if posted directly)."
    )
    stopped: bool = Field(
        default=False, description="True for an answer the user stopped before it was finished."
    )

    @field_validator("tool_calls", "usage", mode="before")
    @classmethod
    def _parse_stored_json(cls, value: Any) -> Any:
        # The database keeps tool calls and usage as JSON text; the wire carries parsed JSON.
        return json.loads(value) if isinstance(value, str) else value


class ConversationExport(BaseModel):
    """The JSON export: the conversation and every one of its messages, oldest first."""

    conversation: ConversationPublic
    messages: list[MessagePublic]
