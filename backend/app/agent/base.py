"""What every agent is: given the new message, the recent history and a tool runner, a reply."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from backend.app.agent.tools import ToolRunner


@dataclass(frozen=True)
class HistoryMessage:
    """One earlier message of the conversation, oldest first in a history window."""

    role: str  # "user" or "assistant"
    content: str
    tool_calls: list[dict[str, Any]] | None = None


class AgentError(Exception):
    """The agent (or its model) failed; the turn answers 502."""


class AgentTimeout(AgentError):
    """The agent (or its model) took too long; the turn answers 504."""


class Agent(Protocol):
    def run(
        self,
        message: str,
        history: Sequence[HistoryMessage],
        tools: ToolRunner,
        *,
        on_delta: Callable[[str], None] | None = None,
    ) -> str:
        """Answer `message`, calling `tools(name, arguments)` as needed; return the reply text.

        An agent that produces its text piece by piece (a streaming model) passes each piece to
        `on_delta` as it arrives; one that does not may ignore it (the turn then streams the
        finished text in pieces).
        """
        ...
