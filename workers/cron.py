"""The clock's schedule, loaded by `rq cron workers/cron.py` (UTC only in rq 2.x)."""

from __future__ import annotations

from rq import cron

from paperboy.settings import Settings
from workers.jobs import QUEUE, on_the_clock

# Each entry enqueues its step with retries and a failure callback (rq's cron takes neither).
cron.register(on_the_clock, QUEUE, args=("start_day",), cron=Settings().schedule_cron)
cron.register(on_the_clock, QUEUE, args=("catch_up",), interval=3600)
cron.register(on_the_clock, QUEUE, args=("backup",), cron="30 5 * * *")
# Readers with an hour of their own, or a weekly digest: at the top of every hour.
cron.register(on_the_clock, QUEUE, args=("mail_hour",), cron="0 * * * *")
