"""The Claude scorer (edge): judges the day's best candidates in concurrent, cached batches.

How a day is judged:
1. candidates: every followed author's paper, then the local ranking's best, up to
   LLM_MAX_PAPERS;
2. judgments cached under (paper, model, prompt hash) are reused: a re-run calls nothing;
3. the rest go in batches of BATCH_SIZE: the first alone, so that it writes the prompt cache,
   then the others concurrently (at most MAX_WORKERS at a time), reading it;
4. before each call its worst case is reserved in the day's budget in Redis (shared by every
   worker) and settled with the real usage after; a call the budget cannot cover is not made;
5. papers a reply skipped or garbled are asked again once, in new batches; those still without
   a judgment, and those of a call that failed, keep their local score, marked as such.

Retries: 429, 529, other 5xx and timeouts are retried by the client (`max_retries`, with its
own backoff honouring `retry-after`); a 400 is not retried. Nothing here retries an HTTP call.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Final, Literal, cast

import anthropic
from anthropic.types import OutputConfigParam, TextBlockParam

from paperboy.costs import Price, Usage, dollars
from paperboy.judgment import (
    NOT_JUDGED,
    Judgments,
    PaperJudgment,
    ReplyError,
    candidates,
    claude_score,
    followed_ids,
    not_judged,
    parse_reply,
)
from paperboy.models import Paper, Prior, Score, utc_now
from paperboy.progress import Progress, silent
from paperboy.prompt import (
    estimate_tokens,
    papers_message,
    prefix_tokens,
    prompt_key,
    system_blocks,
)
from paperboy.store import Store

log = logging.getLogger(__name__)

BATCH_SIZE = 25
"""Papers per call: large enough that the cached prefix is a small share of each call, small
enough that the day's batches run in parallel and a lost reply costs little."""

MAX_WORKERS = 8
"""Calls in flight at once, per scoring step."""

OUTPUT_TOKENS_PER_PAPER = 120
"""Room in max_tokens for one paper's judgment (about 50 tokens of JSON, with margin)."""

OUTPUT_TOKENS_SPARE = 512
"""Room in max_tokens beyond the judgments: low-effort thinking, which is billed as output."""

EFFORT: Final[Literal["low"]] = "low"
"""Thinking effort for scoring: thinking is billed as output and a rubric needs little of it."""

RESERVE_TOKEN_RATIO = 1.5
"""Reservations assume this many times the estimated input tokens (tokenizers differ)."""

FAILED = "Claude could not be reached for this paper; local score"
OVER_BUDGET = "over the day's Claude budget; local score"


@dataclass
class Outcome:
    """What one call brought back: judgments, and the papers it did not judge and why."""

    judged: dict[str, PaperJudgment] = field(default_factory=dict)
    retry: list[str] = field(default_factory=list)  # skipped or garbled: worth asking again
    lost: dict[str, str] = field(default_factory=dict)  # paper -> why it keeps its local score


class ClaudeJudge:
    """Claude as the group's judge, behind the pipeline's Judge seam."""

    name = "claude"

    def __init__(
        self,
        client: anthropic.Anthropic,
        store: Store,
        prior: Prior,
        *,
        model: str,
        price: Price,
        max_papers: int = 200,
        max_usd_per_day: float = 0.05,
        batch_size: int = BATCH_SIZE,
        workers: int = MAX_WORKERS,
        now: Callable[[], datetime] = utc_now,
        progress: Progress = silent,
    ) -> None:
        self.client = client
        self.progress = progress
        self.store = store
        self.prior = prior
        self.model = model
        self.price = price
        self.max_papers = max_papers
        self.max_usd = max_usd_per_day
        self.batch_size = max(1, batch_size)
        self.workers = max(1, workers)
        self.now = now
        self.system = system_blocks(prior)
        self.key = prompt_key(self.system, model)
        self._warned = threading.Event()

    # the seam -----------------------------------------------------------------------------

    def cost(self, day: date) -> float:
        """Dollars spent on Claude for `day`, from the ledger."""
        return self.store.day_cost(day)["usd"]

    def judge(self, day: date, papers: list[Paper], local: dict[str, Score]) -> dict[str, Score]:
        """Claude's Scores for the day's candidates; candidates it did not judge keep their
        local Score with a reason saying so. Papers that were not candidates are absent."""
        if not papers:
            return {}
        followed = followed_ids(papers, local, self.prior.authors)
        chosen = candidates(papers, local, followed, self.max_papers)
        ids = [p.id for p in chosen]
        cached = {
            pid: PaperJudgment.model_validate(item)
            for pid, item in self.store.judgments(self.model, self.key, ids).items()
        }
        todo = [p for p in chosen if p.id not in cached]
        self._check_prefix()
        fresh, lost = self._run(day, todo)
        self.store.save_judgments(
            self.model, self.key, {pid: j.model_dump() for pid, j in fresh.items()}
        )
        judged = {**cached, **fresh}
        out: dict[str, Score] = {}
        for paper in chosen:
            base = local.get(paper.id) or Score(paper=paper.id, scorer="local", score=0.0)
            if paper.id in judged:
                out[paper.id] = claude_score(judged[paper.id], local.get(paper.id))
            else:
                out[paper.id] = not_judged(base, lost.get(paper.id, NOT_JUDGED))
        log.info(
            "day %s: Claude judged %d of %d candidates (%d from cache, %d kept the local "
            "score); the day's Claude cost is $%.4f",
            day,
            len(judged),
            len(chosen),
            len(cached),
            len(chosen) - len(judged),
            self.cost(day),
        )
        return out

    # batches ----------------------------------------------------------------------------

    def _run(
        self, day: date, papers: list[Paper]
    ) -> tuple[dict[str, PaperJudgment], dict[str, str]]:
        """Judge papers in batches, asking once more for those a reply skipped or garbled."""
        by_id = {p.id: p for p in papers}
        judged: dict[str, PaperJudgment] = {}
        lost: dict[str, str] = {}
        retry: list[str] = []
        for outcome in self._batches(day, papers, warm_first=True):
            judged.update(outcome.judged)
            lost.update(outcome.lost)
            retry += outcome.retry
        if retry:
            log.info("day %s: asking Claude again about %d papers it skipped", day, len(retry))
            for outcome in self._batches(day, [by_id[pid] for pid in retry], warm_first=False):
                judged.update(outcome.judged)
                lost.update(outcome.lost)
                lost.update({pid: NOT_JUDGED for pid in outcome.retry})
        return judged, lost

    def _batches(self, day: date, papers: list[Paper], *, warm_first: bool) -> list[Outcome]:
        """Ask about papers in batches; with `warm_first`, the first batch alone writes the
        prompt cache before the others read it concurrently."""
        batches = [papers[i : i + self.batch_size] for i in range(0, len(papers), self.batch_size)]
        if not batches:
            return []
        outcomes: list[Outcome] = []
        what, lock = "Claude judging papers", threading.Lock()
        asked = [0]
        self.progress(what, 0, len(papers))

        def ask(batch: list[Paper]) -> Outcome:
            outcome = self._ask(day, batch)
            with lock:
                outcomes.append(outcome)
                asked[0] += len(batch)
                self.progress(what, asked[0], len(papers))
            return outcome

        if warm_first:
            ask(batches[0])
            batches = batches[1:]
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="claude") as pool:
            list(pool.map(ask, batches))
        return outcomes

    def _ask(self, day: date, batch: list[Paper]) -> Outcome:
        """One call about one batch, within the day's budget, recorded in the ledger."""
        ids = [p.id for p in batch]
        message = papers_message(batch)
        max_tokens = OUTPUT_TOKENS_PER_PAPER * len(batch) + OUTPUT_TOKENS_SPARE
        reserve = self._worst_case(message, max_tokens)
        if not self.store.reserve_budget(day, reserve, self.max_usd):
            log.warning(
                "day %s: the day's Claude budget ($%.2f) cannot cover another call; %d "
                "papers keep their local score",
                day,
                self.max_usd,
                len(batch),
            )
            return Outcome(lost={pid: OVER_BUDGET for pid in ids})
        started = self.now()
        # Structured outputs with the SDK's own schema transform; the reply is validated by
        # parse_reply rather than messages.parse, so that a broken reply still has its usage
        # recorded in the ledger before it is asked again.
        output: OutputConfigParam = {
            "effort": EFFORT,
            "format": {"type": "json_schema", "schema": anthropic.transform_schema(Judgments)},
        }
        try:
            reply = self.client.messages.create(
                model=self.model,
                max_tokens=max_tokens,
                system=cast(list[TextBlockParam], self.system),
                messages=[{"role": "user", "content": message}],
                output_config=output,
            )
        except anthropic.APIStatusError as exc:
            self.store.settle_budget(day, reserve, 0.0)
            retried = "" if exc.status_code == 400 else " after the client's retries"
            log.error(
                "day %s: Claude answered %s%s for papers %s…: %s",
                day,
                exc.status_code,
                retried,
                ids[0],
                _message(exc),
            )
            return Outcome(lost={pid: FAILED for pid in ids})
        except anthropic.APIConnectionError as exc:  # timeouts included
            self.store.settle_budget(day, reserve, 0.0)
            log.error(
                "day %s: Claude could not be reached for papers %s… after the client's retries: %s",
                day,
                ids[0],
                type(exc).__name__,
            )
            return Outcome(lost={pid: FAILED for pid in ids})
        usage = _usage(reply.usage)
        spent = dollars(usage, self.price)
        self.store.settle_budget(day, reserve, spent)
        text = "".join(block.text for block in reply.content if block.type == "text")
        try:
            judged = parse_reply(text, ids)
            problem = ""
        except ReplyError as exc:
            judged, problem = {}, str(exc)
            log.warning(
                "day %s: Claude's reply for papers %s… broke the schema (%s, stop reason %s)",
                day,
                ids[0],
                problem,
                reply.stop_reason,
            )
        skipped = [pid for pid in ids if pid not in judged]
        self.store.record_call(
            day,
            {
                "at": started.isoformat(),
                "model": self.model,
                "papers": len(batch),
                "judged": len(judged),
                "input": usage.input,
                "output": usage.output,
                "cache_write": usage.cache_write,
                "cache_read": usage.cache_read,
                "usd": round(spent, 8),
                "problem": problem or (f"skipped {len(skipped)}" if skipped else ""),
            },
        )
        return Outcome(judged=judged, retry=skipped)

    # helpers ------------------------------------------------------------------------------

    def _worst_case(self, message: str, max_tokens: int) -> float:
        """What a call can cost at most: its whole prompt as a cache write, full output."""
        prompt = int((prefix_tokens(self.system) + estimate_tokens(message)) * RESERVE_TOKEN_RATIO)
        return dollars(Usage(input=0, output=max_tokens, cache_write=prompt), self.price)

    def _check_prefix(self) -> None:
        """Warn once when the stable prefix is too short for the model to cache it."""
        tokens = prefix_tokens(self.system)
        if tokens < self.price.min_cache_tokens and not self._warned.is_set():
            self._warned.set()
            log.warning(
                "the scoring prompt's stable prefix is about %d tokens, under %s's "
                "caching minimum of %d: every call pays for it in full (add seed papers "
                "or criteria text to pass it)",
                tokens,
                self.model,
                self.price.min_cache_tokens,
            )


def _usage(usage: Any) -> Usage:
    return Usage(
        input=usage.input_tokens or 0,
        output=usage.output_tokens or 0,
        cache_write=getattr(usage, "cache_creation_input_tokens", 0) or 0,
        cache_read=getattr(usage, "cache_read_input_tokens", 0) or 0,
    )


def _message(exc: anthropic.APIStatusError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error") if isinstance(body.get("error"), dict) else {}
    return str((error or {}).get("message") or exc.message)[:200]
