"""Path ids are bounded by the INTEGER columns they look up: larger numbers are a 422, not a 500."""

from typing import Annotated

from fastapi import Path

MAX_ID = 2**31 - 1

TaskIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="The task's id.")]
ConversationIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="The conversation's id.")]
