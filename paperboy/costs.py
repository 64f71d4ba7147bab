"""What Claude costs: a per-model price table and the arithmetic from token usage to dollars.

Prices are list prices in dollars per million tokens (MTok), from the model pages of
platform.claude.com. A 5-minute cache write costs 1.25x the input price, a 1-hour cache write 2x
and a cache read 0.1x; the table spells each out so that a model whose multipliers differ can say
so. Haiku 5.5 bills a request whose prompt (input + cache writes + cache reads) passes 100,000
tokens at 5x on every token of it; the judge splits a batch rather than pass it, and the
arithmetic follows the rule. The Message Batches API bills every token at half these prices.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

log = logging.getLogger(__name__)

CACHE_WRITE_MULTIPLIER = 1.25
"""A 5-minute cache write, as a multiple of the input price."""

CACHE_WRITE_1H_MULTIPLIER = 2.0
"""A 1-hour cache write, as a multiple of the input price."""

CACHE_READ_MULTIPLIER = 0.1
"""A cache read, as a multiple of the input price."""

BATCH_DISCOUNT = 0.5
"""What the Message Batches API bills, as a share of the list price (every kind of token)."""

MTOK = 1_000_000

DEFAULT_MODEL = "claude-haiku-5-5"


@dataclass(frozen=True)
class Price:
    """A model's list prices in dollars per million tokens, and its prompt-caching minimum."""

    input: float
    output: float
    cache_write: float
    cache_read: float
    min_cache_tokens: int
    """The shortest prefix (in tokens) that prompt caching stores; below it, nothing is cached."""
    long_prompt_tokens: int | None = None
    """Above this many prompt tokens, every token of the request is billed at `long_multiplier`."""
    long_multiplier: float = 1.0
    cache_write_1h: float = 0.0
    """A 1-hour cache write (0: twice the input price, as documented)."""

    def __post_init__(self) -> None:
        if not self.cache_write_1h:
            object.__setattr__(self, "cache_write_1h", self.input * CACHE_WRITE_1H_MULTIPLIER)


def _price(
    input_: float,
    output: float,
    min_cache_tokens: int,
    long_prompt_tokens: int | None = None,
    long_multiplier: float = 1.0,
) -> Price:
    """Prices with the cache at the documented multipliers of the input price."""
    return Price(
        input_,
        output,
        input_ * CACHE_WRITE_MULTIPLIER,
        input_ * CACHE_READ_MULTIPLIER,
        min_cache_tokens,
        long_prompt_tokens,
        long_multiplier,
    )


PRICES: dict[str, Price] = {
    # Haiku 5.5: $0.10 in, $0.50 out, $0.125 5-minute cache write, $0.01 cache read (up to 100k
    # prompt tokens; 5x above). Its page does not restate the caching minimum; we use 4,096
    # tokens, the documented minimum of the Haiku before it and the top of the documented range,
    # so a prefix sized for it caches whatever the exact figure is.
    "claude-haiku-5-5": _price(0.10, 0.50, 4096, long_prompt_tokens=100_000, long_multiplier=5.0),
    # Sonnet 5.5: cache reads cut to $0.10 (0.05x) in October 2026.
    "claude-sonnet-5-5": Price(2.00, 10.00, 2.50, 0.10, 1024),
    "claude-haiku-4-5": _price(1.00, 5.00, 4096),
    "claude-haiku-4-5-20251001": _price(1.00, 5.00, 4096),
    "claude-sonnet-4-5": _price(3.00, 15.00, 1024),
    "claude-sonnet-4-5-20250929": _price(3.00, 15.00, 1024),
}


@dataclass(frozen=True)
class Usage:
    """Tokens of one call (or a sum of calls), as the Messages API reports them."""

    input: int = 0
    output: int = 0
    cache_write: int = 0
    """Tokens written to the 5-minute cache."""
    cache_read: int = 0
    cache_write_1h: int = 0
    """Tokens written to the 1-hour cache."""

    @property
    def prompt(self) -> int:
        return self.input + self.cache_write + self.cache_read + self.cache_write_1h

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input + other.input,
            self.output + other.output,
            self.cache_write + other.cache_write,
            self.cache_read + other.cache_read,
            self.cache_write_1h + other.cache_write_1h,
        )


def price_for(
    model: str, input_override: float | None = None, output_override: float | None = None
) -> Price:
    """The model's prices, with LLM_PRICE_IN_PER_MTOK / LLM_PRICE_OUT_PER_MTOK applied.

    An overridden input price moves the cache prices with it, at the documented multipliers.
    An unknown model is priced as the default model, with a warning saying how to fix that.
    """
    price = PRICES.get(model)
    if price is None:
        if input_override is None or output_override is None:
            log.warning(
                "no price known for model %s: costing it as %s; set "
                "LLM_PRICE_IN_PER_MTOK and LLM_PRICE_OUT_PER_MTOK",
                model,
                DEFAULT_MODEL,
            )
        price = PRICES[DEFAULT_MODEL]
    if input_override is not None:
        price = replace(
            price,
            input=input_override,
            cache_write=input_override * CACHE_WRITE_MULTIPLIER,
            cache_read=input_override * CACHE_READ_MULTIPLIER,
            cache_write_1h=input_override * CACHE_WRITE_1H_MULTIPLIER,
        )
    if output_override is not None:
        price = replace(price, output=output_override)
    return price


def dollars(usage: Usage, price: Price, *, batch: bool = False) -> float:
    """What one call's usage costs in dollars (`batch`: a request of a Message Batch)."""
    total = (
        usage.input * price.input
        + usage.output * price.output
        + usage.cache_write * price.cache_write
        + usage.cache_read * price.cache_read
        + usage.cache_write_1h * price.cache_write_1h
    ) / MTOK
    if price.long_prompt_tokens is not None and usage.prompt > price.long_prompt_tokens:
        total *= price.long_multiplier
    return total * (BATCH_DISCOUNT if batch else 1.0)


def worst_case(
    prompt_tokens: int, max_tokens: int, price: Price, *, ttl: str = "5m", batch: bool = False
) -> float:
    """The most a call can cost: every prompt token written to the cache (the dearest way to
    be billed for it) and the whole output allowance."""
    usage = (
        Usage(cache_write_1h=prompt_tokens, output=max_tokens)
        if ttl == "1h"
        else Usage(cache_write=prompt_tokens, output=max_tokens)
    )
    return dollars(usage, price, batch=batch)
