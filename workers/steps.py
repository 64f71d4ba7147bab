"""How a step of the day is enqueued: retried with backoff, logged, and told to the admins when
it fails for the last time.

A step that fails after its clients' own retries runs again after each of RETRY_SECONDS; a step
that meets another worker's lease fails the same way (`paperboy.leases.Busy`), so it is never
reported done while work is missing. When the last try fails, the admins (SLACK_ADMINS) get a
direct message naming the day, the step and the error; without Slack the log says so at ERROR.
Each step logs its start, its outcome and how long it took (`logged`), so a worker's log tells
the day's story.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any, ParamSpec, TypeVar

from rq import Callback, Retry, get_current_job
from rq.job import Job

from paperboy import blocks, schedule
from paperboy.models import utc_now
from paperboy.settings import Settings
from paperboy.store import Store

log = logging.getLogger(__name__)

JOB_TIMEOUT = 1800
"""Seconds a step may run: above every client timeout and their retries."""
FAILURE_TTL = int(timedelta(days=30).total_seconds())
"""How long a failed step is kept for `rq info` and a re-run of its day, in seconds."""


P = ParamSpec("P")
R = TypeVar("R")

RESULT_CHARS = 200
"""How much of a step's result its log line shows, in characters."""


def logged(func: Callable[P, R]) -> Callable[P, R]:
    """The step, logging its start, its outcome (the result, or the error and whether RQ tries
    again) and its duration."""

    @functools.wraps(func)
    def step(*args: P.args, **kwargs: P.kwargs) -> R:
        job = get_current_job()
        if job is not None and not (job.func_name or "").endswith(f".{func.__name__}"):
            job = None  # a step another step calls: named by itself, not by the running job
        what = (job.description if job is not None else None) or " ".join(
            [func.__name__, *map(str, args)]
        )
        log.info("%s: started%s", what, f" (job {job.id})" if job is not None else "")
        started = time.monotonic()
        try:
            result = func(*args, **kwargs)
        except Exception as exc:
            took = time.monotonic() - started
            again = job is not None and bool(job.retries_left)
            log.log(
                logging.WARNING if again else logging.ERROR,
                "%s: failed after %.2f s%s: %s: %s",
                what,
                took,
                ", RQ tries again later" if again else "",
                type(exc).__name__,
                exc,
            )
            raise
        outcome = repr(result)
        if len(outcome) > RESULT_CHARS:
            outcome = outcome[: RESULT_CHARS - 1] + "…"
        log.info("%s: done in %.2f s: %s", what, time.monotonic() - started, outcome)
        return result

    return step


def options(settings: Settings) -> dict[str, Any]:
    """The enqueue options every step of the day gets."""
    intervals = list(settings.retry_seconds)
    return {
        "retry": Retry(max=len(intervals), interval=intervals) if intervals else None,
        "on_failure": Callback(told),
        "job_timeout": JOB_TIMEOUT,
        "failure_ttl": FAILURE_TTL,
    }


def told(job: Job, connection: Any, kind: type, error: BaseException, tb: Any) -> None:
    """RQ's failure callback: once no retry is left, tell the admins, and when the step was
    one of a day's digest, the channel too (once that day)."""
    if job.retries_left:
        return  # RQ runs it again later
    settings = Settings()
    what = job.description or job.func_name
    tell_admins(settings, f"Paperboy: {what} failed after its retries: {error}")
    day = digest_day(job)
    if day is not None:
        today = schedule.arxiv_today(utc_now())
        tell_channel(settings, Store(connection), day, blocks.digest_failed(day, today))


DIGEST_STEPS = ("start_day", "catch_up", "score_day", "deliver_day")
"""The steps without which a day has no digest: a last failure of one is told to the channel."""


def digest_day(job: Job) -> date | None:
    """The day whose digest a failed job was making; None for a job of another kind."""
    step = (job.func_name or "").rsplit(".", 1)[-1]
    if step not in DIGEST_STEPS:
        return None
    args = list(job.args)
    try:
        if step in ("score_day", "deliver_day"):
            return date.fromisoformat(str(args[0] if args else job.kwargs["day"]))
        at = job.kwargs.get("now") or (args[-1] if args and isinstance(args[-1], str) else None)
        return schedule.arxiv_today(datetime.fromisoformat(at) if at else utc_now())
    except (KeyError, ValueError):
        return None


def tell_channel(settings: Settings, store: Store, day: date, text: str) -> bool:
    """The day's one status line in SLACK_CHANNEL, so that a day without a digest never looks
    like a quiet one: on weekdays only, once a day, and not where the day's thread went out.
    Best effort: the log has it in any case. Whether it was posted."""
    channel = settings.slack_channel
    if not schedule.says_status(day):
        log.info("day %s: a weekend day, the channel is not told: %s", day, text)
        return False
    if settings.slack_bot_token is None or not channel:
        log.info("day %s: no Slack channel to tell: %s", day, text)
        return False
    if store.is_done(day, f"slack:{channel}"):
        return False  # the channel has the day's thread
    from paperboy.slack import POST_SPACING_SECONDS, post_status, web_client

    client = web_client(
        settings.slack_bot_token.get_secret_value(), settings.slack_api_url, connection_retries=0
    )
    try:
        return post_status(
            client, store, channel, day, text, spacing=POST_SPACING_SECONDS * settings.pacing
        )
    except Exception:  # the channel is best effort: the log and the admins have it
        log.exception("day %s: could not tell channel %s: %s", day, channel, text)
        return False


def tell_admins(settings: Settings, text: str) -> None:
    """A direct message to each admin (conversations.open, then chat.postMessage); the log
    says it at ERROR in any case, and is all there is without Slack."""
    log.error("%s", text)
    if settings.slack_bot_token is None or not settings.slack_admins:
        return
    from paperboy.slack import web_client

    client = web_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)
    for admin in settings.slack_admins:
        try:
            channel = client.conversations_open(users=admin)["channel"]["id"]
            client.chat_postMessage(channel=channel, text=text)
        except Exception:  # telling is best effort: the log has it
            log.exception("could not tell admin %s", admin)
