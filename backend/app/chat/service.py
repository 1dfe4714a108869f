"""One chat turn, statelessly: everything the turn needs is read from and written to the DB.

1. the conversation is loaded (or created, titled from the message);
2. a bounded window of its latest messages is loaded with one indexed query;
3. the user message is committed before the agent runs, so a failing model loses nothing;
4. the agent runs with the task tools, bound to the authenticated user;
5. the assistant message, the conversation's updated_at and the idempotency key are written in
   one transaction.
"""

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from backend.app.agent.base import Agent, AgentError, AgentTimeout, HistoryMessage
from backend.app.agent.tools import ToolCall, ToolContext, ToolRunner
from backend.app.chat.schemas import ChatRequest, ChatResponse
from backend.app.conversations import service as conversation_service
from backend.app.errors import BadGateway, Conflict, GatewayTimeout
from backend.app.models import Conversation, IdempotencyKey, Message

logger = logging.getLogger(__name__)

TITLE_MAX = 60


def title_from_message(message: str) -> str:
    """A conversation title from its first message: one line, trimmed, at most 60 characters."""
    words = " ".join(message.split())
    if len(words) <= TITLE_MAX:
        return words
    cut = words[: TITLE_MAX - 1]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,.;:") + "…"


def load_history(session: Session, conversation: Conversation, window: int) -> list[HistoryMessage]:
    """The latest `window` messages, oldest first: one query on (conversation_id, id)."""
    rows = session.exec(
        select(Message)
        .where(Message.conversation_id == conversation.id)
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


def start_turn(session: Session, user_id: str, request: ChatRequest) -> Conversation:
    """The conversation of this turn (404 if unknown or foreign; created if none was given)."""
    if request.conversation_id is not None:
        return conversation_service.get_conversation(session, user_id, request.conversation_id)
    conversation = Conversation(user_id=user_id, title=title_from_message(request.message))
    session.add(conversation)
    session.flush()  # the id, so the user message can be committed with it in one go
    return conversation


def store_user_message(session: Session, conversation: Conversation, content: str) -> None:
    """Commit the user's message before the agent runs, so a failing agent loses nothing.

    Chatting in an archived conversation brings it back to the list, in the same commit.
    """
    session.add(conversation_service.new_message(conversation, "user", content, None))
    conversation.archived = False
    session.add(conversation)
    session.commit()


@dataclass
class Turn:
    """A turn whose user message is stored: what the agent needs to answer it."""

    conversation: Conversation
    request: ChatRequest
    history: list[HistoryMessage]
    idempotency_key: str | None


def begin_turn(
    session: Session,
    user_id: str,
    request: ChatRequest,
    *,
    history_window: int,
    idempotency_key: str | None = None,
) -> ChatResponse | Turn:
    """Steps 1-3: the stored answer of a repeated key, or a turn with its user message saved."""
    if idempotency_key is not None:
        stored = replay(session, user_id, idempotency_key, request)
        if stored is not None:
            return stored
    conversation = start_turn(session, user_id, request)
    history = load_history(session, conversation, history_window)
    store_user_message(session, conversation, request.message)
    return Turn(conversation, request, history, idempotency_key)


def answer_turn(
    session: Session,
    agent: Agent,
    turn: Turn,
    *,
    on_call: Callable[[ToolCall], None] | None = None,
    on_delta: Callable[[str], None] | None = None,
) -> ChatResponse:
    """Steps 4-5: run the agent for the conversation's owner and store its reply."""
    runner = ToolRunner(ToolContext(session, turn.conversation.user_id), on_call=on_call)
    reply = run_agent(session, agent, turn, runner, on_delta)
    return finish_turn(session, turn, reply, runner)


def run_turn(
    session: Session,
    agent: Agent,
    user_id: str,
    request: ChatRequest,
    *,
    history_window: int,
    idempotency_key: str | None = None,
) -> ChatResponse:
    """Run one whole chat turn for the user; see the module docstring for the steps."""
    turn = begin_turn(
        session, user_id, request, history_window=history_window, idempotency_key=idempotency_key
    )
    if isinstance(turn, ChatResponse):
        return turn
    return answer_turn(session, agent, turn)


def run_agent(
    session: Session,
    agent: Agent,
    turn: Turn,
    runner: ToolRunner,
    on_delta: Callable[[str], None] | None,
) -> str:
    """Run the agent; its failures become 502/504 carrying the conversation id."""
    conversation_id = turn.conversation.id
    # Nothing is pending (the user message is committed): end the read that just loaded the
    # conversation, so no connection sits idle in a transaction while the model thinks. Held,
    # it pinned a pool connection per slow turn, and a connection the database dropped
    # meanwhile (restart, failover) failed the turn with a 503 after the model had answered.
    session.rollback()
    try:
        return agent.run(turn.request.message, turn.history, runner, on_delta=on_delta)
    except AgentTimeout as exc:
        session.rollback()
        logger.warning("agent timed out in conversation %s: %s", conversation_id, exc)
        raise GatewayTimeout(
            "The assistant took too long to answer. Your message was saved; please try again.",
            conversation_id=conversation_id,
        ) from None
    except AgentError as exc:
        session.rollback()
        logger.warning("agent failed in conversation %s: %s", conversation_id, exc)
        raise BadGateway(
            f"The assistant failed to answer ({exc}). Your message was saved; please try again.",
            conversation_id=conversation_id,
        ) from None
    except Exception:
        # A bug in an agent is still the assistant failing, not the request: answer 502.
        session.rollback()
        logger.exception("agent crashed in conversation %s", conversation_id)
        raise BadGateway(
            "The assistant failed to answer. Your message was saved; please try again.",
            conversation_id=conversation_id,
        ) from None


def finish_turn(session: Session, turn: Turn, reply: str, runner: ToolRunner) -> ChatResponse:
    """Store the assistant message (and the idempotency key) in one transaction."""
    conversation = turn.conversation
    tool_calls = [call.as_dict() for call in runner.calls]
    message = conversation_service.new_message(conversation, "assistant", reply, tool_calls)
    session.add(conversation)
    session.add(message)
    session.flush()
    response = ChatResponse(
        conversation_id=conversation.id,
        response=reply,
        tool_calls=tool_calls,
        message_id=message.id,
    )
    if turn.idempotency_key is not None:
        session.add(
            IdempotencyKey(
                user_id=conversation.user_id,
                key=turn.idempotency_key,
                request_hash=_request_hash(turn.request),
                conversation_id=conversation.id,
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
        stored = replay(session, conversation.user_id, turn.idempotency_key, turn.request)
        if stored is None:
            raise
        return stored
    return response
