"""The web process as the Procfile starts it (gunicorn, two workers of eight threads) while
Redis restarts: votes cast before are kept (AOF), a click during the restart waits for Redis and
is recorded, and so is one after."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import redis

from faults.conftest import CHANNEL, AofRedis, Processes, environment, wait_for
from paperboy import blocks
from paperboy.store import Store
from tests.conftest import parsed
from tests.slackweb import FEED, a_day
from tests.standins.feeds import FeedServer
from tests.standins.slack_api import SlackStandIn, click, interaction, signed
from tests.standins.smtp import free_port

SECRET = "faults-signing-secret"


def test_votes_are_kept_and_taken_across_a_redis_restart(
    aof: AofRedis,
    redis_db: redis.Redis,
    arxiv: FeedServer,
    slack: SlackStandIn,
    processes: Processes,
    tmp_path: Path,
) -> None:
    store = Store(redis_db)
    papers = parsed(Path(__file__).resolve().parents[1] / "tests" / "data" / "days" / FEED).papers
    replies = a_day(store, slack, list(papers[:5]))
    port = free_port()
    processes.web(environment(aof, arxiv, slack, PORT=str(port)))
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: _answers(url), 30, "gunicorn to serve")

    def vote(reply: int) -> int:
        body = interaction(click("U1", blocks.VOTE_UP, replies[reply], CHANNEL))
        answer = httpx.post(url + "/slack/events", content=body, headers=signed(SECRET, body))
        return answer.status_code

    assert vote(0) == 200
    restart = threading.Thread(target=aof.restart, kwargs={"down": 1.0})
    restart.start()
    wait_for(lambda: not _redis_answers(aof), 5, "Redis to stop")
    assert vote(1) == 200  # cast while Redis is down: it waits for Redis, then is recorded
    restart.join()
    assert vote(2) == 200
    voted = {v.paper for v in Store(aof.client()).votes("U1")}
    assert voted == {blocks.paper_of(r) for r in replies[:3]}


def _answers(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _redis_answers(aof: AofRedis) -> bool:
    try:
        return bool(redis.Redis(port=aof.port, socket_connect_timeout=0.2).ping())
    except redis.RedisError:
        return False
