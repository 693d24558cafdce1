"""The rate limiter: requests and tokens per minute, shared by every request of a run.

Input: the limits (``--rpm``, ``--tpm``; None = unlimited) and, per request, its token cost: prompt tokens
plus the output budget, as OpenAI counts them against TPM (the cookbook's parallel processor does the
same). Output: ``acquire`` returns when the request may go. Two token buckets refill continuously; they
hold at most ``BURST_SECONDS`` of capacity, so a run starts gently and never bursts a minute's worth.
On a 429 (``throttled``): when the server says the limit is spent (``x-ratelimit-remaining-*: 0``)
every request waits until it resets; otherwise (the server turned one request away: overload) its
capacity is given back and the shared rate drops by ``BACKOFF_FACTOR``, recovering by ``RECOVERY_STEP``
per success, so a 429 slows the whole run rather than one task retrying into a storm.
Failure modes: none; a request bigger than the token bucket is let through alone when the bucket is full.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

BURST_SECONDS = 1.0
BACKOFF_FACTOR = 0.95
RECOVERY_STEP = 0.02
MIN_SCALE = 0.25


class RateLimiter:
    def __init__(
        self,
        rpm: float | None = None,
        tpm: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.rpm = rpm
        self.tpm = tpm
        self._clock = clock
        self._sleep = sleep
        self._requests = self._request_capacity
        self._tokens = self._token_capacity
        self._updated = clock()
        self._paused_until = 0.0
        self.scale = 1.0  # share of the configured rate currently used (lowered by 429s)
        self._lock = asyncio.Lock()
        self.throttles = 0

    @property
    def _request_capacity(self) -> float:
        return max(1.0, self.rpm / 60 * BURST_SECONDS) if self.rpm else float("inf")

    @property
    def _token_capacity(self) -> float:
        return self.tpm / 60 * BURST_SECONDS if self.tpm else float("inf")

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._updated)
        self._updated = now
        if self.rpm:
            self._requests = min(self._request_capacity, self._requests + elapsed * self.rpm / 60 * self.scale)
        if self.tpm:
            self._tokens = min(self._token_capacity, self._tokens + elapsed * self.tpm / 60 * self.scale)

    async def acquire(self, tokens: int) -> None:
        """Wait until one request of ``tokens`` fits both buckets, then take it. FIFO: one waiter at a time."""
        async with self._lock:
            while True:
                self._refill()
                wait = self._paused_until - self._clock()
                if wait <= 0 and not self.rpm and not self.tpm:
                    return
                if wait <= 0:
                    cost = min(float(tokens), self._token_capacity)
                    if self._requests >= 1 and self._tokens >= cost:
                        self._requests -= 1
                        self._tokens -= cost
                        return
                    wait = max(
                        (1 - self._requests) / (self.rpm / 60 * self.scale) if self.rpm else 0.0,
                        (cost - self._tokens) / (self.tpm / 60 * self.scale) if self.tpm else 0.0,
                    )
                await self._sleep(max(wait, 0.001))

    def throttled(self, tokens: int, retry_after: float | None, limit_spent: bool) -> None:
        """A 429 arrived: pause everyone until the reset if the limit is spent; else the server turned the
        request away without counting it, so its capacity is given back, and the shared rate slows."""
        self.throttles += 1
        if limit_spent and retry_after:
            self._paused_until = max(self._paused_until, self._clock() + retry_after)
            return
        self.scale = max(MIN_SCALE, self.scale * BACKOFF_FACTOR)
        if self.rpm:
            self._requests = min(self._request_capacity, self._requests + 1)
        if self.tpm:
            self._tokens = min(self._token_capacity, self._tokens + tokens)

    def succeeded(self) -> None:
        self.scale = min(1.0, self.scale + RECOVERY_STEP)
