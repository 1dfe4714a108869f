"""The database steps of a chat turn: short, synchronous, each in a session of its own.

Each is run in one worker-thread hop by chat/service.py and commits (or only reads) before it
returns, so no connection is held while the turn waits on its model:

- `begin_turn`: the conversation (created, titled from the message, or checked: 404 if unknown
  or foreign), a bounded window of its latest messages (one indexed query), and the user message,
  committed before the agent runs so a failing model loses nothing;
- `run_sync_agent`: an agent that only computes (the rules agent), whole, on one session;
- `finish_turn`: the assistant message (with the model's token usage), the conversation's
  updated_at, the user's usage of the day and the idempotency key, in one transaction;
- `stored_turn`: a turn's stored messages, for resuming once its event log is gone.
"""

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from backend.app.agent.base import AgentReply, HistoryMessage, SyncAgent
from backend.app.agent.tools import ToolContext, ToolRunner
from backend.app.chat.schemas import ChatRequest, ChatResponse
from backend.app.conversations import service as conversation_service
from backend.app.errors import Conflict, NotFound
from backend.app.models import Conversation, IdempotencyKey, Message, stored_id
from backend.app.text import TITLE_FROM_MESSAGE_MAX
from backend.app.tool_calls import ToolCall
from backend.app.usage import service as usage_service


def title_from_message(message: str) -> str | None:
    """A conversation title from its first message: one line, trimmed, at most 60 characters;
    none (null, as an untitled conversation) for a message of blanks only."""
    words = " ".join(message.split())
    if not words:
        return None
    if len(words) <= TITLE_FROM_MESSAGE_MAX:
        return words
    cut = words[: TITLE_FROM_MESSAGE_MAX - 1]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,.;:") + "…"


def new_turn_id() -> str:
    return "turn_" + secrets.token_urlsafe(12)


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
        .order_by(col(Message.id).desc())
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
        history = load_history(session, stored_id(conversation), history_window)
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
            conversation_id=stored_id(conversation),
            request=request,
            history=history,
            idempotency_key=idempotency_key,
        )


def run_sync_agent(
    engine: Engine, agent: SyncAgent, turn: Turn, now: datetime
) -> tuple[AgentReply, list[ToolCall]]:
    """Step 2 for an agent that only computes: the whole run in this thread, one session.
    `now`: the current time in the turn's zone."""
    with Session(engine) as session:
        runner = ToolRunner(ToolContext(session, turn.user_id, turn.request.timezone))
        text = agent.run(turn.request.message, turn.history, runner, now=now)
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
        message = conversation_service.new_message(
            conversation,
            "assistant",
            reply.text,
            [call.model_dump() for call in calls],
            turn_id=turn.turn_id,
            stopped=stopped,
        )
        session.add(conversation)
        session.add(message)
        usage_service.record_turn_usage(session, message, reply.usage)  # same transaction
        session.flush()
        response = ChatResponse(
            conversation_id=turn.conversation_id,
            response=reply.text,
            tool_calls=calls,
            message_id=stored_id(message),
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


def stored_turn(engine: Engine, user_id: str, turn_id: str) -> list[Message]:
    """The user's stored messages of a turn (its question, and its answer if there is one)."""
    with Session(engine) as session:
        return list(
            session.exec(
                select(Message)
                .where(Message.user_id == user_id, Message.turn_id == turn_id)
                .order_by(col(Message.id))
            ).all()
        )
