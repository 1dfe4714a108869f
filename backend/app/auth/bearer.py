"""The one reading of `Authorization: Bearer <token>`, for the REST routes and /mcp alike."""

from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from backend.app.errors import Unauthorized

MISSING = "Missing bearer token: send 'Authorization: Bearer <token>'."
MALFORMED = "The Authorization header must be 'Bearer <token>'."


def bearer_token(connection: HTTPConnection) -> str:
    """The request's bearer token; 401 when there is none or the header is of another kind.
    The scheme is case-insensitive (RFC 7235) and blanks around the token are ignored."""
    authorization = connection.headers.get("Authorization", "").strip()
    if not authorization:
        raise Unauthorized(MISSING)
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized(MALFORMED)
    return token


class BearerScheme(HTTPBearer):
    """FastAPI's HTTPBearer as the OpenAPI schema shows it, reading the header with
    `bearer_token` so that REST and MCP accept and refuse the same headers."""

    async def __call__(self, request: HTTPConnection) -> HTTPAuthorizationCredentials:
        return HTTPAuthorizationCredentials(scheme="Bearer", credentials=bearer_token(request))


bearer_scheme = BearerScheme(
    scheme_name="HTTPBearer",  # the name the OpenAPI schema has always given it
    description="A JWT from the auth server (or POST /api/auth/dev-token).",
)
