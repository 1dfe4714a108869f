"""POST /api/auth/dev-token: development sign-in that mints tokens this server accepts."""

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from backend.app.config import DEV_JWT_SECRET
from backend.app.models import User

DEV_TOKEN = "/api/auth/dev-token"


def test_dev_token_opens_the_api_for_that_user(client: TestClient, session: Session) -> None:
    response = client.post(DEV_TOKEN, json={"user_id": "alice"})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert set(body) == {"access_token", "token_type"}

    headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert client.get("/api/alice/tasks", headers=headers).status_code == 200
    assert client.get("/api/bob/tasks", headers=headers).status_code == 403
    assert [user.id for user in session.exec(select(User)).all()] == ["alice"]


def test_dev_token_is_hs256_with_the_secret_and_lasts_a_day(client: TestClient) -> None:
    token = client.post(DEV_TOKEN, json={"user_id": "alice"}).json()["access_token"]
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    claims = jwt.decode(token, DEV_JWT_SECRET, algorithms=["HS256"])
    lifetime = datetime.fromtimestamp(claims["exp"], UTC) - datetime.now(UTC)
    assert timedelta(hours=23, minutes=59) < lifetime <= timedelta(hours=24)


def test_dev_token_carries_email_and_name_into_the_new_user(
    client: TestClient, session: Session
) -> None:
    body = {"user_id": "alice", "email": "alice@example.com", "name": "Alice"}
    token = client.post(DEV_TOKEN, json=body).json()["access_token"]
    response = client.get("/api/alice/tasks", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    alice = session.get(User, "alice")
    assert (alice.email, alice.name) == ("alice@example.com", "Alice")


def test_dev_token_uses_the_configured_secret(make_app) -> None:
    secret = "a-configured-development-secret-0123456789"
    with TestClient(make_app(auth_jwt_secret=secret)) as client:
        token = client.post(DEV_TOKEN, json={"user_id": "alice"}).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/alice/tasks", headers=headers).status_code == 200
    jwt.decode(token, secret, algorithms=["HS256"])  # not the built-in development secret


def test_dev_token_still_works_when_issuer_and_audience_are_verified(make_app) -> None:
    app = make_app(auth_issuer="https://auth.example.com", auth_audience="todo-chat-api")
    with TestClient(app) as client:
        token = client.post(DEV_TOKEN, json={"user_id": "alice"}).json()["access_token"]
        response = client.get("/api/alice/tasks", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "overrides",
    [
        {"app_env": "production", "auth_jwt_secret": "x" * 40},
        {"app_env": "production", "auth_jwks_url": "http://127.0.0.1:9/api/auth/jwks"},
    ],
    ids=["production with a secret", "production with a JWKS"],
)
def test_dev_token_does_not_exist_in_production(make_app, overrides: dict[str, str]) -> None:
    with TestClient(make_app(**overrides)) as client:
        response = client.post(DEV_TOKEN, json={"user_id": "alice"})
    assert response.status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"user_id": ""},
        {"user_id": "   "},
        {"user_id": "\t\n"},
        {"user_id": "a" * 256},
        {"user_id": "ali\x00ce"},
        {},
        {"user_id": None},
    ],
    ids=["empty", "spaces", "whitespace", "too long", "nul", "missing", "null"],
)
def test_dev_token_refuses_an_unusable_user_id(client: TestClient, body: dict) -> None:
    response = client.post(DEV_TOKEN, json=body)
    assert response.status_code == 422
    assert isinstance(response.json()["detail"], list)
