"""How fast the judge calls Claude: how many calls are in flight, and when the next may go.

The API limits input tokens per minute (cache reads excluded) and says where a client stands in
`anthropic-ratelimit-input-tokens-*` headers on every answer; when a request does not fit, or
the API is overloaded, it answers 429 or 529 with `retry-after`. The pacer follows all three:
a call waits until the tokens it needs have refilled (at the rate the headers imply), every call
waits out a `retry-after` (not only the one that got it), and each 429 or 529 halves the calls
allowed in flight, which then grow back by one per round of calls that succeed.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime

from paperboy.models import utc_now

log = logging.getLogger(__name__)

MAX_CONCURRENCY = 10
"""Calls in flight at once when nothing pushes back: with batches of 40 papers, a day of 834 (21
calls) takes the first call and two rounds of the rest; a process that dies loses at most this
many calls, which the API may have billed."""

BACKOFF_SECONDS = 0.5
"""The first wait after an overload that names no `retry-after`, doubled each time, jittered."""

MAX_WAIT_SECONDS = 60.0
"""The longest single wait the pacer takes, in seconds."""


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds a response asks to wait: `retry-after-ms`, else `retry-after` (seconds or an
    HTTP date), as the client reads them; None when it names none."""
    try:
        return max(0.0, float(headers["retry-after-ms"]) / 1000)
    except (KeyError, ValueError):
        pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None  # a value nobody can read names no wait
    return max(0.0, (parsed - utc_now()).total_seconds())


class Pacer:
    """Calls in flight and waits between calls, shared by a judge's threads."""

    def __init__(
        self,
        concurrency: int = MAX_CONCURRENCY,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        wall: Callable[[], datetime] = utc_now,
    ) -> None:
        self.max = max(1, concurrency)
        self.limit = self.max
        self.clock, self.sleep, self.wall = clock, sleep, wall
        self.lock = threading.Lock()
        self.paused_until = 0.0
        self.overloads = 0  # in a row
        self.successes = 0
        self.calm_after = 0.0
        # the input-token bucket, as the last answer described it
        self.tokens_limit: int | None = None
        self.tokens_left = 0.0
        self.refill = 0.0  # tokens a second
        self.seen_at = 0.0

    # what the API said ---------------------------------------------------------------------

    def observe(self, headers: Mapping[str, str]) -> None:
        """Take in an answer's input-token rate-limit headers."""
        try:
            limit = int(headers["anthropic-ratelimit-input-tokens-limit"])
            left = int(headers["anthropic-ratelimit-input-tokens-remaining"])
            reset = datetime.fromisoformat(
                headers["anthropic-ratelimit-input-tokens-reset"].replace("Z", "+00:00")
            )
        except (KeyError, ValueError):
            return
        until_full = (reset - self.wall()).total_seconds()
        with self.lock:
            self.tokens_limit, self.tokens_left, self.seen_at = limit, float(left), self.clock()
            if left < limit and until_full > 0:
                self.refill = (limit - left) / until_full
            elif not self.refill:
                self.refill = limit / 60  # the API's limits are per minute

    def overloaded(self, wait: float | None) -> float:
        """A 429 or 529: halve the calls in flight (once per wave of them) and pause every call
        for `wait` seconds, or a jittered backoff when the answer named none. Returns the pause."""
        with self.lock:
            now = self.clock()
            self.overloads += 1
            self.successes = 0
            if wait is None:
                wait = BACKOFF_SECONDS * 2 ** min(self.overloads - 1, 6) * random.uniform(0.75, 1)
            wait = min(wait, MAX_WAIT_SECONDS)
            if now >= self.calm_after:
                self.limit = max(1, self.limit // 2)
                self.calm_after = now + max(wait, 0.05)
                log.info("Claude pushed back: %d calls in flight at most, for now", self.limit)
            self.paused_until = max(self.paused_until, now + wait)
            return wait

    def succeeded(self) -> None:
        """A call answered: after a round of successes, one more call may be in flight."""
        with self.lock:
            self.overloads = 0
            self.successes += 1
            if self.successes >= self.limit and self.limit < self.max:
                self.limit += 1
                self.successes = 0

    # waiting ------------------------------------------------------------------------------

    def _wait(self, tokens: int) -> float:
        now = self.clock()
        wait = self.paused_until - now
        if self.tokens_limit is not None and self.refill > 0:
            have = min(self.tokens_limit, self.tokens_left + (now - self.seen_at) * self.refill)
            if tokens > have and have < self.tokens_limit:
                wait = max(wait, (min(tokens, self.tokens_limit) - have) / self.refill)
        return wait

    def wait_turn(self, tokens: int) -> float:
        """Wait until a call of `tokens` uncached input tokens may go, and take them from the
        bucket; returns the seconds waited."""
        waited = 0.0
        while True:
            with self.lock:
                wait = self._wait(tokens)
                if wait <= 0:
                    if self.tokens_limit is not None:
                        now = self.clock()
                        have = self.tokens_left + (now - self.seen_at) * self.refill
                        self.tokens_left = min(self.tokens_limit, have) - tokens
                        self.seen_at = now
                    return waited
            wait = min(wait, MAX_WAIT_SECONDS)
            self.sleep(wait)
            waited += wait
