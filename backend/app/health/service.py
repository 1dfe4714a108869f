"""Is the database reachable, and is its schema at the head migration?"""

from functools import cache
from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from backend.app.health.diagnosis import MIGRATE, missing_database

ALEMBIC_INI = Path(__file__).resolve().parents[3] / "alembic.ini"


@cache
def expected_heads() -> frozenset[str]:
    """The head revision(s) of the migration scripts shipped with this code (read once)."""
    return frozenset(ScriptDirectory.from_config(Config(str(ALEMBIC_INI))).get_heads())


def readiness_problem(engine: Engine) -> str | None:
    """None when ready, else a sentence saying why not."""
    try:
        with engine.connect() as connection:
            current = frozenset(MigrationContext.configure(connection).get_current_heads())
    except SQLAlchemyError as exc:
        return missing_database(exc) or f"the database does not answer ({type(exc).__name__})"
    if current != expected_heads():
        have = ", ".join(sorted(current)) or "no migrations"
        want = ", ".join(sorted(expected_heads()))
        return f"the database schema is at {have}, expected {want}: {MIGRATE}"
    return None
