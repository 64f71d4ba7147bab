"""Fetching feeds politely from a local stand-in of arXiv's RSS server."""

from __future__ import annotations

import pytest

from paperboy.arxiv import USER_AGENT, Arxiv, FetchError, fetch_feeds, http_client
from paperboy.services import arxiv_client
from paperboy.settings import Settings
from paperboy.store import Store

from .conftest import FIXTURES
from .standins import refused_port
from .standins.feeds import FeedServer, serve

SAMPLE = (FIXTURES / "rss" / "cs.LG-2026-04-27-first3.xml").read_bytes()
TRUNCATED = (FIXTURES / "rss" / "cs.AI-2025-08-20-atom-TRUNCATED.xml").read_bytes()


def client(store: Store, spacing: float = 0.0, sleeps: list[float] | None = None) -> Arxiv:
    recorded = sleeps if sleeps is not None else []
    return Arxiv(
        http=http_client(timeout=5),
        backoff=0.01,
        sleep=recorded.append,
        wait_turn=lambda: store.wait_turn("arxiv-test", spacing),
    )


@pytest.mark.parametrize(("pacing", "spaced"), [(1.0, 3.0), (0.5, 1.5), (0.0, 0.0)])
def test_requests_are_spaced_and_identify_us(store: Store, pacing: float, spaced: float) -> None:
    waits: list[float] = []  # a clock that records the waits instead of sleeping them
    settings = Settings(_env_file=None, pacing=pacing)  # type: ignore[call-arg]
    routes = {"/rss/cs.LG": SAMPLE, "/rss/cs.AI": SAMPLE, "/rss/stat.ML": SAMPLE}
    with serve(FeedServer(routes=routes)) as server:
        arxiv = arxiv_client(settings, store, sleep=waits.append)
        fetched = fetch_feeds([server.url + path for path in routes], arxiv)
    assert len(fetched.feeds) == 3 and not fetched.missing
    assert waits == pytest.approx([0, spaced, 2 * spaced], abs=0.25)
    assert all(headers["User-Agent"] == USER_AGENT for _, _, headers in server.requests)


def test_429_and_503_are_retried_honouring_retry_after(store: Store) -> None:
    sleeps: list[float] = []
    script = [(429, {"Retry-After": "7"}), (503, {})]
    with serve(FeedServer(routes={"/rss/cs.LG": SAMPLE}, script=script)) as server:
        body = client(store, sleeps=sleeps).get(server.url + "/rss/cs.LG")
    assert body == SAMPLE
    assert len(sleeps) == 2 and 7 <= sleeps[0] <= 7 * 1.25


def test_gives_up_after_its_retries_and_never_retries_a_404(store: Store) -> None:
    with serve(FeedServer(script=[(503, {})] * 10)) as server:
        with pytest.raises(FetchError, match="HTTP 503 after 4 attempts"):
            client(store).get(server.url + "/rss/cs.LG")
        assert len(server.requests) == 4
    with serve(FeedServer()) as server:
        with pytest.raises(FetchError, match="HTTP 404"):
            client(store).get(server.url + "/rss/nope")
        assert len(server.requests) == 1


def test_one_failed_feed_leaves_the_others(store: Store) -> None:
    routes = {"/rss/cs.LG": SAMPLE, "/rss/cs.AI": TRUNCATED}
    with serve(FeedServer(routes=routes)) as server:
        fetched = fetch_feeds([server.url + "/rss/cs.LG", server.url + "/rss/cs.AI"], client(store))
    assert [f.name for f in fetched.feeds] == ["cs.LG"]
    assert list(fetched.missing) == [server.url + "/rss/cs.AI"]
    assert "malformed" in str(fetched.missing[server.url + "/rss/cs.AI"])


def test_unreachable_arxiv_is_recognised(store: Store) -> None:
    fetched = fetch_feeds([f"http://127.0.0.1:{refused_port()}/rss/cs.LG"], client(store))
    assert fetched.feeds == [] and fetched.unreachable
