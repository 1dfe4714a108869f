"""The migrations build exactly the schema the models describe, and take it down again."""

from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import bindparam, inspect, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from backend.app.db import make_engine
from backend.app.models import Conversation, Message, Task, User
from backend.app.search import service as search_service
from tests.conftest import alembic_config

EXPECTED_COLUMNS = {
    "users": {
        "id": ("VARCHAR", False),
        "email": ("VARCHAR", True),
        "name": ("VARCHAR", True),
        "created_at": ("DATETIME", False),
    },
    "tasks": {
        "id": ("INTEGER", False),
        "user_id": ("VARCHAR", False),
        "title": ("VARCHAR", False),
        "description": ("VARCHAR", True),
        "completed": ("BOOLEAN", False),
        "due_at": ("DATETIME", True),
        "priority": ("SMALLINT", False),
        "recurrence": ("VARCHAR", True),
        "timezone": ("VARCHAR", False),
        "created_at": ("DATETIME", False),
        "updated_at": ("DATETIME", False),
    },
    "task_tags": {
        "task_id": ("INTEGER", False),
        "tag": ("VARCHAR", False),
        "user_id": ("VARCHAR", False),
    },
    "conversations": {
        "id": ("INTEGER", False),
        "user_id": ("VARCHAR", False),
        "title": ("VARCHAR", True),
        "archived": ("BOOLEAN", False),
        "created_at": ("DATETIME", False),
        "updated_at": ("DATETIME", False),
    },
    "messages": {
        "id": ("INTEGER", False),
        "user_id": ("VARCHAR", False),
        "conversation_id": ("INTEGER", False),
        "role": ("VARCHAR", False),
        "content": ("TEXT", False),
        "tool_calls": ("TEXT", True),
        "usage": ("TEXT", True),
        "created_at": ("DATETIME", False),
        "turn_id": ("VARCHAR", True),
        "stopped": ("BOOLEAN", False),
    },
}
EXPECTED_COLUMNS["idempotency_keys"] = {
    "id": ("INTEGER", False),
    "user_id": ("VARCHAR", False),
    "key": ("VARCHAR", False),
    "request_hash": ("VARCHAR", False),
    "conversation_id": ("INTEGER", False),
    "response": ("TEXT", False),
    "created_at": ("DATETIME", False),
}
EXPECTED_COLUMNS["usage_days"] = {
    "user_id": ("VARCHAR", False),
    "day": ("DATE", False),
    "turns": ("INTEGER", False),
    "prompt_tokens": ("BIGINT", False),
    "completion_tokens": ("BIGINT", False),
    "total_tokens": ("BIGINT", False),
}
EXPECTED_COLUMNS["job_runs"] = {
    "name": ("VARCHAR", False),
    "started_at": ("DATETIME", False),
    "finished_at": ("DATETIME", True),
}
EXPECTED_LENGTHS = {
    ("tasks", "title"): 200,
    ("tasks", "description"): 1000,
    ("tasks", "recurrence"): 255,
    ("tasks", "timezone"): 64,
    ("task_tags", "tag"): 32,
    ("conversations", "title"): 200,
    ("messages", "role"): 20,
}
EXPECTED_INDEXES = {
    "tasks": {("user_id",), ("user_id", "due_at", "id"), ("user_id", "priority", "id")},
    "task_tags": {("user_id", "tag", "task_id")},
    "conversations": {
        ("user_id",),
        ("user_id", "updated_at", "id"),
        ("user_id", "archived", "updated_at", "id"),
        ("updated_at",),
    },
    "messages": {
        *(("user_id",), ("conversation_id",), ("created_at",), ("conversation_id", "id")),
        ("user_id", "turn_id"),
    },
    "idempotency_keys": {("conversation_id",)},
}
# The full-text search objects of migration 0004, which the models do not describe.
SQLITE_SEARCH_TABLES = {
    f"{fts}{suffix}"
    for fts in ("messages_fts", "conversations_fts")
    for suffix in ("", "_config", "_data", "_docsize", "_idx")
}
SQLITE_SEARCH_OBJECTS = {
    ("table", "messages_fts"),
    ("table", "conversations_fts"),
    ("view", "messages_fts_source"),
    ("view", "conversations_fts_source"),
    *(
        ("trigger", f"{fts}_after_{event}")
        for fts in ("messages_fts", "conversations_fts")
        for event in ("insert", "update", "delete")
    ),
}
_TRANSLATE = "'!\"#$%&''()*+,-./:;<=>?@[\\]^_`{|}~'::text, '" + " " * 32 + "'::text"
POSTGRES_SEARCH_INDEXES = {
    "ix_messages_user_id_content_tsv": (
        f"to_tsvector('todo_search'::regconfig, translate(content, {_TRANSLATE}))"
    ),
    "ix_conversations_user_id_title_tsv": (
        f"to_tsvector('todo_search'::regconfig, translate((title)::text, {_TRANSLATE}))"
    ),
}
EXPECTED_FOREIGN_KEYS = {
    "tasks": {(("user_id",), "users", "CASCADE")},
    "task_tags": {(("task_id",), "tasks", "CASCADE")},
    "conversations": {(("user_id",), "users", "CASCADE")},
    "messages": {
        (("user_id",), "users", "CASCADE"),
        (("conversation_id",), "conversations", "CASCADE"),
    },
    "idempotency_keys": {
        (("user_id",), "users", "CASCADE"),
        (("conversation_id",), "conversations", "CASCADE"),
    },
    "usage_days": {(("user_id",), "users", "CASCADE")},
}


def _type_family(column_type) -> str:
    name = type(column_type).__name__.upper()
    if "TIMESTAMP" in name or "DATETIME" in name:
        return "DATETIME"
    if name in ("VARCHAR", "STRING"):
        return "VARCHAR"
    return name


@pytest.fixture
def migrated_empty_db(empty_database_url: str):
    config = alembic_config(empty_database_url)
    command.upgrade(config, "head")
    engine = make_engine(empty_database_url)
    yield engine, config
    engine.dispose()


def test_upgrade_creates_exactly_the_modelled_schema(migrated_empty_db) -> None:
    engine, _ = migrated_empty_db
    inspector = inspect(engine)
    search_tables = SQLITE_SEARCH_TABLES if engine.dialect.name == "sqlite" else set()
    assert set(inspector.get_table_names()) == (
        set(EXPECTED_COLUMNS) | {"alembic_version"} | search_tables
    )
    for table, expected in EXPECTED_COLUMNS.items():
        columns = {c["name"]: c for c in inspector.get_columns(table)}
        actual = {name: (_type_family(c["type"]), c["nullable"]) for name, c in columns.items()}
        assert actual == expected, table
        for (length_table, column), length in EXPECTED_LENGTHS.items():
            if length_table == table:
                assert columns[column]["type"].length == length
        # PostgreSQL reports a UNIQUE constraint's own index too; those are checked below.
        indexes = {
            tuple(i["column_names"])
            for i in inspector.get_indexes(table)
            if not i.get("duplicates_constraint") and i["name"] not in POSTGRES_SEARCH_INDEXES
        }
        assert indexes == EXPECTED_INDEXES.get(table, set()), table
        foreign_keys = {
            (tuple(fk["constrained_columns"]), fk["referred_table"], fk["options"].get("ondelete"))
            for fk in inspector.get_foreign_keys(table)
        }
        assert foreign_keys == EXPECTED_FOREIGN_KEYS.get(table, set()), table
    assert inspector.get_pk_constraint("users")["constrained_columns"] == ["id"]
    # One row per user and day: the upsert of a turn's tokens and the budget's lookup.
    assert inspector.get_pk_constraint("usage_days")["constrained_columns"] == ["user_id", "day"]
    uniques = inspector.get_unique_constraints("idempotency_keys")
    assert [u["column_names"] for u in uniques] == [["user_id", "key"]]
    checks = inspector.get_check_constraints("messages")
    assert any("role" in c["sqltext"] and "assistant" in c["sqltext"] for c in checks)


def test_timestamp_columns_are_time_zone_aware_where_the_database_has_the_type(
    migrated_empty_db,
) -> None:
    engine, _ = migrated_empty_db
    # PostgreSQL stores `timestamptz`; SQLite has no such type (the model type restores UTC).
    expect_timezone = engine.dialect.name == "postgresql"
    for table in EXPECTED_COLUMNS:
        for column in inspect(engine).get_columns(table):
            if _type_family(column["type"]) == "DATETIME":
                assert bool(column["type"].timezone) is expect_timezone, f"{table}.{column['name']}"


def search_objects(engine) -> set[tuple[str, str]]:
    """What migration 0004 creates for full-text search, as (kind, name) pairs."""
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            rows = connection.execute(
                text("SELECT type, name FROM sqlite_master WHERE name LIKE '%fts%'")
            )
            return {(kind, name) for kind, name in rows}
        rows = connection.execute(
            text(
                # (`name` columns cast to text, or the union truncates the definition to 63.)
                "SELECT 'index', indexname::text FROM pg_indexes WHERE indexname LIKE '%tsv' "
                "UNION ALL SELECT 'index definition', indexdef FROM pg_indexes "
                "WHERE indexname LIKE '%tsv' "
                "UNION ALL SELECT 'configuration', cfgname FROM pg_ts_config "
                "WHERE cfgname = 'todo_search' "
                "UNION ALL SELECT 'extension', extname FROM pg_extension "
                "WHERE extname IN ('btree_gin', 'unaccent')"
            )
        )
        return {(kind, name) for kind, name in rows}


def test_upgrade_creates_the_search_objects_of_the_dialect(migrated_empty_db) -> None:
    engine, _ = migrated_empty_db
    found = search_objects(engine)
    if engine.dialect.name == "sqlite":
        assert SQLITE_SEARCH_OBJECTS <= found
        # ...and the FTS5 shadow tables that come with each virtual table, nothing else.
        assert {name for kind, name in found if kind == "table"} == SQLITE_SEARCH_TABLES
        return
    assert {name for kind, name in found if kind == "index"} == set(POSTGRES_SEARCH_INDEXES)
    definitions = [name for kind, name in found if kind == "index definition"]
    for index, expression in POSTGRES_SEARCH_INDEXES.items():
        # The owner leads each GIN index, and the service queries exactly this expression.
        [definition] = [d for d in definitions if f" {index} " in d]
        assert f"USING gin (user_id, {expression})" in definition
    assert ("configuration", "todo_search") in found
    assert {("extension", "btree_gin"), ("extension", "unaccent")} <= found


def test_downgrade_base_removes_everything(migrated_empty_db) -> None:
    engine, config = migrated_empty_db
    command.downgrade(config, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    assert search_objects(engine) == set()
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            leftovers = connection.execute(
                text("SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
            ).all()
        assert {name for (name,) in leftovers} <= {"alembic_version"}
    command.upgrade(config, "head")
    assert "messages" in inspect(engine).get_table_names()


def test_downgrade_to_0003_removes_archive_and_search_only(migrated_empty_db) -> None:
    engine, config = migrated_empty_db
    command.downgrade(config, "0003")
    assert search_objects(engine) == set()
    inspector = inspect(engine)
    assert "archived" not in {c["name"] for c in inspector.get_columns("conversations")}
    indexes = {tuple(i["column_names"]) for i in inspector.get_indexes("conversations")}
    assert indexes == {("user_id",), ("user_id", "updated_at", "id")}
    tables_of_0003 = set(EXPECTED_COLUMNS) - TABLES_OF_0006 - {"task_tags"}
    assert set(inspector.get_table_names()) == tables_of_0003 | {"alembic_version"}


TABLES_OF_0006 = {"usage_days", "job_runs"}


def test_downgrade_to_0005_removes_usage_and_job_runs_only(migrated_empty_db) -> None:
    engine, config = migrated_empty_db
    with Session(engine) as session:
        _conversation_with_messages(session)
    search_structures = search_objects(engine)
    command.downgrade(config, "0005")
    inspector = inspect(engine)
    assert set(inspector.get_table_names()) == (
        set(EXPECTED_COLUMNS) - TABLES_OF_0006
        | {"alembic_version"}
        | (SQLITE_SEARCH_TABLES if engine.dialect.name == "sqlite" else set())
    )
    assert "usage" not in {c["name"] for c in inspector.get_columns("messages")}
    assert ("updated_at",) not in {
        tuple(i["column_names"]) for i in inspector.get_indexes("conversations")
    }
    # The messages stay, and so does their search index (no copy of the table dropped it).
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM messages")).scalar() == 2
    assert search_objects(engine) == search_structures
    command.upgrade(config, "head")
    assert len(_search_ids(engine, "hi")) == 2


def _search_ids(engine, words: str) -> list[int | None]:
    with Session(engine) as session:
        hits = search_service.search_page(session, "alice", words, 100, None)
        return [hit.hit.message_id for hit in hits]


def test_upgrade_downgrade_upgrade_keeps_the_data_and_indexes_it(empty_database_url) -> None:
    config = alembic_config(empty_database_url)
    command.upgrade(config, "0003")
    engine = make_engine(empty_database_url)
    try:
        # Rows written before 0004, in the 0003 schema (no `archived` yet), timestamps stored
        # the way the models store them.
        def insert(sql: str, **values: object):
            statement = text(sql).bindparams(bindparam("t", type_=Message.created_at.type))
            connection.execute(statement, {"t": datetime.now(UTC), **values})

        with engine.begin() as connection:
            insert("INSERT INTO users (id, created_at) VALUES ('alice', :t)")
            insert(
                "INSERT INTO conversations (id, user_id, title, created_at, updated_at) "
                "VALUES (1, 'alice', 'Weekend plans', :t, :t)"
            )
            for message_id, content in ((1, "buy groceries and flowers"), (2, "pay the bills")):
                insert(
                    "INSERT INTO messages (id, user_id, conversation_id, role, content, "
                    "created_at) VALUES (:id, 'alice', 1, 'user', :content, :t)",
                    id=message_id,
                    content=content,
                )

        command.upgrade(config, "head")
        # The existing rows are indexed by the migration itself, and not archived.
        assert _search_ids(engine, "groceries") == [1]
        assert _search_ids(engine, "weekend") == [None]
        with Session(engine) as session:
            assert session.get(Conversation, 1).archived is False

        command.downgrade(config, "0003")
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM messages")).scalar() == 2
            assert connection.execute(text("SELECT count(*) FROM conversations")).scalar() == 1

        command.upgrade(config, "head")
        assert _search_ids(engine, "bills") == [2]
        assert _search_ids(engine, "groceries flowers") == [1]
    finally:
        engine.dispose()


def _conversation_with_messages(session: Session) -> Conversation:
    session.add(User(id="alice"))
    session.commit()
    conversation = Conversation(user_id="alice", title="t")
    session.add(conversation)
    session.commit()
    for role in ("user", "assistant"):
        session.add(
            Message(conversation_id=conversation.id, user_id="alice", role=role, content="hi")
        )
    session.commit()
    return conversation


def test_deleting_a_conversation_deletes_its_messages_in_the_database(engine) -> None:
    with Session(engine) as session:
        conversation = _conversation_with_messages(session)
        # A plain SQL DELETE, so the database's ON DELETE CASCADE does the work, not the ORM.
        session.execute(text("DELETE FROM conversations WHERE id = :id"), {"id": conversation.id})
        session.commit()
        assert session.exec(select(Message)).all() == []


def test_the_database_refuses_a_role_other_than_user_or_assistant(engine) -> None:
    with Session(engine) as session:
        conversation = _conversation_with_messages(session)
        session.add(
            Message(conversation_id=conversation.id, user_id="alice", role="system", content="x")
        )
        with pytest.raises(IntegrityError):
            session.commit()


def test_timestamps_come_back_aware_in_utc(engine) -> None:
    with Session(engine) as session:
        session.add(User(id="alice"))
        session.commit()
        task = Task(user_id="alice", title="t")
        session.add(task)
        session.commit()
        task_id = task.id
    with Session(engine) as session:
        stored = session.get(Task, task_id)
        for value in (stored.created_at, stored.updated_at):
            assert value.tzinfo is not None
            assert value.utcoffset().total_seconds() == 0
            assert abs((datetime.now(UTC) - value).total_seconds()) < 60


def test_the_models_and_the_migrations_agree(migrated_empty_db) -> None:
    """`alembic check`: autogenerate finds nothing to add, drop or alter."""
    _engine, config = migrated_empty_db
    command.check(config)


def test_downgrade_to_0004_keeps_every_row_and_search_and_removes_the_task_fields(
    empty_database_url,
) -> None:
    config = alembic_config(empty_database_url)
    command.upgrade(config, "head")
    engine = make_engine(empty_database_url)
    try:
        with Session(engine) as session:
            conversation = _conversation_with_messages(session)
            session.add(Task(user_id="alice", title="Water the plants", priority="high"))
            session.commit()
            conversation_id = conversation.id
        command.downgrade(config, "0004")
        inspector = inspect(engine)
        assert "task_tags" not in inspector.get_table_names()
        task_columns = {c["name"] for c in inspector.get_columns("tasks")}
        assert task_columns == {
            "id", "user_id", "title", "description", "completed", "created_at", "updated_at"
        }  # fmt: skip
        with engine.connect() as connection:
            assert connection.execute(text("SELECT title FROM tasks")).scalars().all() == [
                "Water the plants"
            ]
            assert connection.execute(text("SELECT count(*) FROM messages")).scalar() == 2
        command.upgrade(config, "head")
        command.check(config)
        with Session(engine) as session:
            [task] = session.exec(select(Task)).all()
            assert (task.title, task.priority, task.tags, task.due_at) == (
                "Water the plants",
                "normal",
                [],
                None,
            )
            # The messages kept their conversation, and the search still finds them.
            messages = session.exec(select(Message)).all()
            assert {m.conversation_id for m in messages} == {conversation_id}
            hits = search_service.search_page(session, "alice", "hi", 100, None)
            assert sorted(hit.hit.message_id for hit in hits) == sorted(m.id for m in messages)
            # New rows are indexed by the recreated triggers.
            session.add(
                Message(
                    conversation_id=conversation_id, user_id="alice", role="user", content="zebra"
                )
            )
            session.commit()
            assert len(search_service.search_page(session, "alice", "zebra", 100, None)) == 1
    finally:
        engine.dispose()
