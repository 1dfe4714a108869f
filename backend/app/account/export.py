"""Everything of a user as NDJSON, streamed: the right of access and of portability.

Lines, each one JSON object with a `type` and the same fields as the API's objects: the user,
then every task, then every conversation followed by its messages in order (all by id).

Rows are read by keyset on their ids, `BATCH_SIZE` at a time, each batch in a short session of
its own: a slow download pins no database connection between batches, and 100,000 messages take
the memory of one batch. Rows committed while the export runs are included when their ids come
after the batch being read; none appears twice.
"""

from collections import deque
from collections.abc import Iterator, Sequence
from operator import attrgetter

from pydantic import BaseModel
from sqlalchemy import Engine, tuple_
from sqlmodel import Session, col, select

from backend.app.account.schemas import UserPublic
from backend.app.batches import Public, keyset_batches
from backend.app.conversations.schemas import ConversationPublic, MessagePublic
from backend.app.models import Conversation, Message, Task, User
from backend.app.tasks.schemas import TaskPublic

MEDIA_TYPE = "application/x-ndjson"
FILENAME = "todo-chat-export.ndjson"


def stream_account_export(engine: Engine, user_id: str) -> Iterator[bytes]:
    """The export, one chunk per batch of rows."""
    with Session(engine) as session:
        user = session.get(User, user_id)
        first = UserPublic.model_validate(user) if user is not None else None
    if first is not None:  # (deleted by a concurrent request: nothing of theirs is left)
        yield _line("user", first)
    for tasks in _owned_batches(engine, user_id, Task, TaskPublic):
        yield b"".join(_line("task", task) for task in tasks)
    for conversations in _owned_batches(engine, user_id, Conversation, ConversationPublic):
        yield from _conversations_with_messages(engine, user_id, conversations)


def _line(kind: str, row: BaseModel) -> bytes:
    # The API's own serialisation of the object with "type" spliced in front of its fields
    # (an object's JSON always starts with "{" and none of these is empty).
    return b'{"type":"' + kind.encode() + b'",' + row.model_dump_json().encode()[1:] + b"\n"


def _owned_batches(
    engine: Engine, user_id: str, table: type[Task] | type[Conversation], public: type[Public]
) -> Iterator[list[Public]]:
    """The user's rows of `table` (tasks or conversations) by id, as `public` objects, BATCH_SIZE
    at a time."""
    return keyset_batches(
        engine,
        lambda after_id: (
            select(table)
            .where(table.user_id == user_id, col(table.id) > after_id)
            .order_by(col(table.id))
        ),
        public,
        key=attrgetter("id"),
        start=0,
    )


def _conversations_with_messages(
    engine: Engine, user_id: str, conversations: Sequence[ConversationPublic]
) -> Iterator[bytes]:
    """Each conversation's line followed by its messages' lines, one chunk per message batch.

    Both streams ascend by conversation id, so a conversation's line is due just before the
    first message of a later-or-equal conversation (or at the end, if it has no messages)."""
    pending = deque(conversations)
    for batch in _message_batches(engine, user_id, [c.id for c in conversations]):
        chunk: list[bytes] = []
        for message in batch:
            while pending and pending[0].id <= message.conversation_id:
                chunk.append(_line("conversation", pending.popleft()))
            chunk.append(_line("message", message))
        yield b"".join(chunk)
    if pending:
        yield b"".join(_line("conversation", conversation) for conversation in pending)


def _message_batches(
    engine: Engine, user_id: str, conversation_ids: list[int]
) -> Iterator[list[MessagePublic]]:
    """The messages of these conversations, by (conversation_id, id), BATCH_SIZE at a time:
    the (conversation_id, id) index serves each batch, whatever the user's other history."""
    return keyset_batches(
        engine,
        lambda after: (
            select(Message)
            .where(
                col(Message.conversation_id).in_(conversation_ids),
                Message.user_id == user_id,
                tuple_(Message.conversation_id, Message.id) > after,
            )
            .order_by(col(Message.conversation_id), col(Message.id))
        ),
        MessagePublic,
        key=lambda message: (message.conversation_id, message.id),
        start=(0, 0),
    )
