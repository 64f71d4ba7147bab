"""What the email tests share: a real day of papers, its digest, a stored day, a served web app."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime

from flask import Flask
from pydantic import SecretStr

from bot.links import links
from paperboy import days
from paperboy.local import LocalScorer
from paperboy.models import Digest, Paper, Prior, Ranked, Score
from paperboy.settings import Settings
from paperboy.store import Store
from tests.conftest import FIXTURES, parsed
from tests.standins.web import serve_wsgi

DAY_FEED = FIXTURES / "days" / "cs.CL+cs.CV+cs.MM+cs.LG+cs.SI-2025-06-03.xml.gz"
DAY = date(2025, 6, 3)
NOW = datetime(2025, 6, 3, 6, 0, tzinfo=UTC)
SECRET = "test-link-secret-0123456789abcdef"


@functools.cache
def day_papers() -> tuple[Paper, ...]:
    """The fixture day's papers (parsed once per test session)."""
    feed = parsed(DAY_FEED)
    return tuple(p.model_copy(update={"day": DAY}) for p in feed.kept(["new", "cross"]))


WHY = [
    "matches criterion: efficient training and inference",
    "followed author: Yoshua Bengio",
    "similar to a paper you liked: Scaling Laws for Neural Language Models",
    "matches: mixture of experts, sparse routing",
]


def group_order(papers: list[Paper]) -> list[Score]:
    """A plain group order: the feed's order, scored downwards, every third judged by Claude."""
    order = []
    for n, paper in enumerate(papers):
        reasons = [WHY[n % len(WHY)]]
        if n % 3 == 0:
            order.append(
                Score(
                    paper=paper.id,
                    scorer="claude",
                    score=100.0 - n,
                    relevance=9 - n % 5,
                    novelty=7 - n % 4,
                    criterion="Efficient training",
                    reasons=reasons,
                )
            )
        else:
            order.append(
                Score(paper=paper.id, scorer="local", score=1.0 - n / 1000, reasons=reasons)
            )
    return order


def digest(papers: list[Paper] | None = None, size: int = 12, **extra: object) -> Digest:
    """A group digest over the fixture day (or the given papers)."""
    papers = list(papers if papers is not None else day_papers())
    by_id = {p.id: p for p in papers}
    entries = [Ranked(paper=by_id[s.paper], score=s) for s in group_order(papers)][:size]
    values: dict[str, object] = {
        "day": DAY,
        "read": len(papers),
        "entries": entries,
        "scorer": "claude",
        "cost_usd": 0.01,
    }
    values.update(extra)
    return Digest.model_validate(values)


def store_day(store: Store, papers: list[Paper], order: list[Score]) -> days.Context:
    """Store a fetched and scored day as a non-dry run leaves it; returns a context over it."""
    store.save_papers(papers)
    store.update_day(DAY, papers=[p.id for p in papers], feeds=[DAY_FEED.name], missing=[])
    ctx = days.Context(
        store=store, prior=Prior(), local=LocalScorer(Prior()), digest_size=12, now=lambda: NOW
    )
    days.save_order(ctx, DAY, order)
    return ctx


def settings(**extra: object) -> Settings:
    """Settings for the web process and the mailer, from arguments only (no environment)."""
    values: dict[str, object] = {
        "link_secret": SecretStr(SECRET),
        "public_url": "http://127.0.0.1:1",
        "link_ttl_days": 14,
    }
    values.update(extra)
    return Settings.model_construct(**values)  # defaults, not the environment or .env


@contextmanager
def web_app(store: Store, config: Settings, clock: object = None) -> Iterator[str]:
    """The email-link blueprint in a small Flask app, served on 127.0.0.1; yields its URL."""
    app = Flask(__name__)
    app.config["PAPERBOY_SETTINGS"] = config
    app.config["PAPERBOY_STORE"] = store
    if clock is not None:
        app.config["PAPERBOY_CLOCK"] = clock
    app.register_blueprint(links)
    with serve_wsgi(app) as url:
        yield url
