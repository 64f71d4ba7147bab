"""The clock's schedule, loaded by `rq cron workers/cron.py` (UTC only in rq 2.x)."""

from __future__ import annotations

from rq import cron

from paperboy.settings import Settings
from workers.batches import collect_batches, look_early
from workers.jobs import JOB_TIMEOUT, QUEUE, backup, catch_up, start_day

settings = Settings()
cron.register(start_day, QUEUE, cron=settings.schedule_cron, job_timeout=JOB_TIMEOUT)
cron.register(catch_up, QUEUE, interval=3600, job_timeout=JOB_TIMEOUT)
cron.register(backup, QUEUE, cron="30 5 * * *", job_timeout=JOB_TIMEOUT)
if settings.llm_batch:  # the half-price path: submit the day early, collect late batches
    cron.register(look_early, QUEUE, cron=settings.fetch_cron, job_timeout=JOB_TIMEOUT)
    cron.register(collect_batches, QUEUE, interval=3600, job_timeout=JOB_TIMEOUT)
