"""Turn event logs shared through Redis, so any process can follow, resume or stop any turn.

With TURN_EVENTS_URL=redis://… each process still keeps the logs of the turns it runs in memory
(its own followers read those, costing Redis nothing) and mirrors every event into a Redis
Stream per turn: `XADD` with the event's own number as the entry id (`0-<n>`, so SSE ids and
stream ids are the same), a length cap and an expiry. A follower on another process replays
with `XRANGE` after the id it was given, then blocks on `XREAD` for the live events. A cancel
sent to any process is published on one channel; the process running the turn stops it.

Redis is a convenience here, never a dependency: when it cannot be reached turns still run and
answer (resuming then falls back to the stored result), with one warning per outage.
"""

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any, TypedDict

import redis.asyncio as redis
from redis.exceptions import RedisError
from redis.typing import EncodableT, FieldT, StreamEntry, StreamRangeResponse

from backend.app.chat.events import FINAL_EVENTS, FINISHED_TTL_S, TurnEvent

logger = logging.getLogger(__name__)

KEY_PREFIX = "todo-chat:turn:"
CANCEL_CHANNEL = "todo-chat:turn-cancel"
MAX_EVENTS_PER_TURN = 20_000  # XADD's cap: a runaway turn cannot fill Redis
BLOCK_MS = 2_000
# A follower of a turn that stopped writing (its process died) gives up after this long.
FOLLOW_IDLE_S = 180
WRITE_BATCH = 500


class Timeouts(TypedDict):
    socket_connect_timeout: float
    socket_timeout: float


# Writes fail fast (the turn must not wait on a broken Redis); readers block longer.
WRITE_TIMEOUTS: Timeouts = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
READ_TIMEOUTS: Timeouts = {"socket_connect_timeout": 0.5, "socket_timeout": BLOCK_MS / 1000 + 3}
# Every follower of a turn running on another process blocks in XREAD on a connection of its
# own: redis-py's default pool of 100 made the 101st follower fail (found by the benchmark).
MAX_FOLLOWER_CONNECTIONS = 10_000


def stream_key(turn_id: str) -> str:
    return KEY_PREFIX + turn_id


def cancel_key(turn_id: str) -> str:
    return KEY_PREFIX + turn_id + ":cancel"


def _decode(entry: StreamEntry) -> tuple[str, bytes, TurnEvent]:
    """(owner, entry id, event) of one stream entry."""
    entry_id, fields = entry
    # The clients are made without decode_responses: bytes. Only XREADGROUP and XCLAIM answer
    # an entry without its id or fields (a deleted one); XRANGE and XREAD never do.
    assert isinstance(entry_id, bytes) and fields is not None
    number = int(entry_id.split(b"-")[1])
    data = json.loads(fields[b"d"])
    return _text(fields[b"u"]), entry_id, TurnEvent(number, _text(fields[b"e"]), data)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisTurnEvents:
    def __init__(self, url: str, on_cancel: Callable[[str], None]) -> None:
        self._writer = redis.Redis.from_url(url, **WRITE_TIMEOUTS)
        self._reader = redis.Redis.from_url(
            url, max_connections=MAX_FOLLOWER_CONNECTIONS, **READ_TIMEOUTS
        )
        self._on_cancel = on_cancel
        self._queue: asyncio.Queue[tuple[str, str, TurnEvent]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._down = False

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._write_forever(), name="turn-events-writer"),
            asyncio.create_task(self._listen_for_cancels(), name="turn-events-cancels"),
        ]

    async def aclose(self) -> None:
        await self._flush()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._writer.aclose()
        await self._reader.aclose()

    # -- writing: a mirror of the local logs -----------------------------------------------------

    def mirror(self, turn_id: str, user_id: str, event: TurnEvent) -> None:
        """Queue an event for Redis; never blocks the turn."""
        self._queue.put_nowait((turn_id, user_id, event))

    async def _flush(self, timeout_s: float = 2.0) -> None:
        """Give queued events a moment to reach Redis (on shutdown)."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while not self._queue.empty() and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)

    async def _write_forever(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < WRITE_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._write(batch)
            except (RedisError, OSError) as exc:
                self._warn_down(exc)
            else:
                self._back_up()

    async def _write(self, batch: list[tuple[str, str, TurnEvent]]) -> None:
        async with self._writer.pipeline(transaction=False) as pipe:
            for turn_id, user_id, event in batch:
                key = stream_key(turn_id)
                fields: dict[FieldT, EncodableT] = {
                    "u": user_id,
                    "e": event.event,
                    "d": json.dumps(event.data),
                }
                pipe.xadd(key, fields, id=f"0-{event.id}", maxlen=MAX_EVENTS_PER_TURN)
                # An expiry when the turn starts (should its process die) and a fresh one when
                # it ends: two per turn, not one per event.
                if event.id == 1 or event.event in FINAL_EVENTS:
                    pipe.expire(key, FINISHED_TTL_S)
            # Errors are per command (an id already written after a reconnect): not fatal.
            results = await pipe.execute(raise_on_error=False)
        if results and all(isinstance(result, Exception) for result in results):
            raise results[0]

    def _warn_down(self, exc: Exception) -> None:
        if not self._down:
            logger.warning("turn events: Redis unreachable, turns run without it: %s", exc)
            self._down = True

    def _back_up(self) -> None:
        if self._down:
            logger.warning("turn events: Redis reachable again")
            self._down = False

    # -- reading: a turn run by another process ------------------------------------------------

    async def state(self, turn_id: str, user_id: str) -> str | None:
        """ "running" or "finished" for a turn of this user that Redis knows, else None."""
        try:
            last = await self._reader.xrevrange(stream_key(turn_id), count=1)
        except (RedisError, OSError) as exc:
            self._warn_down(exc)
            return None
        if not last:
            return None
        owner, _entry_id, event = _decode(last[0])
        if owner != user_id:
            return None
        return "finished" if event.event in FINAL_EVENTS else "running"

    async def follow(
        self, turn_id: str, user_id: str, after: int, idle_s: float = FOLLOW_IDLE_S
    ) -> AsyncIterator[TurnEvent]:
        """The turn's events after `after`, then the live ones until the final event (or until
        nothing has come for `idle_s`: its process is gone)."""
        key = stream_key(turn_id)
        last_id = f"0-{after}"
        idle_since = asyncio.get_running_loop().time()
        try:
            entries: StreamRangeResponse = (
                await self._reader.xrange(key, min=f"({last_id}", max="+") or []
            )
            while True:
                for entry in entries:
                    owner, entry_id, event = _decode(entry)
                    if owner != user_id:
                        return
                    last_id = entry_id.decode()
                    yield event
                    if event.event in FINAL_EVENTS:
                        return
                if entries:
                    idle_since = asyncio.get_running_loop().time()
                elif asyncio.get_running_loop().time() - idle_since > idle_s:
                    return
                answer = await self._reader.xread({key: last_id}, block=BLOCK_MS)
                # RESP2, the clients' protocol, answers [[key, entries]] (RESP3 a mapping).
                assert isinstance(answer, list)
                entries = answer[0][1] if answer else []
        except (RedisError, OSError) as exc:
            self._warn_down(exc)

    # -- stopping a turn wherever it runs ------------------------------------------------------

    async def claim_cancel(self, turn_id: str) -> bool:
        """Record that this turn was asked to stop; False when it already was (a repeat)."""
        try:
            return bool(await self._writer.set(cancel_key(turn_id), 1, nx=True, ex=FINISHED_TTL_S))
        except (RedisError, OSError) as exc:
            self._warn_down(exc)
            return True

    async def request_cancel(self, turn_id: str) -> None:
        try:
            await self._writer.publish(CANCEL_CHANNEL, turn_id)
        except (RedisError, OSError) as exc:
            self._warn_down(exc)

    async def _listen_for_cancels(self) -> None:
        while True:
            pubsub = self._reader.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(CANCEL_CHANNEL)
                while True:
                    message: dict[str, Any] | None = await pubsub.get_message(timeout=1.0)
                    if message and message.get("type") == "message":
                        self._on_cancel(message["data"].decode())
            except (RedisError, OSError) as exc:
                self._warn_down(exc)
                await asyncio.sleep(1)
            finally:
                await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
