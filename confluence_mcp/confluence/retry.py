"""When to retry a Confluence request, and how long to wait.

The rule:
- Reads (GET, HEAD, OPTIONS) are retried on 429, 502, 503, 504, connection failures (including a connection
  dropped mid-response) and timeouts.
- Writes (POST, PUT, DELETE, PATCH) are retried only when Confluence certainly did not act on them: a 429, or a
  503 that carries `Retry-After` (an explicit "come back later"), and connection failures where the request was
  never sent (connect errors, connect/pool timeouts). A 502/504 or a read timeout on a write may have been
  applied, so it is reported instead; page creation stays idempotent because the write tools re-check by title.
- Never on any other 4xx, nor on 500 (a bug on the server side does not heal by asking again).

Waits grow exponentially from `retry_min_seconds`, with a little jitter, and never exceed `retry_max_seconds`.
`Retry-After` (seconds or an HTTP date) raises the wait up to that cap; absurd values such as
`9223372036854775807` are capped and `0` falls back to the normal backoff, so neither a hang nor a hot loop.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

__all__ = [
    "READ_METHODS",
    "RETRY_STATUSES",
    "RetryPolicy",
    "RetryableStatus",
    "parse_retry_after",
    "should_retry",
]

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
RETRY_STATUSES = frozenset({429, 502, 503, 504})
# Failures where the request never left this process, so even a write is safe to repeat.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Failures after sending: harmless to repeat for a read, possibly applied for a write.
_BROKEN = (httpx.TimeoutException, httpx.ReadError, httpx.RemoteProtocolError)


class RetryableStatus(Exception):
    """Raised inside the retry loop for a response whose status may be retried."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        super().__init__(f"HTTP {response.status_code}")


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 2
    min_seconds: float = 10.0
    max_seconds: float = 60.0

    @property
    def attempts(self) -> int:
        return self.retries + 1

    def wait_seconds(self, attempt: int, retry_after: float | None = None) -> float:
        """Wait before retry number `attempt` (1-based): backoff with jitter, raised by Retry-After, capped."""
        backoff = self.min_seconds * (2 ** (attempt - 1)) * random.uniform(1.0, 1.25)
        wait = max(backoff, retry_after or 0.0)
        return max(0.0, min(wait, self.max_seconds))


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or HTTP date); None when absent or unusable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def should_retry(error: BaseException, method: str) -> bool:
    """The retry rule of this module's docstring."""
    is_read = method.upper() in READ_METHODS
    if isinstance(error, RetryableStatus):
        status = error.response.status_code
        if is_read:
            return status in RETRY_STATUSES
        return status == 429 or (status == 503 and "retry-after" in error.response.headers)
    if isinstance(error, _NOT_SENT):
        return True
    return is_read and isinstance(error, _BROKEN)
