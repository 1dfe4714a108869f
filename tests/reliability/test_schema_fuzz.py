"""Property-based tests of the whole OpenAPI schema (schemathesis), against the ASGI app.

Every documented operation gets generated requests — valid ones and, in negative mode, ones that
break the schema — with a valid token of "alice" and `{user_id}` fixed to "alice", so the calls
get past authentication and reach the handlers. Each response must be below 500 and match its
documented status codes, schema, content type and headers. A few rows are seeded so that small
generated ids find something (a 200) as well as nothing (a 404).
"""

from collections.abc import Iterator

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance
from sqlalchemy import Engine
from sqlmodel import Session

from backend.app.config import Settings
from backend.app.main import create_app
from backend.app.models import DESCRIPTION_MAX, TITLE_MAX, Conversation, Message, Task, User
from tests.conftest import make_token

MAX_EXAMPLES = 25


@pytest.fixture(scope="module")
def fuzz_app(database_url: str, migrated_engine: Engine) -> Iterator[FastAPI]:
    """One app for every operation of the module (its lifespan lives as long as the process)."""
    app = create_app(fuzz_settings(database_url))
    yield app
    app.state.engine.dispose()


def seed(engine: Engine) -> None:
    """Two tasks and a conversation with two messages for alice; one task for bob."""
    with Session(engine) as session:
        session.add_all([User(id="alice"), User(id="bob")])
        session.flush()
        session.add_all(
            [
                Task(user_id="alice", title="Buy groceries"),
                Task(user_id="alice", title="Pay bills", completed=True),
                Task(user_id="bob", title="Bob's own"),
            ]
        )
        conversation = Conversation(user_id="alice", title="Groceries")
        session.add(conversation)
        session.flush()
        session.add_all(
            [
                Message(
                    conversation_id=conversation.id, user_id="alice", role="user", content="hi"
                ),
                Message(
                    conversation_id=conversation.id,
                    user_id="alice",
                    role="assistant",
                    content="Hello!",
                    tool_calls='[{"name": "list_tasks", "arguments": {}, "result": []}]',
                ),
            ]
        )
        session.commit()


def fuzz_settings(database_url: str) -> Settings:
    return Settings(
        _env_file=None, database_url=database_url, app_env="development", chat_rate_limit="0"
    )


class DeferredApp:
    """An ASGI app that forwards to the app of the test database, once a fixture has built it.

    The schema is read at collection time, before any fixture runs, from an app on no database
    (its OpenAPI document does not depend on one); the requests go to `fuzz_app`, in-process.
    """

    target: FastAPI | None = None

    async def __call__(self, scope, receive, send) -> None:
        assert self.target is not None, "the fuzz_app fixture has not run"
        await self.target(scope, receive, send)


DEFERRED_APP = DeferredApp()
schema = schemathesis.openapi.from_dict(create_app(fuzz_settings("sqlite://")).openapi())
schema.app = DEFERRED_APP
schema.config.update(parameters={"user_id": "alice"})
schema.config.generation.update(max_examples=MAX_EXAMPLES, deterministic=True)


@schema.auth()
class AliceToken:
    """A valid token of alice on every request. Given as an auth provider (not a fixed header)
    so schemathesis knows it is real and can still probe each operation without it."""

    def get(self, _case: schemathesis.Case, _ctx: object) -> str:
        return make_token("alice")

    def set(self, case: schemathesis.Case, token: str, _ctx: object) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}


@pytest.fixture
def seeded(fuzz_app: FastAPI, engine: Engine) -> None:
    """Empty tables and a few rows for each operation; requests go to `fuzz_app`."""
    DEFERRED_APP.target = fuzz_app
    seed(engine)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@pytest.mark.usefixtures("seeded")
def test_every_operation_conforms(case: schemathesis.Case) -> None:
    response = case.call()
    # A cursor is opaque (any string up to 512 characters is schema-valid) and only the API's
    # own are accepted: a made-up one is the documented 422, blamed on the cursor alone. The
    # same for the task fields whose rules JSON schema cannot say (see SEMANTIC_FIELDS), and for
    # two valid dates making a range the wrong way round (/usage).
    excluded = (
        [positive_data_acceptance]
        if refused_only_semantic_fields(response) or refused_only_the_date_range(response)
        else []
    )
    if fits_after_trimming(case):
        # Titles and descriptions are counted after trimming (API.md): 200 characters with
        # spaces around them are valid, though longer than the schema's maxLength.
        excluded.append(negative_data_rejection)
    case.validate_response(response, excluded_checks=excluded)


# Refusals the schema documents in words only: an opaque cursor; an RRULE's grammar, a due date's
# range (2000-2999), an IANA zone name, a tag's length after trimming and the number of distinct
# tags; a recurrence without a due date (a rule across two fields, located at the body).
SEMANTIC_FIELDS = {
    ("query", "cursor"),
    ("query", "tag"),
    ("body", "due_at"),
    ("body", "recurrence"),
    ("body", "timezone"),
    ("body", "tags"),
}


def refused_only_semantic_fields(response) -> bool:
    if response.status_code != 422:
        return False
    for error in response.json()["detail"]:
        where = tuple(error["loc"][:2])
        if where == ("body",) and "recurrence needs a due_at" in error["msg"]:
            continue
        if where not in SEMANTIC_FIELDS:
            return False
    return True


TRIMMED_LIMITS = {"title": TITLE_MAX, "description": DESCRIPTION_MAX}


def fits_after_trimming(case: schemathesis.Case) -> bool:
    """A body whose text fields are over their limit only by the whitespace around them."""
    body = case.body if isinstance(case.body, dict) else {}
    over = [
        (value, TRIMMED_LIMITS[name])
        for name, value in body.items()
        if name in TRIMMED_LIMITS and isinstance(value, str) and len(value) > TRIMMED_LIMITS[name]
    ]
    return bool(over) and all(len(value.strip()) <= limit for value, limit in over)


def refused_only_the_date_range(response) -> bool:
    if response.status_code != 422:
        return False
    return [error["type"] for error in response.json()["detail"]] == ["date_range"]
