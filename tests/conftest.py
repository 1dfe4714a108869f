"""Shared fixtures: one migrated test database per session, empty tables for every test.

`TEST_DATABASE_URL` picks the database (PostgreSQL in CI's second pass); by default a SQLite
file in a temporary folder. The schema is built by the Alembic migrations, not create_all, so
the migrations are exercised by every run.
"""

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from alembic import command
from alembic.config import Config
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, SQLModel

from backend.app.config import DEV_JWT_SECRET, Settings, normalize_database_url
from backend.app.db import make_engine
from backend.app.main import create_app
from testkit.model_server import FakeModelServer

ROOT = Path(__file__).resolve().parents[1]


def alembic_config(database_url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", database_url)
    config.attributes["configure_logger"] = False
    return config


@contextmanager
def throwaway_postgres_database(server_url: str, name: str) -> Iterator[str]:
    """Create database `name` on the server of `server_url`; drop it afterwards."""
    url = make_url(normalize_database_url(server_url))
    admin = make_engine(url.set(database="postgres").render_as_string(hide_password=False))
    admin = admin.execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """SQLite in a temporary folder, or, with TEST_DATABASE_URL=postgresql://..., a database of
    this run's own on that server (named after the given one), so parallel runs never collide."""
    configured = os.environ.get("TEST_DATABASE_URL")
    if not configured:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        return
    configured = normalize_database_url(configured)
    if not configured.startswith("postgresql"):
        yield configured
        return
    name = f"{make_url(configured).database}_run{os.getpid()}"
    with throwaway_postgres_database(configured, name) as url:
        yield url


@pytest.fixture(scope="session")
def migrated_engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    config = alembic_config(database_url)
    command.downgrade(config, "base")  # a leftover schema from an aborted run starts clean
    command.upgrade(config, "head")
    yield engine
    engine.dispose()


def empty_all_tables(engine: Engine) -> None:
    tables = [t.name for t in reversed(SQLModel.metadata.sorted_tables)]
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(text(f"DELETE FROM {table}"))
            # The AUTOINCREMENT tables' counters, as RESTART IDENTITY resets PostgreSQL's.
            connection.execute(text("DELETE FROM sqlite_sequence"))


@pytest.fixture
def engine(migrated_engine: Engine) -> Engine:
    """The test database, migrated to head, with every table empty."""
    empty_all_tables(migrated_engine)
    return migrated_engine


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine) as session:
        yield session


@pytest.fixture
def make_settings(database_url: str) -> Callable[..., Settings]:
    """Settings for a test app: no `.env`, no environment surprises, overrides as keywords."""

    def build(**overrides: object) -> Settings:
        values: dict[str, object] = {
            "database_url": database_url,
            "app_env": "development",
            "cors_origins": "http://localhost:3000",
            # Off unless a test is about rate limits: many tests chat more than 30 times.
            "chat_rate_limit": "0",
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)

    return build


@pytest.fixture
def make_app(engine: Engine, make_settings) -> Iterator[Callable[..., FastAPI]]:
    """Build apps for given setting overrides; each gets its own engine, disposed afterwards."""
    apps: list[FastAPI] = []

    def build(**overrides: object) -> FastAPI:
        app = create_app(make_settings(**overrides))
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.state.engine.dispose()


@pytest.fixture
def app(make_app) -> FastAPI:
    return make_app()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


def make_token(
    sub: str | None = "alice",
    *,
    secret: str = DEV_JWT_SECRET,
    expires_in: timedelta = timedelta(hours=1),
    **claims: object,
) -> str:
    """An HS256 token as the auth server would issue it (the development secret by default)."""
    payload: dict[str, object] = {"exp": datetime.now(UTC) + expires_in, **claims}
    if sub is not None:
        payload["sub"] = sub
    return jwt.encode(payload, secret, algorithm="HS256")


def auth(user_id: str = "alice", **claims: object) -> dict[str, str]:
    """The Authorization header for a valid token of `user_id`."""
    return {"Authorization": f"Bearer {make_token(user_id, **claims)}"}


@pytest.fixture
def empty_database_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A brand-new database with no tables, of the same kind as the test database."""
    if not database_url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    name = f"{make_url(database_url).database}_empty"
    with throwaway_postgres_database(database_url, name) as url:
        yield url


@pytest.fixture
def fake_model() -> Iterator[FakeModelServer]:
    """A running fake OpenAI-compatible model server with an empty script; stopped afterwards."""
    with FakeModelServer() as server:
        yield server


@pytest.fixture
def make_openai_app(make_app, fake_model: FakeModelServer) -> Callable[..., FastAPI]:
    """Build an app whose agent is the OpenAI loop talking to `fake_model` (overrides allowed)."""

    def build(**overrides: object) -> FastAPI:
        return make_app(**fake_model.app_settings(**{"agent_timeout_s": 10.0, **overrides}))

    return build


# ---------------------------------------------------------------------------------------------
# Outside services (Redis, a PostgreSQL server): skipped when missing, except in CI
# ---------------------------------------------------------------------------------------------

REDIS_URL = "redis://127.0.0.1:6379"
POSTGRES_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def service_missing(reason: str) -> None:
    """Skip the test that needs a missing service; fail it when REQUIRE_SERVICES=1 (CI sets it),
    so a CI machine without the service cannot pass by skipping."""
    if os.environ.get("REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The URL of the Redis at 127.0.0.1:6379 (database 0), once it has answered a PING.

    Tests share it: keep to a key space of your own (e.g. random user ids for rate limits)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        reachable = bool(client.ping())
    except redis.RedisError:
        reachable = False
    finally:
        client.close()
    if not reachable:
        service_missing("Redis is not running at 127.0.0.1:6379")
    return REDIS_URL


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A reachable PostgreSQL server, as the URL of its `postgres` database: TEST_DATABASE_URL's
    server when that is PostgreSQL, else 127.0.0.1:5432 (user postgres). Make a database of
    your own on it with `throwaway_postgres_database`."""
    import psycopg2

    configured = os.environ.get("TEST_DATABASE_URL", "")
    server = configured if configured.startswith("postgres") else POSTGRES_SERVER_URL
    url = make_url(normalize_database_url(server)).set(database="postgres")
    libpq_url = url.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        psycopg2.connect(libpq_url, connect_timeout=2).close()
        reachable = True
    except psycopg2.OperationalError:
        reachable = False
    if not reachable:
        service_missing(f"PostgreSQL is not running at {url.host}:{url.port or 5432}")
    return url.render_as_string(hide_password=False)
