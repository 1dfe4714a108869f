from alembic import command
from fastapi.testclient import TestClient

from backend.app.main import create_app
from tests.conftest import alembic_config


def test_health_answers_ok(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_when_the_database_is_at_the_latest_migration(client: TestClient) -> None:
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_ready_is_503_on_an_unmigrated_database_then_200_after_upgrade(
    empty_database_url: str, make_settings
) -> None:
    app = create_app(make_settings(database_url=empty_database_url))
    with TestClient(app) as client:
        response = client.get("/health/ready")
        assert response.status_code == 503
        assert "alembic upgrade head" in response.json()["detail"]

        command.upgrade(alembic_config(empty_database_url), "head")
        assert client.get("/health/ready").status_code == 200
    app.state.engine.dispose()


def test_ready_is_503_when_the_database_does_not_answer(make_settings) -> None:
    settings = make_settings(database_url="postgresql://nobody@127.0.0.1:1/nothing")
    app = create_app(settings)
    with TestClient(app) as client:
        response = client.get("/health/ready")
    assert response.status_code == 503
    assert "does not answer" in response.json()["detail"]


def test_openapi_docs_are_served(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    assert "/api/{user_id}/tasks" in client.get("/openapi.json").json()["paths"]
