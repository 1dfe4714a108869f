"""Fixtures of the reliability tests."""

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from testkit.processes import running_server


@pytest.fixture(scope="session")
def server(database_url: str, migrated_engine: Engine) -> Iterator[str]:
    """A real `python -m uvicorn` server on the migrated test database (built-in agent, no
    rate limit), shared by the modules that need a socket; tests empty the tables as usual."""
    env = {"DATABASE_URL": database_url, "AGENT": "rules", "CHAT_RATE_LIMIT": "0"}
    with running_server(env) as base_url:
        yield base_url
