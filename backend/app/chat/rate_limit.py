"""Per-user rate limit of the chat endpoint, over `limits` storage (memory or Redis).

With `redis://…` every process and host behind the load balancer spends from the same budget.
When the storage cannot be reached the request is served (fail open) and a warning is logged
once per outage: a broken Redis must not take the chat down with it.
"""

import logging
import math
import time
from typing import Annotated

from fastapi import Depends, Request
from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from backend.app.auth.dependencies import CurrentUser
from backend.app.config import Settings
from backend.app.errors import AppError

logger = logging.getLogger(__name__)

# A Redis that does not answer must cost a request milliseconds, not the OS connect time-out.
REDIS_TIMEOUTS = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}


class TooManyRequests(AppError):
    status_code = 429


class ChatRateLimiter:
    def __init__(self, settings: Settings) -> None:
        self.item: RateLimitItem | None = (
            None if settings.chat_rate_limit == "0" else parse(settings.chat_rate_limit)
        )
        url = settings.rate_limit_storage_url
        options = REDIS_TIMEOUTS if url.startswith(("redis", "rediss")) else {}
        self._limiter = MovingWindowRateLimiter(storage_from_string(url, **options))
        self._storage_down = False

    def check(self, user_id: str) -> None:
        """Spend one request of the user's budget; raise TooManyRequests when it is spent."""
        if self.item is None:
            return
        try:
            allowed = self._limiter.hit(self.item, "chat", user_id)
            if not allowed:
                reset_at = self._limiter.get_window_stats(self.item, "chat", user_id).reset_time
        except Exception as exc:  # the storage's own errors (redis.ConnectionError, time-outs)
            if not self._storage_down:
                logger.warning("rate-limit storage unreachable, serving without limits: %s", exc)
                self._storage_down = True
            return
        if self._storage_down:
            logger.warning("rate-limit storage reachable again")
            self._storage_down = False
        if not allowed:
            retry_after = max(1, math.ceil(reset_at - time.time()))
            raise TooManyRequests(
                f"Too many chat messages: the limit is {self.item}. "
                f"Try again in {retry_after} seconds.",
            ).with_headers({"Retry-After": str(retry_after)})


def enforce_chat_rate_limit(request: Request, user: CurrentUser) -> None:
    request.app.state.chat_rate_limiter.check(user.id)


ChatRateLimit = Annotated[None, Depends(enforce_chat_rate_limit)]
