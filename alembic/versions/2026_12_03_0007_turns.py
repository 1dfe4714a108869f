"""chat turns on messages: turn_id (resume after the event log is gone) and stopped

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03

Both messages of a turn carry its `turn_id`, so `GET /chat/turns/{turn_id}/events` can still
answer from the stored result once the turn's event log has expired (or the process that ran
it has restarted): one indexed lookup on (user_id, turn_id), which also keeps another user's
turn ids invisible. `stopped` marks an answer cut short by `POST …/cancel`.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTER TABLE (SQLite >= 3.35 adds and drops columns in place): a batch copy of
# `messages` would drop the full-text search triggers of migration 0004.


def upgrade() -> None:
    op.add_column("messages", sa.Column("turn_id", sa.String(length=40), nullable=True))
    op.add_column(
        "messages", sa.Column("stopped", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    op.create_index(op.f("ix_messages_user_id_turn_id"), "messages", ["user_id", "turn_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_messages_user_id_turn_id"), table_name="messages")
    op.drop_column("messages", "stopped")
    op.drop_column("messages", "turn_id")
