"""usage and your data: token usage per message and per day, the retention index, job runs

- `messages.usage` (JSON text, NULL for the built-in agent): the model's own token counts of the
  chat turn that wrote the assistant message, shown with the message (API.md "Conversations and
  messages"). It is the record of one turn; nothing aggregates over it.
- `usage_days` (user_id, day) -> turns and token sums, primary key (user_id, day): the per-day
  table is what `GET /usage` and the daily token budget read. Summing the JSON of the messages
  instead would read every assistant message of the range (30 days of a heavy user: thousands of
  rows, each JSON parsed, on every chat turn for the budget); the per-day row is written in the
  same transaction as the assistant message (an upsert adding the turn's counts), so /usage reads
  at most one row per day of the range and the budget check one primary-key row, however many
  turns the user has had. The rows hold counts only, no content; they go with the user (ON DELETE
  CASCADE) and outlive retention of the conversations (they are the cost record).
- `ix_conversations_updated_at`: the retention pass finds conversations idle since before a
  cut-off, of every user, by range scan instead of reading the whole table.
- `job_runs` (name -> started_at, finished_at): the hourly retention pass claims its period here,
  so that of several server processes one runs it per hour.

Nothing here copies `messages` (the column is added and dropped in place, never by a batch copy,
which would drop migration 0004's FTS triggers on SQLite).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("messages", sa.Column("usage", sa.Text(), nullable=True))
    op.create_table(
        "usage_days",
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("turns", sa.Integer(), nullable=False),
        sa.Column("prompt_tokens", sa.BigInteger(), nullable=False),
        sa.Column("completion_tokens", sa.BigInteger(), nullable=False),
        sa.Column("total_tokens", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_usage_days_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "day", name=op.f("pk_usage_days")),
    )
    op.create_index(op.f("ix_conversations_updated_at"), "conversations", ["updated_at"])
    op.create_table(
        "job_runs",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_job_runs")),
    )


def downgrade() -> None:
    op.drop_table("job_runs")
    op.drop_index(op.f("ix_conversations_updated_at"), table_name="conversations")
    op.drop_table("usage_days")
    # A plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35), not a batch copy (see above).
    op.drop_column("messages", "usage")
