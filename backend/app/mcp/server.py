"""The task tools of `agent/tools.py` over MCP (Streamable HTTP), behind the REST bearer token.

Built on the official SDK's low-level `Server`, whose `tools/list` and `tools/call` handlers take
the registry as it is: names, descriptions and JSON schemas come from `TOOLS`, calls go through
`execute_tool`. Nothing is declared twice.

Stateless and JSON: every POST is answered on its own (no `Mcp-Session-Id`, nothing kept in
memory between requests), so any process behind a load balancer can serve any request, and the
answer is one `application/json` body rather than an SSE stream (the tools are quick and send no
progress), which is simpler for every client and proxy.

The caller is the token's `sub`, verified by `McpEndpoint` before the SDK sees the request and
handed to the tool handler through the ASGI scope; tool arguments never name a user.
"""

import json
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import anyio
import mcp_types as types
from fastapi import FastAPI
from mcp.server import Server, ServerRequestContext
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlmodel import Session
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from backend.app.agent.tools import TOOLS, ToolContext, execute_tool
from backend.app.auth import service as auth_service
from backend.app.auth.bearer import bearer_token
from backend.app.auth.security import Identity, TokenVerifier
from backend.app.config import Settings
from backend.app.errors import AppError
from backend.app.health.diagnosis import misconfiguration
from backend.app.mcp.discovery import bearer_challenge, include_discovery

logger = logging.getLogger(__name__)

MCP_PATH = "/mcp"
SERVER_NAME = "todo-chat"
SERVER_VERSION = "0.1.0"
INSTRUCTIONS = "Manage the caller's todo list: add, list, complete, update and delete tasks."
# Where McpEndpoint leaves the verified caller for the tool handler (a client cannot set it).
IDENTITY_SCOPE_KEY = "todo_chat.mcp_identity"


def _tool_definitions() -> list[types.Tool]:
    return [
        types.Tool(
            name=tool.name, description=tool.description, input_schema=tool.parameters_schema
        )
        for tool in TOOLS.values()
    ]


def _input_schema(name: str) -> Mapping[str, Any] | None:
    tool = TOOLS.get(name)
    return tool.parameters_schema if tool is not None else None


def _tool_result(result: Any) -> types.CallToolResult:
    """The registry's JSON result as MCP content; an `{"error": ...}` result is marked isError."""
    is_error = isinstance(result, dict) and "error" in result
    # Structured content must be an object in the 2025-era protocol: a list (list_tasks) is
    # wrapped as {"result": [...]}, as the SDK's own MCPServer wraps non-object returns.
    structured = result if isinstance(result, dict) else {"result": result}
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=json.dumps(result, ensure_ascii=False))],
        structured_content=structured,
        is_error=is_error,
    )


def _run_tool(engine: Engine, identity: Identity, name: str, arguments: Any) -> Any:
    """One call, one session (sync, run in a worker thread): the user row, then the tool."""
    with Session(engine) as session:
        try:
            auth_service.ensure_user(session, identity)
        except SQLAlchemyError as exc:
            # A database that is missing or not migrated is said as such (with the fix).
            if isinstance(exc, DBAPIError) and (problem := misconfiguration(exc)) is not None:
                logger.error("MCP call %s: database misconfigured: %s", name, problem)
                return {"error": f"{problem[0].upper()}{problem[1:]}."}
            logger.warning("MCP call %s: database unavailable", name, exc_info=True)
            return {"error": "The database is unavailable right now; please retry."}
        return execute_tool(ToolContext(session, identity.user_id), name, arguments)


def build_server(engine: Engine) -> Server:
    """The MCP server of the task tools, acting for the identity McpEndpoint verified."""

    tools = _tool_definitions()

    async def list_tools(
        _ctx: ServerRequestContext, _params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tools)

    async def call_tool(
        ctx: ServerRequestContext, params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        request = ctx.request
        identity = request.scope.get(IDENTITY_SCOPE_KEY) if request is not None else None
        if not isinstance(identity, Identity):  # served without McpEndpoint in front: refuse
            return _tool_result({"error": "not authenticated"})
        arguments = params.arguments if params.arguments is not None else {}
        result = await anyio.to_thread.run_sync(
            partial(_run_tool, engine, identity, params.name, arguments)
        )
        return _tool_result(result)

    return Server(
        SERVER_NAME,
        version=SERVER_VERSION,
        instructions=INSTRUCTIONS,
        # Lets the 2026-era transport validate Mcp-Param headers without calling tools/list.
        get_tool_input_schema=_input_schema,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


class McpEndpoint:
    """The ASGI endpoint at /mcp: the bearer token first, then the SDK's Streamable HTTP transport.

    The SDK's session manager runs once (`run()` refuses a second start), so a fresh one is made
    each time the app's lifespan enters `run()`: an app served twice (tests) still works.
    """

    def __init__(
        self, server: Server, security: TransportSecuritySettings, issuer: str | None = None
    ) -> None:
        self.server = server
        self.security = security
        # With AUTH_ISSUER set, a 401 names the protected-resource metadata (discovery.py).
        self.issuer = issuer
        self._manager: StreamableHTTPSessionManager | None = None

    @asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        """Serve MCP for as long as the context is open (enter it in the app's lifespan)."""
        manager = StreamableHTTPSessionManager(
            app=self.server,
            stateless=True,
            json_response=True,
            security_settings=self.security,
        )
        async with manager.run():
            self._manager = manager
            try:
                yield
            finally:
                self._manager = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # pragma: no cover - routes only ever pass HTTP here
            return
        response = await self._authenticate(scope)
        if response is None and scope["method"] != "POST":
            # Stateless: no session to DELETE and no stream to GET (the SDK would hold a GET open
            # forever). 405 is the spec's answer for a server that offers no GET stream.
            response = JSONResponse(
                {"detail": "The MCP endpoint takes POST only (stateless Streamable HTTP)."},
                status_code=405,
                headers={"Allow": "POST"},
            )
        if response is None and self._manager is None:
            response = JSONResponse(
                {"detail": "The MCP endpoint is not running (app lifespan not started)."},
                status_code=503,
            )
        if response is not None:
            await response(scope, receive, send)
            return
        assert self._manager is not None
        await self._manager.handle_request(scope, receive, send)

    async def _authenticate(self, scope: Scope) -> Response | None:
        """Put the caller's identity in the scope, or return the 401/503 to answer instead."""
        try:
            token = bearer_token(HTTPConnection(scope))
            verifier: TokenVerifier = scope["app"].state.token_verifier
            # PyJWKClient blocks on a JWKS download: keep it off the event loop.
            identity = await anyio.to_thread.run_sync(verifier.verify, token)
        except AppError as exc:
            headers = dict(exc.headers or {})
            if exc.status_code == 401:
                challenge = bearer_challenge(HTTPConnection(scope), MCP_PATH, self.issuer)
                headers["WWW-Authenticate"] = challenge
            return JSONResponse(exc.body(), status_code=exc.status_code, headers=headers)
        scope[IDENTITY_SCOPE_KEY] = identity
        return None


def mount_mcp(app: FastAPI, settings: Settings, engine: Engine) -> McpEndpoint:
    """Serve MCP at /mcp on `app`; the app's lifespan must enter the returned endpoint's `run()`."""
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=settings.mcp_allowed_host_list,
        # Browsers send an Origin: accept those the REST API's CORS accepts. Others send none.
        allowed_origins=settings.cors_origin_list,
    )
    endpoint = McpEndpoint(build_server(engine), security, settings.auth_issuer)
    # A plain route (not a Mount): POST /mcp itself is served, with no redirect to /mcp/.
    app.router.routes.append(Route(MCP_PATH, endpoint=endpoint, include_in_schema=False))
    include_discovery(app, MCP_PATH, settings.auth_issuer)
    return endpoint
