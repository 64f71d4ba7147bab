"""The pacer on a fake clock: calls in flight, retry-after, and the input-token bucket."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from paperboy.pacing import Pacer, retry_after

T0 = datetime(2025, 6, 3, 6, 0, tzinfo=UTC)


class Clock:
    """A monotonic clock and a wall clock that move only when the pacer sleeps."""

    def __init__(self) -> None:
        self.t = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds

    def wall(self) -> datetime:
        return T0 + timedelta(seconds=self.t - 100.0)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def pacer(clock: Clock, concurrency: int = 16) -> Pacer:
    return Pacer(concurrency, clock=clock, sleep=clock.sleep, wall=clock.wall)


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after": "3"}, 3.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"retry-after": "Tue, 03 Jun 2025 06:00:00 GMT"}, 0.0),  # a date in the past
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_reads_the_headers_the_client_reads(
    headers: dict[str, str], seconds: float | None
) -> None:
    assert retry_after(headers) == seconds


def test_an_overload_halves_the_calls_in_flight_once_per_wave_and_they_grow_back(
    clock: Clock,
) -> None:
    pace = pacer(clock)
    assert pace.overloaded(2.0) == 2.0
    assert pace.limit == 8
    pace.overloaded(2.0)  # the same wave: the calls already in flight answer 429 too
    assert pace.limit == 8
    assert pace.wait_turn(1) == pytest.approx(2.0)  # every call waits out the retry-after
    pace.overloaded(None)  # a new wave, no retry-after: a jittered backoff, the third in a row
    assert pace.limit == 4 and 1.5 <= pace.paused_until - clock() <= 2.0
    for _ in range(4 + 5):  # a round of 4 successes, then one of 5
        pace.succeeded()
    assert pace.limit == 6


def test_calls_wait_for_the_input_tokens_the_headers_say_are_left(clock: Clock) -> None:
    pace = pacer(clock)
    pace.observe(
        {
            "anthropic-ratelimit-input-tokens-limit": "60000",
            "anthropic-ratelimit-input-tokens-remaining": "6000",
            "anthropic-ratelimit-input-tokens-reset": (clock.wall() + timedelta(seconds=54))
            .isoformat()
            .replace("+00:00", "Z"),
        }
    )  # refills 1,000 tokens a second
    assert pace.wait_turn(5000) == 0
    assert pace.wait_turn(4000) == pytest.approx(3.0)  # 1,000 left, 3 s to refill the rest
    assert pace.wait_turn(100_000) == pytest.approx(60.0)  # larger than the bucket: when full
