"""Progress on long work (Claude's batches, the paced posts to Slack, each reader's email), told
to a person: on a terminal, one line redrawn in place; anywhere else, a few plain log lines."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from paperboy.logs import CLEAR_LINE, TERMINAL

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
"""Told as work advances: what ('posting to Slack C0PAPERS'), how much is done, of how many."""

STEPS_LOGGED = 4
"""Without a terminal, how many lines a piece of work logs (each quarter done), at most."""


def silent(what: str, done: int, total: int) -> None:
    """Progress told to nobody."""


@dataclass
class Meter:
    """Progress for whoever watches: `posting to Slack C0PAPERS: 7 of 15` redrawn in place on a
    terminal; elsewhere (a pipe, a log file, a worker) a log line each quarter of the way."""

    stream: TextIO = field(default_factory=lambda: sys.stderr)
    tty: bool | None = None
    """Whether `stream` is a terminal (None: ask it)."""
    _logged: dict[str, int] = field(default_factory=dict)

    def __call__(self, what: str, done: int, total: int) -> None:
        if total <= 0:
            return
        tty = self.tty if self.tty is not None else self.stream.isatty()
        if tty:
            end = "\n" if done >= total else ""
            with TERMINAL:  # never inside a log line another thread is writing
                self.stream.write(f"{CLEAR_LINE}{what}: {done:,} of {total:,}{end}")
                self.stream.flush()
            return
        quarter = done * STEPS_LOGGED // total
        if done >= total or quarter > self._logged.get(what, 0):
            self._logged[what] = quarter
            log.info("%s: %d of %d", what, done, total)
        if done >= total:
            self._logged.pop(what, None)
