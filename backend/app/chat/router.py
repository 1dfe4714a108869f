"""The chat route: one turn of the conversation with the agent, as JSON or as SSE."""

from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import StreamingResponse

from backend.app.auth.dependencies import CurrentUser
from backend.app.chat import service as chat_service
from backend.app.chat.rate_limit import ChatRateLimit
from backend.app.chat.schemas import ChatError, ChatRequest, ChatResponse
from backend.app.chat.streaming import replay_events, turn_events
from backend.app.deps import SessionDep, SettingsDep
from backend.app.openapi import COMMON_ERRORS, NOT_FOUND, ErrorResponse
from backend.app.usage.budget import ChatTokenBudget

router = APIRouter(prefix="/api/{user_id}", tags=["chat"], responses=COMMON_ERRORS)

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Repeat a completed request with the same key to get its first answer back.",
    ),
]

SSE_DESCRIPTION = (
    "With `Accept: text/event-stream`: `event: start` {conversation_id}, `event: tool_call` "
    "ToolCall (each, as it completes), `event: delta` {text} (in order; they concatenate to the "
    "response), then `event: done` with the JSON answer, or `event: error` {detail, "
    "conversation_id}."
)


def wants_event_stream(request: Request) -> bool:
    return "text/event-stream" in request.headers.get("accept", "")


@router.post(
    "/chat",
    summary="Send a message; the assistant answers, using the task tools",
    description=SSE_DESCRIPTION,
    responses={
        200: {
            "description": "The answer (JSON), or the turn as Server-Sent Events",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        **NOT_FOUND,
        409: {"model": ErrorResponse, "description": "Idempotency-Key reused for another request"},
        429: {
            "model": ErrorResponse,
            "description": "Over CHAT_RATE_LIMIT; see the Retry-After header",
        },
        502: {"model": ChatError, "description": "The agent or its model failed"},
        504: {"model": ChatError, "description": "The agent or its model timed out"},
    },
)
def chat(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: CurrentUser,
    _rate_limit: ChatRateLimit,
    _token_budget: ChatTokenBudget,
    body: ChatRequest,
    idempotency_key: IdempotencyKeyHeader = None,
) -> ChatResponse:
    turn = chat_service.begin_turn(
        session,
        user.id,
        body,
        history_window=settings.chat_history_window,
        idempotency_key=idempotency_key,
    )
    agent = request.app.state.agent
    if wants_event_stream(request):
        events = (
            replay_events(turn)
            if isinstance(turn, ChatResponse)
            else turn_events(request.app.state.engine, agent, turn)
        )
        return StreamingResponse(
            events,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    if isinstance(turn, ChatResponse):
        return turn
    return chat_service.answer_turn(session, agent, turn)
