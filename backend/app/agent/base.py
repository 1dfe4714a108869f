"""What every agent is: given the new message, the recent history and the tools, a reply.

Two kinds, by what they wait on:
- a `SyncAgent` (the built-in rules agent) only computes: the turn runs it in one worker-thread
  hop, its tool calls sharing one short session;
- an `AsyncAgent` (the model loop) waits on a model: it is awaited on the event loop, holding no
  thread and no database connection while the model thinks; each tool call is its own short
  thread hop and session (`AsyncToolRunner`).
"""

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from typing_extensions import TypeIs

from backend.app.agent.tools import AsyncToolRunner, ToolRunner


@dataclass(frozen=True)
class HistoryMessage:
    """One earlier message of the conversation, oldest first in a history window."""

    role: str  # "user" or "assistant"
    content: str
    tool_calls: list[dict[str, Any]] | None = None


@dataclass
class AgentReply:
    """What an agent answered: the text, and the model's token counts when a model was called
    (`{"model", "prompt_tokens", "completion_tokens", "total_tokens"}`, summed over the turn)."""

    text: str
    usage: dict[str, Any] | None = None


class AgentError(Exception):
    """The agent (or its model) failed; the turn answers 502. `permanent`: it will fail again
    until someone fixes the configuration (a rejected API key, an unknown model)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class AgentTimeout(AgentError):
    """The agent (or its model) took too long; the turn answers 504."""


class SyncAgent(Protocol):
    def run(
        self,
        message: str,
        history: Sequence[HistoryMessage],
        tools: ToolRunner,
        *,
        on_delta: Callable[[str], None] | None = None,
        now: datetime | None = None,
    ) -> str:
        """Answer `message`, calling `tools(name, arguments)` as needed; return the reply text.

        Quick and offline: it may ignore `on_delta` (the turn then streams the finished text in
        pieces). `now` is the current time in the user's time zone (None: now, in UTC).
        """
        ...


class AsyncAgent(Protocol):
    async def run(
        self,
        message: str,
        history: Sequence[HistoryMessage],
        tools: AsyncToolRunner,
        *,
        on_delta: Callable[[str], None] | None = None,
        now: datetime | None = None,
    ) -> AgentReply:
        """Answer `message`, awaiting `tools(name, arguments)` as needed. With `on_delta` the
        model is streamed and each piece of text is passed on as it arrives. `now` is the
        current time in the user's time zone (so "tomorrow at 3pm" can become a `due_at`)."""
        ...

    async def aclose(self) -> None:
        """Close the model client (its HTTP connection pool); called on shutdown."""
        ...


Agent = SyncAgent | AsyncAgent


def is_async_agent(agent: Agent) -> TypeIs[AsyncAgent]:
    """Whether the agent waits on something (awaited) or only computes (run in a thread)."""
    return inspect.iscoroutinefunction(agent.run)
