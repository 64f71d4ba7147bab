"""`paperboy run` (the real command, in its own process) with a good feed beside one that
fails: a redirect loop, a body that claims gzip and is not, a server that trickles bytes for
ever. The good feed's day goes out, the bad one is named as missing, and the command ends
within FEED_DEADLINE_SECONDS of the trickle."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from faults.conftest import (
    BIN,
    DAY_FEED,
    FEED_DEADLINE,
    FIGURES,
    PRODUCTION,
    AofRedis,
    environment,
)
from tests.standins.feeds import FeedServer, serve

FAULTS = {
    "/rss/loop": (302, {"Location": "/rss/loop"}, b""),
    "/rss/badgzip": (200, {"Content-Encoding": "gzip"}, b"\x1f\x8bnot really gzip at all"),
}
DRIP = (16, 5.0 if PRODUCTION else 1.0)
"""16 bytes every 5 s (every second at the suite's settings), for ever."""


@pytest.mark.parametrize("fault", ["/rss/loop", "/rss/badgzip", "/rss/drip"])
def test_a_bad_feed_beside_a_good_one_is_that_feed_missing(
    fault: str, aof: AofRedis, redis_db: object, tmp_path: Path
) -> None:
    state = FeedServer(routes={"/rss/good": DAY_FEED.read_bytes()}, faults=dict(FAULTS))
    state.drip = {"/rss/drip": DRIP}
    with serve(state) as feeds:
        env = environment(aof, feeds)
        started = time.monotonic()
        run = subprocess.run(
            [
                str(BIN / "paperboy"), "run",
                "--feed", feeds.url + "/rss/good",
                "--feed", feeds.url + fault,
            ],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        took = time.monotonic() - started
        state.stopping.set()
    said = run.stdout + run.stderr
    assert run.returncode == 0, said
    assert fault in said  # named as missing
    written = list((tmp_path / "digests").glob("*.html"))
    assert written and "arxiv.org/abs/" in written[0].read_text()
    assert took < 120
    FIGURES.append(
        f"feeds, good + {fault.removeprefix('/rss/')}: exit {run.returncode}, "
        f"{took:.1f} s (deadline {FEED_DEADLINE} s)"
    )
