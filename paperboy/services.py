"""Wiring: the store, scorers and deliverers that Settings describe. Entry points call this."""

from __future__ import annotations

import logging
import redis

from paperboy.arxiv import Arxiv, http_client
from paperboy.local import LocalScorer
from paperboy.pipeline import Context, Deliverer
from paperboy.prior import load_prior
from paperboy.resources import example_profile_dir
from paperboy.settings import Settings
from paperboy.store import Store, connect, in_process

log = logging.getLogger(__name__)

LOCAL_REDIS = "redis://127.0.0.1:6379/0"


class ServiceError(Exception):
    """A configured service that cannot be used, with how to fix it."""


def open_store(settings: Settings, *, allow_in_process: bool = True) -> Store:
    """Redis at REDIS_URL; without it, a local Redis if one answers, else an in-process store."""
    if settings.redis_url:
        client = connect(settings.redis_url)
        try:
            client.ping()
        except redis.RedisError as exc:
            raise ServiceError(f"Redis at REDIS_URL does not answer ({exc}): start it, or fix "
                               "REDIS_URL") from exc
        return Store(client)
    client = connect(LOCAL_REDIS)
    try:
        client.ping()
        return Store(client)
    except redis.RedisError:
        if not allow_in_process:
            raise ServiceError("REDIS_URL is not set and no Redis answers on 127.0.0.1:6379: "
                               "set REDIS_URL") from None
    log.warning("no Redis configured or running: using an in-process store, nothing persists")
    return Store(in_process(), persistent=False)


def arxiv_client(store: Store) -> Arxiv:
    """The polite arXiv fetcher, spacing its requests through the store (shared by workers)."""
    return Arxiv(http=http_client(), wait_turn=lambda: store.wait_turn("arxiv", 3.0))


def context(settings: Settings, store: Store, deliverers: list[Deliverer] | None = None) -> Context:
    """The day's context from settings: the group's prior, the scorers, the deliverers."""
    prior = load_prior(settings.criteria_file, settings.seed_papers_file, settings.authors_file,
                       example_profile_dir())
    return Context(
        store=store,
        prior=prior,
        local=LocalScorer(prior),
        judge=None,
        announce_types=settings.arxiv_announce_types,
        digest_size=settings.digest_size,
        deliverers=deliverers or [],
    )


def deliverers(settings: Settings, store: Store) -> list[Deliverer]:
    """The delivery channels that settings configure (Slack, email); none without them."""
    found: list[Deliverer] = []
    return found
