"""Annotated dependency aliases shared by every router."""

from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from backend.app.config import Settings
from backend.app.db import get_session


def get_settings(request: Request) -> Settings:
    # create_app stores them there; Starlette's `State` types its attributes as Any.
    settings: Settings = request.app.state.settings
    return settings


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
