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
from functools import partial
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
from backend.app.chat.redis_events import RedisTurnEvents
from backend.app.chat.schemas import ChatRequest, ChatResponse
from backend.app.config import Settings
from backend.app.conversations import service as conversation_service
from backend.app.errors import AppError, BadGateway, Conflict, GatewayTimeout, NotFound
from backend.app.models import Conversation, IdempotencyKey, Message

logger = logging.getLogger(__name__)

TITLE_MAX = 60
# The answer of a turn stopped before the model said anything (a message is never blank).
STOPPED_BEFORE_ANSWERING = "(Stopped before answering.)"
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
        turn_id = new_turn_id()
        session.add(
            conversation_service.new_message(
                conversation, "user", request.message, None, turn_id=turn_id
            )
        )
        conversation.archived = False
        session.add(conversation)
        session.commit()
        return Turn(
            turn_id=turn_id,
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
    engine: Engine, turn: Turn, reply: AgentReply, calls: list[ToolCall], stopped: bool = False
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
            conversation,
            "assistant",
            reply.text,
            tool_calls,
            turn_id=turn.turn_id,
            stopped=stopped,
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
            stopped=stopped,
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


# -- a turn after the fact ----------------------------------------------------------------------


def stored_turn(engine: Engine, user_id: str, turn_id: str) -> list[Message]:
    """The user's stored messages of a turn (its question, and its answer if there is one)."""
    with Session(engine) as session:
        return list(
            session.exec(
                select(Message)
                .where(Message.user_id == user_id, Message.turn_id == turn_id)
                .order_by(Message.id)
            ).all()
        )


def stored_turn_events(messages: list[Message]) -> list[TurnEvent]:
    """A turn whose event log is gone, told from the database: `start` and then `done` with
    the stored answer (or `error` when the turn stored none)."""
    question = messages[0]
    start = {"conversation_id": question.conversation_id, "turn_id": question.turn_id}
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
        message_id=answer.id,
        turn_id=answer.turn_id,
        stopped=answer.stopped,
    )
    return [TurnEvent(1, "start", start), TurnEvent(2, "done", _event_data(response))]


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


@dataclass
class RunningTurn:
    """A turn running in this process: its task, and how to stop its agent."""

    user_id: str
    task: "asyncio.Task[ChatResponse]"
    agent_task: "asyncio.Task[AgentReply] | None" = None
    stop_requested: bool = False


class ChatTurns:
    """Runs chat turns for one app: its engine, its agent, its turn logs and running turns."""

    def __init__(self, settings: Settings, engine: Engine, agent: Agent) -> None:
        self._engine = engine
        self._agent = agent
        self._history_window = settings.chat_history_window
        self.logs = TurnLogs()
        self._running: dict[str, RunningTurn] = {}
        self._shared = (
            RedisTurnEvents(settings.turn_events_url, self._stop_here)
            if settings.turn_events_url.startswith(("redis://", "rediss://"))
            else None
        )

    async def start(self) -> None:
        if self._shared is not None:
            await self._shared.start()

    # -- what the router calls ------------------------------------------------------------------

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

    async def follow(self, user_id: str, turn_id: str, after: int) -> AsyncIterator[TurnEvent]:
        """The turn's events after event `after` (all with 0), then the live ones: from this
        process's log, else from Redis, else the stored result. NotFound for a turn the user
        does not have."""
        log = self.logs.get(turn_id, user_id)
        if log is not None:
            return log.follow(after if after <= len(log.events) else 0)
        if self._shared is not None and await self._shared.state(turn_id, user_id) is not None:
            return self._shared.follow(turn_id, user_id, after)
        stored = await anyio.to_thread.run_sync(stored_turn, self._engine, user_id, turn_id)
        if not stored:
            raise NotFound(f"turn {turn_id} not found")
        return _iterate(stored_turn_events(stored))

    async def cancel(self, user_id: str, turn_id: str) -> None:
        """Ask a running turn to stop, wherever it runs: Conflict when it has already ended (or
        was already asked), NotFound for a turn the user does not have."""
        ended = Conflict(f"turn {turn_id} has already ended")
        running = self._running.get(turn_id)
        if running is not None and running.user_id == user_id:
            if running.stop_requested or not await self._claim_cancel(turn_id):
                raise ended
            self._stop_here(turn_id)
            return
        if self.logs.get(turn_id, user_id) is not None:
            raise ended  # its log is here and it is not running: it has ended
        if self._shared is not None:
            state = await self._shared.state(turn_id, user_id)
            if state == "running" and await self._shared.claim_cancel(turn_id):
                await self._shared.request_cancel(turn_id)
                return
            if state is not None:
                raise ended
        if await anyio.to_thread.run_sync(stored_turn, self._engine, user_id, turn_id):
            raise ended
        raise NotFound(f"turn {turn_id} not found")

    async def shutdown(self, grace_s: float = SHUTDOWN_GRACE_S) -> None:
        """Let running turns finish for `grace_s`, then cancel the rest (their user messages
        are stored; a cancelled turn writes no half answer)."""
        tasks = {running.task for running in self._running.values()}
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=grace_s)
            for task in pending:
                task.cancel()
            if pending:
                logger.warning("shutdown: %d turn(s) cancelled after %g s", len(pending), grace_s)
                await asyncio.wait(pending)
        if self._shared is not None:
            await self._shared.aclose()

    # -- the turn -------------------------------------------------------------------------------

    async def _claim_cancel(self, turn_id: str) -> bool:
        return True if self._shared is None else await self._shared.claim_cancel(turn_id)

    def _stop_here(self, turn_id: str) -> None:
        """Stop a turn of this process: its model call is cancelled (the stream is closed), no
        further tool call starts, and what it said so far is stored as its answer."""
        running = self._running.get(turn_id)
        if running is None:
            return  # not ours (a cancel published to every process), or already over
        running.stop_requested = True
        # The rules agent only computes: it finishes in milliseconds, and is left to.
        if running.agent_task is not None and is_async_agent(self._agent):
            running.agent_task.cancel()

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
        listener = None
        if self._shared is not None:
            shared = self._shared
            listener = partial(shared.mirror, turn.turn_id, turn.user_id)
        log = self.logs.open(turn.turn_id, turn.user_id, listener)
        log.append("start", {"conversation_id": turn.conversation_id, "turn_id": turn.turn_id})
        task = asyncio.create_task(self._run(turn, log, streamed), name=turn.turn_id)
        self._running[turn.turn_id] = RunningTurn(turn.user_id, task)
        task.add_done_callback(lambda done: self._forget(turn.turn_id, done))
        return task

    def _forget(self, turn_id: str, task: "asyncio.Task[ChatResponse]") -> None:
        self._running.pop(turn_id, None)
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
        said: list[str] = []

        def on_delta(text: str) -> None:
            if text:
                said.append(text)
                log.append("delta", {"text": text})

        tools = AsyncToolRunner(
            engine=self._engine,
            user_id=turn.user_id,
            on_call=lambda call: log.append("tool_call", call.as_dict()),
        )
        running = self._running[turn.turn_id]
        running.agent_task = asyncio.create_task(
            self._run_agent(turn, tools, on_delta if streamed else None)
        )
        stopped = False
        try:
            reply = await running.agent_task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if not running.stop_requested or (current is not None and current.cancelling()):
                raise  # the server is stopping, not the user
            stopped = True
            reply = AgentReply(text="".join(said) or STOPPED_BEFORE_ANSWERING)
            if not said:
                on_delta(reply.text)
        response = await anyio.to_thread.run_sync(
            finish_turn, self._engine, turn, reply, tools.calls, stopped
        )
        if not said:  # an agent that answers all at once is told in pieces
            for piece in text_pieces(response.response):
                log.append("delta", {"text": piece})
        return response

    async def _run_agent(
        self, turn: Turn, tools: AsyncToolRunner, on_delta: Callable[[str], None] | None
    ) -> AgentReply:
        """Run the agent; its failures become 502/504 carrying the conversation id."""
        try:
            if is_async_agent(self._agent):
                return await self._agent.run(
                    turn.request.message, turn.history, tools, on_delta=on_delta
                )
            reply, calls = await anyio.to_thread.run_sync(
                run_sync_agent, self._engine, self._agent, turn
            )
            for call in calls:  # quick enough to tell its calls once it has finished
                tools.record(call.name, call.arguments, call.result)
            return reply
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
