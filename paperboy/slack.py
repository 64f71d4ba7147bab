"""Posting to Slack with slack_sdk's WebClient (edge): the day's thread, and coalesced refreshes.

A day is one parent message and one threaded reply per paper, posted serially. Each reply's slot
is marked in Redis before it is posted and its `ts` stored after; a re-run that finds a marked
slot without a `ts` reads the thread (`conversations.replies`) to learn what already went out,
so a job killed at any point posts the rest and no paper twice.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

from paperboy import blocks
from paperboy.leases import LEASE_SECONDS, Busy, held
from paperboy.models import Delivery, Digest, Reader, SlackThread
from paperboy.progress import Progress, silent
from paperboy.store import Store

log = logging.getLogger(__name__)

RATE_LIMIT_RETRIES = 5
"""How many times a call that met a 429 is retried after its `Retry-After`."""
POST_SPACING_SECONDS = 1.05
"""Seconds between two posts to one channel: Slack allows about one message a second."""
HISTORY_PAGES = 5
"""Pages of channel history searched for a parent whose `ts` was never stored."""


API_LOG = logging.getLogger("paperboy.slack.api")
"""The WebClients' logger. Its level is set: slack_sdk formats every request and response (whole
blocks and views) for a debug line whenever its logger's own level is unset (NOTSET <= DEBUG),
then throws the line away; set it to DEBUG to see them."""
API_LOG.setLevel(logging.INFO)


RECOVERY_WAITS = (1.0, 4.0, 16.0)
"""Seconds waited before going on after a post whose fate is unknown, one wait a time: a passing
fault of Slack costs seconds, a lasting one fails the step within half a minute."""


def outcome_unknown(exc: BaseException) -> bool:
    """Whether a call's failure leaves its effect unknown: Slack answered 5xx, or nothing (a
    timeout, a dropped connection)."""
    if isinstance(exc, SlackApiError):
        status = getattr(exc.response, "status_code", 0)
        return isinstance(status, int) and status >= 500
    return isinstance(exc, OSError)  # URLError, TimeoutError, ConnectionError


def web_client(
    token: str,
    base_url: str,
    *,
    rate_limit_retries: int = RATE_LIMIT_RETRIES,
    connection_retries: int = 1,
    timeout: int = 10,
) -> WebClient:
    """A WebClient that waits out 429s `Retry-After` and retries dropped connections."""
    # Posting clients pass connection_retries=0: a retried post that had landed would post
    # twice; a re-run reconciles with the thread instead.
    handlers: list[Any] = [RateLimitErrorRetryHandler(max_retry_count=rate_limit_retries)]
    if connection_retries:
        handlers.append(ConnectionErrorRetryHandler(max_retry_count=connection_retries))
    base = base_url if base_url.endswith("/") else base_url + "/"
    return WebClient(
        token=token, base_url=base, timeout=timeout, retry_handlers=handlers, logger=API_LOG
    )


# the day's thread ------------------------------------------------------------------------


def _pages(call: Callable[..., Any], **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Every message of a paginated conversations.* call."""
    cursor = None
    while True:
        response = call(cursor=cursor, **kwargs)
        yield from response.get("messages", [])
        cursor = (response.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return


def find_parent(client: WebClient, channel: str, day: date) -> str | None:
    """The `ts` of the day's parent message in recent channel history, if it was posted."""
    for n, message in enumerate(
        _pages(client.conversations_history, channel=channel, include_all_metadata=True, limit=200)
    ):
        if blocks.is_day_parent(message, day):
            return str(message["ts"])
        if n >= 200 * HISTORY_PAGES:
            break
    return None


def thread_papers(client: WebClient, channel: str, parent: str) -> dict[str, str]:
    """Paper id -> reply `ts` of the replies already in a thread."""
    found: dict[str, str] = {}
    for message in _pages(
        client.conversations_replies,
        channel=channel,
        ts=parent,
        include_all_metadata=True,
        limit=200,
    ):
        paper = blocks.paper_of(message)
        if message.get("ts") != parent and paper and paper not in found:
            found[paper] = str(message["ts"])
    return found


@dataclass
class Posted:
    """What posting a day did."""

    channel: str
    parent: str
    posted: int = 0
    found: int = 0


def post_day(
    client: WebClient,
    store: Store,
    channel: str,
    digest: Digest,
    spacing: float = POST_SPACING_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    progress: Progress = silent,
) -> Posted:
    """Post the day's parent and its replies, serially; safe to run again after any crash.
    Each reply posted (or found posted) is told to `progress`."""
    day = digest.day
    slots = store.slack_posts(channel, day)
    where = slots.get("channel") or channel
    turn = f"slack-post:{channel}"
    parent = slots.get("parent") or None
    if parent is None and "parent" in slots:
        parent = find_parent(client, where, day)
        if parent:
            log.info("day %s: found the parent %s posted by an earlier run", day, parent)
    if parent is None:
        store.mark_slack_post(channel, day, "parent")
        store.wait_turn(turn, spacing, sleep)
        response = client.chat_postMessage(
            channel=channel,
            text=blocks.day_text(digest),
            blocks=blocks.day_blocks(digest),
            metadata=blocks.day_metadata(day),
            unfurl_links=False,
            unfurl_media=False,
        )
        parent, where = str(response["ts"]), str(response.get("channel") or channel)
        store.save_slack_post(channel, day, "channel", where)
    store.save_slack_post(channel, day, "parent", parent)
    result = Posted(channel=where, parent=parent)
    pending = [entry for entry in digest.entries if not slots.get(entry.paper.id)]
    in_thread = (
        thread_papers(client, where, parent)
        if any(entry.paper.id in slots for entry in pending)
        else {}
    )
    what, total = f"posting to Slack {channel}", len(digest.entries)
    earlier = total - len(pending)  # posted by an earlier run, and marked so
    progress(what, earlier, total)
    for entry in pending:
        pid = entry.paper.id
        reply = blocks.paper_blocks(entry)
        if pid in in_thread:
            log.info("day %s: paper %s was posted by an earlier run", day, pid)
            store.save_slack_post(channel, day, pid, in_thread[pid])
            store.save_slack_message(pid, where, in_thread[pid], reply)
            result.found += 1
            progress(
                what,
                len(digest.entries) - len(pending) + result.found + result.posted,
                len(digest.entries),
            )
            continue
        store.mark_slack_post(channel, day, pid)
        store.wait_turn(turn, spacing, sleep)
        response = client.chat_postMessage(
            channel=where,
            thread_ts=parent,
            text=blocks.paper_text(entry.paper.title),
            blocks=reply,
            metadata=blocks.paper_metadata(day, pid),
            unfurl_links=False,
            unfurl_media=False,
        )
        store.save_slack_post(channel, day, pid, str(response["ts"]))
        store.save_slack_message(pid, where, str(response["ts"]), reply)
        result.posted += 1
        progress(
            what,
            len(digest.entries) - len(pending) + result.found + result.posted,
            len(digest.entries),
        )
    return result


def post_status(
    client: WebClient,
    store: Store,
    channel: str,
    day: date,
    text: str,
    spacing: float = POST_SPACING_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Post `day`'s one status line (a day without a digest) to `channel`; False when the line
    of that day went out already. A post that fails gives the day's claim back and raises."""
    if not store.claim_status(channel, day):
        return False
    try:
        store.wait_turn(f"slack-post:{channel}", spacing, sleep)
        client.chat_postMessage(channel=channel, text=text, unfurl_links=False, unfurl_media=False)
    except Exception:
        store.release_status(channel, day)
        raise
    log.info("day %s: told channel %s: %s", day, channel, text)
    return True


@dataclass
class SlackDeliverer:
    """The Deliverer that posts the day's thread to one channel, once per day."""

    client: WebClient
    store: Store
    channel: str
    spacing: float = POST_SPACING_SECONDS
    sleep: Callable[[float], None] = time.sleep
    lock_seconds: float = LEASE_SECONDS
    progress: Progress = silent
    recovery_waits: tuple[float, ...] = RECOVERY_WAITS
    name: str = "slack"

    def readers(self, day: date) -> list[Reader]:
        return []  # the group's thread: no reader's own digest

    def _post(self, digest: Digest) -> Posted:
        """Post the day; after a post Slack answered with a 5xx, or not at all (it may have
        landed), wait a little and go on: the thread is read again first. After the last
        wait, the error is the step's, and its retry goes on the same way."""
        for wait in (*self.recovery_waits, None):
            try:
                return post_day(
                    self.client,
                    self.store,
                    self.channel,
                    digest,
                    self.spacing,
                    self.sleep,
                    self.progress,
                )
            except Exception as exc:
                if wait is None or not outcome_unknown(exc):
                    raise
                log.warning(
                    "day %s: Slack did not answer a post to %s (%s); reading the thread again "
                    "and posting the rest in %.0f s",
                    *(digest.day, self.channel, exc.__class__.__name__, wait),
                )
                self.sleep(wait)
        raise AssertionError("unreachable: the last wait raises")

    def deliver(self, delivery: Delivery) -> str:
        digest = delivery.digest
        if not digest.entries:
            return "nothing to post to Slack"
        step = f"slack:{self.channel}"
        if self.store.is_done(digest.day, step):
            return f"already posted to Slack {self.channel}"
        lock = self.store.step_lease(digest.day, step, self.lock_seconds)
        if not lock.acquire(blocking=False):
            # Never reported as posted: the job fails and RQ retries it; a lease left by a
            # killed worker expires within LOCK_SECONDS and the retry posts what is missing.
            raise Busy(f"another worker is posting to Slack {self.channel}, or was killed doing so")
        with held(lock):
            result = self._post(digest)
            self.store.update_day(
                digest.day,
                slack=SlackThread(
                    channel=result.channel,
                    parent=result.parent,
                    picked=len(digest.entries),
                    read=digest.read,
                    cost_usd=digest.cost_usd,
                ),
            )
            self.store.finish(digest.day, step)
        earlier = f", {result.found} of them found from an earlier run" if result.found else ""
        return (
            f"posted to Slack {self.channel}: {len(digest.entries)} papers in one thread{earlier}"
        )


# coalesced refreshes ----------------------------------------------------------------------

SPACING = {"tally": 1.2}
"""Seconds between two refreshes of a kind, across all processes: chat.update is Tier 3 (about
50 a minute)."""
LEASE_SECONDS = 120.0


@dataclass
class Coalescer:
    """Refreshes each Slack surface one call at a time, folding the requests that come meanwhile."""

    # Leadership and the pending payload live in Redis, so gunicorn workers share them, and each
    # kind's calls are spaced across processes (store.wait_turn). Each kind has its own threads,
    # so slow Home refreshes never hold up the tallies.

    store: Store
    handlers: dict[str, Callable[[dict[str, Any]], None]]
    spacing: dict[str, float] = field(default_factory=lambda: dict(SPACING))
    threads: int = 8
    sleep: Callable[[float], None] = time.sleep
    executors: dict[str, Executor] = field(default_factory=dict)

    def executor(self, kind: str) -> Executor:
        if kind not in self.executors:
            self.executors[kind] = ThreadPoolExecutor(
                self.threads, thread_name_prefix=f"paperboy-{kind}"
            )
        return self.executors[kind]

    def request(self, kind: str, key: str, payload: dict[str, Any]) -> None:
        """Ask for a refresh; the latest payload wins."""
        self.store.mark_pending_update(kind, key, json.dumps(payload))
        if self.store.lead_updates(kind, key, LEASE_SECONDS):
            self.executor(kind).submit(self._drain, kind, key)

    def _drain(self, kind: str, key: str) -> None:
        while True:
            try:
                while self.store.has_pending_update(kind, key):
                    self.store.wait_turn(f"slack-{kind}", self.spacing.get(kind, 1.0), self.sleep)
                    raw = self.store.take_pending_update(kind, key)
                    if raw is None:
                        continue
                    try:
                        self.handlers[kind](json.loads(raw))
                    except Exception:
                        log.exception("refreshing Slack %s %s failed", kind, key)
            finally:
                self.store.release_updates(kind, key)
            # a request that came between the last check and the release found us leading
            if not (
                self.store.has_pending_update(kind, key)
                and self.store.lead_updates(kind, key, LEASE_SECONDS)
            ):
                return
