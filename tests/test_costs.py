"""The price table and the arithmetic from token usage to dollars."""

from __future__ import annotations

import logging

import pytest

from paperboy.costs import (
    CACHE_READ_MULTIPLIER,
    CACHE_WRITE_MULTIPLIER,
    PRICES,
    Usage,
    dollars,
    price_for,
)


def test_haiku_5_5_list_prices() -> None:
    price = PRICES["claude-haiku-5-5"]
    assert (price.input, price.output) == (0.10, 0.50)
    assert price.cache_write == pytest.approx(0.125)
    assert price.cache_read == pytest.approx(0.01)
    assert 1024 <= price.min_cache_tokens <= 4096


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        (Usage(input=100_000), 0.01),
        (Usage(output=1_000_000), 0.50),
        (Usage(cache_write=100_000), 0.0125),
        (Usage(cache_read=100_000), 0.001),
        (
            Usage(input=10_000, output=2_000, cache_write=5_000, cache_read=5_000),
            (10_000 * 0.10 + 2_000 * 0.50 + 5_000 * 0.125 + 5_000 * 0.01) / 1e6,
        ),
        # a prompt over 100k tokens is billed at 5x on every token, output included
        (Usage(input=100_001, output=1_000), (100_001 * 0.10 + 1_000 * 0.50) * 5 / 1e6),
    ],
)
def test_dollars(usage: Usage, expected: float) -> None:
    assert dollars(usage, PRICES["claude-haiku-5-5"]) == pytest.approx(expected)


def test_overrides_move_cache_prices_at_the_documented_multipliers() -> None:
    price = price_for("claude-haiku-5-5", 0.2, 1.0)
    assert (price.input, price.output) == (0.2, 1.0)
    assert price.cache_write == pytest.approx(0.2 * CACHE_WRITE_MULTIPLIER)
    assert price.cache_read == pytest.approx(0.2 * CACHE_READ_MULTIPLIER)


def test_unknown_model_is_priced_as_the_default_and_says_how_to_fix_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        price = price_for("claude-unknown-9")
    assert price == PRICES["claude-haiku-5-5"]
    assert "LLM_PRICE_IN_PER_MTOK" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert price_for("claude-unknown-9", 1.0, 2.0).output == 2.0
    assert not caplog.text


def test_usage_adds_up() -> None:
    total = Usage(1, 2, 3, 4) + Usage(10, 20, 30, 40)
    assert total == Usage(11, 22, 33, 44)
    assert total.prompt == 11 + 33 + 44
