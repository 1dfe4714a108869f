"""archive and search

Adds `conversations.archived` (+ the index of the filtered sidebar list) and the full-text
search structures over message contents and conversation titles, per dialect:

- PostgreSQL: the text search configuration `todo_search` (the language-neutral `simple`
  configuration with `unaccent` in front, so "cafe" finds "café" as on SQLite) and GIN expression
  indexes led by the owner (`btree_gin`), so a search reads the caller's entries only:
  `(user_id, to_tsvector('todo_search', translate(content, <ASCII punctuation>, <spaces>)))` and
  the same over `conversations.title`. The translate() makes PostgreSQL's parser see words the
  way SQLite's unicode61 does: without it `<b>` is an HTML tag and dropped, `foo_bar.py` a file
  name, `alice@example.com` an email, each one token, so their words could not be found.
  backend/app/search/service.py queries them with exactly these expressions.
- SQLite: FTS5 external-content tables over a view per table, kept in step by triggers. Each
  indexes an `owner` column (hex of user_id: always one token) beside the text, so a MATCH joins
  the caller's rows inside the index. Tokenizer `unicode61 remove_diacritics 2`: accents match
  unaccented letters; a run of CJK characters is one token (found by its start, as on PostgreSQL).

None of these objects is in the models; alembic/env.py excludes them from `alembic check`.

SQLite trap for later migrations: a batch ("move and copy") migration of `messages` or
`conversations` drops their triggers with the old table (and, with foreign keys on, the DROP
cascades into the child tables): recreate the triggers afterwards (see `_SQLITE_TABLES`).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

import string
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, indexed text column, FTS table) on SQLite; (table, column, index) on PostgreSQL.
_SQLITE_TABLES = (
    ("messages", "content", "messages_fts"),
    ("conversations", "title", "conversations_fts"),
)
_POSTGRES_INDEXES = (
    ("messages", "content", "ix_messages_user_id_content_tsv"),
    ("conversations", "title", "ix_conversations_user_id_title_tsv"),
)
# Token types that can hold non-ASCII letters; the ASCII ones need no unaccent.
_ACCENTED_TOKEN_TYPES = "word, hword, hword_part, numword, numhword, hword_numpart"
# Every printable ASCII character but letters and digits (as an SQL literal), and as many spaces.
_PUNCTUATION = "'" + string.punctuation.replace("'", "''") + "'"
_SPACES = "'" + " " * len(string.punctuation) + "'"


def upgrade() -> None:
    op.add_column(
        "conversations",
        sa.Column("archived", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.create_index(
        op.f("ix_conversations_user_id_archived_updated_at_id"),
        "conversations",
        ["user_id", "archived", "updated_at", "id"],
    )
    dialect = op.get_context().dialect.name
    if dialect == "postgresql":
        _create_postgresql_search()
    elif dialect == "sqlite":
        _create_sqlite_search()
    else:
        raise NotImplementedError(f"full-text search needs PostgreSQL or SQLite, not {dialect}")


def downgrade() -> None:
    dialect = op.get_context().dialect.name
    if dialect == "postgresql":
        _drop_postgresql_search()
    elif dialect == "sqlite":
        _drop_sqlite_search()
    op.drop_index(
        op.f("ix_conversations_user_id_archived_updated_at_id"), table_name="conversations"
    )
    # A plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35), not a batch copy: with foreign keys
    # on, dropping the old `conversations` table would cascade into the messages.
    op.drop_column("conversations", "archived")


def _create_postgresql_search() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
    op.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
    op.execute("CREATE TEXT SEARCH CONFIGURATION todo_search (COPY = pg_catalog.simple)")
    op.execute(
        f"ALTER TEXT SEARCH CONFIGURATION todo_search "
        f"ALTER MAPPING FOR {_ACCENTED_TOKEN_TYPES} WITH unaccent, simple"
    )
    for table, column, index in _POSTGRES_INDEXES:
        op.execute(
            f"CREATE INDEX {index} ON {table} USING gin (user_id, "
            f"to_tsvector('todo_search'::regconfig, translate({column}, {_PUNCTUATION}, {_SPACES})))"
        )


def _drop_postgresql_search() -> None:
    for _table, _column, index in _POSTGRES_INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {index}")
    op.execute("DROP TEXT SEARCH CONFIGURATION IF EXISTS todo_search")
    # The extensions go too, unless something else in the database has come to use them.
    for extension in ("unaccent", "btree_gin"):
        op.execute(
            f"DO $$ BEGIN DROP EXTENSION IF EXISTS {extension}; "
            f"EXCEPTION WHEN dependent_objects_still_exist THEN NULL; END $$"
        )


def _create_sqlite_search() -> None:
    for table, column, fts in _SQLITE_TABLES:
        # The view is the FTS table's external content, so 'rebuild' and 'integrity-check' work.
        op.execute(
            f"CREATE VIEW {fts}_source AS SELECT id, hex(user_id) AS owner, {column} FROM {table}"
        )
        op.execute(
            f"CREATE VIRTUAL TABLE {fts} USING fts5(owner, {column}, "
            f"content='{fts}_source', content_rowid='id', "
            f"tokenize='unicode61 remove_diacritics 2')"
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
        # Only when the indexed columns change: a conversation's updated_at moves on every message.
        op.execute(
            f"CREATE TRIGGER {fts}_after_update AFTER UPDATE OF user_id, {column} ON {table} "
            f"BEGIN {delete} {insert} END"
        )
        op.execute(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")


def _drop_sqlite_search() -> None:
    for _table, _column, fts in _SQLITE_TABLES:
        for event in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS {fts}_after_{event}")
        op.execute(f"DROP TABLE IF EXISTS {fts}")
        op.execute(f"DROP VIEW IF EXISTS {fts}_source")
