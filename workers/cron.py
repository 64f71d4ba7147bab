"""The clock's schedule, loaded by `rq cron workers/cron.py` (UTC only in rq 2.x).

Every cron expression here is checked as SCHEDULE_CRON is (`paperboy.schedule.checked_cron`):
a clock that could not run one refuses to start rather than run without it.
"""

from __future__ import annotations

from rq import cron

from paperboy.schedule import checked_cron
from paperboy.settings import load_or_exit
from workers.jobs import QUEUE, on_the_clock

settings = load_or_exit()
# Each entry enqueues its step with retries and a failure callback (rq's cron takes neither).
cron.register(on_the_clock, QUEUE, args=("start_day",), cron=settings.schedule_cron)
cron.register(on_the_clock, QUEUE, args=("catch_up",), interval=3600)
cron.register(on_the_clock, QUEUE, args=("backup",), cron=checked_cron("30 5 * * *"))
# The week in the group, posted once (Fridays 14:00 by default).
cron.register(on_the_clock, QUEUE, args=("post_weekly",), cron=settings.weekly_cron)
# Readers with an hour of their own, or a weekly digest: at the top of every hour.
cron.register(on_the_clock, QUEUE, args=("mail_hour",), cron=checked_cron("0 * * * *"))
if settings.llm_batch:  # the half-price path: submit the day early, collect late batches
    cron.register(on_the_clock, QUEUE, args=("look_early",), cron=settings.fetch_cron)
    cron.register(on_the_clock, QUEUE, args=("collect_batches",), interval=3600)
