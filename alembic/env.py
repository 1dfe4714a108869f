"""Alembic environment: the URL comes from the app's settings unless a caller passed one."""

import re
import sys
from logging.config import fileConfig

from alembic import context
from sqlalchemy.exc import OperationalError
from sqlmodel import SQLModel

from backend.app import models  # noqa: F401  (registers every table on the metadata)
from backend.app.config import ConfigError, load_database_url, normalize_database_url
from backend.app.db import make_engine
from backend.app.health.diagnosis import connection_problem

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = SQLModel.metadata


def _database_url() -> str:
    # Tests and the health check hand a URL in; the command line reads DATABASE_URL.
    explicit = config.get_main_option("sqlalchemy.url")
    if explicit:
        return normalize_database_url(explicit)
    try:
        return load_database_url()  # DATABASE_URL alone: other settings cannot stop a migration
    except ConfigError as exc:
        sys.exit(f"configuration error: {exc}")


def _render_item(type_, obj, autogen_context):
    # SQLModel's column types render as sqlmodel.sql.sqltypes.*; write plain SQLAlchemy instead.
    if type_ == "type" and obj.__class__.__module__.startswith("sqlmodel"):
        if obj.__class__.__name__ == "AutoString":
            return f"sa.String(length={obj.impl.length})" if obj.impl.length else "sa.String()"
        if obj.__class__.__name__ == "UTCDateTime":
            return "sa.DateTime(timezone=True)"
    return False


# What only the search migration (0004) creates, in SQL the models cannot express: SQLite's FTS5
# tables with their shadow tables (messages_fts, messages_fts_data, ...) and PostgreSQL's GIN
# expression indexes (ix_..._tsv). `alembic check` must not ask to drop them.
SEARCH_OBJECT = re.compile(r"(messages|conversations)_fts(_\w+)?|ix_\w+_tsv")


def _include_name(name, type_, _parent_names) -> bool:
    return not (type_ in ("table", "index") and name and SEARCH_OBJECT.fullmatch(name))


def _include_object(obj, name, type_, reflected, _compare_to) -> bool:
    return not (
        reflected and type_ in ("table", "index") and name and SEARCH_OBJECT.fullmatch(name)
    )


def run_migrations_offline() -> None:
    context.configure(
        url=_database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        render_item=_render_item,
        include_name=_include_name,
        include_object=_include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_with(connection)
        return
    url = _database_url()
    engine = make_engine(url)
    try:
        try:
            connection = engine.connect()
        except OperationalError as exc:
            # A wrong URL, a server that is down, a database not created yet: one line, not a
            # traceback of the driver's internals.
            sys.exit(f"migration failed: {connection_problem(exc, url)}")
        with connection:
            _run_with(connection)
    finally:
        engine.dispose()


def _run_with(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        render_item=_render_item,
        include_name=_include_name,
        include_object=_include_object,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
