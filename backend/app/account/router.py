"""Your data: download all of it, or delete the account with everything in it."""

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import StreamingResponse

from backend.app.account import export as account_export
from backend.app.account import service as account_service
from backend.app.auth.dependencies import CurrentUser
from backend.app.deps import SessionDep
from backend.app.openapi import COMMON_ERRORS

router = APIRouter(prefix="/api/{user_id}", tags=["your data"], responses=COMMON_ERRORS)

EXPORT_DESCRIPTION = """Everything the service holds about you, as one download (NDJSON: one JSON
object a line, each with a `type`): `{"type": "user", ...}` first, then every `{"type": "task",
...}`, then every `{"type": "conversation", ...}` followed by its `{"type": "message", ...}`
lines oldest first, with the same fields as the API's objects (messages with their tool calls
and token usage). Streamed in batches: any size downloads in constant server memory."""

DELETE_DESCRIPTION = """Deletes your account and everything of yours: tasks, conversations,
messages, idempotency keys and token usage, in one transaction. There is no undo. A later
request with a valid token starts an empty account."""


@router.get(
    "/export",
    summary="Download all your data (NDJSON)",
    description=EXPORT_DESCRIPTION,
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The NDJSON document, as an attachment",
            "content": {account_export.MEDIA_TYPE: {"schema": {"type": "string"}}},
        }
    },
)
def export_account(request: Request, session: SessionDep, user: CurrentUser) -> StreamingResponse:
    # The request's session holds the connection that checked the user; the request's
    # dependencies end only after the body is sent, so give it back now: the batches open
    # short sessions of their own, and a slow download must pin no connection.
    user_id = user.id
    session.close()
    return StreamingResponse(
        account_export.stream_account_export(request.app.state.engine, user_id),
        media_type=account_export.MEDIA_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="{account_export.FILENAME}"',
            "Cache-Control": "no-store",
        },
    )


@router.delete(
    "",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete your account and all its data",
    description=DELETE_DESCRIPTION,
)
def delete_account(session: SessionDep, user: CurrentUser) -> Response:
    account_service.delete_account(session, user.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
