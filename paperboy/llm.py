"""The Claude judge (edge): reads every kept paper of the day, best candidates first, within the
day's budget, in concurrent batches.

How a day is judged:
1. candidates: every followed author's paper, then the rest by local score (all of them, or up
   to LLM_MAX_PAPERS), so that if the budget ends it ends on the least likely papers;
2. with LLM_BATCH, the verdicts of the day's Message Batch are collected first (`batches.py`);
3. judgments cached under (paper, model, prompt hash) are reused: a re-run calls nothing; the
   first verdict on a paper stands, so a paper never gets two;
4. the rest go in batches of BATCH_SIZE: each is counted by the API's token counter (all at
   once), then reserved in the day's budget in order, best first, and sent; the first call goes
   alone, so that it writes the prompt cache, then the others concurrently, reading it, as many
   in flight as the pacer allows (`pacing.py`);
5. a batch the budget cannot cover waits while calls (this process's or another's) hold budget,
   then is halved until it fits; when not even one paper fits, the budget has run out and the
   remaining papers keep their local score;
6. papers a reply skipped or garbled are asked again once; those still without a judgment, and
   those of a call that failed, keep their local score, marked as such.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import date, datetime

import anthropic

from paperboy.batches import DayBatch
from paperboy.budget import LEASE_SECONDS, Budget, Hold, Keeper
from paperboy.calls import FAILED, OVER_BUDGET, Caller, Outcome, Prepared, Request, TooLong
from paperboy.costs import Price
from paperboy.judgment import (
    NOT_JUDGED,
    PaperJudgment,
    candidates,
    claude_score,
    followed_ids,
    not_judged,
)
from paperboy.models import Paper, Prior, Score, utc_now
from paperboy.pacing import MAX_CONCURRENCY, Pacer
from paperboy.progress import Progress, silent
from paperboy.prompt import prompt_key, system_blocks
from paperboy.store import Store

log = logging.getLogger(__name__)

PROGRESS = "Claude judging papers"
"""What the progress of the day's calls is told as."""
BATCH_SIZE = 40
"""Papers per call: the cached prefix (about 7,900 tokens) is read once per call, so larger
batches cost less; 40 keep a day of 834 papers to 21 calls (the first, then two rounds of 10),
a reply to about 2,300 output tokens, and a lost reply cheap to ask again."""

HOLD_POLL_SECONDS = 0.1
"""How often a batch the budget cannot cover yet looks again while others hold budget."""


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
        max_papers: int | None = None,
        max_usd_per_day: float = 0.10,
        batch_size: int = BATCH_SIZE,
        concurrency: int = MAX_CONCURRENCY,
        lease_seconds: float = LEASE_SECONDS,
        batches: DayBatch | None = None,
        now: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], None] = time.sleep,
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
        self.concurrency = max(1, concurrency)
        self.lease_seconds = lease_seconds
        self.batches = batches  # the day's Message Batch, with LLM_BATCH
        self.now = now
        self.sleep = sleep
        self.budget = Budget(store, lease_seconds)
        self.system = system_blocks(prior)
        self.key = prompt_key(self.system, model)
        self._checked = False

    # the seam -----------------------------------------------------------------------------

    def cost(self, day: date) -> float:
        """Dollars spent on Claude for `day`: the budget's spend (settled calls and what calls
        that never reported back most likely cost), or the ledger's for days before budgets."""
        spend = self.budget.spend(day)
        return spend.spent if spend.limit is not None else self.budget.day_cost(day)["usd"]

    def ran_out(self, day: date) -> int:
        """How many papers kept their local score on `day` because the budget ran out."""
        return self.budget.spend(day).ran_out

    def judge(self, day: date, papers: list[Paper], local: dict[str, Score]) -> dict[str, Score]:
        """Claude's Scores for the day's candidates; candidates it did not judge keep their
        local Score with a reason saying so. Papers that were not candidates are absent."""
        if not papers:
            return {}
        chosen = self.candidates(papers, local)
        ids = [p.id for p in chosen]
        if self.batches is not None:
            self.save(self.batches.collect(day))
        cached = self.cached(ids)
        todo = [p for p in chosen if p.id not in cached]
        lost: dict[str, str] = {}
        if todo:
            fresh, lost = self._run(day, todo)
            self.save(fresh)
        judged = self.cached(ids)  # the first verdict on each paper, whoever gave it
        out: dict[str, Score] = {}
        for paper in chosen:
            base = local.get(paper.id) or Score(paper=paper.id, scorer="local", score=0.0)
            if paper.id in judged:
                out[paper.id] = claude_score(judged[paper.id], local.get(paper.id))
            else:
                out[paper.id] = not_judged(base, lost.get(paper.id, NOT_JUDGED))
        log.info(
            "day %s: Claude judged %d of %d candidates (%d from cache, %d kept the local "
            "score); the day's Claude cost is $%.4f of $%.2f",
            *(day, len(judged), len(chosen), len(cached), len(chosen) - len(judged)),
            *(self.cost(day), self.max_usd),
        )
        return out

    def submit(self, day: date, papers: list[Paper], local: dict[str, Score]) -> str | None:
        """Submit the day's candidates not judged yet as a Message Batch (with LLM_BATCH);
        returns its id, or None when nothing was submitted."""
        if self.batches is None:
            return None
        chosen = self.candidates(papers, local)
        cached = self.cached([p.id for p in chosen])
        todo = [p for p in chosen if p.id not in cached]
        if not todo:
            return None
        return self.batches.submit(day, self.caller(Keeper(self.budget)), self._chunks(todo))

    # shared with the batch path -------------------------------------------------------------

    def candidates(self, papers: list[Paper], local: dict[str, Score]) -> list[Paper]:
        """The papers Claude reads, most promising first."""
        followed = followed_ids(papers, local, self.prior.authors)
        return candidates(papers, local, followed, self.max_papers)

    def cached(self, ids: list[str]) -> dict[str, PaperJudgment]:
        return {
            pid: PaperJudgment.model_validate(item)
            for pid, item in self.store.judgments(self.model, self.key, ids).items()
        }

    def save(self, judged: dict[str, PaperJudgment]) -> list[str]:
        """Cache verdicts; a paper judged already keeps its first verdict."""
        return self.store.save_judgments(
            self.model, self.key, {pid: j.model_dump() for pid, j in judged.items()}
        )

    def caller(self, keeper: Keeper, pacer: Pacer | None = None) -> Caller:
        caller = Caller(
            self.client,
            self.budget,
            pacer or Pacer(self.concurrency, sleep=self.sleep),
            keeper,
            model=self.model,
            price=self.price,
            system=self.system,
            limit=self.max_usd,
            now=self.now,
        )
        prefix = caller.count_prefix()
        if not self._checked:
            self._checked = True
            if prefix and prefix < self.price.min_cache_tokens:
                log.warning(
                    "the scoring prompt's stable prefix is %d tokens, under %s's caching "
                    "minimum of %d: every call pays for it in full (add seed papers or "
                    "criteria text to pass it)",
                    *(prefix, self.model, self.price.min_cache_tokens),
                )
        return caller

    # the synchronous path ---------------------------------------------------------------------

    def _run(
        self, day: date, papers: list[Paper]
    ) -> tuple[dict[str, PaperJudgment], dict[str, str]]:
        """Judge papers in batches, asking once more for those a reply skipped or garbled."""
        by_id = {p.id: p for p in papers}
        judged: dict[str, PaperJudgment] = {}
        lost: dict[str, str] = {}
        self.progress(PROGRESS, 0, len(papers))
        with (
            Keeper(self.budget, min(10.0, self.lease_seconds / 3)).running() as keeper,
            ThreadPoolExecutor(self.concurrency, thread_name_prefix="claude") as pool,
        ):
            run = _Run(self, day, self.caller(keeper), pool, len(papers))
            retry = run.dispatch(self._chunks(papers), warm=False)
            judged.update(run.judged)
            lost.update(run.lost)
            told = run.told
            if retry:
                log.info("day %s: asking Claude again about %d papers it skipped", day, len(retry))
                again = _Run(self, day, run.caller, pool, len(papers), run.told)
                left = again.dispatch(self._chunks([by_id[pid] for pid in retry]), warm=True)
                judged.update(again.judged)
                lost.update(again.lost)
                lost.update(dict.fromkeys(left, NOT_JUDGED))
                told = again.told
        if told < len(papers):  # papers asked about twice and still not answered
            self.progress(PROGRESS, len(papers), len(papers))
        for pid in judged:
            lost.pop(pid, None)
        over = sum(1 for why in lost.values() if why == OVER_BUDGET)
        if over:
            self.budget.ran_out(day, over)
            log.warning(
                "day %s: the day's Claude budget ($%.2f) ran out: %d papers keep their local score",
                *(day, self.max_usd, over),
            )
        return judged, lost

    def _chunks(self, papers: list[Paper]) -> list[list[Paper]]:
        size = self.batch_size
        return [papers[i : i + size] for i in range(0, len(papers), size)]


class _Run:
    """One pass over batches: counted at once, reserved in order, sent as the pacer allows."""

    def __init__(
        self,
        judge: ClaudeJudge,
        day: date,
        caller: Caller,
        pool: ThreadPoolExecutor,
        total: int,
        told: int = 0,
    ) -> None:
        self.judge, self.day, self.caller, self.pool = judge, day, caller, pool
        self.total, self.told = total, told  # for the progress: papers of the day, answered
        self.judged: dict[str, PaperJudgment] = {}
        self.lost: dict[str, str] = {}
        self.retry: list[str] = []

    def dispatch(self, batches: list[list[Paper]], *, warm: bool) -> list[str]:
        """Ask about every batch; returns the papers worth asking again."""
        judge, budget = self.judge, self.judge.budget
        pending = deque(self.caller.prepare_all(batches, self.pool))
        inflight: dict[Future[Outcome], Request] = {}
        blocked, waited, seen = False, 0.0, (-1.0, -1.0)
        while pending or inflight:
            while pending and not blocked and len(inflight) < self.caller.pacer.limit:
                if inflight and not warm:
                    break  # the first call writes the cache alone
                first = pending[0]
                if isinstance(first.error, TooLong):
                    self._split(pending)
                    continue
                if first.request is None:
                    pending.popleft()
                    log.error(
                        "day %s: papers %s… keep their local score: %s",
                        *(self.day, first.papers[0].id, first.error),
                    )
                    self.lost.update(dict.fromkeys((p.id for p in first.papers), FAILED))
                    continue
                request = first.request
                hold = budget.reserve(
                    self.day, request.worst, judge.max_usd, likely=request.likely(warm)
                )
                if hold is None:
                    blocked = True
                    break
                pending.popleft()
                inflight[self.pool.submit(self._ask, request, hold, warm)] = request
            if inflight:
                done, _ = wait(inflight, return_when=FIRST_COMPLETED)
                for future in done:
                    inflight.pop(future)
                    self._take(future.result())
                warm, blocked = True, False
                continue
            if not blocked:
                continue
            # Refused with none of this run's calls in flight: wait while others hold budget
            # (their calls settle, or their leases end), then halve the batch, then stop.
            spend = budget.spend(self.day)
            if (spend.spent, spend.held) != seen:
                seen, waited = (spend.spent, spend.held), 0.0
            if spend.held > 0 and waited < judge.lease_seconds + 5:
                judge.sleep(HOLD_POLL_SECONDS)
                waited += HOLD_POLL_SECONDS
                blocked = False
            elif len(pending[0].papers) > 1:
                self._split(pending)
                blocked = False
            else:
                for left in pending:
                    self.lost.update(dict.fromkeys((p.id for p in left.papers), OVER_BUDGET))
                pending.clear()
        return self.retry

    def _ask(self, request: Request, hold: Hold, warm: bool) -> Outcome:
        return self.caller.ask(self.day, request, hold, warm=warm)

    def _take(self, outcome: Outcome) -> None:
        self.judged.update(outcome.judged)
        self.lost.update(outcome.lost)
        self.retry += outcome.retry
        self.told = min(self.total, self.told + len(outcome.judged) + len(outcome.lost))
        self.judge.progress(PROGRESS, self.told, self.total)

    def _split(self, pending: deque[Prepared]) -> None:
        """Replace the first pending batch by its halves, counted again, best half first."""
        papers = pending.popleft().papers
        half = (len(papers) + 1) // 2
        for prepared in reversed(
            self.caller.prepare_all([papers[:half], papers[half:]], self.pool)
        ):
            pending.appendleft(prepared)
