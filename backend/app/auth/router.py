"""Development sign-in: mints HS256 tokens so the service can be tried without an auth server."""

from datetime import UTC, datetime, timedelta

import jwt
from fastapi import APIRouter
from pydantic import BaseModel, Field

from backend.app.deps import SettingsDep
from backend.app.openapi import BAD_BODY
from backend.app.text import EMAIL_MAX, NAME_MAX, NOT_BLANK_NO_NUL_PATTERN, USER_ID_MAX, NoNulStr

DEV_TOKEN_LIFETIME = timedelta(hours=24)

router = APIRouter(prefix="/api/auth", tags=["auth"])


class DevTokenRequest(BaseModel):
    user_id: NoNulStr = Field(
        min_length=1, max_length=USER_ID_MAX, pattern=NOT_BLANK_NO_NUL_PATTERN, examples=["alice"]
    )
    email: str | None = Field(default=None, max_length=EMAIL_MAX)
    name: str | None = Field(default=None, max_length=NAME_MAX)


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"


@router.post(
    "/dev-token",
    summary="Mint a development token (development only; 404 in production)",
    responses=BAD_BODY,
)
def create_dev_token(body: DevTokenRequest, settings: SettingsDep) -> TokenResponse:
    now = datetime.now(UTC)
    claims: dict[str, object] = {"sub": body.user_id, "iat": now, "exp": now + DEV_TOKEN_LIFETIME}
    if body.email:
        claims["email"] = body.email
    if body.name:
        claims["name"] = body.name
    # Match the verifier's configuration so the token is accepted by this very server.
    if settings.auth_issuer:
        claims["iss"] = settings.auth_issuer
    if settings.auth_audience:
        claims["aud"] = settings.auth_audience
    secret = settings.jwt_secret
    assert secret is not None  # create_app mounts this router only when a secret is in force
    token = jwt.encode(claims, secret, algorithm="HS256")
    return TokenResponse(access_token=token)
