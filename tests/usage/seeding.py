"""Chat turns with token usage, written the way a chat turn writes them (the usage service),
at chosen moments: the agent's wiring is not needed to test what is read back."""

from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from backend.app.conversations import service as conversation_service
from backend.app.models import Conversation, User
from backend.app.usage import service as usage_service


def usage(prompt: int, completion: int, model: str = "gpt-4o-mini") -> dict[str, Any]:
    return {
        "model": model,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def seed_turn(
    engine: Engine,
    user_id: str,
    turn_usage: dict[str, Any] | None,
    *,
    at: datetime | None = None,
    conversation_id: int | None = None,
) -> tuple[int, int]:
    """A user message and an assistant message with this usage; (conversation id, message id).
    A new conversation unless one is given; the user row is created if missing."""
    with Session(engine) as session:
        if session.get(User, user_id) is None:
            session.add(User(id=user_id))
            session.flush()
        if conversation_id is None:
            conversation = Conversation(user_id=user_id, title="Seeded")
            session.add(conversation)
            session.flush()
        else:
            conversation = session.get(Conversation, conversation_id)
        question = conversation_service.new_message(conversation, "user", "How much?", None)
        answer = conversation_service.new_message(conversation, "assistant", "This much.", [])
        if at is not None:
            question.created_at = answer.created_at = conversation.updated_at = at
        session.add_all([conversation, question, answer])
        usage_service.record_turn_usage(session, answer, turn_usage)
        session.commit()
        return conversation.id, answer.id
