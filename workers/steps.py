"""How a step of the day is enqueued: retried with backoff, and told to the admins when it fails
for the last time.

A step that fails after its clients' own retries runs again after each of RETRY_SECONDS; a step
that meets another worker's lease fails the same way (`paperboy.leases.Busy`), so it is never
reported done while work is missing. When the last try fails, the admins (SLACK_ADMINS) get a
direct message naming the day, the step and the error; without Slack the log says so at ERROR.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from rq import Callback, Retry
from rq.job import Job

from paperboy.settings import Settings

log = logging.getLogger(__name__)

JOB_TIMEOUT = 1800
"""Seconds a step may run: above every client timeout and their retries."""
FAILURE_TTL = int(timedelta(days=30).total_seconds())
"""How long a failed step is kept for `rq info` and a re-run of its day, in seconds."""


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
    """RQ's failure callback: once no retry is left, tell the admins."""
    if job.retries_left:
        return  # RQ runs it again later
    what = job.description or job.func_name
    tell_admins(Settings(), f"Paperboy: {what} failed after its retries: {error}")


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
