"""task fields: due date, priority, tags, recurrence; ids never reused on SQLite

Adds to `tasks`: `due_at` (timestamptz), `priority` (SMALLINT 0|1|2 = low|normal|high, default
1, so "high first" is a plain descending sort an index can serve), `recurrence` (RRULE text),
`timezone` (the IANA zone the task was created in: a repetition keeps its wall-clock time there),
and the indexes of the list's filters and sorts: (user_id, due_at, id), (user_id, priority, id).

Tags live in their own table, `task_tags` (task_id, tag) with an index (user_id, tag, task_id),
rather than in a JSON or array column: `?tag=work` is then an equality on an ordinary B-tree
index on both databases (SQLite has no array type and cannot index into JSON lists; a PostgreSQL
GIN over an array would work there only), and it reads the caller's tagged tasks alone, in id
order. The owner is copied into the row so that index is led by the user like every other one.

SQLite reuses the id of a deleted last row unless the table is AUTOINCREMENT, which only
CREATE TABLE can say: `tasks`, `conversations` and `messages` (and `idempotency_keys`, whose
foreign key follows a renamed `conversations`) are rebuilt. Not with Alembic's batch mode: with
foreign keys on, dropping the old `conversations` would cascade into the messages. Instead each
old table is renamed aside, the new one created and filled, and the old ones dropped children
first, so no ON DELETE CASCADE ever fires. The search triggers and views of 0004 refer to the
tables by name: they are dropped before and recreated after (the FTS5 index itself stays valid:
the ids do not change). PostgreSQL's sequences never reuse ids already.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NEW_TASK_INDEXES = (
    ("ix_tasks_user_id_due_at_id", ["user_id", "due_at", "id"]),
    ("ix_tasks_user_id_priority_id", ["user_id", "priority", "id"]),
)
# The search objects of 0004 that name a table: (FTS table, source table, indexed column).
_SEARCH_LINKS = (
    ("messages_fts", "messages", "content"),
    ("conversations_fts", "conversations", "title"),
)
# Rebuilt on SQLite, parents before children (the order they are created and filled in).
_REBUILT = ("conversations", "messages", "idempotency_keys", "tasks")


def upgrade() -> None:
    dialect = op.get_context().dialect.name
    if dialect == "sqlite":
        _rebuild_sqlite_tables(new_schema=True)
    else:
        op.add_column("tasks", sa.Column("due_at", sa.DateTime(timezone=True), nullable=True))
        op.add_column(
            "tasks",
            sa.Column("priority", sa.SmallInteger(), server_default=sa.text("1"), nullable=False),
        )
        op.add_column("tasks", sa.Column("recurrence", sa.String(length=255), nullable=True))
        op.add_column(
            "tasks",
            sa.Column("timezone", sa.String(length=64), server_default="UTC", nullable=False),
        )
        op.create_check_constraint(op.f("ck_tasks_priority"), "tasks", "priority IN (0, 1, 2)")
        for name, columns in _NEW_TASK_INDEXES:
            op.create_index(op.f(name), "tasks", columns)
    op.create_table(
        "task_tags",
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_task_tags_task_id_tasks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("task_id", "tag", name=op.f("pk_task_tags")),
    )
    op.create_index(
        op.f("ix_task_tags_user_id_tag_task_id"), "task_tags", ["user_id", "tag", "task_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_task_tags_user_id_tag_task_id"), table_name="task_tags")
    op.drop_table("task_tags")
    if op.get_context().dialect.name == "sqlite":
        _rebuild_sqlite_tables(new_schema=False)
        return
    for name, _columns in _NEW_TASK_INDEXES:
        op.drop_index(op.f(name), table_name="tasks")
    op.drop_constraint(op.f("ck_tasks_priority"), "tasks", type_="check")
    for column in ("timezone", "recurrence", "priority", "due_at"):
        op.drop_column("tasks", column)


# --- SQLite: rebuild with or without AUTOINCREMENT -----------------------------------------


def _timestamp(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def _owner() -> sa.Column:
    return sa.Column("user_id", sa.String(length=255), nullable=False)


def _owner_key(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["user_id"], ["users.id"], name=f"fk_{table}_user_id_users", ondelete="CASCADE"
    )


def _conversation_key(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["conversation_id"],
        ["conversations.id"],
        name=f"fk_{table}_conversation_id_conversations",
        ondelete="CASCADE",
    )


def _tables(new_schema: bool) -> dict[str, sa.Table]:
    """The four tables as 0004 left them, or as this revision wants them (AUTOINCREMENT on the
    three whose ids clients see, and the task fields)."""
    metadata = sa.MetaData()
    # Only so the foreign keys can name it; never created here.
    sa.Table("users", metadata, sa.Column("id", sa.String(length=255), primary_key=True))
    autoincrement = {"sqlite_autoincrement": new_schema}
    task_fields = (
        [
            sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("priority", sa.SmallInteger(), server_default=sa.text("1"), nullable=False),
            sa.Column("recurrence", sa.String(length=255), nullable=True),
            sa.Column("timezone", sa.String(length=64), server_default="UTC", nullable=False),
            sa.CheckConstraint("priority IN (0, 1, 2)", name="ck_tasks_priority"),
            *(sa.Index(name, *columns) for name, columns in _NEW_TASK_INDEXES),
        ]
        if new_schema
        else []
    )
    tables = [
        sa.Table(
            "conversations",
            metadata,
            sa.Column("id", sa.Integer(), nullable=False),
            _owner(),
            sa.Column("title", sa.String(length=200), nullable=True),
            sa.Column("archived", sa.Boolean(), server_default=sa.false(), nullable=False),
            _timestamp("created_at"),
            _timestamp("updated_at"),
            _owner_key("conversations"),
            sa.PrimaryKeyConstraint("id", name="pk_conversations"),
            sa.Index("ix_conversations_user_id", "user_id"),
            sa.Index("ix_conversations_user_id_updated_at_id", "user_id", "updated_at", "id"),
            sa.Index(
                "ix_conversations_user_id_archived_updated_at_id",
                "user_id",
                "archived",
                "updated_at",
                "id",
            ),
            **autoincrement,
        ),
        sa.Table(
            "messages",
            metadata,
            sa.Column("id", sa.Integer(), nullable=False),
            _owner(),
            sa.Column("conversation_id", sa.Integer(), nullable=False),
            sa.Column("role", sa.String(length=20), nullable=False),
            sa.Column("content", sa.Text(), nullable=False),
            sa.Column("tool_calls", sa.Text(), nullable=True),
            _timestamp("created_at"),
            sa.CheckConstraint("role IN ('user', 'assistant')", name="ck_messages_role"),
            _conversation_key("messages"),
            _owner_key("messages"),
            sa.PrimaryKeyConstraint("id", name="pk_messages"),
            sa.Index("ix_messages_user_id", "user_id"),
            sa.Index("ix_messages_conversation_id", "conversation_id"),
            sa.Index("ix_messages_created_at", "created_at"),
            sa.Index("ix_messages_conversation_id_id", "conversation_id", "id"),
            **autoincrement,
        ),
        sa.Table(
            "idempotency_keys",
            metadata,
            sa.Column("id", sa.Integer(), nullable=False),
            _owner(),
            sa.Column("key", sa.String(length=255), nullable=False),
            sa.Column("request_hash", sa.String(length=64), nullable=False),
            sa.Column("conversation_id", sa.Integer(), nullable=False),
            sa.Column("response", sa.Text(), nullable=False),
            _timestamp("created_at"),
            _conversation_key("idempotency_keys"),
            _owner_key("idempotency_keys"),
            sa.PrimaryKeyConstraint("id", name="pk_idempotency_keys"),
            sa.UniqueConstraint("user_id", "key", name="uq_idempotency_keys_user_id_key"),
            sa.Index("ix_idempotency_keys_conversation_id", "conversation_id"),
        ),
        sa.Table(
            "tasks",
            metadata,
            sa.Column("id", sa.Integer(), nullable=False),
            _owner(),
            sa.Column("title", sa.String(length=200), nullable=False),
            sa.Column("description", sa.String(length=1000), nullable=True),
            sa.Column("completed", sa.Boolean(), nullable=False),
            *task_fields,
            _timestamp("created_at"),
            _timestamp("updated_at"),
            _owner_key("tasks"),
            sa.PrimaryKeyConstraint("id", name="pk_tasks"),
            sa.Index("ix_tasks_user_id", "user_id"),
            **autoincrement,
        ),
    ]
    return {table.name: table for table in tables}


def _rebuild_sqlite_tables(new_schema: bool) -> None:
    bind = op.get_bind()
    _drop_search_links()
    for name in _REBUILT:
        for (index,) in bind.execute(
            sa.text(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :table "
                "AND sql IS NOT NULL"
            ),
            {"table": name},
        ).all():
            op.execute(f'DROP INDEX "{index}"')
        # Renaming a parent rewrites its children's foreign keys to the old name: they are all
        # rebuilt below, and dropped before the parent, so nothing cascades.
        op.execute(f"ALTER TABLE {name} RENAME TO _old_{name}")
    for name, table in _tables(new_schema).items():
        table.create(bind)
        old_columns = {c["name"] for c in sa.inspect(bind).get_columns(f"_old_{name}")}
        columns = ", ".join(c.name for c in table.columns if c.name in old_columns)
        op.execute(f"INSERT INTO {name} ({columns}) SELECT {columns} FROM _old_{name}")
    for name in reversed(_REBUILT):
        op.execute(f"DROP TABLE _old_{name}")
    _create_search_links()


def _drop_search_links() -> None:
    for fts, _table, _column in _SEARCH_LINKS:
        for event in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS {fts}_after_{event}")
        op.execute(f"DROP VIEW IF EXISTS {fts}_source")


def _create_search_links() -> None:
    # As migration 0004 wrote them; the FTS5 tables and their contents are untouched.
    for fts, table, column in _SEARCH_LINKS:
        op.execute(
            f"CREATE VIEW {fts}_source AS SELECT id, hex(user_id) AS owner, {column} FROM {table}"
        )
        insert = (
            f"INSERT INTO {fts}(rowid, owner, {column}) "
            f"VALUES (new.id, hex(new.user_id), new.{column});"
        )
        delete = (
            f"INSERT INTO {fts}({fts}, rowid, owner, {column}) "
            f"VALUES ('delete', old.id, hex(old.user_id), old.{column});"
        )
        op.execute(f"CREATE TRIGGER {fts}_after_insert AFTER INSERT ON {table} BEGIN {insert} END")
        op.execute(f"CREATE TRIGGER {fts}_after_delete AFTER DELETE ON {table} BEGIN {delete} END")
        op.execute(
            f"CREATE TRIGGER {fts}_after_update AFTER UPDATE OF user_id, {column} ON {table} "
            f"BEGIN {delete} {insert} END"
        )
