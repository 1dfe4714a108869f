"""Liveness and readiness probes."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from backend.app.health import service as health_service

router = APIRouter(tags=["health"])


class HealthStatus(BaseModel):
    status: str
    detail: str | None = None


@router.get("/health", summary="Liveness: the process answers", response_model_exclude_none=True)
def health() -> HealthStatus:
    return HealthStatus(status="ok")


@router.get(
    "/health/ready",
    summary="Readiness: the database answers and its schema is at the latest migration",
    response_model_exclude_none=True,
    responses={503: {"model": HealthStatus, "description": "Not ready, with the reason"}},
    response_model=HealthStatus,  # the 200; the 503 is answered directly
)
def ready(request: Request) -> HealthStatus | JSONResponse:
    problem = health_service.readiness_problem(request.app.state.engine)
    if problem is not None:
        return JSONResponse(status_code=503, content={"status": "unavailable", "detail": problem})
    return HealthStatus(status="ok")
