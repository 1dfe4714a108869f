"""Account rules: delete a user and everything of theirs."""

from sqlalchemy import delete
from sqlmodel import Session, col

from backend.app.models import Conversation, IdempotencyKey, Message, Task, UsageDay, User

# Children before parents. Each is one set-based DELETE by the owner's index: the schema's
# ON DELETE CASCADE would reach the same rows from the user, but row by row (PostgreSQL fires
# its foreign-key trigger per deleted conversation, SQLite walks the children of each parent
# row); the cascades stay as the safety net for any table added later.
OWNED_TABLES = (Message, IdempotencyKey, Conversation, Task, UsageDay)


def delete_account(session: Session, user_id: str) -> None:
    """Delete the user and every row of theirs, in one transaction."""
    for table in OWNED_TABLES:
        session.execute(delete(table).where(col(table.user_id) == user_id))
    session.execute(delete(User).where(col(User.id) == user_id))
    session.commit()
