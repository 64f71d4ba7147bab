"""Wiring: the store, scorers and deliverers that Settings describe. Entry points call this."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import redis

from paperboy import mailer
from paperboy.arxiv import SPACING_SECONDS, Arxiv, http_client
from paperboy.local import LocalScorer
from paperboy.models import Prior
from paperboy.pipeline import Context, Deliverer, Judge
from paperboy.prior import load_prior
from paperboy.resources import example_profile_dir
from paperboy.seeds import bare_ids, complete_prior
from paperboy.settings import Settings
from paperboy.store import LOCAL_REDIS, Store, connect, in_process

log = logging.getLogger(__name__)


class ServiceError(Exception):
    """A configured service that cannot be used, with how to fix it."""


def open_store(settings: Settings, *, allow_in_process: bool = True) -> Store:
    """Redis at REDIS_URL; without it, a local Redis if one answers, else an in-process store."""
    if settings.redis_url:
        client = connect(settings.redis_url)
        try:
            client.ping()
        except redis.RedisError as exc:
            raise ServiceError(
                f"Redis at REDIS_URL does not answer ({exc}): start it, or fix REDIS_URL"
            ) from exc
        return Store(client)
    client = connect(LOCAL_REDIS)
    try:
        client.ping()
        return Store(client)
    except redis.RedisError:
        if not allow_in_process:
            raise ServiceError(
                "REDIS_URL is not set and no Redis answers on 127.0.0.1:6379: set REDIS_URL"
            ) from None
    log.warning("no Redis configured or running: using an in-process store, nothing persists")
    return Store(in_process(), persistent=False)


def arxiv_client(
    settings: Settings, store: Store, sleep: Callable[[float], None] = time.sleep
) -> Arxiv:
    """The polite arXiv fetcher: its requests take turns through the store (shared by workers),
    3 s apart times PACING; every wait, turns and retries alike, goes through `sleep`."""
    spacing = SPACING_SECONDS * settings.pacing
    return Arxiv(
        http=http_client(),
        wait_turn=lambda: store.wait_turn("arxiv", spacing, sleep),
        sleep=sleep,
    )


def context(settings: Settings, store: Store, deliverers: list[Deliverer] | None = None) -> Context:
    """The day's context from settings: the group's prior, the scorers, the deliverers."""
    prior = load_prior(
        settings.criteria_file,
        settings.seed_papers_file,
        settings.authors_file,
        example_profile_dir(),
    )
    if bare_ids(prior.seeds):  # SEED_PAPERS_FILE named papers by id: titles from arXiv, cached
        prior = complete_prior(prior, store, arxiv_client(settings, store), settings.arxiv_api_url)
    return Context(
        store=store,
        prior=prior,
        local=LocalScorer(prior),
        judge=claude_judge(settings, store, prior),
        announce_types=settings.arxiv_announce_types,
        digest_size=settings.digest_size,
        deliverers=deliverers or [],
    )


CLAUDE_TIMEOUT_SECONDS = 60.0
"""How long one scoring call may take before the client gives up (and retries)."""

CLAUDE_MAX_RETRIES = 3
"""Retries of a call the API answered 429, 529, 5xx or not at all, by the client, with backoff."""


def claude_judge(settings: Settings, store: Store, prior: Prior) -> Judge | None:
    """Claude as the judge when ANTHROPIC_API_KEY is set; None (the local scorer alone) if not."""
    if settings.anthropic_api_key is None:
        return None
    import anthropic

    from paperboy.costs import price_for
    from paperboy.llm import ClaudeJudge

    client = anthropic.Anthropic(
        api_key=settings.anthropic_api_key.get_secret_value(),
        base_url=settings.anthropic_base_url,
        max_retries=CLAUDE_MAX_RETRIES,
        timeout=CLAUDE_TIMEOUT_SECONDS,
    )
    price = price_for(
        settings.anthropic_model, settings.llm_price_in_per_mtok, settings.llm_price_out_per_mtok
    )
    return ClaudeJudge(
        client,
        store,
        prior,
        model=settings.anthropic_model,
        price=price,
        max_papers=settings.llm_max_papers,
        max_usd_per_day=settings.llm_max_usd_per_day,
    )


def deliverers(settings: Settings, store: Store) -> list[Deliverer]:
    """The delivery channels that settings configure (Slack, email); none without them."""
    found: list[Deliverer] = [*slack_deliverers(settings, store)]
    email = mailer.from_settings(settings)  # when SMTP_HOST and EMAIL_FROM are set
    if email is not None:
        found.append(email)
    return found


def slack_deliverers(
    settings: Settings, store: Store, sleep: Callable[[float], None] = time.sleep
) -> list[Deliverer]:
    """The Slack thread, when SLACK_BOT_TOKEN and SLACK_CHANNEL are set; its posts 1.05 s apart
    times PACING, waited through `sleep`."""
    if not (settings.slack_bot_token and settings.slack_channel):
        return []
    from paperboy.slack import POST_SPACING_SECONDS, SlackDeliverer, web_client

    # no connection retries on the posting client: a re-run reconciles with the thread instead
    client = web_client(
        settings.slack_bot_token.get_secret_value(), settings.slack_api_url, connection_retries=0
    )
    spacing = POST_SPACING_SECONDS * settings.pacing
    return [SlackDeliverer(client, store, settings.slack_channel, spacing=spacing, sleep=sleep)]
