"""One chat turn, statelessly, and without holding anything while the model thinks.

`ChatTurns` owns the turn: the router calls `answer` (JSON) or `open_stream` (SSE), and
`follow` / `cancel` for resuming and stopping. A turn is three short database steps
(chat/steps.py: begin, [each tool call], finish), each in a session of its own, committed and
closed in one worker-thread hop, around the agent: the model loop is awaited on the event loop
(no thread and no connection while it waits), the rules agent runs in one thread hop.

The turn runs as a task of its own that appends its events to a `TurnLog` (chat/events.py); a
stream only follows that log, so a client that disconnects does not stop the turn, anyone may
resume it after any event, and on shutdown running turns get a short grace period to finish.
"""

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial

import anyio
from sqlalchemy import Engine

from backend.app.agent.base import Agent, AgentError, AgentReply, AgentTimeout, is_async_agent
from backend.app.agent.tools import AsyncToolRunner
from backend.app.chat.events import (
    FINAL_EVENTS,
    TurnEvent,
    TurnLog,
    TurnLogs,
    event_data,
    iterate,
    replayed_events,
    stored_turn_events,
    text_pieces,
)
from backend.app.chat.redis_events import RedisTurnEvents
from backend.app.chat.schemas import ChatRequest, ChatResponse
from backend.app.chat.steps import Turn, begin_turn, finish_turn, run_sync_agent, stored_turn
from backend.app.config import Settings
from backend.app.errors import AppError, BadGateway, Conflict, GatewayTimeout, NotFound
from backend.app.models import utcnow
from backend.app.timezones import zone

logger = logging.getLogger(__name__)

# The answer of a turn stopped before the model said anything (a message is never blank).
STOPPED_BEFORE_ANSWERING = "(Stopped before answering.)"
# How long running turns may still finish when the server shuts down.
SHUTDOWN_GRACE_S = 5.0
# How long a follower waits for the first events of an unanswered turn Redis does not know yet.
LATE_TURN_WAIT_S = 10.0


@dataclass
class RunningTurn:
    """A turn running in this process: its task, and how to stop its agent."""

    user_id: str
    task: "asyncio.Task[ChatResponse]"
    agent_task: "asyncio.Task[AgentReply] | None" = None
    stop_requested: bool = False


class ChatTurns:
    """Runs chat turns for one app: its engine, its agent, its turn logs and running turns."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        agent: Agent,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._engine = engine
        self._agent = agent
        # What "now" is for the agents (today's date, "tomorrow"): a test can fix it.
        self._clock = clock
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
            return iterate(replayed_events(begun))
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
        if self._shared is not None and not any(m.role == "assistant" for m in stored):
            # Unanswered: it may be running on another process whose first events have not
            # reached Redis yet (its writer is behind): wait for them before calling it over.
            return self._follow_late(turn_id, user_id, after)
        return iterate(stored_turn_events(turn_id, stored))

    async def _follow_late(
        self, turn_id: str, user_id: str, after: int
    ) -> AsyncIterator[TurnEvent]:
        """A turn Redis does not know yet: its events once they come, else its stored result."""
        assert self._shared is not None
        final = False
        async for event in self._shared.follow(turn_id, user_id, after, idle_s=LATE_TURN_WAIT_S):
            final = event.event in FINAL_EVENTS
            yield event
        if not final:
            stored = await anyio.to_thread.run_sync(stored_turn, self._engine, user_id, turn_id)
            for event in stored_turn_events(turn_id, stored):
                yield event

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
            log.append("error", stopped.body())
            raise
        except AppError as exc:
            log.append("error", exc.body())
            raise
        except Exception:
            logger.exception("chat turn failed in conversation %s", turn.conversation_id)
            error = _failure(turn, "The turn failed.")
            log.append("error", error.body())
            raise error from None
        log.append("done", event_data(response))
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
            timezone=turn.request.timezone,
            on_call=lambda call: log.append("tool_call", call.model_dump(mode="json")),
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
            now = self._clock().astimezone(zone(turn.request.timezone))
            if is_async_agent(self._agent):
                return await self._agent.run(
                    turn.request.message, turn.history, tools, on_delta=on_delta, now=now
                )
            reply, calls = await anyio.to_thread.run_sync(
                run_sync_agent, self._engine, self._agent, turn, now
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
            # A misconfigured model (a rejected key, an unknown model) will fail again: say what
            # to fix rather than "try again".
            saved = "saved." if exc.permanent else "saved; please try again."
            raise BadGateway(
                f"The assistant failed to answer ({exc}). Your message was {saved}",
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
