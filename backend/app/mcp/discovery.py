"""How MCP clients find the authorization server by themselves (MCP authorization, RFC 9728).

`GET /.well-known/oauth-protected-resource` (and the same under `/mcp`, RFC 9728's form for the
resource `/mcp`) describes the MCP endpoint as a protected resource whose tokens come from
`AUTH_ISSUER`; a 401 from `/mcp` points at that document in its `WWW-Authenticate` header. The
SDK's own pieces do the work: its metadata model, its URL rule and its JSON handler.

The public base URL is the request's own (scheme and host as the client used them; behind a
proxy, uvicorn's --proxy-headers makes it the public one), so nothing needs configuring.
"""

from fastapi import FastAPI
from mcp.server.auth.handlers.metadata import ProtectedResourceMetadataHandler
from mcp.server.auth.routes import build_resource_metadata_url
from mcp.shared.auth import ProtectedResourceMetadata
from pydantic import AnyHttpUrl, ValidationError
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

WELL_KNOWN_PATH = "/.well-known/oauth-protected-resource"


def resource_url(connection: HTTPConnection, mcp_path: str) -> AnyHttpUrl:
    """The MCP endpoint's URL as this request's client reaches it."""
    return AnyHttpUrl(str(connection.base_url).rstrip("/") + mcp_path)


def resource_metadata_url(connection: HTTPConnection, mcp_path: str) -> str:
    """Where the protected-resource metadata of the MCP endpoint is (for WWW-Authenticate)."""
    return str(build_resource_metadata_url(resource_url(connection, mcp_path)))


def bearer_challenge(connection: HTTPConnection, mcp_path: str, issuer: str | None) -> str:
    """The WWW-Authenticate value of a 401 from the MCP endpoint."""
    if issuer is None:
        return "Bearer"
    return f'Bearer resource_metadata="{resource_metadata_url(connection, mcp_path)}"'


def include_discovery(app: FastAPI, mcp_path: str, issuer: str | None) -> None:
    """Serve the protected-resource metadata at both well-known paths (404 without AUTH_ISSUER)."""

    async def metadata(request: Request) -> Response:
        if issuer is None:
            return JSONResponse(
                {"detail": "No authorization server is configured (AUTH_ISSUER is unset)."},
                status_code=404,
            )
        try:
            # Validated as a whole: the model keeps the issuer as written (no "/" appended).
            document = ProtectedResourceMetadata.model_validate(
                {"resource": resource_url(request, mcp_path), "authorization_servers": [issuer]}
            )
        except ValidationError:
            return JSONResponse(
                {"detail": "AUTH_ISSUER is not an http(s) URL, so it cannot be discovered."},
                status_code=404,
            )
        return await ProtectedResourceMetadataHandler(document).handle(request)

    for path in (WELL_KNOWN_PATH, WELL_KNOWN_PATH + mcp_path):
        app.router.routes.append(
            Route(path, endpoint=metadata, methods=["GET"], include_in_schema=False)
        )
