"""Enqueuing work for the interactive worker, by name: the web process never imports it.

`/paperboy top`, seed look-ups and Home refreshes rank, explain and fetch, which is slow and
takes the ranking's numerical code; the web process only records, acknowledges and enqueues.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis
from rq import Queue, Worker

from workers.queues import INTERACTIVE

JOB_TIMEOUT = 120
"""Seconds an interactive job may run: a ranking takes a second or two, a look-up on arXiv
waits its 3 s turn and retries."""
RESULT_TTL = 600
"""Seconds a finished job's result is kept (for `rq info`); nobody reads it."""

NOT_RUNNING = (
    "Paperboy's interactive worker is not running, so this cannot be done right now. "
    "Please tell your Paperboy admin (it is the `interactive` process of the Procfile)."
)


@dataclass
class Interactive:
    """The `interactive` queue: is a worker serving it, and enqueue a job by dotted name."""

    redis: redis.Redis

    @property
    def queue(self) -> Queue:
        return Queue(INTERACTIVE, connection=self.redis)

    def alive(self) -> bool:
        """Whether a worker listening on the queue is registered and has not expired (a worker
        that died without saying so expires some minutes after its last heartbeat)."""
        keys = Worker.all_keys(connection=self.redis, queue=self.queue)
        return bool(keys) and int(self.redis.exists(*keys)) > 0

    def enqueue(self, function: str, *args: Any) -> None:
        self.queue.enqueue(
            function, *args, job_timeout=JOB_TIMEOUT, result_ttl=RESULT_TTL, failure_ttl=86400
        )
