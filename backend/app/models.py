"""Every table of the service. No `from __future__ import annotations` here: relationships break."""

from datetime import UTC, date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Index,
    SmallInteger,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.engine import Dialect
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

# Stored as a rank so that `ORDER BY priority DESC` is "high first" and an index can serve it.
PRIORITY_RANKS = {"low": 0, "normal": 1, "high": 2}
PRIORITY_NAMES = {rank: name for name, rank in PRIORITY_RANKS.items()}
TAG_MAX = 32
RECURRENCE_MAX = 255
TIMEZONE_MAX = 64


def utcnow() -> datetime:
    return datetime.now(UTC)


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: str = Field(primary_key=True, max_length=USER_ID_MAX)  # the token's `sub`
    email: str | None = Field(default=None, max_length=EMAIL_MAX)
    name: str | None = Field(default=None, max_length=NAME_MAX)
    created_at: datetime = Field(default_factory=utcnow)


class PriorityRank(TypeDecorator[str]):
    """`low|normal|high` in Python and on the wire, 0|1|2 in the database."""

    impl = SmallInteger
    cache_ok = True

    def process_bind_param(self, value: str | None, _dialect: Dialect) -> int | None:
        return None if value is None else PRIORITY_RANKS[value]

    def process_result_value(self, value: int | None, _dialect: Dialect) -> str | None:
        return None if value is None else PRIORITY_NAMES[value]


class Task(SQLModel, table=True):
    __tablename__ = "tasks"
    __table_args__ = (
        CheckConstraint("priority IN (0, 1, 2)", name="priority"),
        # The list's filters and sorts: a due window / `sort=due`, `priority=` / `sort=priority`,
        # each read from the user's own slice of the index (the `tag` filter has task_tags').
        Index(None, "user_id", "due_at", "id"),
        Index(None, "user_id", "priority", "id"),
        # AUTOINCREMENT: SQLite would otherwise hand a deleted last row's id to the next task.
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: str = Field(
        foreign_key="users.id", ondelete="CASCADE", index=True, max_length=USER_ID_MAX
    )
    title: str = Field(max_length=TITLE_MAX)
    description: str | None = Field(default=None, max_length=DESCRIPTION_MAX)
    completed: bool = Field(default=False)
    due_at: datetime | None = Field(default=None)
    priority: str = Field(
        default="normal",
        sa_column=Column(PriorityRank(), nullable=False, server_default=text("1")),
    )
    # An RFC 5545 RRULE ("FREQ=WEEKLY;BYDAY=MO"), validated by tasks/recurrence.py.
    recurrence: str | None = Field(default=None, max_length=RECURRENCE_MAX)
    # The IANA zone the task was created in: its repetitions keep their wall-clock time there
    # ("every day at 9am" stays 9am across daylight-saving changes).
    timezone: str = Field(
        default="UTC", max_length=TIMEZONE_MAX, sa_column_kwargs={"server_default": "UTC"}
    )
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    tag_rows: list["TaskTag"] = Relationship(
        cascade_delete=True,
        passive_deletes=True,
        sa_relationship_kwargs={"lazy": "selectin", "order_by": "TaskTag.tag"},
    )

    @property
    def tags(self) -> list[str]:
        return [row.tag for row in self.tag_rows]


class TaskTag(SQLModel, table=True):
    """One tag of one task. A row per tag (not a JSON or array column) so that `?tag=` is an
    indexed equality on both databases: (user_id, tag, task_id) finds a user's tagged tasks in
    id order without reading anyone else's."""

    __tablename__ = "task_tags"
    __table_args__ = (Index(None, "user_id", "tag", "task_id"),)

    # None until the task's relationship (Task.tag_rows) flushes it: a new task has no id yet.
    task_id: int | None = Field(
        default=None, foreign_key="tasks.id", ondelete="CASCADE", primary_key=True
    )
    tag: str = Field(primary_key=True, max_length=TAG_MAX)
    # The task's owner, copied here so the tag index is led by the user like every other one.
    user_id: str = Field(max_length=255)


class Conversation(SQLModel, table=True):
    __tablename__ = "conversations"
    __table_args__ = (
        # Serve the sidebar: a user's conversations, most recently updated first, by keyset;
        # all of them (?archived=all), or only the archived or the active ones.
        Index(None, "user_id", "updated_at", "id"),
        Index(None, "user_id", "archived", "updated_at", "id"),
        # Retention finds the conversations idle since before a cut-off, of every user.
        Index(None, "updated_at"),
        {"sqlite_autoincrement": True},  # ids are never reused (see Task)
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
        # Finds a turn's stored messages once its event log is gone (resume, cancel).
        Index(None, "user_id", "turn_id"),
        # The full-text search structures over `content` and conversation titles (PostgreSQL
        # GIN expression indexes, SQLite FTS5 tables and triggers) are not expressible here:
        # they live in migration 0004 only, and alembic/env.py keeps `alembic check` off them.
        {"sqlite_autoincrement": True},  # ids are never reused (see Task)
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
    # JSON text: {"model", "prompt_tokens", "completion_tokens", "total_tokens"} of the chat turn
    # that wrote this assistant message, or NULL (no model called, or not written by a turn).
    usage: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(default_factory=utcnow, index=True)
    # The chat turn that wrote it (both its messages); NULL for messages posted directly.
    turn_id: str | None = Field(default=None, max_length=40)
    # An answer cut short by the user (POST …/chat/turns/{turn_id}/cancel).
    stopped: bool = Field(default=False, sa_column_kwargs={"server_default": false()})

    conversation: Conversation | None = Relationship(back_populates="messages")


def stored_id(row: Task | Conversation | Message) -> int:
    """The id of a row the database has (flushed or loaded); only a new, unflushed row has none."""
    if row.id is None:
        raise ValueError(f"{type(row).__name__} has no id yet: flush it first")
    return row.id


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


class UsageDay(SQLModel, table=True):
    """One user's chat turns and model tokens of one UTC day: what /usage and the daily token
    budget read (one primary-key row per user and day, however many turns it counts)."""

    __tablename__ = "usage_days"

    user_id: str = Field(
        foreign_key="users.id", ondelete="CASCADE", primary_key=True, max_length=255
    )
    day: date = Field(primary_key=True)
    turns: int = Field(default=0)
    prompt_tokens: int = Field(default=0, sa_type=BigInteger)
    completion_tokens: int = Field(default=0, sa_type=BigInteger)
    total_tokens: int = Field(default=0, sa_type=BigInteger)


class JobRun(SQLModel, table=True):
    """When a periodic job (the hourly retention pass) last ran, so that of several server
    processes only one runs it per period."""

    __tablename__ = "job_runs"

    name: str = Field(primary_key=True, max_length=64)
    started_at: datetime
    finished_at: datetime | None = None
