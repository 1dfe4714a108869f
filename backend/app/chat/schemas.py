"""Request and response bodies of the chat turn."""

from pydantic import BaseModel, Field

from backend.app.ids import MAX_ID
from backend.app.text import ChatMessageText
from backend.app.timezones import DEFAULT_TIMEZONE, TimezoneName
from backend.app.tool_calls import ToolCall


class ChatRequest(BaseModel):
    message: ChatMessageText
    conversation_id: int | None = Field(
        default=None,
        ge=1,
        le=MAX_ID,
        description="Continue this conversation; null (or absent) starts a new one.",
    )
    # How the agent reads "tomorrow at 3pm" or "what's due today?"; unknown names are a 422.
    timezone: TimezoneName = DEFAULT_TIMEZONE


class ChatResponse(BaseModel):
    conversation_id: int
    response: str
    tool_calls: list[ToolCall]
    message_id: int = Field(description="The id of the stored assistant message.")
    turn_id: str = Field(
        description="This turn's id: follow or resume it at /chat/turns/{turn_id}/events."
    )
    stopped: bool = Field(
        default=False,
        description="True when the user stopped the turn (POST …/cancel): `response` is what "
        "was answered until then.",
    )


class ChatError(BaseModel):
    detail: str
    conversation_id: int
