"""OwnedConversation: the only place a conversation id becomes a row (404 if missing or foreign)."""

from typing import Annotated

from fastapi import Depends

from backend.app.auth.dependencies import CurrentUser
from backend.app.conversations import service as conversation_service
from backend.app.deps import SessionDep
from backend.app.ids import ConversationIdPath
from backend.app.models import Conversation


def get_owned_conversation(
    session: SessionDep, user: CurrentUser, conversation_id: ConversationIdPath
) -> Conversation:
    return conversation_service.get_conversation(session, user.id, conversation_id)


OwnedConversation = Annotated[Conversation, Depends(get_owned_conversation)]
