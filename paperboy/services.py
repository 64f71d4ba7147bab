"""Wiring: the store, scorers and deliverers that Settings describe. Entry points call this."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from paperboy import mailer
from paperboy.arxiv import SPACING_SECONDS, Arxiv, http_client
from paperboy.days import Context, Deliverer
from paperboy.local import LocalScorer
from paperboy.models import Prior
from paperboy.prior import load_prior
from paperboy.progress import Progress, silent
from paperboy.resources import example_profile_dir
from paperboy.seeds import bare_ids, complete_prior
from paperboy.settings import Settings
from paperboy.store import Store

if TYPE_CHECKING:
    from paperboy.llm import ClaudeJudge

log = logging.getLogger(__name__)


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
        deadline=settings.feed_deadline_seconds,
    )


def context(
    settings: Settings,
    store: Store,
    deliverers: list[Deliverer] | None = None,
    progress: Progress = silent,
) -> Context:
    """The day's context from settings: the group's prior, the scorers, the deliverers; Claude's
    batches are told to `progress`."""
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
        judge=claude_judge(settings, store, prior, progress),
        announce_types=settings.arxiv_announce_types,
        digest_size=settings.digest_size,
        deliverers=deliverers or [],
    )


CLAUDE_TIMEOUT_SECONDS = 60.0
"""How long one scoring call may take before the client gives up (and retries)."""

CLAUDE_MAX_RETRIES = 3
"""Retries of a call the API answered 529, 5xx or not at all, with backoff (a 429 is waited out
for as long as the rate limit asks, within calls.RATE_LIMIT_PATIENCE)."""


def claude_judge(
    settings: Settings, store: Store, prior: Prior, progress: Progress = silent
) -> ClaudeJudge | None:
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
    batches = None
    if settings.llm_batch:
        from paperboy.batches import DayBatch

        batches = DayBatch(
            client,
            store,
            model=settings.anthropic_model,
            price=price,
            limit=settings.llm_max_usd_per_day,
        )
    return ClaudeJudge(
        client,
        store,
        prior,
        model=settings.anthropic_model,
        price=price,
        max_papers=settings.llm_max_papers,
        max_usd_per_day=settings.llm_max_usd_per_day,
        progress=progress,
        batches=batches,
    )


@dataclass
class Channels:
    """The delivery channels settings configure: those ready, and those whose settings are
    incomplete, by name with why (each is built on its own, so one never stops another)."""

    ready: list[Deliverer] = field(default_factory=list)
    broken: dict[str, str] = field(default_factory=dict)


def channels(settings: Settings, store: Store, progress: Progress = silent) -> Channels:
    """Slack when SLACK_BOT_TOKEN and SLACK_CHANNEL are set, email when SMTP_HOST and
    EMAIL_FROM are; none without them. Their posts and messages are told to `progress`."""
    found = Channels()
    builders: list[tuple[str, Callable[[], Deliverer | None]]] = [
        ("slack", lambda: slack_channel(settings, store, progress=progress)),
        ("email", lambda: mailer.from_settings(settings, store, progress=progress)),
    ]
    for name, build in builders:
        try:
            channel = build()
        except ValueError as exc:  # settings that cannot work, said by the builder
            log.error("the %s channel is not set up: %s", name, exc)
            found.broken[name] = str(exc)
            continue
        if channel is not None:
            found.ready.append(channel)
    return found


def slack_channel(
    settings: Settings,
    store: Store,
    sleep: Callable[[float], None] = time.sleep,
    progress: Progress = silent,
) -> Deliverer | None:
    """The Slack thread, when SLACK_BOT_TOKEN and SLACK_CHANNEL are set; its posts 1.05 s apart
    times PACING, waited through `sleep`."""
    if not (settings.slack_bot_token and settings.slack_channel):
        return None
    from paperboy.slack import POST_SPACING_SECONDS, RECOVERY_WAITS, SlackDeliverer, web_client

    # no connection retries on the posting client: a re-run reconciles with the thread instead
    client = web_client(
        settings.slack_bot_token.get_secret_value(), settings.slack_api_url, connection_retries=0
    )
    spacing = POST_SPACING_SECONDS * settings.pacing
    return SlackDeliverer(
        client,
        store,
        settings.slack_channel,
        spacing=spacing,
        sleep=sleep,
        lock_seconds=settings.lock_seconds,
        progress=progress,
        recovery_waits=tuple(wait * settings.pacing for wait in RECOVERY_WAITS),
    )
