"""Settings: defaults, URL normalisation, `.env`, and one-line start-up errors."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from backend.app.config import DEV_JWT_SECRET, ConfigError, Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]
SETTING_NAMES = [name.upper() for name in Settings.model_fields]


def clean_environment(**values: str) -> dict[str, str]:
    """The current environment without any of our settings, plus `values`."""
    env = {k: v for k, v in os.environ.items() if k not in SETTING_NAMES}
    env.update(values)
    return env


def test_defaults_match_the_documented_table(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)
    assert settings.database_url == "sqlite:///./data/todo.db"
    assert settings.app_env == "development"
    assert settings.agent == "rules"
    assert settings.openai_model == "gpt-4o-mini"
    assert settings.openai_base_url is None
    assert settings.cors_origin_list == ["http://localhost:3000"]
    assert settings.chat_rate_limit == "30/minute"
    assert settings.rate_limit_storage_url == "memory://"
    assert settings.agent_timeout_s == 30
    assert settings.chat_history_window == 30
    assert settings.chat_token_budget_daily == 0  # no budget
    assert settings.retention_days is None  # keep forever
    assert settings.jwt_secret == DEV_JWT_SECRET  # development works with no secret set


@pytest.mark.parametrize(
    "given",
    [
        "postgresql://u:p@ep-cool-name.eu-central-1.aws.neon.tech/neondb?sslmode=require",
        "postgres://u:p@db.example.com:5432/app",
        "postgresql+psycopg2://u:p@db.example.com/app",
    ],
)
def test_postgres_urls_are_normalised_to_psycopg2(given: str) -> None:
    url = Settings(_env_file=None, database_url=given).database_url
    assert url.startswith("postgresql+psycopg2://u:p@")
    if "sslmode" in given:
        assert url.endswith("?sslmode=require")


def test_a_bare_postgresql_url_connects_with_psycopg2(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("needs TEST_DATABASE_URL=postgresql://... (CI's second pass)")
    from sqlalchemy import text

    from backend.app.db import make_engine

    bare = database_url.replace("postgresql+psycopg2://", "postgresql://", 1)
    engine = make_engine(Settings(_env_file=None, database_url=bare).database_url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT 1")).scalar() == 1
    engine.dispose()


def test_dotenv_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    env_file = tmp_path / ".env"
    env_file.write_text(
        "AGENT=openai\nOPENAI_BASE_URL=http://127.0.0.1:11434/v1\n"
        "CORS_ORIGINS=https://a.example, https://b.example\n"
    )
    settings = Settings(_env_file=env_file)
    assert settings.agent == "openai"
    assert settings.openai_base_url == "http://127.0.0.1:11434/v1"
    assert settings.cors_origin_list == ["https://a.example", "https://b.example"]


def test_production_accepts_a_jwks_url_instead_of_a_secret() -> None:
    settings = load_settings(
        _env_file=None, app_env="production", auth_jwks_url="https://auth.example/jwks"
    )
    assert settings.jwt_secret is None


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"database_url": "::not a url::"}, "DATABASE_URL"),
        ({"database_url": "mysql://u@h/db"}, "DATABASE_URL"),
        ({"agent": "magic"}, "AGENT"),
        ({"agent": "openai"}, "OPENAI_API_KEY"),
        ({"app_env": "staging"}, "APP_ENV"),
        ({"app_env": "production"}, "AUTH_JWT_SECRET"),
        ({"app_env": "production", "auth_jwt_secret": "too-short"}, "AUTH_JWT_SECRET"),
        ({"turn_events_url": "kafka://broker"}, "TURN_EVENTS_URL"),
        ({"database_pool_size": "0"}, "DATABASE_POOL_SIZE"),
        ({"database_max_overflow": "-1"}, "DATABASE_MAX_OVERFLOW"),
        ({"retention_days": "0"}, "RETENTION_DAYS"),
        ({"retention_days": "-3"}, "RETENTION_DAYS"),
        ({"retention_days": "thirty"}, "RETENTION_DAYS"),
        ({"retention_days": "1.5"}, "RETENTION_DAYS"),
        ({"retention_days": "99999999999"}, "RETENTION_DAYS"),
        ({"chat_token_budget_daily": "-1"}, "CHAT_TOKEN_BUDGET_DAILY"),
        ({"chat_token_budget_daily": "lots"}, "CHAT_TOKEN_BUDGET_DAILY"),
    ],
)
def test_bad_settings_raise_one_line_naming_the_variable(
    overrides: dict[str, str], variable: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(_env_file=None, **overrides)
    message = str(caught.value)
    assert variable in message
    assert "\n" not in message


UVICORN = [sys.executable, "-m", "uvicorn", "backend.app.main:app", "--port", "0"]
ALEMBIC = [sys.executable, "-m", "alembic", "upgrade", "head"]


@pytest.mark.parametrize(
    ("command", "env", "variable"),
    [
        (UVICORN, {"DATABASE_URL": "::not a url::"}, "DATABASE_URL"),
        (UVICORN, {"AGENT": "magic"}, "AGENT"),
        (UVICORN, {"APP_ENV": "production"}, "AUTH_JWT_SECRET"),
        # The migrations read DATABASE_URL only (tests/health/test_misconfiguration.py).
        (ALEMBIC, {"DATABASE_URL": "::not a url::"}, "DATABASE_URL"),
        (UVICORN, {"RETENTION_DAYS": "0"}, "RETENTION_DAYS"),
    ],
    ids=["uvicorn-url", "uvicorn-agent", "uvicorn-secret", "alembic-url", "uvicorn-retention"],
)
def test_misconfigured_start_prints_one_line_and_exits_non_zero(
    env: dict[str, str], variable: str, command: list[str], tmp_path: Path
) -> None:
    # Run from a scratch folder (no .env there), pointing Python at the project.
    environment = clean_environment(PYTHONPATH=str(ROOT), **env)
    if command[2] == "alembic":
        command = [*command[:3], "-c", str(ROOT / "alembic.ini"), *command[3:]]
    result = subprocess.run(
        command, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("configuration error:")
    assert variable in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("value", ["abc", "100/hour;10/minute", "0/minute", "-1/second"])
def test_a_rate_limit_must_be_one_positive_limit(value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(_env_file=None, chat_rate_limit=value)
    assert "CHAT_RATE_LIMIT" in str(caught.value)


@pytest.mark.parametrize("value", ["0", "30/minute", "5/second", "1000 per day"])
def test_good_rate_limits_are_accepted(value: str) -> None:
    assert load_settings(_env_file=None, chat_rate_limit=value).chat_rate_limit == value


@pytest.mark.parametrize(("value", "days"), [("", None), ("30", 30), (" 7 ", 7), ("36500", 36500)])
def test_retention_days_is_unset_or_a_positive_integer(value: str, days: int | None) -> None:
    assert load_settings(_env_file=None, retention_days=value).retention_days == days
