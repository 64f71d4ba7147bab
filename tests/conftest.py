"""Shared fixtures: the test data, and a real Redis database of the tests' own, flushed around
each test."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis

from paperboy.arxiv import read_saved
from paperboy.feed import Feed, parse_feed
from paperboy.models import Paper, Prior, Score
from paperboy.settings import Settings
from paperboy.store import Store

pytest_plugins = ["tests.slackweb"]  # the web process's fixtures, for every Slack test

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "data"
"""Real arXiv feeds and the example reader the tests read (see data/README.md)."""
BIG_DAY = FIXTURES / "days" / "cs.CL+cs.CV+cs.MM+cs.LG+cs.SI-2025-06-03.xml.gz"
"""The biggest real day: 1,506 items, 834 of them new or cross."""


def _test_redis_url() -> str:
    """PAPERBOY_TEST_REDIS_URL (database 15 of the local Redis by default); each further test
    process (pytest-xdist's gw1, gw2, …) takes the database below the one before."""
    url = urlsplit(os.environ.get("PAPERBOY_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"))
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    offset = int(worker.removeprefix("gw") or 0)
    database = int(url.path.strip("/") or 0) - offset
    if database < 0:
        raise RuntimeError(f"no Redis database left for test process {worker}: use fewer")
    return urlunsplit(url._replace(path=f"/{database}"))


TEST_REDIS_URL = _test_redis_url()


@functools.cache
def parsed(path: Path) -> Feed:
    """A saved feed (gzipped or not), parsed once per test session: the big day takes a second.

    Shared between tests: copy a paper (`model_copy`) before changing it.
    """
    return parse_feed(path.name, read_saved(path))


@pytest.fixture(autouse=True)
def root_logging() -> Iterator[None]:
    """The root logger as it was: a test that runs `paperboy` (which sets up logging for its
    process) leaves no handler or level behind for the next."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture
def big_day() -> list[Paper]:
    """The biggest day's papers, every announce type (a new list; the papers are shared)."""
    return list(parsed(BIG_DAY).papers)


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    """Database 15 of the local Redis (or PAPERBOY_TEST_REDIS_URL), empty before and after."""
    client = redis.Redis.from_url(TEST_REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.fail(f"no Redis at {TEST_REDIS_URL}: start redis-server (see README)")
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def store(redis_client: redis.Redis) -> Store:
    return Store(redis_client)


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def unconfigured(
    monkeypatch: pytest.MonkeyPatch, redis_client: redis.Redis, tmp_path: Path
) -> Path:
    """No setting in the environment but REDIS_URL (the tests' Redis) and PACING=0 (every outside
    service is a local stand-in); run in an empty folder.

    The empty folder means no `.env` of the checkout is read. Returns the folder.
    """
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("REDIS_URL", TEST_REDIS_URL)
    monkeypatch.setenv("PACING", "0")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@dataclass(frozen=True)
class JudgedDay:
    """What the Claude tests judge: the example group's prior, the first 60 new or cross-listed
    papers of the big day, and their local scores (made once per session)."""

    prior: Prior
    papers: list[Paper]
    local: dict[str, Score]


@pytest.fixture(scope="session")
def judged_day() -> JudgedDay:
    from paperboy.local import LocalScorer
    from paperboy.prior import load_prior

    profile = FIXTURES / "profile"
    prior = load_prior(
        profile / "criteria.md", profile / "seed_papers.json", profile / "authors.txt", profile
    )
    papers = parsed(BIG_DAY).kept(["new", "cross"])[:60]
    return JudgedDay(prior, papers, LocalScorer(prior).score(papers))
