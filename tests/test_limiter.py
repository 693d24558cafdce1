"""The shared rate limiter, on a fake clock: pacing, the token bucket, 429 pauses and back-off."""

from __future__ import annotations

import asyncio

import pytest

from pipeline.limiter import BACKOFF_FACTOR, RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def limiter(rpm: float | None = None, tpm: float | None = None) -> tuple[RateLimiter, FakeClock]:
    clock = FakeClock()
    return RateLimiter(rpm, tpm, clock=clock, sleep=clock.sleep), clock


def test_requests_per_minute_are_paced_after_a_one_second_burst() -> None:
    rate, clock = limiter(rpm=120)  # 2 per second, a burst of 2

    async def go() -> list[float]:
        times = []
        for _ in range(6):
            await rate.acquire(10)
            times.append(clock.now)
        return times

    times = asyncio.run(go())
    assert times[:2] == [0.0, 0.0]
    assert times[2:] == pytest.approx([0.5, 1.0, 1.5, 2.0], abs=0.01)


def test_tokens_per_minute_count_prompt_and_output_budget() -> None:
    rate, clock = limiter(tpm=6000)  # 100 tokens per second, a bucket of 100

    async def go() -> None:
        for _ in range(4):
            await rate.acquire(100)

    asyncio.run(go())
    assert clock.now == pytest.approx(3.0, abs=0.01)


def test_a_spent_limit_pauses_everyone_and_other_429s_slow_the_shared_rate() -> None:
    rate, clock = limiter(rpm=600)
    rate.throttled(1, retry_after=4.0, limit_spent=True)
    asyncio.run(rate.acquire(1))
    assert clock.now == pytest.approx(4.0, abs=0.01) and rate.scale == 1.0
    rate.throttled(1, retry_after=0.2, limit_spent=False)
    assert rate.scale == pytest.approx(BACKOFF_FACTOR) and rate.throttles == 2
    for _ in range(20):
        rate.succeeded()
    assert rate.scale == 1.0


def test_without_limits_only_a_spent_limit_waits() -> None:
    rate, clock = limiter()
    asyncio.run(rate.acquire(10**9))
    assert clock.now == 0.0
    rate.throttled(1, retry_after=2.0, limit_spent=True)
    asyncio.run(rate.acquire(1))
    assert clock.now == pytest.approx(2.0, abs=0.01)
