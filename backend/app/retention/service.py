"""The retention pass: delete conversations idle since before the cut-off, in batches.

Each batch (BATCH_SIZE conversations, found by the `updated_at` index) is its own short
transaction, so a pass over a large backlog never holds locks for long and chat turns go on
between batches. A conversation's messages and idempotency keys go with it (ON DELETE
CASCADE). A conversation that receives a message while the pass runs is kept: the DELETE checks
`updated_at` again.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, func
from sqlmodel import Session, col, select

from backend.app.models import Conversation, Message, utcnow

logger = logging.getLogger(__name__)

BATCH_SIZE = 100


@dataclass(frozen=True)
class RetentionResult:
    """What one pass deleted."""

    cutoff: datetime
    conversations: int = 0
    messages: int = 0

    def describe(self) -> str:
        return (
            f"retention: deleted {self.conversations} conversations ({self.messages} messages) "
            f"idle since before {self.cutoff.isoformat(timespec='seconds')}"
        )


def delete_idle_conversations(
    engine: Engine, retention_days: int, *, now: datetime | None = None
) -> RetentionResult:
    """Delete every conversation whose updated_at is older than `retention_days`, batch by
    batch; log and return what was deleted."""
    cutoff = (now or utcnow()) - timedelta(days=retention_days)
    conversations = messages = 0
    while True:
        found, deleted, deleted_messages = _delete_batch(engine, cutoff)
        conversations += deleted
        messages += deleted_messages
        if found < BATCH_SIZE:
            break
    result = RetentionResult(cutoff, conversations, messages)
    logger.info(result.describe())
    return result


def _delete_batch(engine: Engine, cutoff: datetime) -> tuple[int, int, int]:
    """Conversations found, conversations deleted, and their messages."""
    with Session(engine) as session:
        ids = session.exec(
            select(Conversation.id)
            .where(col(Conversation.updated_at) < cutoff)
            .order_by(col(Conversation.updated_at))
            .limit(BATCH_SIZE)
        ).all()
        if not ids:
            return 0, 0, 0
        messages = session.exec(
            select(func.count()).select_from(Message).where(col(Message.conversation_id).in_(ids))
        ).one()
        deleted = session.exec(
            delete(Conversation).where(
                col(Conversation.id).in_(ids), col(Conversation.updated_at) < cutoff
            )
        ).rowcount
        session.commit()
    return len(ids), deleted, messages
