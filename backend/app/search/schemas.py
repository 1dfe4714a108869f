"""Response bodies of the search route."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class Hit(BaseModel):
    """One search result: a matching message, or a conversation whose title matches."""

    conversation_id: int
    conversation_title: str | None
    message_id: int | None = Field(
        description="The matching message; null when the hit is the conversation's title."
    )
    role: Literal["user", "assistant"] | None = Field(
        description="The message's role; null for a title hit."
    )
    snippet: str = Field(
        description=(
            "About 30 words of the message (or the whole title) around the first match, "
            "HTML-escaped, with the matched words wrapped in <mark>...</mark>; '…' marks text "
            "cut off at either end."
        )
    )
    created_at: datetime = Field(
        description="When the message was written; for a title hit, when the conversation was."
    )
