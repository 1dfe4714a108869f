"""The application factory: settings in, a ready FastAPI app out."""

import logging
import math
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import Scope

from backend.app.account.router import router as account_router
from backend.app.agent.base import is_async_agent
from backend.app.agent.factory import build_agent
from backend.app.auth.router import router as auth_router
from backend.app.auth.security import TokenVerifier
from backend.app.chat.rate_limit import ChatRateLimiter
from backend.app.chat.router import router as chat_router
from backend.app.chat.service import ChatTurns
from backend.app.config import ConfigError, Settings, load_settings
from backend.app.conversations.router import router as conversations_router
from backend.app.db import make_engine
from backend.app.errors import AppError
from backend.app.health.diagnosis import misconfiguration
from backend.app.health.router import router as health_router
from backend.app.limits import BodySizeLimitMiddleware
from backend.app.mcp.server import mount_mcp
from backend.app.models import utcnow
from backend.app.pages.router import include_pages
from backend.app.retention.schedule import retention_loop
from backend.app.search.router import router as search_router
from backend.app.tasks.router import router as tasks_router
from backend.app.usage.router import router as usage_router

logger = logging.getLogger(__name__)

DOCS_ASSETS_URL = "/docs/assets"
DESCRIPTION = """Manage a todo list by talking to an AI assistant.

Every `/api/{user_id}/...` route needs `Authorization: Bearer <JWT>` whose `sub` is `{user_id}`.
In development, get a token from `POST /api/auth/dev-token`.
"""


def create_app(
    settings: Settings | None = None, *, clock: Callable[[], datetime] = utcnow
) -> FastAPI:
    """Build an app for these settings (read from the environment when not given); `clock` is
    what "now" is to the agents (tests fix it)."""
    settings = settings or load_settings()
    engine = make_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The agent (its model client and connection pool) lives as long as the app serves.
        agent = build_agent(settings)
        app.state.chat_turns = ChatTurns(settings, engine, agent, clock)
        await app.state.chat_turns.start()
        try:
            async with mcp_endpoint.run():  # the MCP transport's task group lives with the app
                async with retention_loop(settings, engine):  # the hourly pass, if RETENTION_DAYS
                    yield
            await app.state.chat_turns.shutdown()  # running turns get a short grace period
        finally:
            if is_async_agent(agent):
                await agent.aclose()
            engine.dispose()

    # /docs with its JavaScript and CSS served by the app itself (FastAPI's own page loads them
    # from a CDN, so it is blank without internet access). No /redoc: ReDoc still fetches its
    # logo from its CDN.
    app = FastAPIOffline(
        title="Todo Chat",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        static_url=DOCS_ASSETS_URL,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.token_verifier = TokenVerifier(settings)
    app.state.chat_rate_limiter = ChatRateLimiter(settings)

    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origin_list,
        allow_credentials=True,
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=["Retry-After"],
    )
    app.add_middleware(BodySizeLimitMiddleware)
    _add_error_handlers(app)

    app.include_router(health_router)
    if settings.is_development and settings.jwt_secret:
        app.include_router(auth_router)
    app.include_router(tasks_router)
    app.include_router(conversations_router)
    app.include_router(chat_router)
    app.include_router(search_router)
    app.include_router(usage_router)
    app.include_router(account_router)
    include_pages(app)
    mcp_endpoint = mount_mcp(app, settings, engine)
    return app


def json_safe(value: Any) -> Any:
    """A copy of `value` that JSON can always carry: FastAPI's 422 echoes the client's input,
    and a lone surrogate or a NaN in it would otherwise turn the 422 into a 500."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {json_safe(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return value


HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(app: FastAPI, scope: Scope) -> list[str]:
    """Every method some route fully matches at this request's path (asked route by route, so
    routers included in routers answer too)."""
    return [
        method
        for method in HTTP_METHODS
        if any(route.matches({**scope, "method": method})[0] is Match.FULL for route in app.routes)
    ]


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        allowed = allowed_methods(request.app, request.scope) if exc.status_code == 405 else []
        if allowed and request.method not in allowed:  # (a mount "allows" every method)
            # The router's Allow named only the methods of the first route matching the path;
            # a path served by several routes (GET and POST /tasks) must list all of them.
            exc = StarletteHTTPException(
                405, exc.detail, headers={**(exc.headers or {}), "Allow": ", ".join(allowed)}
            )
        return await http_exception_handler(request, exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        detail = json_safe(jsonable_encoder(exc.errors()))
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(AppError)
    async def app_error(_request: Request, exc: AppError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(OperationalError)
    async def database_unavailable(request: Request, exc: OperationalError) -> JSONResponse:
        if (problem := misconfiguration(exc)) is not None:
            return database_misconfigured(request.app, problem)
        # Lost connection, server restarting, lock time-out: the request can be retried.
        logger.warning("database unavailable: %s", exc.orig)
        return JSONResponse(
            {"detail": "The database is unavailable right now; please retry."}, status_code=503
        )

    @app.exception_handler(DBAPIError)
    async def database_error(request: Request, exc: DBAPIError) -> JSONResponse:
        if (problem := misconfiguration(exc)) is not None:
            return database_misconfigured(request.app, problem)
        logger.error("database error: %s", exc.orig)
        return JSONResponse(
            {"detail": "The database could not complete the request; please retry."},
            status_code=503,
        )


def database_misconfigured(app: FastAPI, problem: str) -> JSONResponse:
    """503 naming the cause and the fix. Logged once per app: it fails every request alike."""
    reported: set[str] = getattr(app.state, "reported_misconfigurations", set())
    app.state.reported_misconfigurations = reported
    if problem not in reported:
        reported.add(problem)
        logger.error("database misconfigured: %s", problem)
    return JSONResponse({"detail": f"{problem[0].upper()}{problem[1:]}."}, status_code=503)


def _app_from_environment() -> FastAPI:
    # A misconfiguration stops start-up with one line naming the variable, not a traceback,
    # however the server is started (`python -m uvicorn backend.app.main:app` included).
    try:
        return create_app()
    except ConfigError as exc:
        sys.exit(f"configuration error: {exc}")


app = _app_from_environment()
