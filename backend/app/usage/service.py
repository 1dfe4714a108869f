"""Usage rules: record a turn's tokens, read them per day, and what a user spent today.

A turn's counts are stored twice, in one transaction: on its assistant message (`usage`, shown
with the message) and added to the user's row of that UTC day in `usage_days`, which is what
/usage and the budget read (one row per day, however many turns).
"""

import logging
from collections.abc import Mapping
from datetime import UTC, date
from typing import Any

from pydantic import ValidationError
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from backend.app.models import Message, UsageDay
from backend.app.usage.schemas import TurnUsage, UsageDayPublic, UsageReport, UsageTotals

logger = logging.getLogger(__name__)

COUNTS = ("prompt_tokens", "completion_tokens", "total_tokens")


def record_turn_usage(
    session: Session, message: Message, usage: TurnUsage | Mapping[str, Any] | None
) -> None:
    """Attach a chat turn's token usage to its assistant message and add the turn to the user's
    UTC day. Call it once per completed turn (None when no model was called) with the message
    added but not yet committed: the caller's commit stores both, or neither."""
    counts = _parse(usage)
    message.usage = counts.model_dump_json() if counts is not None else None
    session.add(message)
    values = {
        "user_id": message.user_id,
        "day": message.created_at.astimezone(UTC).date(),
        "turns": 1,
        **{name: getattr(counts, name) if counts else 0 for name in COUNTS},
    }
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(UsageDay).values(**values)
    # One atomic statement: concurrent turns of the same user and day add up, none is lost.
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["user_id", "day"],
            set_={
                name: getattr(UsageDay, name) + getattr(statement.excluded, name)
                for name in ("turns", *COUNTS)
            },
        )
    )


def _parse(usage: TurnUsage | Mapping[str, Any] | None) -> TurnUsage | None:
    if usage is None or isinstance(usage, TurnUsage):
        return usage
    try:
        return TurnUsage.model_validate(usage)
    except ValidationError as exc:
        # A model server's odd counts must not cost the user the answer: count the turn alone.
        logger.warning("ignoring malformed token usage %r: %s", dict(usage), exc)
        return None


def tokens_used_on(session: Session, user_id: str, day: date) -> int:
    """The user's total tokens of one UTC day: one primary-key lookup."""
    used = session.exec(
        select(UsageDay.total_tokens).where(UsageDay.user_id == user_id, UsageDay.day == day)
    ).first()
    return used or 0


def usage_report(session: Session, user_id: str, first: date, last: date) -> UsageReport:
    """Turns and tokens of each day from `first` to `last` (inclusive) that had a turn, and
    their sums: one range scan of the primary key, at most one row per day."""
    rows = session.exec(
        select(UsageDay)
        .where(UsageDay.user_id == user_id, UsageDay.day >= first, UsageDay.day <= last)
        .order_by(col(UsageDay.day))
    ).all()
    days = [
        UsageDayPublic(
            date=row.day,
            turns=row.turns,
            **{name: getattr(row, name) for name in COUNTS},
        )
        for row in rows
    ]
    total = UsageTotals(
        turns=sum(day.turns for day in days),
        **{name: sum(getattr(day, name) for day in days) for name in COUNTS},
    )
    return UsageReport(days=days, total=total)
