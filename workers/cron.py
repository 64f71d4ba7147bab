"""The clock's schedule, loaded by `rq cron workers/cron.py` (UTC only in rq 2.x)."""

from __future__ import annotations

from rq import cron

from paperboy.settings import Settings
from workers.jobs import JOB_TIMEOUT, QUEUE, backup, catch_up, start_day
from workers.weekly import JOB_TIMEOUT as WEEKLY_TIMEOUT
from workers.weekly import post_weekly

cron.register(start_day, QUEUE, cron=Settings().schedule_cron, job_timeout=JOB_TIMEOUT)
cron.register(catch_up, QUEUE, interval=3600, job_timeout=JOB_TIMEOUT)
cron.register(backup, QUEUE, cron="30 5 * * *", job_timeout=JOB_TIMEOUT)
cron.register(post_weekly, QUEUE, cron=Settings().weekly_cron, job_timeout=WEEKLY_TIMEOUT)
