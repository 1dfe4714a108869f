"""Conversation and message rules. The only code that commits them."""

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import tuple_
from sqlmodel import Session, col, select

from backend.app.conversations.schemas import MessageOrder
from backend.app.errors import NotFound
from backend.app.models import Conversation, Message, stored_id, utcnow


def create_conversation(session: Session, user_id: str, title: str | None) -> Conversation:
    """Start an empty conversation."""
    now = utcnow()
    conversation = Conversation(user_id=user_id, title=title, created_at=now, updated_at=now)
    session.add(conversation)
    session.commit()
    session.refresh(conversation)
    return conversation


def get_conversation(session: Session, user_id: str, conversation_id: int) -> Conversation:
    """The user's conversation; a missing and a foreign one are the same NotFound."""
    conversation = session.exec(
        select(Conversation).where(
            Conversation.id == conversation_id, Conversation.user_id == user_id
        )
    ).first()
    if conversation is None:
        raise NotFound(f"conversation {conversation_id} not found")
    return conversation


def list_conversations_page(
    session: Session,
    user_id: str,
    limit: int,
    after: tuple[datetime, int] | None,
    archived: bool | None = False,
) -> Sequence[Conversation]:
    """Up to limit + 1 conversations, most recently updated first, after the cursor's key;
    only the archived or the active ones, or all of them when `archived` is None."""
    query = select(Conversation).where(Conversation.user_id == user_id)
    if archived is not None:
        query = query.where(Conversation.archived == archived)
    if after is not None:
        query = query.where(tuple_(Conversation.updated_at, Conversation.id) < after)
    query = query.order_by(col(Conversation.updated_at).desc(), col(Conversation.id).desc())
    return session.exec(query.limit(limit + 1)).all()


def update_conversation(
    session: Session, conversation: Conversation, changes: dict[str, Any]
) -> Conversation:
    """Apply the given changes (a rename or an archiving does not move `updated_at`: that
    tracks messages)."""
    for field, value in changes.items():
        setattr(conversation, field, value)
    session.add(conversation)
    session.commit()
    session.refresh(conversation)
    return conversation


def delete_conversation(session: Session, conversation: Conversation) -> None:
    """Delete the conversation; the database's ON DELETE CASCADE removes its messages."""
    session.delete(conversation)
    session.commit()


def list_messages_page(
    session: Session,
    conversation: Conversation,
    limit: int,
    after_id: int | None,
    order: MessageOrder,
) -> Sequence[Message]:
    """Up to limit + 1 messages of the conversation in id order, after the cursor's id."""
    query = select(Message).where(
        Message.conversation_id == conversation.id, Message.user_id == conversation.user_id
    )
    if order is MessageOrder.asc:
        if after_id is not None:
            query = query.where(col(Message.id) > after_id)
        query = query.order_by(col(Message.id).asc())
    else:
        if after_id is not None:
            query = query.where(col(Message.id) < after_id)
        query = query.order_by(col(Message.id).desc())
    return session.exec(query.limit(limit + 1)).all()


def new_message(
    conversation: Conversation,
    role: str,
    content: str,
    tool_calls: list[dict[str, Any]] | None,
    **fields: Any,
) -> Message:
    """A message row for the conversation, not yet added; moves the conversation's updated_at.
    `fields` sets the others (a chat turn's `turn_id`, `stopped`)."""
    now = utcnow()
    conversation.updated_at = now
    return Message(
        conversation_id=stored_id(conversation),
        user_id=conversation.user_id,
        role=role,
        content=content,
        tool_calls=None if tool_calls is None else json.dumps(tool_calls, ensure_ascii=False),
        created_at=now,
        **fields,
    )


def append_message(
    session: Session,
    conversation: Conversation,
    role: str,
    content: str,
    tool_calls: list[dict[str, Any]] | None,
) -> Message:
    """Store a message as given and move the conversation's updated_at, in one transaction.

    An archived conversation stays archived: this is the raw append of imports and sync tools,
    which restore history rather than resume it; a chat turn (chat/service.py) un-archives.
    """
    message = new_message(conversation, role, content, tool_calls)
    session.add(conversation)
    session.add(message)
    session.commit()
    session.refresh(message)
    return message
