"""Users appear just in time: the first authenticated request of a new `sub` creates its row,
and later ones keep its email and name in step with the token's claims."""

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from backend.app.auth.security import Identity
from backend.app.models import User, utcnow


def ensure_user(session: Session, identity: Identity) -> User:
    """Return the user row for this identity, creating it if this is its first request, and
    updating its email and name when the token carries different ones (no write otherwise)."""
    user = session.get(User, identity.user_id)
    if user is not None:
        return _sync_profile(session, user, identity)
    # INSERT ... ON CONFLICT DO NOTHING: two first requests racing both succeed, one row results.
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(User)
        .values(id=identity.user_id, email=identity.email, name=identity.name, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["id"])
    )
    session.commit()
    # The row exists now, inserted here or by the first request that won the race.
    return session.get_one(User, identity.user_id)


def _sync_profile(session: Session, user: User, identity: Identity) -> User:
    # A claim the token leaves out is no change: an auth server may send the email on some
    # tokens only. Requests where nothing changed (nearly all) cost no write.
    changes = {
        field: value
        for field, value in (("email", identity.email), ("name", identity.name))
        if value is not None and getattr(user, field) != value
    }
    if not changes:
        return user
    for field, value in changes.items():
        setattr(user, field, value)
    session.add(user)
    session.commit()
    session.refresh(user)  # loaded again: the caller may detach it from the session
    return user
