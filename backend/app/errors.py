"""Domain errors carry their HTTP status; one handler in main.py renders them as {"detail": ...}."""

from typing import Any


class AppError(Exception):
    status_code = 400
    headers: dict[str, str] | None = None

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        # Extra fields of the JSON body, e.g. the chat turn's `conversation_id` on a 502.
        self.extra = extra

    def body(self) -> dict[str, Any]:
        """The JSON body every client gets for it: `{"detail", ...extra}` (a response, an SSE
        `error` event, MCP)."""
        return {"detail": self.detail, **self.extra}

    def with_headers(self, headers: dict[str, str]) -> "AppError":
        """This error with response headers of its own (e.g. Retry-After on a 429)."""
        self.headers = {**(type(self).headers or {}), **headers}
        return self


class Unauthorized(AppError):
    status_code = 401
    headers = {"WWW-Authenticate": "Bearer"}


class Forbidden(AppError):
    status_code = 403


class NotFound(AppError):
    status_code = 404


class Conflict(AppError):
    status_code = 409


class InvalidInput(AppError):
    status_code = 422


class BadGateway(AppError):
    status_code = 502


class ServiceUnavailable(AppError):
    status_code = 503


class GatewayTimeout(AppError):
    status_code = 504
