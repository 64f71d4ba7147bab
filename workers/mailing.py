"""The hourly mail as an RQ job: readers with an hour of their own, or a weekly digest.

The clock enqueues it at the top of every hour (`workers/cron.py`). Each reader and period is
claimed before sending and marked after (see `paperboy.mailer`), and each hour's run is guarded
in Redis, so two clocks or a retry send nothing twice.
"""

from __future__ import annotations

import logging
from datetime import datetime

from paperboy import hourly, mailer
from paperboy.models import utc_now
from paperboy.services import context
from paperboy.settings import Settings
from paperboy.store import serving_store
from workers.jobs import guarded
from workers.steps import logged

log = logging.getLogger(__name__)


@logged
def mail_hour(now: str | None = None) -> list[str]:
    """Mail every reader whose own hour (or weekly digest) is due now; what was sent."""
    settings = Settings()
    store = serving_store(settings)
    clock = datetime.fromisoformat(now) if now else utc_now()
    email = mailer.from_settings(settings, store)
    if email is None:
        return []
    ctx = context(settings, store)
    step = f"mail-{clock:%H}"
    done = guarded(
        store, clock.date(), step, lambda: hourly.mail_due(ctx, email, clock), settings.lock_seconds
    )
    return done or []
