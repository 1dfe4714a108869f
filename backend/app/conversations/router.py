"""Conversation and message routes: parse, authorise through a dependency, call one service."""

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import StreamingResponse
from pydantic import AfterValidator, AwareDatetime, Field, TypeAdapter
from sqlalchemy import Engine

from backend.app.auth.dependencies import CurrentUser
from backend.app.conversations import export as conversation_export
from backend.app.conversations import service as conversation_service
from backend.app.conversations.dependencies import OwnedConversation
from backend.app.conversations.schemas import (
    ArchivedFilter,
    ConversationCreate,
    ConversationExport,
    ConversationPublic,
    ConversationUpdate,
    ExportFormat,
    MessageCreate,
    MessageOrder,
    MessagePublic,
)
from backend.app.deps import SessionDep
from backend.app.ids import MAX_ID
from backend.app.models import Conversation, Message
from backend.app.openapi import COMMON_ERRORS, NOT_FOUND
from backend.app.pagination import (
    DEFAULT_LIMIT,
    CursorQuery,
    LimitQuery,
    Page,
    PageRows,
    build_page,
    decode_cursor,
)

# The routes return the rows; their response_model says (and checks) what the client gets.
router = APIRouter(
    prefix="/api/{user_id}/conversations", tags=["conversations"], responses=COMMON_ERRORS
)


def _in_utc(value: datetime) -> datetime:
    # The database compares instants in UTC. A forged offset that pushes the instant past year
    # 1 or 9999 cannot be converted: make that a bad cursor (422) rather than a 500.
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("timestamp out of range") from None


RowId = Annotated[int, Field(ge=0, le=MAX_ID)]
CursorTime = Annotated[AwareDatetime, AfterValidator(_in_utc)]
CONVERSATION_CURSOR = TypeAdapter(tuple[CursorTime, RowId])
MESSAGE_CURSOR = TypeAdapter(tuple[RowId])
BAD_PAGE: dict[int | str, dict[str, Any]] = {
    422: {"description": "Invalid limit or cursor (FastAPI's validation detail list)"}
}


@router.get(
    "",
    summary="List conversations, most recently updated first",
    responses=BAD_PAGE,
    response_model=Page[ConversationPublic],
)
def list_conversations(
    session: SessionDep,
    user: CurrentUser,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
    archived: Annotated[
        ArchivedFilter,
        Query(description="false: the active ones (default); true: the archived ones; all"),
    ] = ArchivedFilter.false,
) -> PageRows[Conversation]:
    after = decode_cursor(cursor, CONVERSATION_CURSOR)
    rows = conversation_service.list_conversations_page(
        session, user.id, limit, after, archived.archived
    )
    return build_page(rows, limit, lambda c: [c.updated_at.isoformat(), c.id])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Start a conversation",
    response_model=ConversationPublic,
)
def create_conversation(
    session: SessionDep, user: CurrentUser, body: ConversationCreate | None = None
) -> Conversation:
    title = body.title if body is not None else None
    return conversation_service.create_conversation(session, user.id, title)


@router.get(
    "/{conversation_id}",
    summary="Get one conversation",
    responses=NOT_FOUND,
    response_model=ConversationPublic,
)
def get_conversation(conversation: OwnedConversation) -> Conversation:
    return conversation


@router.patch(
    "/{conversation_id}",
    summary="Rename, archive or unarchive a conversation",
    responses=NOT_FOUND,
    response_model=ConversationPublic,
)
def update_conversation(
    session: SessionDep, conversation: OwnedConversation, body: ConversationUpdate
) -> Conversation:
    changes = body.model_dump(exclude_unset=True)
    return conversation_service.update_conversation(session, conversation, changes)


@router.delete(
    "/{conversation_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a conversation and its messages",
    responses=NOT_FOUND,
    response_class=Response,  # no body, so no Content-Type either
)
def delete_conversation(session: SessionDep, conversation: OwnedConversation) -> None:
    conversation_service.delete_conversation(session, conversation)


@router.get(
    "/{conversation_id}/messages",
    summary="List a conversation's messages (oldest first by default)",
    responses={**NOT_FOUND, **BAD_PAGE},
    response_model=Page[MessagePublic],
)
def list_messages(
    session: SessionDep,
    conversation: OwnedConversation,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
    order: Annotated[MessageOrder, Query(description="asc: oldest first")] = MessageOrder.asc,
) -> PageRows[Message]:
    after = decode_cursor(cursor, MESSAGE_CURSOR)
    rows = conversation_service.list_messages_page(
        session, conversation, limit, after[0] if after else None, order
    )
    return build_page(rows, limit, lambda m: [m.id])


@router.post(
    "/{conversation_id}/messages",
    status_code=status.HTTP_201_CREATED,
    summary="Append a message as given (the agent does not run)",
    responses=NOT_FOUND,
    response_model=MessagePublic,
)
def append_message(
    session: SessionDep, conversation: OwnedConversation, body: MessageCreate
) -> Message:
    tool_calls = (
        None if body.tool_calls is None else [call.model_dump() for call in body.tool_calls]
    )
    return conversation_service.append_message(
        session, conversation, body.role, body.content, tool_calls
    )


EXPORT_RESPONSES = {
    **NOT_FOUND,
    200: {
        "model": ConversationExport,
        "description": "The whole conversation, as an attachment",
        "content": {"text/markdown": {"schema": {"type": "string"}}},
    },
}


@router.get(
    "/{conversation_id}/export",
    summary="Export a conversation with all its messages (JSON or Markdown)",
    description=(
        "The whole conversation, its messages oldest first with their tool calls, as a "
        "download (`Content-Disposition: attachment`). `json`: `{conversation, messages}` in "
        "the API's own shapes. `markdown`: a heading with the title and start date, one section "
        "per message, tool calls as a list; HTML-significant characters and link brackets in "
        "the text are escaped, so the document renders as written. The body is streamed."
    ),
    response_class=StreamingResponse,
    responses=EXPORT_RESPONSES,
)
def export_conversation(
    session: SessionDep,
    conversation: OwnedConversation,
    export_format: Annotated[
        ExportFormat, Query(alias="format", description="json (default) or markdown")
    ] = ExportFormat.json,
) -> StreamingResponse:
    engine = session.get_bind()
    assert isinstance(engine, Engine)  # a request's session is on the app's engine (db.py)
    body = conversation_export.stream_export(engine, conversation, export_format)
    name = conversation_export.filename(conversation, export_format)
    # The body reads its batches in short sessions of its own; this one would otherwise keep
    # its connection until a slow client has downloaded everything.
    session.close()
    return StreamingResponse(
        body,
        media_type=conversation_export.MEDIA_TYPES[export_format],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
