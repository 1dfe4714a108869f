"""Who is calling: the bearer token's identity, checked against the `{user_id}` of the path."""

from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials

from backend.app.auth import service as auth_service
from backend.app.auth.bearer import bearer_scheme
from backend.app.auth.security import Identity, TokenVerifier
from backend.app.deps import SessionDep
from backend.app.errors import Forbidden
from backend.app.models import User


async def get_identity(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials, Depends(bearer_scheme)],
) -> Identity:
    """Verify the bearer token. A token that may need the JWKS downloaded is verified in a
    worker thread (PyJWKClient blocks); an HS256 one is CPU work alone and is verified here,
    on the event loop, sparing a thread hand-off on every request."""
    verifier: TokenVerifier = request.app.state.token_verifier
    token = credentials.credentials
    if verifier.may_fetch_keys(token):
        return await run_in_threadpool(verifier.verify, token)
    return verifier.verify(token)


IdentityDep = Annotated[Identity, Depends(get_identity)]


def get_current_user(
    session: SessionDep,
    identity: IdentityDep,
    user_id: Annotated[str, Path(description="The caller's own user id (the token's `sub`).")],
) -> User:
    """The caller, who must be the user named in the path (403 otherwise)."""
    if user_id != identity.user_id:
        raise Forbidden("This token belongs to another user.")
    user = auth_service.ensure_user(session, identity)
    # End the read here: the request may next wait for a worker thread or a model, and an open
    # transaction would pin a pool connection all that time (with many turns waiting, every
    # thread then waits for a connection held by a request that waits for a thread). The row,
    # detached first, keeps its loaded fields.
    session.expunge(user)
    session.rollback()
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]
