"""Users appear just in time: the first authenticated request of a new `sub` creates its row."""

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from backend.app.auth.security import Identity
from backend.app.models import User, utcnow


def ensure_user(session: Session, identity: Identity) -> User:
    """Return the user row for this identity, creating it if this is its first request."""
    user = session.get(User, identity.user_id)
    if user is not None:
        return user
    # INSERT ... ON CONFLICT DO NOTHING: two first requests racing both succeed, one row results.
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(User)
        .values(
            id=identity.user_id, email=identity.email, name=identity.name, created_at=utcnow()
        )
        .on_conflict_do_nothing(index_elements=["id"])
    )
    session.commit()
    return session.get(User, identity.user_id)
