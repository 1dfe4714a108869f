"""Error responses shared by the routers' OpenAPI documentation."""

from typing import Any

from pydantic import BaseModel


class ErrorResponse(BaseModel):
    detail: str


# FastAPI's own answer to a body it cannot decode (not UTF-8): before any validation runs.
BAD_BODY: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "The body could not be parsed"},
}
COMMON_ERRORS: dict[int | str, dict[str, Any]] = {
    **BAD_BODY,
    401: {"model": ErrorResponse, "description": "Missing or invalid bearer token"},
    403: {"model": ErrorResponse, "description": "The token belongs to another user"},
    413: {"model": ErrorResponse, "description": "Request body over 1 MiB"},
    503: {"model": ErrorResponse, "description": "Database or auth server unavailable"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "Not found (or owned by another user)"},
}
