"""Database errors that retrying cannot fix, said as what they are and how to fix them.

A database that does not exist, or one that was never migrated (the server started without
`alembic upgrade head`), fails every request the same way until someone acts; "please retry"
would send users and operators the wrong way.
"""

import re

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

MIGRATE = "run `alembic upgrade head` (`make migrate`)"

# psycopg2: 'FATAL:  database "todo" does not exist' when connecting.
_MISSING_DATABASE = re.compile(r'database "([^"]+)" does not exist')
# SQLite: 'no such table: tasks' / 'no such column: ...';
# PostgreSQL: 'relation "tasks" does not exist' / 'column "x" of relation "y" does not exist'.
_MISSING_SCHEMA = re.compile(
    r'no such (?:table|column): (\S+)|relation "([^"]+)" does not exist'
    r'|column "([^"]+)"(?: of relation "[^"]+")? does not exist'
)
# PostgreSQL's SQLSTATEs for a missing table and a missing column.
_UNDEFINED_TABLE_OR_COLUMN = {"42P01", "42703"}


def missing_database(exc: BaseException) -> str | None:
    """'the database "x" does not exist…' when `exc` says so, else None."""
    match = _MISSING_DATABASE.search(str(getattr(exc, "orig", exc)))
    if match is None:
        return None
    name = match.group(1)
    return f'the database "{name}" does not exist: create it (`createdb {name}`), then {MIGRATE}'


def unmigrated_schema(exc: BaseException) -> str | None:
    """'the database has no table or column x…' when `exc` says so, else None."""
    orig = getattr(exc, "orig", exc)
    match = _MISSING_SCHEMA.search(str(orig))
    pgcode = getattr(orig, "pgcode", None)
    if match is None or (pgcode is not None and pgcode not in _UNDEFINED_TABLE_OR_COLUMN):
        return None
    missing = next(group for group in match.groups() if group)
    return f"the database schema is not migrated (it has no {missing}): {MIGRATE}"


def misconfiguration(exc: DBAPIError) -> str | None:
    """A sentence naming the cause and the fix when `exc` comes from a database that is missing
    or not migrated; None for errors that may pass (a lost connection, a lock time-out)."""
    return missing_database(exc) or unmigrated_schema(exc)


def connection_problem(exc: DBAPIError, database_url: str) -> str:
    """One line saying why no connection to `database_url` could be made (password hidden)."""
    if (problem := missing_database(exc)) is not None:
        return problem
    shown = make_url(database_url).render_as_string(hide_password=True)
    reason = next((line.strip() for line in str(exc.orig).splitlines() if line.strip()), "")
    return f"cannot connect to {shown}: {reason or type(exc.orig).__name__}"
