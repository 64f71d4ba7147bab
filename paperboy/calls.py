"""One call to Claude about a batch of papers: the request with its counted tokens, output
allowance and worst case; sending it within the pacer's limits; reading the reply; settling its
reservation in the day's budget and ledger.

Tokens are counted by the API's own counter (`messages.count_tokens`, free), on the exact
request. The counter is documented as an estimate, so COUNT_MARGIN is added; when it cannot
count, the request's bytes stand in (a token is at least a byte), which reserves more. The
output allowance (`max_tokens`) is sized per batch in characters and converted at the density
the counter found, so a tokenizer that cuts text finer gets a larger allowance and a larger
reservation.

Retries of the scoring call live here, in one layer (the client's own are off for it): a 429 or
529 must slow every thread of the judge, not only the one that got it. After a 429 a call is
tried again while the rate limit's waits stay under RATE_LIMIT_PATIENCE; after a 529, another
5xx, a timeout or a lost connection, as many times as the client's `max_retries` says; another
4xx is not retried. The token counter and the batch endpoints keep the client's own retries.

What a call costs when its reply cannot say: a timed-out call, or a reply from the API that is
not a message or has no usage, may have been billed, and is charged its likely cost (the input
as counted, half the output allowance); an answer that is not JSON did not come from the API (a
proxy, a captive portal) and is charged nothing.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Final, Literal, cast

import anthropic
from anthropic.types import MessageParam, OutputConfigParam, TextBlockParam

from paperboy.budget import Budget, Call, Hold, Keeper
from paperboy.costs import Price, Usage, dollars, worst_case
from paperboy.judgment import (
    Judgments,
    PaperJudgment,
    ReplyError,
    parse_reply,
    read_count,
    read_message,
)
from paperboy.models import Paper, utc_now
from paperboy.pacing import Pacer, retry_after
from paperboy.prompt import papers_message

log = logging.getLogger(__name__)

COUNT_MARGIN = 0.02
"""Added to the counter's figure (2%): it is documented as an estimate of what a call bills."""

FRAMING_TOKENS = 64
"""Added to a request's bytes when the counter is unavailable: the API's own framing."""

OUTPUT_CHARS_PER_PAPER = 480
"""Room in the output allowance for one paper's judgment, in characters: one with a reason uses
about 230, one without (relevance below RELEVANCE_THRESHOLD) about 100."""

OUTPUT_CHARS_SPARE = 2048
"""Room beyond the judgments, in characters: low-effort thinking, which is billed as output."""

LIKELY_OUTPUT_SHARE = 0.5
"""The share of the output allowance a call is charged when it never reports its usage: what a
batch of judgments that all carry a reason takes, so the charge errs high, never low."""

EFFORT: Final[Literal["low"]] = "low"
"""Thinking effort for scoring: thinking is billed as output and a rubric needs little of it."""

RATE_LIMIT_PATIENCE = 600.0
"""How long one call may wait out 429s in all, in seconds, before its papers keep their local
score: a busy tier's minute refills well within it."""

FAILED = "Claude could not be reached for this paper; local score"
UNREADABLE = "Claude's reply could not be read; local score"
OVER_BUDGET = "over the day's Claude budget; local score"


class TooLong(Exception):
    """A batch whose prompt would pass the model's long-prompt threshold (billed several times
    over): split it."""


@dataclass(frozen=True)
class Request:
    """A scoring request ready to send, and what it may cost."""

    papers: list[Paper]
    params: dict[str, Any]
    tokens: int  # prompt tokens, counted, with the margin
    prefix: int  # of them, the cached system prefix
    worst: float
    likely_cold: float  # writing the prefix to the cache
    likely_warm: float  # reading it

    @property
    def ids(self) -> list[str]:
        return [p.id for p in self.papers]

    def likely(self, warm: bool) -> float:
        return self.likely_warm if warm else self.likely_cold

    def uncached(self, warm: bool) -> int:
        """Tokens the call counts against the input rate limit (cache reads do not)."""
        return self.tokens - self.prefix if warm else self.tokens


@dataclass
class Prepared:
    """A batch of papers and its request, or why it could not be prepared."""

    papers: list[Paper]
    request: Request | None = None
    error: Exception | None = None


@dataclass
class Outcome:
    """What one call brought back: judgments, and the papers it did not judge and why."""

    judged: dict[str, PaperJudgment] = field(default_factory=dict)
    retry: list[str] = field(default_factory=list)  # skipped or garbled: worth asking again
    lost: dict[str, str] = field(default_factory=dict)  # paper -> why it keeps its local score


class Caller:
    """Makes the judge's calls: counts, sends, reads and settles them."""

    def __init__(
        self,
        client: anthropic.Anthropic,
        budget: Budget,
        pacer: Pacer,
        keeper: Keeper,
        *,
        model: str,
        price: Price,
        system: list[dict[str, Any]],
        limit: float,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self.client = client
        self.retries = client.max_retries
        self.raw = client.with_options(max_retries=0)  # the retries are ours (see above)
        self.budget, self.pacer, self.keeper = budget, pacer, keeper
        self.model, self.price, self.system, self.limit, self.now = model, price, system, limit, now
        self.output: OutputConfigParam = {
            "effort": EFFORT,
            "format": {"type": "json_schema", "schema": anthropic.transform_schema(Judgments)},
        }
        self.prefix = 0
        self.uncounted = threading.Event()  # the counter failed once: warned

    # preparing ------------------------------------------------------------------------------

    def count(self, system: list[dict[str, Any]], message: str) -> int:
        """A request's prompt tokens, as the API's counter says; when it cannot say (a gateway
        that does not serve it, a proxy's page), one token per byte: an upper bound, since a
        token is at least a byte."""
        try:
            counted = self.client.messages.count_tokens(
                model=self.model,
                system=cast(list[TextBlockParam], system),
                messages=[{"role": "user", "content": message}],
                output_config=self.output,
            )
            return read_count(counted)
        except (anthropic.APIError, ReplyError) as exc:
            if not self.uncounted.is_set():
                self.uncounted.set()
                log.warning(
                    "the token counter is unavailable (%s): reserving one token per byte of "
                    "each request, an upper bound",
                    _why(exc),
                )
            texts = [block["text"] for block in system] + [message, json.dumps(self.output)]
            return sum(len(text.encode()) for text in texts) + FRAMING_TOKENS

    def count_prefix(self) -> int:
        """The system prefix's tokens, counted once."""
        self.prefix = max(0, self.count(self.system, ".") - 1)
        return self.prefix

    def prepare(self, papers: list[Paper], *, ttl: str = "5m", batch: bool = False) -> Request:
        """A request about `papers`, counted and priced; TooLong when it should be split."""
        system = self.system
        if ttl != "5m":
            system = [
                *system[:-1],
                {**system[-1], "cache_control": {"type": "ephemeral", "ttl": ttl}},
            ]
        message = papers_message(papers)
        counted = self.count(system, message)
        chars = sum(len(block["text"]) for block in system) + len(message)
        density = counted / max(1, chars)
        max_tokens = math.ceil(
            (OUTPUT_CHARS_PER_PAPER * len(papers) + OUTPUT_CHARS_SPARE) * density
        )
        tokens = math.ceil(counted * (1 + COUNT_MARGIN))
        long = self.price.long_prompt_tokens
        if long is not None and tokens > long and len(papers) > 1:
            raise TooLong(f"{len(papers)} papers make a prompt of {tokens:,} tokens")
        prefix = min(self.prefix, tokens)
        likely_out = math.ceil(max_tokens * LIKELY_OUTPUT_SHARE)
        write = {"cache_write_1h" if ttl == "1h" else "cache_write": prefix}
        cold = Usage(input=tokens - prefix, output=likely_out, **write)
        warm = Usage(input=tokens - prefix, output=likely_out, cache_read=prefix)
        params = {
            "model": self.model,
            "max_tokens": max_tokens,
            "system": system,
            "messages": [{"role": "user", "content": message}],
            "output_config": self.output,
        }
        return Request(
            papers=papers,
            params=params,
            tokens=tokens,
            prefix=prefix,
            worst=worst_case(tokens, max_tokens, self.price, ttl=ttl, batch=batch),
            likely_cold=dollars(cold, self.price, batch=batch),
            likely_warm=dollars(warm, self.price, batch=batch),
        )

    def prepare_all(
        self, batches: list[list[Paper]], pool: ThreadPoolExecutor, **options: Any
    ) -> list[Prepared]:
        """Prepare many requests at once (their tokens counted concurrently)."""

        def one(papers: list[Paper]) -> Prepared:
            try:
                return Prepared(papers, self.prepare(papers, **options))
            except TooLong as exc:
                return Prepared(papers, error=exc)

        return list(pool.map(one, batches))

    # asking ----------------------------------------------------------------------------------

    def ask(self, day: date, request: Request, hold: Hold, *, warm: bool) -> Outcome:
        """Send one request and settle its hold; never raises (a failure keeps local scores)."""
        holding = [hold]
        self.keeper.add(hold)
        try:
            return self._ask(day, request, holding, warm)
        except Exception:  # a fault of this batch must not end the day: it is logged, and kept
            log.exception("day %s: the call for papers %s… failed", day, request.ids[0])
            self.budget.settle(holding[0], holding[0].likely)
            return Outcome(lost=dict.fromkeys(request.ids, FAILED))
        finally:
            self.keeper.remove(holding[0])

    def _ask(self, day: date, request: Request, holding: list[Hold], warm: bool) -> Outcome:
        ids = request.ids
        tries, limited = 0, 0.0
        while True:
            hold = holding[0]
            self.pacer.wait_turn(request.uncached(warm))
            started = self.now()
            try:
                raw = self.raw.messages.with_raw_response.create(
                    model=request.params["model"],
                    max_tokens=request.params["max_tokens"],
                    system=cast(list[TextBlockParam], request.params["system"]),
                    messages=cast(list[MessageParam], request.params["messages"]),
                    output_config=self.output,
                )
            except anthropic.APIStatusError as exc:
                status, headers = exc.status_code, exc.response.headers
                self.pacer.observe(headers)
                if status == 429 or status >= 500 or status in (408, 409):
                    wait = self.pacer.overloaded(retry_after(headers))
                    if status == 429 and limited + wait <= RATE_LIMIT_PATIENCE:
                        limited += wait
                        continue
                    if status != 429 and tries < self.retries:
                        tries += 1
                        continue
                self.budget.settle(hold, 0.0)  # an error answer is not billed
                retried = "" if status == 400 else " after retries"
                log.error(
                    "day %s: Claude answered %s%s for papers %s…: %s",
                    *(day, status, retried, ids[0], _why(exc)),
                )
                return Outcome(lost=dict.fromkeys(ids, FAILED))
            except anthropic.APITimeoutError:
                # The API may have answered, and billed, a call nobody waited for.
                self._record(hold, hold.likely, started, request, {}, "no answer in time")
                self.keeper.remove(hold)
                if tries >= self.retries:
                    log.error("day %s: no answer in time for papers %s…", day, ids[0])
                    return Outcome(lost=dict.fromkeys(ids, FAILED))
                tries += 1
                self.pacer.overloaded(None)
                again = self.budget.reserve(
                    day, request.worst, self.limit, likely=request.likely(warm)
                )
                if again is None:
                    return Outcome(lost=dict.fromkeys(ids, OVER_BUDGET))
                holding[0] = again
                self.keeper.add(again)
                continue
            except anthropic.APIConnectionError as exc:
                if tries < self.retries:
                    tries += 1
                    self.pacer.overloaded(None)
                    continue
                self.budget.settle(hold, 0.0)
                log.error(
                    "day %s: Claude could not be reached for papers %s… after retries: %s",
                    *(day, ids[0], _why(exc)),
                )
                return Outcome(lost=dict.fromkeys(ids, FAILED))
            break
        self.pacer.observe(raw.headers)
        self.pacer.succeeded()
        return self._read(day, request, hold, raw, started)

    def _read(
        self, day: date, request: Request, hold: Hold, raw: Any, started: datetime
    ) -> Outcome:
        """Read an answered call, settle its hold, record it."""
        ids = request.ids
        kind = raw.headers.get("content-type", "")
        try:
            if "json" not in kind.lower():
                self._record(hold, 0.0, started, request, {}, f"not from the API ({kind})")
                raise ReplyError(f"the answer is {kind or 'untyped'}, not JSON")
            try:
                reply = read_message(raw.json())
            except ValueError as exc:  # broken JSON, or not a message
                reason = str(exc) if isinstance(exc, ReplyError) else "the answer is not JSON"
                self._record(hold, hold.likely, started, request, {}, reason)
                raise ReplyError(reason) from None
            if reply.usage is None:
                self._record(hold, hold.likely, started, request, {}, "no usage in the reply")
                raise ReplyError("the reply has no usage")
        except ReplyError as exc:
            log.error("day %s: Claude's reply for papers %s… is unusable: %s", day, ids[0], exc)
            return Outcome(lost=dict.fromkeys(ids, UNREADABLE))
        try:
            judged = parse_reply(reply.text, ids)
            problem = ""
        except ReplyError as exc:
            judged, problem = {}, str(exc)
            log.warning(
                "day %s: Claude's reply for papers %s… broke the schema (%s, stop reason %s)",
                *(day, ids[0], problem, reply.stop_reason),
            )
        skipped = [pid for pid in ids if pid not in judged]
        if skipped and not problem:
            problem = f"skipped {len(skipped)}"
        self._record(
            hold, dollars(reply.usage, self.price), started, request, judged, problem, reply.usage
        )
        return Outcome(judged=judged, retry=skipped)

    def _record(
        self,
        hold: Hold,
        usd: float,
        started: datetime,
        request: Request,
        judged: dict[str, PaperJudgment],
        problem: str,
        usage: Usage | None = None,
    ) -> None:
        """Settle a hold at `usd` and write the call to the ledger."""
        usage = usage or Usage()
        if usage == Usage() and usd:
            problem += ": charged its likely cost"
        call = Call(
            at=started.isoformat(),
            model=self.model,
            via="sync",
            papers=len(request.papers),
            judged=list(judged),
            input=usage.input,
            output=usage.output,
            cache_write=usage.cache_write,
            cache_write_1h=usage.cache_write_1h,
            cache_read=usage.cache_read,
            usd=usd,
            problem=problem,
        )
        self.budget.settle(hold, usd, [call])


def _why(exc: Exception) -> str:
    """What went wrong, in a few words, never more than the API's message."""
    if isinstance(exc, anthropic.APIStatusError):
        body = exc.body if isinstance(exc.body, dict) else {}
        error = body.get("error") if isinstance(body.get("error"), dict) else {}
        return str((error or {}).get("message") or exc.message)[:200]
    return str(exc)[:200] or type(exc).__name__
