"""The web process for the Slack tests: the app served on 127.0.0.1 against the Slack stand-in,
a stored day and its thread, an interactive worker registered as listening, and helpers."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from rq import Queue, SimpleWorker, Worker

from bot.app import create_app
from paperboy.models import Digest, Paper, Ranked, Score
from paperboy.settings import Settings
from paperboy.slack import post_day, web_client
from paperboy.store import Store
from tests.conftest import FIXTURES, parsed
from tests.standins.feeds import FeedServer
from tests.standins.feeds import serve as serve_feeds
from tests.standins.slack_api import (
    TOKEN,
    SlackStandIn,
    click,
    command,
    interaction,
    serve,
    signed,
)
from tests.standins.web import HTTP, serve_wsgi
from workers.queues import INTERACTIVE

SECRET = "test-signing-secret"
LINK_SECRET = "test-link-secret"
CHANNEL = "C0PAPERS"
ADMIN = "UADMIN"
FEED = "cs.CL+cs.CV+cs.MM+cs.LG+cs.SI-2025-06-03.xml.gz"
DAY = date(2025, 6, 3)
API_RESPONSE = (FIXTURES / "rss" / "api-query-cs.LG-2026-04-30.atom.xml").read_bytes()
API_PAPER = "2604.26951"  # one of the papers in the saved API response
FORM = "application/x-www-form-urlencoded"


@dataclass
class Web:
    """The running web app, the Slack stand-in behind it, and the day's thread."""

    url: str
    slack: SlackStandIn
    store: Store
    papers: list[Paper]
    replies: list[dict[str, Any]]

    def work(self, wait: bool = True) -> None:
        """Run the interactive jobs the web process enqueued (waiting for one to be enqueued
        first: some are enqueued after the acknowledgement), as the interactive worker does."""
        queue = Queue(INTERACTIVE, connection=self.store.redis)
        if wait:
            eventually(lambda: queue.count)
        SimpleWorker([queue], connection=self.store.redis).work(burst=True)

    def post(self, body: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return HTTP.post(
            self.url + "/slack/events",
            content=body,
            headers=headers if headers is not None else signed(SECRET, body),
            timeout=10,
        )

    def click(self, user: str, reply: dict[str, Any], action: str) -> httpx.Response:
        fresh = self.slack.message(CHANNEL, reply["ts"]) or reply
        return self.post(
            interaction(click(user, action, fresh, CHANNEL, self.slack.root + "/respond/1"))
        )

    def command(self, user: str, text: str) -> httpx.Response:
        return self.post(command(user, text, self.slack.root + "/respond/1"))

    def ephemerals(self, user: str) -> list[str]:
        return [c["text"] for c in self.slack.calls("chat.postEphemeral") if c["user"] == user]


def eventually(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    """The first truthy result of `check`, polled until `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            assert found, "timed out waiting"
            return found
        time.sleep(0.02)


def start(
    store: Store,
    slack: SlackStandIn,
    spacing: dict[str, float],
    monkeypatch: pytest.MonkeyPatch,
    arxiv_api_url: str = "http://127.0.0.1:9/api/query",
) -> Iterator[str]:
    """The web app served on 127.0.0.1, and the same settings in the environment for the
    interactive jobs it enqueues."""
    env = {
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_CHANNEL": CHANNEL,
        "SLACK_API_URL": slack.url,
        "SLACK_ADMINS": ADMIN,
        "LINK_SECRET": LINK_SECRET,
        "ARXIV_API_URL": arxiv_api_url,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)
    client = web_client(TOKEN, slack.url)
    app = create_app(settings, store, client, spacing=spacing)
    with serve_wsgi(app) as url:
        yield url


@pytest.fixture
def interactive(store: Store) -> Iterator[Worker]:
    """An interactive worker registered as listening (its jobs are run by `Web.work`)."""
    listening = Worker([Queue(INTERACTIVE, connection=store.redis)], connection=store.redis)
    listening.register_birth()
    yield listening
    listening.register_death()


@pytest.fixture
def papers(fixtures: Path) -> list[Paper]:
    return parsed(fixtures / "days" / FEED).papers


def a_day(store: Store, slack: SlackStandIn, papers: list[Paper], n: int = 5) -> list[dict]:
    """Store the day's papers and order and post its thread; the replies."""
    order = [
        Score(paper=p.id, scorer="local", score=1 - k / 100, reasons=["on topic"])
        for k, p in enumerate(papers)
    ]
    store.save_papers(papers)
    store.update_day(
        DAY,
        papers=[p.id for p in papers],
        feeds=[FEED],
        order=order,
    )
    digest = Digest(
        day=DAY,
        read=len(papers),
        scorer="local",
        entries=[Ranked(paper=p, score=s) for p, s in zip(papers, order[:n], strict=False)],
    )
    posted = post_day(web_client(TOKEN, slack.url), store, CHANNEL, digest, spacing=0)
    return slack.replies(CHANNEL, posted.parent)


def running_web(
    store: Store, papers: list[Paper], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Web]:
    # arXiv's API, answering a query for one paper with a saved response that holds it
    query = "/api/query?" + urlencode({"id_list": API_PAPER, "max_results": 1})
    with serve() as slack, serve_feeds(FeedServer({query: API_RESPONSE})) as arxiv:
        replies = a_day(store, slack, papers)
        for url in start(store, slack, {"tally": 0.01}, monkeypatch, f"{arxiv.url}/api/query"):
            yield Web(url, slack, store, papers, replies)


@pytest.fixture
def web(
    store: Store,
    papers: list[Paper],
    unconfigured: Path,
    interactive: Worker,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Web]:
    """The web process, with an interactive worker to serve what it enqueues."""
    yield from running_web(store, papers, monkeypatch)


@pytest.fixture
def web_alone(
    store: Store, papers: list[Paper], unconfigured: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Web]:
    """The web process with no interactive worker running."""
    yield from running_web(store, papers, monkeypatch)


def tally_shown(web: Web, reply: dict[str, Any], up: int, down: int) -> bool:
    message = web.slack.message(CHANNEL, reply["ts"]) or {}
    labels = [
        e["text"]["text"]
        for b in message.get("blocks", [])
        if b.get("type") == "actions"
        for e in b["elements"]
        if e["action_id"] in ("vote_up", "vote_down")
    ]
    want = [f"👍 {up}" if up else "👍", f"👎 {down}" if down else "👎"]
    return labels == want and (f"(👍 {up} · 👎 {down})" in message["text"] or not (up or down))


def event(kind: str, user: str, event_id: str | None = None) -> str:
    """An Events API body, as Slack posts it; each with its own event id unless given."""
    return json.dumps(
        {
            "type": "event_callback",
            "team_id": "T0TEAM",
            "api_app_id": "A0PAPERBOY",
            "event_id": event_id or f"Ev{uuid.uuid4().hex[:12].upper()}",
            "event_time": int(time.time()),
            "event": {
                "type": kind,
                "user": user,
                "channel": "D1",
                "tab": "home",
                "event_ts": str(time.time()),
            },
        }
    )


def home_text(web: Web, user: str) -> str:
    return json.dumps(web.slack.views.get(user, {}), ensure_ascii=False)


def settings_action(action_id: str, user: str, container: str, **action: Any) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "user": {"id": user},
        "team": {"id": "T0TEAM"},
        "container": {"type": container},
        "trigger_id": "1.2.3",
        "view": {"type": "home", "id": "V1"},
        "response_url": "",
        "actions": [{"action_id": action_id, "block_id": "settings", **action}],
    }


def responses(web: Web) -> list[dict[str, Any]]:
    return web.slack.calls("respond/1")
