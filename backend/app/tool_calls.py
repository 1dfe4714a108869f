"""`ToolCall`: one executed tool call — the one type the agents record, `messages.tool_calls`
stores, and the chat and conversation APIs return (API.md's ToolCall)."""

from typing import Any

from pydantic import BaseModel, Field

from backend.app.text import TOOL_NAME_MAX, ToolName

NAMELESS = "(no name)"


class ToolCall(BaseModel):
    name: ToolName
    arguments: dict[str, Any] = Field(default_factory=dict)
    result: Any = None

    @classmethod
    def made(cls, name: str, arguments: dict[str, Any], result: Any) -> "ToolCall":
        """A call an agent made. A model may name no tool of ours, even an empty or endless
        name: it is kept readable (no NUL, at most TOOL_NAME_MAX characters, never empty) so
        the stored message stays valid; the result already says the tool is unknown."""
        readable = name.replace("\x00", "")[:TOOL_NAME_MAX] or NAMELESS
        return cls(name=readable, arguments=arguments, result=result)
