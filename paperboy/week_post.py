"""The week's post in Slack (edge, over slack_sdk's WebClient): posted once, its poll refreshed.

The post is guarded per week and channel: a second run (a retry, a second clock) posts nothing.
Its slot is marked in Redis before it is posted and its `ts` stored after; a run that finds the
slot marked without a `ts` looks for the post in the channel's history (by its metadata), so a
job that died mid-post never posts the week twice. Papers link to their reply in the thread
(`chat.getPermalink`), or to arXiv when they were never posted there; with WEEKLY_SHOW_VOTERS,
the voters' names come from `users.info` (scope `users:read`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from paperboy.group import read_group
from paperboy.leases import LEASE_SECONDS, Busy, held
from paperboy.polls import WeekPost
from paperboy.store import Store
from paperboy.week import (
    Week,
    WeekSummary,
    gather_week,
    is_week_post,
    poll_papers,
    week_blocks,
    week_metadata,
    week_text,
    with_poll_counts,
)

log = logging.getLogger(__name__)

POST_SPACING_SECONDS = 1.05
"""Seconds between two posts to one channel (the day's thread takes the same turns)."""
HISTORY_PAGES = 5
"""Pages of channel history searched for a week's post whose `ts` was never stored."""


def permalinks(client: WebClient, store: Store, channel: str, summary: WeekSummary) -> None:
    """Link each liked paper to its reply in the channel's thread, when it has one there."""
    for item in summary.liked:
        posted = store.slack_messages(item.paper.id)
        where = channel if channel in posted else next(iter(posted), None)
        if where is None:
            continue  # voted on from email only: its link stays arXiv's
        try:
            found = client.chat_getPermalink(channel=where, message_ts=posted[where]["ts"])
        except SlackApiError as exc:
            week, paper = summary.week.end, item.paper.id
            log.warning("week %s: no permalink for paper %s: %s", week, paper, exc)
            continue
        item.link = str(found["permalink"])


def voter_names(client: WebClient, voters: Iterable[str]) -> dict[str, str]:
    """Each voter's name as Slack shows it (display name, else real name); one users.info call
    per person; a person Slack cannot name is left out (counted, not named)."""
    names: dict[str, str] = {}
    for user in dict.fromkeys(voters):
        try:
            found = client.users_info(user=user)["user"]
        except SlackApiError as exc:
            log.warning("no name for %s: %s", user, exc)
            continue
        profile = found.get("profile") or {}
        name = profile.get("display_name") or found.get("real_name") or found.get("name")
        if name:
            names[user] = str(name)
    return names


def find_week_post(client: WebClient, channel: str, week: Week) -> dict[str, Any] | None:
    """The week's post in the channel's recent history, if an earlier run posted it."""
    cursor = None
    for _ in range(HISTORY_PAGES):
        found = client.conversations_history(
            channel=channel, include_all_metadata=True, limit=200, cursor=cursor
        )
        messages: list[dict[str, Any]] = found.get("messages", [])
        for message in messages:
            if is_week_post(message, week):
                return message
        cursor = (found.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return None
    return None


def post_week(
    client: WebClient,
    store: Store,
    channel: str,
    week: Week,
    now: datetime,
    *,
    show_voters: bool = False,
    spacing: float = POST_SPACING_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    lock_seconds: float = LEASE_SECONDS,
) -> str:
    """Post the week's most liked papers and its poll to `channel`, once; what happened. Held
    by a lease (see `paperboy.leases`) while it posts; Busy while another holds it."""
    step = f"weekly:{channel}"
    if store.is_done(week.end, step):
        return f"the week of {week.end} is posted already"
    lock = store.step_lease(week.end, step, lock_seconds)
    if not lock.acquire(blocking=False):
        # Never reported as done: the job fails and RQ retries it; a lease left by a killed
        # worker expires within LOCK_SECONDS, and the retry finds the post in the channel.
        raise Busy(f"another worker is posting the week of {week.end}, or was killed doing so")
    with held(lock):
        if store.is_done(week.end, step):  # finished between the look and the lease
            return f"the week of {week.end} is posted already"
        said = _post(client, store, channel, week, now, show_voters, spacing, sleep)
        if said.startswith("posted"):
            store.finish(week.end, step)  # else nothing to post yet: a later run may
    return said


def _post(
    client: WebClient,
    store: Store,
    channel: str,
    week: Week,
    now: datetime,
    show_voters: bool,
    spacing: float,
    sleep: Callable[[float], None],
) -> str:
    summary = gather_week(store, week, read_group(store, now, with_papers=False))
    if not summary.liked:
        log.info("week %s: no paper got more 👍 than 👎; nothing to post", week.end)
        return f"nothing to post for the week of {week.end}: no paper was liked"
    permalinks(client, store, channel, summary)
    names = voter_names(client, (v for i in summary.liked for v in i.voters)) if show_voters else {}
    blocks, text = week_blocks(summary, names), week_text(summary)
    where, ts = channel, None
    if not store.mark_week_post(channel, week.end):  # an earlier run may have posted it
        found = find_week_post(client, channel, week)
        if found is not None:
            log.info("week %s: found the post of an earlier run", week.end)
            ts = str(found["ts"])
            blocks = list(found.get("blocks") or blocks)
    if ts is None:
        store.wait_turn(f"slack-post:{channel}", spacing, sleep)
        response = client.chat_postMessage(
            channel=channel,
            text=text,
            blocks=blocks,
            metadata=week_metadata(week),
            unfurl_links=False,
            unfurl_media=False,
        )
        where, ts = str(response.get("channel") or channel), str(response["ts"])
    choices = poll_papers(blocks)
    titles = {pid: paper.title for pid, paper in store.papers(choices).items()}
    store.save_week_post(WeekPost(week.end, where, ts, choices, titles, blocks, text), channel)
    poll = f", with a poll on {len(choices)}" if choices else ""
    return f"posted the week of {week.end} to {channel}: {len(summary.liked)} papers{poll}"


def refresh_poll(client: WebClient, store: Store, week: Week) -> None:
    """Show the poll's current counts on the week's post (blocks and text both resent)."""
    post = store.week_post(week.end)
    if post is None:
        log.info("week %s: no post to refresh", week.end)
        return
    client.chat_update(
        channel=post.channel,
        ts=post.ts,
        text=post.text,
        blocks=with_poll_counts(post.blocks, week.end, store.poll_counts(week.end)),
    )
