"""Owned, short locks: held while their holder works, gone soon after it dies.

A lease is a redis-py `Lock`: it holds a token of its own, and extending or releasing it
compares the token first (in Lua), so only its holder can. While the holder works, a thread
renews it every third of its time; a holder killed mid-work stops renewing, and the lease
expires within its time, so the work resumes within minutes rather than hours. Meeting a lease
held by another is `Busy`: the caller raises it, and RQ retries the step later; it is never
reported as work done.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import redis
from redis.exceptions import LockError
from redis.lock import Lock

log = logging.getLogger(__name__)

LEASE_SECONDS = 60.0
"""How long a lease lasts unless renewed (LOCK_SECONDS): a killed holder's work waits this."""


class Busy(Exception):
    """Work held by another worker (or by one killed moments ago): try again later."""


def lease(client: redis.Redis, key: str, seconds: float = LEASE_SECONDS) -> Lock:
    """A lease on `key` (not taken yet): `acquire(blocking=False)` takes it."""
    return client.lock(key, timeout=seconds, blocking=False, thread_local=False)


@contextmanager
def held(lock: Lock) -> Iterator[None]:
    """Keep a taken lease while the block runs: renewed from a thread every third of its time,
    released at the end (only if still ours)."""
    seconds = float(lock.timeout or LEASE_SECONDS)
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(seconds / 3):
            try:
                if not lock.extend(seconds, replace_ttl=True):
                    log.warning("lease %s was lost: its work may run twice", lock.name)
                    return
            except LockError:
                log.warning("lease %s was lost: its work may run twice", lock.name)
                return
            except redis.RedisError as exc:  # Redis restarting: try again at the next beat
                log.warning("could not renew lease %s: %s", lock.name, exc)

    keeper = threading.Thread(target=renew, name=f"lease {lock.name}", daemon=True)
    keeper.start()
    try:
        yield
    finally:
        stop.set()
        keeper.join()
        with suppress(LockError, redis.RedisError):
            lock.release()
