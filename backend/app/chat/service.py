"""One chat turn, statelessly, and without holding anything while the model thinks.

A turn is three short database steps around the agent, each in a session of its own that is
committed and closed before the next wait (so a waiting turn holds no connection), each run in
a worker thread (so it blocks no other request):

1. `begin_turn`: the conversation is loaded (or created, titled from the message), a bounded
   window of its latest messages is read, and the user message is committed before the agent
   runs, so a failing model loses nothing;
2. the agent: the model loop is awaited on the event loop (no thread while it waits; each tool
   call is its own thread hop and session), the rules agent runs in one thread hop;
3. `finish_turn`: the assistant message, the conversation's updated_at and the idempotency key
   are written in one transaction.

`ChatTurns` owns the turn: the router calls `answer` (JSON) or `open_stream` (SSE). Both run
the turn as a task of its own that appends its events to a `TurnLog`; a stream only follows that
log, so a client that disconnects does not stop the turn, and on shutdown running turns get a
short grace period to finish.
"""

import asyncio
import hashlib
import json
import logging
import re
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import anyio
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from backend.app.agent.base import (
    Agent,
    AgentError,
    AgentReply,
    AgentTimeout,
    HistoryMessage,
    SyncAgent,
    is_async_agent,
)
from backend.app.agent.tools import AsyncToolRunner, ToolCall, ToolContext, ToolRunner
from backend.app.chat.events import TurnEvent, TurnLog, TurnLogs
from backend.app.chat.schemas import ChatRequest, ChatResponse
from backend.app.config import Settings
from backend.app.conversations import service as conversation_service
from backend.app.errors import AppError, BadGateway, Conflict, GatewayTimeout, NotFound
from backend.app.models import Conversation, IdempotencyKey, Message

logger = logging.getLogger(__name__)

TITLE_MAX = 60
# How long running turns may still finish when the server shuts down.
SHUTDOWN_GRACE_S = 5.0
_PIECE = re.compile(r"\S+\s*|\s+")


def title_from_message(message: str) -> str:
    """A conversation title from its first message: one line, trimmed, at most 60 characters."""
    words = " ".join(message.split())
    if len(words) <= TITLE_MAX:
        return words
    cut = words[: TITLE_MAX - 1]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,.;:") + "…"


def text_pieces(text: str, words_per_piece: int = 3) -> Iterator[str]:
    """Split a finished reply into small pieces (a few words each) that concatenate back to it."""
    words = _PIECE.findall(text)
    for start in range(0, len(words), words_per_piece):
        yield "".join(words[start : start + words_per_piece])


def new_turn_id() -> str:
    return "turn_" + secrets.token_urlsafe(12)


# -- the database steps (sync, short, each with its own session) ------------------------------


@dataclass(frozen=True)
class Turn:
    """A turn whose user message is stored: what the agent and the last step need."""

    turn_id: str
    user_id: str
    conversation_id: int
    request: ChatRequest
    history: list[HistoryMessage]
    idempotency_key: str | None


def load_history(session: Session, conversation_id: int, window: int) -> list[HistoryMessage]:
    """The latest `window` messages, oldest first: one query on (conversation_id, id)."""
    rows = session.exec(
        select(Message)
        .where(Message.conversation_id == conversation_id)
        .order_by(Message.id.desc())
        .limit(window)
    ).all()
    return [
        HistoryMessage(
            role=row.role,
            content=row.content,
            tool_calls=json.loads(row.tool_calls) if row.tool_calls else None,
        )
        for row in reversed(rows)
    ]


def _request_hash(request: ChatRequest) -> str:
    body = json.dumps([request.message, request.conversation_id], ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


def replay(session: Session, user_id: str, key: str, request: ChatRequest) -> ChatResponse | None:
    """The stored answer for a repeated Idempotency-Key, or None when the key is new."""
    stored = session.exec(
        select(IdempotencyKey).where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
    ).first()
    if stored is None:
        return None
    if stored.request_hash != _request_hash(request):
        raise Conflict("This Idempotency-Key was already used for a different request.")
    return ChatResponse.model_validate_json(stored.response)


def _conversation_of_turn(session: Session, user_id: str, request: ChatRequest) -> Conversation:
    """The conversation of this turn (404 if unknown or foreign; created if none was given)."""
    if request.conversation_id is not None:
        return conversation_service.get_conversation(session, user_id, request.conversation_id)
    conversation = Conversation(user_id=user_id, title=title_from_message(request.message))
    session.add(conversation)
    session.flush()  # the id, so the user message can be committed with it in one go
    return conversation


def begin_turn(
    engine: Engine,
    user_id: str,
    request: ChatRequest,
    *,
    history_window: int,
    idempotency_key: str | None,
) -> ChatResponse | Turn:
    """Step 1: the stored answer of a repeated key, or a turn with its user message committed.

    Chatting in an archived conversation brings it back to the list, in the same commit.
    """
    with Session(engine) as session:
        if idempotency_key is not None:
            stored = replay(session, user_id, idempotency_key, request)
            if stored is not None:
                return stored
        conversation = _conversation_of_turn(session, user_id, request)
        history = load_history(session, conversation.id, history_window)
        session.add(conversation_service.new_message(conversation, "user", request.message, None))
        conversation.archived = False
        session.add(conversation)
        session.commit()
        return Turn(
            turn_id=new_turn_id(),
            user_id=user_id,
            conversation_id=conversation.id,
            request=request,
            history=history,
            idempotency_key=idempotency_key,
        )


def run_sync_agent(
    engine: Engine, agent: SyncAgent, turn: Turn
) -> tuple[AgentReply, list[ToolCall]]:
    """Step 2 for an agent that only computes: the whole run in this thread, one session."""
    with Session(engine) as session:
        runner = ToolRunner(ToolContext(session, turn.user_id))
        text = agent.run(turn.request.message, turn.history, runner)
    return AgentReply(text=text), runner.calls


def finish_turn(
    engine: Engine, turn: Turn, reply: AgentReply, calls: list[ToolCall]
) -> ChatResponse:
    """Step 3: the assistant message and the idempotency key, in one transaction."""
    with Session(engine) as session:
        conversation = session.get(Conversation, turn.conversation_id)
        if conversation is None:  # deleted while the assistant was answering
            raise NotFound(
                f"conversation {turn.conversation_id} was deleted before the answer was ready",
                conversation_id=turn.conversation_id,
            )
        tool_calls = [call.as_dict() for call in calls]
        message = conversation_service.new_message(
            conversation, "assistant", reply.text, tool_calls
        )
        session.add(conversation)
        session.add(message)
        session.flush()
        response = ChatResponse(
            conversation_id=turn.conversation_id,
            response=reply.text,
            tool_calls=tool_calls,
            message_id=message.id,
            turn_id=turn.turn_id,
        )
        if turn.idempotency_key is not None:
            session.add(
                IdempotencyKey(
                    user_id=turn.user_id,
                    key=turn.idempotency_key,
                    request_hash=_request_hash(turn.request),
                    conversation_id=turn.conversation_id,
                    response=response.model_dump_json(),
                )
            )
        try:
            session.commit()
        except IntegrityError:
            # The same key finished concurrently: keep its answer, store no second reply.
            session.rollback()
            if turn.idempotency_key is None:
                raise
            stored = replay(session, turn.user_id, turn.idempotency_key, turn.request)
            if stored is None:
                raise
            return stored
        return response


# -- the turn as a whole (async) ----------------------------------------------------------------


def _event_data(response: ChatResponse) -> dict[str, Any]:
    return response.model_dump(mode="json")


def replayed_events(response: ChatResponse) -> list[TurnEvent]:
    """A stored answer (a repeated Idempotency-Key) told as the events a live turn sends."""
    start = {"conversation_id": response.conversation_id, "turn_id": response.turn_id}
    named: list[tuple[str, dict[str, Any]]] = [("start", start)]
    named += [("tool_call", call.model_dump(mode="json")) for call in response.tool_calls]
    named += [("delta", {"text": piece}) for piece in text_pieces(response.response)]
    named.append(("done", _event_data(response)))
    return [TurnEvent(number, event, data) for number, (event, data) in enumerate(named, 1)]


class ChatTurns:
    """Runs chat turns for one app: its engine, its agent, its turn logs and running turns."""

    def __init__(self, settings: Settings, engine: Engine, agent: Agent) -> None:
        self._engine = engine
        self._agent = agent
        self._history_window = settings.chat_history_window
        self._timeout_s = settings.agent_timeout_s
        self.logs = TurnLogs()
        self._running: set[asyncio.Task[ChatResponse]] = set()

    async def answer(
        self, user_id: str, request: ChatRequest, idempotency_key: str | None
    ) -> ChatResponse:
        """One whole turn, answered as JSON (502/504 when the agent fails)."""
        begun = await self._begin(user_id, request, idempotency_key)
        if isinstance(begun, ChatResponse):
            return begun
        task = self._start(begun, streamed=False)
        # Shielded: a request cancelled meanwhile still lets the turn finish and store.
        return await asyncio.shield(task)

    async def open_stream(
        self, user_id: str, request: ChatRequest, idempotency_key: str | None
    ) -> AsyncIterator[TurnEvent]:
        """Begin a turn (its errors are plain HTTP errors) and return its events to follow."""
        begun = await self._begin(user_id, request, idempotency_key)
        if isinstance(begun, ChatResponse):
            return _iterate(replayed_events(begun))
        self._start(begun, streamed=True)
        log = self.logs.get(begun.turn_id, user_id)
        assert log is not None  # just opened by _start
        return log.follow()

    async def shutdown(self, grace_s: float = SHUTDOWN_GRACE_S) -> None:
        """Let running turns finish for `grace_s`, then cancel the rest (their user messages
        are stored; a cancelled turn writes no half answer)."""
        if not self._running:
            return
        _done, pending = await asyncio.wait(set(self._running), timeout=grace_s)
        for task in pending:
            task.cancel()
        if pending:
            logger.warning("shutdown: %d turn(s) cancelled after %g s", len(pending), grace_s)
            await asyncio.wait(pending)

    async def _begin(
        self, user_id: str, request: ChatRequest, idempotency_key: str | None
    ) -> ChatResponse | Turn:
        return await anyio.to_thread.run_sync(
            lambda: begin_turn(
                self._engine,
                user_id,
                request,
                history_window=self._history_window,
                idempotency_key=idempotency_key,
            )
        )

    def _start(self, turn: Turn, *, streamed: bool) -> "asyncio.Task[ChatResponse]":
        log = self.logs.open(turn.turn_id, turn.user_id)
        log.append("start", {"conversation_id": turn.conversation_id, "turn_id": turn.turn_id})
        task = asyncio.create_task(self._run(turn, log, streamed), name=turn.turn_id)
        self._running.add(task)
        task.add_done_callback(self._forget)
        return task

    def _forget(self, task: "asyncio.Task[ChatResponse]") -> None:
        self._running.discard(task)
        if not task.cancelled():
            task.exception()  # a streamed turn's failure is told as its `error` event

    async def _run(self, turn: Turn, log: TurnLog, streamed: bool) -> ChatResponse:
        """Steps 2 and 3, with every event appended to the turn's log as it happens."""
        try:
            response = await self._answer(turn, log, streamed)
        except asyncio.CancelledError:
            stopped = _failure(turn, "The server stopped before the answer was ready.")
            log.append("error", {"detail": stopped.detail, **stopped.extra})
            raise
        except AppError as exc:
            log.append("error", {"detail": exc.detail, **exc.extra})
            raise
        except Exception:
            logger.exception("chat turn failed in conversation %s", turn.conversation_id)
            error = _failure(turn, "The turn failed.")
            log.append("error", {"detail": error.detail, **error.extra})
            raise error from None
        log.append("done", _event_data(response))
        return response

    async def _answer(self, turn: Turn, log: TurnLog, streamed: bool) -> ChatResponse:
        streamed_text = False

        def on_delta(text: str) -> None:
            nonlocal streamed_text
            if text:
                streamed_text = True
                log.append("delta", {"text": text})

        def on_call(call: ToolCall) -> None:
            log.append("tool_call", call.as_dict())

        reply, calls = await self._run_agent(turn, on_call, on_delta if streamed else None)
        response = await anyio.to_thread.run_sync(finish_turn, self._engine, turn, reply, calls)
        if not streamed_text:  # an agent that answers all at once is told in pieces
            for piece in text_pieces(response.response):
                log.append("delta", {"text": piece})
        return response

    async def _run_agent(
        self,
        turn: Turn,
        on_call: Callable[[ToolCall], None],
        on_delta: Callable[[str], None] | None,
    ) -> tuple[AgentReply, list[ToolCall]]:
        """Run the agent; its failures become 502/504 carrying the conversation id."""
        try:
            if is_async_agent(self._agent):
                runner = AsyncToolRunner(engine=self._engine, user_id=turn.user_id, on_call=on_call)
                reply = await self._agent.run(
                    turn.request.message, turn.history, runner, on_delta=on_delta
                )
                return reply, runner.calls
            reply, calls = await anyio.to_thread.run_sync(
                run_sync_agent, self._engine, self._agent, turn
            )
            for call in calls:  # quick enough to tell its calls once it has finished
                on_call(call)
            return reply, calls
        except AgentTimeout as exc:
            logger.warning("agent timed out in conversation %s: %s", turn.conversation_id, exc)
            raise GatewayTimeout(
                "The assistant took too long to answer. Your message was saved; please try again.",
                conversation_id=turn.conversation_id,
            ) from None
        except AgentError as exc:
            logger.warning("agent failed in conversation %s: %s", turn.conversation_id, exc)
            raise BadGateway(
                f"The assistant failed to answer ({exc}). Your message was saved; "
                "please try again.",
                conversation_id=turn.conversation_id,
            ) from None
        except Exception:
            # A bug in an agent is still the assistant failing, not the request: answer 502.
            logger.exception("agent crashed in conversation %s", turn.conversation_id)
            raise _failure(turn, "The assistant failed to answer.") from None


def _failure(turn: Turn, what: str) -> BadGateway:
    return BadGateway(
        f"{what} Your message was saved; please try again.", conversation_id=turn.conversation_id
    )


async def _iterate(events: list[TurnEvent]) -> AsyncIterator[TurnEvent]:
    for event in events:
        yield event
