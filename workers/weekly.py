"""The week in the group as an RQ job: the clock enqueues it at WEEKLY_CRON (UTC).

Safe to run twice: the week is named by WEEKLY_CRON's latest time, so a retry or a second clock
reports the same week, and the post is guarded per week and channel (see `paperboy.week_post`).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from paperboy.models import utc_now
from paperboy.settings import Settings
from paperboy.slack import web_client
from paperboy.store import serving_store
from paperboy.week import week_of
from paperboy.week_post import POST_SPACING_SECONDS, post_week

log = logging.getLogger(__name__)

JOB_TIMEOUT = 600
"""Seconds the job may run: a permalink per paper and a name per voter, each with retries."""


def post_weekly(now: str | None = None) -> str:
    """Post the week's most liked papers and the reading-group poll to SLACK_CHANNEL, once."""
    settings = Settings()
    if not (settings.slack_bot_token and settings.slack_channel):
        log.warning("SLACK_BOT_TOKEN or SLACK_CHANNEL is not set: no weekly post")
        return "Slack is not configured: no weekly post"
    store = serving_store(settings)
    clock = datetime.fromisoformat(now) if now else utc_now()
    if clock.tzinfo is None:  # a time given without its zone is UTC, as WEEKLY_CRON is
        clock = clock.replace(tzinfo=UTC)
    # no connection retries on a posting client: a re-run reconciles with the channel instead
    client = web_client(
        settings.slack_bot_token.get_secret_value(), settings.slack_api_url, connection_retries=0
    )
    said = post_week(
        client,
        store,
        settings.slack_channel,
        week_of(settings.weekly_cron, clock),
        clock,
        show_voters=settings.weekly_show_voters,
        spacing=POST_SPACING_SECONDS * settings.pacing,
        lock_seconds=settings.lock_seconds,
    )
    log.info("%s", said)
    return said
