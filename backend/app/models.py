"""Every table of the service. No `from __future__ import annotations` here: relationships break."""

from datetime import UTC, datetime

from sqlalchemy import CheckConstraint, Column, Index, Text, UniqueConstraint, false
from sqlmodel import Field, Relationship, SQLModel

from backend.app.text import DESCRIPTION_MAX, EMAIL_MAX, NAME_MAX, TITLE_MAX, USER_ID_MAX

# Stable constraint names, so migrations can name what they drop on SQLite and PostgreSQL alike.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: str = Field(primary_key=True, max_length=USER_ID_MAX)  # the token's `sub`
    email: str | None = Field(default=None, max_length=EMAIL_MAX)
    name: str | None = Field(default=None, max_length=NAME_MAX)
    created_at: datetime = Field(default_factory=utcnow)


class Task(SQLModel, table=True):
    __tablename__ = "tasks"

    id: int | None = Field(default=None, primary_key=True)
    user_id: str = Field(
        foreign_key="users.id", ondelete="CASCADE", index=True, max_length=USER_ID_MAX
    )
    title: str = Field(max_length=TITLE_MAX)
    description: str | None = Field(default=None, max_length=DESCRIPTION_MAX)
    completed: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Conversation(SQLModel, table=True):
    __tablename__ = "conversations"
    __table_args__ = (
        # Serve the sidebar: a user's conversations, most recently updated first, by keyset;
        # all of them (?archived=all), or only the archived or the active ones.
        Index(None, "user_id", "updated_at", "id"),
        Index(None, "user_id", "archived", "updated_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: str = Field(
        foreign_key="users.id", ondelete="CASCADE", index=True, max_length=USER_ID_MAX
    )
    title: str | None = Field(default=None, max_length=TITLE_MAX)
    # Hidden from the default list, still searchable; chatting in it clears the flag.
    archived: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    messages: list["Message"] = Relationship(
        back_populates="conversation", cascade_delete=True, passive_deletes=True
    )


class Message(SQLModel, table=True):
    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint("role IN ('user', 'assistant')", name="role"),
        # Serves a conversation's message pages (asc and desc) and the chat history window.
        Index(None, "conversation_id", "id"),
        # The full-text search structures over `content` and conversation titles (PostgreSQL
        # GIN expression indexes, SQLite FTS5 tables and triggers) are not expressible here:
        # they live in migration 0004 only, and alembic/env.py keeps `alembic check` off them.
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: str = Field(
        foreign_key="users.id", ondelete="CASCADE", index=True, max_length=USER_ID_MAX
    )
    conversation_id: int = Field(foreign_key="conversations.id", ondelete="CASCADE", index=True)
    role: str = Field(max_length=20)
    content: str = Field(sa_column=Column(Text, nullable=False))
    # JSON text: [{"name", "arguments", "result"}, ...] or NULL.
    tool_calls: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(default_factory=utcnow, index=True)

    conversation: Conversation | None = Relationship(back_populates="messages")


class IdempotencyKey(SQLModel, table=True):
    """The stored answer of a completed chat turn, replayed when the client repeats its key."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: str = Field(foreign_key="users.id", ondelete="CASCADE", max_length=255)
    key: str = Field(max_length=255)
    # Same key with a different request is refused rather than answered with the wrong reply.
    request_hash: str = Field(max_length=64)
    # Deleting the conversation retires its keys, so a repeat cannot point at a deleted reply.
    conversation_id: int = Field(foreign_key="conversations.id", ondelete="CASCADE", index=True)
    response: str = Field(sa_column=Column(Text, nullable=False))  # the ChatResponse as JSON
    created_at: datetime = Field(default_factory=utcnow)
