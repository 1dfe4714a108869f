"""The chat route: one turn of the conversation with the agent, as JSON or as SSE."""

import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Path, Request
from pydantic import BaseModel
from sse_starlette import EventSourceResponse

from backend.app.auth.dependencies import CurrentUser
from backend.app.chat.events import TurnEvent
from backend.app.chat.rate_limit import ChatRateLimit
from backend.app.chat.schemas import ChatError, ChatRequest, ChatResponse
from backend.app.chat.service import ChatTurns
from backend.app.openapi import COMMON_ERRORS, NOT_FOUND, ErrorResponse
from backend.app.usage.budget import ChatTokenBudget

router = APIRouter(prefix="/api/{user_id}", tags=["chat"], responses=COMMON_ERRORS)

# A comment line this often keeps proxies from closing a stream while the model thinks.
KEEPALIVE_SECONDS = 15

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
    "With `Accept: text/event-stream`: `event: start` {conversation_id, turn_id}, "
    "`event: tool_call` ToolCall (each, as it completes), `event: delta` {text} (in order; they "
    "concatenate to the response), then `event: done` with the JSON answer, or `event: error` "
    "{detail, conversation_id}. Every event has an `id:`, increasing within the turn. The turn "
    "holds no server thread and no database connection while the model thinks, and finishes "
    "(and is stored) even if the client disconnects."
)


def wants_event_stream(request: Request) -> bool:
    return "text/event-stream" in request.headers.get("accept", "")


def event_stream(events: AsyncIterator[TurnEvent]) -> EventSourceResponse:
    """A turn's events as Server-Sent Events, with keep-alive pings."""

    async def messages() -> AsyncIterator[dict[str, str]]:
        async for item in events:  # dicts, so the response's `sep` applies to them
            yield {
                "data": json.dumps(item.data, ensure_ascii=False),
                "event": item.event,
                "id": str(item.id),
            }

    return EventSourceResponse(
        messages(),
        ping=KEEPALIVE_SECONDS,
        sep="\n",  # plain LF, as most hand-written SSE parsers expect
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.post(
    "/chat",
    summary="Send a message; the assistant answers, using the task tools",
    description=SSE_DESCRIPTION,
    response_model=ChatResponse,
    responses={
        200: {
            "description": "The answer (JSON), or the turn as Server-Sent Events",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        **NOT_FOUND,
        409: {"model": ErrorResponse, "description": "Idempotency-Key reused for another request"},
        429: {
            "model": ErrorResponse,
            "description": "Over CHAT_RATE_LIMIT, or over today's CHAT_TOKEN_BUDGET_DAILY; see the "
            "Retry-After header",
        },
        502: {"model": ChatError, "description": "The agent or its model failed"},
        504: {"model": ChatError, "description": "The agent or its model timed out"},
    },
)
async def chat(
    request: Request,
    user: CurrentUser,
    _rate_limit: ChatRateLimit,
    _token_budget: ChatTokenBudget,
    body: ChatRequest,
    idempotency_key: IdempotencyKeyHeader = None,
) -> ChatResponse | EventSourceResponse:
    turns: ChatTurns = request.app.state.chat_turns
    if wants_event_stream(request):
        return event_stream(await turns.open_stream(user.id, body, idempotency_key))
    return await turns.answer(user.id, body, idempotency_key)


TurnIdPath = Annotated[str, Path(description="The turn's id, from `start`, `done` or the answer.")]
LastEventIdHeader = Annotated[
    str | None,
    Header(
        alias="Last-Event-ID",
        description="The id of the last event received: only the events after it are sent.",
    ),
]
EVENT_STREAM_RESPONSE = {
    200: {
        "description": "The turn's events as Server-Sent Events",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    },
    **NOT_FOUND,
}


class CancelAccepted(BaseModel):
    turn_id: str


def event_number(last_event_id: str | None) -> int:
    """The event id to resume after; anything that is not one counts as none (0: all)."""
    if last_event_id is None or not last_event_id.strip().isdigit():
        return 0
    return int(last_event_id.strip())


@router.get(
    "/chat/turns/{turn_id}/events",
    summary="Follow a turn, or resume it after a reload or a dropped connection",
    description=(
        "The turn's Server-Sent Events: with `Last-Event-ID` every event after that id, else "
        "all of them, then the live ones until `done` or `error`; the `delta`s of a resumed "
        "stream continue exactly where the client left off. Any server process can answer when "
        "TURN_EVENTS_URL=redis://…; a finished turn stays resumable for at least 10 minutes, "
        "after that its stored result is sent as `start` + `done`."
    ),
    response_class=EventSourceResponse,
    responses=EVENT_STREAM_RESPONSE,
)
async def turn_events(
    request: Request,
    user: CurrentUser,
    turn_id: TurnIdPath,
    last_event_id: LastEventIdHeader = None,
) -> EventSourceResponse:
    turns: ChatTurns = request.app.state.chat_turns
    return event_stream(await turns.follow(user.id, turn_id, event_number(last_event_id)))


@router.post(
    "/chat/turns/{turn_id}/cancel",
    summary="Stop a turn that is still answering",
    description=(
        "The turn stops as soon as it can: the model's stream is closed and no further tool "
        "call starts. What it answered so far is stored as the assistant message, marked "
        '`stopped: true`, and its stream ends with `done` carrying `"stopped": true`.'
    ),
    status_code=202,
    responses={
        **NOT_FOUND,
        409: {"model": ErrorResponse, "description": "The turn has already ended"},
    },
)
async def cancel_turn(request: Request, user: CurrentUser, turn_id: TurnIdPath) -> CancelAccepted:
    turns: ChatTurns = request.app.state.chat_turns
    await turns.cancel(user.id, turn_id)
    return CancelAccepted(turn_id=turn_id)
