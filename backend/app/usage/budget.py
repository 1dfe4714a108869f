"""CHAT_TOKEN_BUDGET_DAILY: a user whose tokens of the current UTC day have reached the budget
is refused a new chat turn (429, Retry-After: the seconds to the next UTC midnight) before the
turn starts, so nothing is stored.

The check reads the user's `usage_days` row of today (one primary-key lookup): every process
behind the load balancer sees the same spending, and a turn finished on another process counts
at once. Turns already running when the budget is reached finish (their tokens still count).
"""

import math
from datetime import datetime, time, timedelta
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from backend.app.auth.dependencies import CurrentUser
from backend.app.deps import SessionDep
from backend.app.errors import AppError
from backend.app.models import utcnow
from backend.app.usage import service as usage_service


class TokenBudgetSpent(AppError):
    status_code = 429


def seconds_to_next_utc_midnight(now: datetime) -> int:
    """Whole seconds (at least 1) from `now` (aware, UTC) to the start of the next UTC day."""
    midnight = datetime.combine(now.date() + timedelta(days=1), time(), tzinfo=now.tzinfo)
    return max(1, math.ceil((midnight - now).total_seconds()))


async def enforce_chat_token_budget(
    request: Request, session: SessionDep, user: CurrentUser
) -> None:
    """Refuse the turn (429) when the user's tokens of today have reached the daily budget."""
    budget = request.app.state.settings.chat_token_budget_daily
    if budget == 0:  # no budget: no query, no thread hand-off
        return
    now = utcnow()
    used = await run_in_threadpool(usage_service.tokens_used_on, session, user.id, now.date())
    if used >= budget:
        retry_after = seconds_to_next_utc_midnight(now)
        raise TokenBudgetSpent(
            f"Today's token budget is spent ({used:,} of {budget:,} tokens). "
            f"It renews at midnight UTC, in {retry_after} seconds.",
        ).with_headers({"Retry-After": str(retry_after)})


ChatTokenBudget = Annotated[None, Depends(enforce_chat_token_budget)]
