"""A turn's event log: every event a turn emits is appended here before anyone reads it.

The turn runs as a task of its own and appends `start`, `tool_call`s, `delta`s and `done` (or
`error`); a streamed response only follows the log. So a client that leaves stops only its own
reading (the turn finishes and stores its answer), and a follower can start from any event id.

Kept in the process, bounded: at most MAX_TURNS logs, and a finished one is dropped after
FINISHED_TTL_S (a running one never is). With TURN_EVENTS_URL=redis://… every event is also
mirrored to Redis (chat/redis_events.py), so other processes can follow the turn too.
"""

import asyncio
import json
import re
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from backend.app.chat.schemas import ChatResponse
from backend.app.models import Message, stored_id

FINISHED_TTL_S = 15 * 60
MAX_TURNS = 10_000
FINAL_EVENTS = frozenset({"done", "error"})
_PIECE = re.compile(r"\S+\s*|\s+")


@dataclass(frozen=True)
class TurnEvent:
    id: int  # 1, 2, 3 … within the turn
    event: str
    data: dict[str, Any]


@dataclass
class TurnLog:
    """One turn's events, appended by the turn (on the event loop), read by any followers."""

    turn_id: str
    user_id: str
    events: list[TurnEvent] = field(default_factory=list)
    finished_at: float | None = None
    # Hears every event as it is appended (the Redis mirror, when configured).
    listener: Callable[[TurnEvent], None] | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def finished(self) -> bool:
        return self.finished_at is not None

    def append(self, event: str, data: dict[str, Any]) -> TurnEvent:
        """Add an event; `done` or `error` ends the log (nothing is appended after it)."""
        if self.finished:
            raise RuntimeError(f"turn {self.turn_id} has already ended")
        item = TurnEvent(len(self.events) + 1, event, data)
        self.events.append(item)
        if event in FINAL_EVENTS:
            self.finished_at = time.monotonic()
        # Wake every follower, and give the next ones a fresh event to wait on.
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
        if self.listener is not None:
            self.listener(item)
        return item

    async def follow(self, after: int = 0) -> AsyncIterator[TurnEvent]:
        """Every event with an id above `after`, then the live ones, until the final event."""
        position = max(0, after)
        while True:
            while position < len(self.events):
                item = self.events[position]
                position += 1
                yield item
                if item.event in FINAL_EVENTS:
                    return
            if self.finished:
                return
            await self._changed.wait()


class TurnLogs:
    """The process's turn logs, by turn id (in memory, bounded)."""

    def __init__(self, max_turns: int = MAX_TURNS, finished_ttl_s: float = FINISHED_TTL_S):
        self._logs: OrderedDict[str, TurnLog] = OrderedDict()
        self._max_turns = max_turns
        self._finished_ttl_s = finished_ttl_s

    def open(
        self, turn_id: str, user_id: str, listener: Callable[[TurnEvent], None] | None = None
    ) -> TurnLog:
        self._forget_old()
        log = TurnLog(turn_id, user_id, listener=listener)
        self._logs[turn_id] = log
        return log

    def get(self, turn_id: str, user_id: str) -> TurnLog | None:
        """The user's turn log, or None (unknown, expired or another user's: the same)."""
        self._forget_old()
        log = self._logs.get(turn_id)
        return log if log is not None and log.user_id == user_id else None

    def _forget_old(self) -> None:
        now = time.monotonic()
        for turn_id, log in list(self._logs.items()):
            expired = log.finished_at is not None and now - log.finished_at > self._finished_ttl_s
            if expired or (len(self._logs) >= self._max_turns and log.finished):
                del self._logs[turn_id]
            elif len(self._logs) < self._max_turns:
                break  # oldest first: the rest are younger


# -- a turn told as events after the fact -------------------------------------------------------


def text_pieces(text: str, words_per_piece: int = 3) -> Iterator[str]:
    """Split a finished reply into small pieces (a few words each) that concatenate back to it."""
    words = _PIECE.findall(text)
    for start in range(0, len(words), words_per_piece):
        yield "".join(words[start : start + words_per_piece])


def stored_turn_events(turn_id: str, messages: list[Message]) -> list[TurnEvent]:
    """A turn whose event log is gone, told from the database (`messages`: the turn's, by
    `stored_turn`): `start` and then `done` with the stored answer (or `error` when the turn
    stored none)."""
    question = messages[0]
    start = {"conversation_id": question.conversation_id, "turn_id": turn_id}
    answer = next((m for m in messages if m.role == "assistant"), None)
    if answer is None:
        ended = {
            "detail": "This turn ended without an answer. Your message was saved; "
            "please try again.",
            "conversation_id": question.conversation_id,
        }
        return [TurnEvent(1, "start", start), TurnEvent(2, "error", ended)]
    response = ChatResponse(
        conversation_id=answer.conversation_id,
        response=answer.content,
        tool_calls=json.loads(answer.tool_calls) if answer.tool_calls else [],
        message_id=stored_id(answer),
        turn_id=turn_id,
        stopped=answer.stopped,
    )
    return [TurnEvent(1, "start", start), TurnEvent(2, "done", event_data(response))]


def event_data(response: ChatResponse) -> dict[str, Any]:
    return response.model_dump(mode="json")


def replayed_events(response: ChatResponse) -> list[TurnEvent]:
    """A stored answer (a repeated Idempotency-Key) told as the events a live turn sends."""
    start = {"conversation_id": response.conversation_id, "turn_id": response.turn_id}
    named: list[tuple[str, dict[str, Any]]] = [("start", start)]
    named += [("tool_call", call.model_dump(mode="json")) for call in response.tool_calls]
    named += [("delta", {"text": piece}) for piece in text_pieces(response.response)]
    named.append(("done", event_data(response)))
    return [TurnEvent(number, event, data) for number, (event, data) in enumerate(named, 1)]


async def iterate(events: list[TurnEvent]) -> AsyncIterator[TurnEvent]:
    """A finished list of events, as the async iterator a stream follows."""
    for event in events:
        yield event
