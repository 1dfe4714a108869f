"""The chat turn as Server-Sent Events: start, tool_call (each), delta (in order), done | error.

The agent runs in a worker thread with its own database session and reports through a queue, so
a client that disconnects mid-stream stops only the sending: the turn still finishes and its
reply is stored, exactly as in the JSON turn.
"""

import asyncio
import json
import logging
import re
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace

from sqlalchemy import Engine
from sqlmodel import Session

from backend.app.agent.base import Agent
from backend.app.chat.schemas import ChatResponse
from backend.app.chat.service import Turn, answer_turn
from backend.app.errors import AppError
from backend.app.models import Conversation

logger = logging.getLogger(__name__)

KEEPALIVE_SECONDS = 15
_PIECE = re.compile(r"\S+\s*|\s+")


def sse(event: str, data: object) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def text_pieces(text: str, words_per_piece: int = 3) -> Iterator[str]:
    """Split a finished reply into small pieces (a few words each) that concatenate back to it."""
    words = _PIECE.findall(text)
    for start in range(0, len(words), words_per_piece):
        yield "".join(words[start : start + words_per_piece])


def replay_events(response: ChatResponse) -> Iterator[str]:
    """A stored answer (a repeated Idempotency-Key) told as the same events a live turn sends."""
    yield sse("start", {"conversation_id": response.conversation_id})
    for call in response.tool_calls:
        yield sse("tool_call", call.model_dump(mode="json"))
    for piece in text_pieces(response.response):
        yield sse("delta", {"text": piece})
    yield sse("done", response.model_dump(mode="json"))


async def turn_events(engine: Engine, agent: Agent, turn: Turn) -> AsyncIterator[str]:
    """Run the turn in a worker thread and yield its events as they happen.

    The generator waits on an asyncio queue, so an open stream holds no server thread while the
    model thinks: only the turn's own thread works, and it finishes even if the client leaves.
    """
    loop = asyncio.get_running_loop()
    events: asyncio.Queue[str | None] = asyncio.Queue()
    conversation_id = turn.conversation.id

    def emit(event: str | None) -> None:
        try:
            loop.call_soon_threadsafe(events.put_nowait, event)
        except RuntimeError:
            pass  # the server shut down mid-turn: nobody is listening any more

    def produce() -> None:
        streamed = False

        def on_delta(text: str) -> None:
            nonlocal streamed
            if text:
                streamed = True
                emit(sse("delta", {"text": text}))

        try:
            with Session(engine) as session:
                own_turn = replace(turn, conversation=session.get(Conversation, conversation_id))
                response = answer_turn(
                    session,
                    agent,
                    own_turn,
                    on_call=lambda call: emit(sse("tool_call", call.as_dict())),
                    on_delta=on_delta,
                )
            if not streamed:  # an agent that answers all at once is streamed in pieces
                for piece in text_pieces(response.response):
                    emit(sse("delta", {"text": piece}))
            emit(sse("done", response.model_dump(mode="json")))
        except AppError as exc:
            emit(sse("error", {"detail": exc.detail, **exc.extra}))
        except Exception:
            logger.exception("streamed turn failed in conversation %s", conversation_id)
            emit(
                sse(
                    "error",
                    {
                        "detail": "The turn failed. Your message was saved; please try again.",
                        "conversation_id": conversation_id,
                    },
                )
            )
        finally:
            emit(None)

    yield sse("start", {"conversation_id": conversation_id})
    threading.Thread(target=produce, name=f"chat-turn-{conversation_id}", daemon=True).start()
    while True:
        try:
            event = await asyncio.wait_for(events.get(), KEEPALIVE_SECONDS)
        except TimeoutError:
            yield ": keep-alive\n\n"  # keeps proxies from closing a quiet stream
            continue
        if event is None:
            return
        yield event
