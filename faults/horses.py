"""An rq worker that tells where its work horse is, so the suite can kill that process and no
other (the worker's scheduler is a child process too)."""

from __future__ import annotations

from typing import Any

from rq import Worker

HORSE_KEY = "faults:horse"
"""Redis key holding the pid of the work horse running a job now."""


class RecordingWorker(Worker):
    def fork_work_horse(self, job: Any, queue: Any) -> None:
        super().fork_work_horse(job, queue)
        self.connection.set(HORSE_KEY, self.horse_pid)
