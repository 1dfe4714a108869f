"""Settings: the only place the environment (and `.env`) is read."""

from functools import cached_property
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

# Used only when APP_ENV=development and no secret is configured, so `make run` works at once.
DEV_JWT_SECRET = "todo-chat-development-secret-not-for-production"
MIN_SECRET_LENGTH = 32
# A century: far beyond any policy, and the cut-off date stays computable.
MAX_RETENTION_DAYS = 36_500


class ConfigError(Exception):
    """A setting is missing or malformed; the message is one line naming the variable."""


def normalize_database_url(raw: str) -> str:
    """Return a URL SQLAlchemy opens with the drivers we ship (SQLite, psycopg2).

    SQLAlchemy 2.1 maps a bare `postgresql://` (what Neon and most hosts hand out) to psycopg 3,
    which we do not install; Heroku-style `postgres://` is not recognised at all.
    """
    try:
        url = make_url(raw)
    except ArgumentError as exc:
        raise ValueError(f"could not parse {raw!r} as a database URL") from exc
    driver = url.drivername
    if driver in ("postgres", "postgresql"):
        url = url.set(drivername="postgresql+psycopg2")
    elif driver not in ("postgresql+psycopg2", "sqlite", "sqlite+pysqlite"):
        raise ValueError(f"unsupported database {driver!r}; use sqlite:/// or postgresql://")
    if url.get_backend_name() == "postgresql" and not url.database:
        raise ValueError("a PostgreSQL URL needs a database name")
    return url.render_as_string(hide_password=False)


class DatabaseSettings(BaseSettings):
    """The database alone: all the migrations read, so they run whatever else is configured."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    database_url: str = "sqlite:///./data/todo.db"

    @field_validator("database_url")
    @classmethod
    def _normalize_database_url(cls, value: str) -> str:
        return normalize_database_url(value)


class Settings(DatabaseSettings):
    # Connections per process: a chat turn holds one only for its short database steps.
    database_pool_size: int = Field(default=10, ge=1, le=1000)
    database_max_overflow: int = Field(default=20, ge=0, le=1000)
    app_env: Literal["development", "production"] = "development"

    auth_jwt_secret: SecretStr | None = None
    auth_jwks_url: str | None = None
    auth_issuer: str | None = None
    auth_audience: str | None = None
    auth_jwks_refresh_cooldown_s: float = Field(default=1.0, ge=0)

    agent: Literal["rules", "openai"] = "rules"
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"
    agent_timeout_s: float = Field(default=30.0, gt=0)
    agent_max_tool_rounds: int = Field(default=5, ge=1, le=20)
    chat_history_window: int = Field(default=30, ge=1, le=500)

    cors_origins: str = "http://localhost:3000"
    chat_rate_limit: str = "30/minute"
    rate_limit_storage_url: str = "memory://"
    # Where chat turns' events are kept for following and resuming (redis:// shares them).
    turn_events_url: str = "memory://"
    # Host headers the MCP transport accepts (DNS-rebinding protection); comma-separated.
    mcp_allowed_hosts: str = "127.0.0.1:*,localhost:*,[::1]:*"
    # Per user, total model tokens per UTC day; 0 = no budget.
    chat_token_budget_daily: int = Field(default=0, ge=0)
    # Conversations idle longer than this many days are deleted; unset = kept forever.
    retention_days: int | None = None

    @field_validator("chat_rate_limit")
    @classmethod
    def _check_rate_limit(cls, value: str) -> str:
        value = value.strip()
        if value == "0":
            return value
        from limits import parse_many  # only needed to check the format here

        try:
            items = parse_many(value)
        except ValueError:
            items = []
        # One limit with a positive amount: "a;b" would silently apply only the first, and
        # "0/minute" would refuse every chat forever.
        if len(items) != 1 or items[0].amount < 1:
            raise ValueError(
                f"{value!r} is not a rate limit; write one like 30/minute or 5/second, or 0 (off)"
            )
        return value

    @field_validator("turn_events_url")
    @classmethod
    def _check_turn_events_url(cls, value: str) -> str:
        if not value.startswith(("memory://", "redis://", "rediss://")):
            raise ValueError("use memory:// or redis://host:6379")
        return value

    @field_validator("rate_limit_storage_url")
    @classmethod
    def _check_storage_url(cls, value: str) -> str:
        if not value.startswith(("memory://", "redis://", "rediss://", "redis+sentinel://")):
            raise ValueError("use memory:// or redis://host:6379")
        return value

    @field_validator("retention_days", mode="before")
    @classmethod
    def _check_retention_days(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None  # unset: keep everything
        text = str(value).strip()
        if (
            isinstance(value, bool)
            or not text.isdecimal()
            or not 1 <= int(text) <= MAX_RETENTION_DAYS
        ):
            raise ValueError(
                f"{value!r} is not a number of days; write an integer from 1 to "
                f"{MAX_RETENTION_DAYS}, or leave it unset to keep conversations forever"
            )
        return int(text)

    @field_validator("auth_jwks_url", "auth_issuer", "auth_audience", "openai_base_url")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("auth_jwt_secret", "openai_api_key", mode="before")
    @classmethod
    def _blank_secret_is_unset(cls, value: object) -> object:
        return value or None

    @model_validator(mode="after")
    def _check_auth(self) -> "Settings":
        secret = self.auth_jwt_secret.get_secret_value() if self.auth_jwt_secret else None
        if self.app_env == "production":
            if secret is None and self.auth_jwks_url is None:
                raise ValueError(
                    "AUTH_JWT_SECRET (or AUTH_JWKS_URL) is required when APP_ENV=production"
                )
            if secret is not None and len(secret) < MIN_SECRET_LENGTH:
                raise ValueError(
                    f"AUTH_JWT_SECRET must be at least {MIN_SECRET_LENGTH} characters "
                    "when APP_ENV=production"
                )
        if self.agent == "openai" and self.openai_api_key is None and self.openai_base_url is None:
            raise ValueError(
                "OPENAI_API_KEY is required when AGENT=openai "
                "(or OPENAI_BASE_URL for a local server that needs no key)"
            )
        return self

    @property
    def is_development(self) -> bool:
        return self.app_env == "development"

    @property
    def jwt_secret(self) -> str | None:
        """The HS256 secret in force: the configured one, or the fixed one in development."""
        if self.auth_jwt_secret is not None:
            return self.auth_jwt_secret.get_secret_value()
        # The fixed development secret only stands in when no real key source is configured.
        if self.is_development and self.auth_jwks_url is None:
            return DEV_JWT_SECRET
        return None

    @cached_property
    def cors_origin_list(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]

    @cached_property
    def mcp_allowed_host_list(self) -> list[str]:
        return [host.strip() for host in self.mcp_allowed_hosts.split(",") if host.strip()]


def _describe(error: ValidationError) -> str:
    """Turn pydantic's multi-line report into one line that names the environment variable."""
    first = error.errors()[0]
    message = first["msg"].removeprefix("Value error, ")
    if first["loc"]:
        return f"{str(first['loc'][0]).upper()}: {message}"
    return message


def load_settings(**overrides: Any) -> Settings:
    """Read the settings from the environment; raise ConfigError with one line on a bad value.

    `overrides` are raw values, validated (and converted) like the environment's strings."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None


def load_database_url() -> str:
    """DATABASE_URL from the environment, normalised; raise ConfigError with one line if bad."""
    try:
        return DatabaseSettings().database_url
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
