"""The fault suite's parts: a redis-server with AOF on a port of its own, rq workers and other
processes started as the Procfile starts them, the stand-ins, and the figures each test
measured (printed at the end).

`PAPERBOY_FAULTS=production` runs the suite at the production settings (leases of 60 s, retries
after 60, 300 and 900 s, Slack's pacing, a 60 s feed deadline): slow, for the figures a release
note gives. By default the leases, retries and deadlines are a few seconds.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
import trustme

from faults.horses import HORSE_KEY
from tests.conftest import FIXTURES
from tests.standins.feeds import FeedServer
from tests.standins.feeds import serve as serve_feeds
from tests.standins.slack_api import TOKEN as SLACK_TOKEN
from tests.standins.slack_api import SlackStandIn
from tests.standins.slack_api import serve as serve_slack
from tests.standins.smtp import PASSWORD as SMTP_PASSWORD
from tests.standins.smtp import USER as SMTP_USER
from tests.standins.smtp import SmtpServer, free_port, smtp_server

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PRODUCTION = os.environ.get("PAPERBOY_FAULTS") == "production"

SETTINGS = (
    {"LOCK_SECONDS": "60", "RETRY_SECONDS": "60,300,900", "PACING": "1"}
    if PRODUCTION
    else {"LOCK_SECONDS": "3", "RETRY_SECONDS": "1,2,2,2,2,2,2,2", "PACING": "0.05"}
)
"""Leases, retries and pacing: production's, or a few seconds each."""
FEED_DEADLINE = 60 if PRODUCTION else 5
PATIENCE = 300.0 if PRODUCTION else 60.0
"""Seconds a test waits for a day to be delivered after its fault."""

DAY_FEED = FIXTURES / "days" / "cs.SD+eess.AS-2025-06-04.xml"
"""A real day: 49 papers, a digest of 15."""
DAY = "2025-06-04"
MORNING = f"{DAY}T06:00:00+00:00"
CHANNEL = "C0PAPERS"

FIGURES: list[str] = []
"""What the tests measured, printed after the run."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if PRODUCTION:  # retries minutes apart: far beyond the suite's usual two minutes a test
        for item in items:
            item.add_marker(pytest.mark.timeout(1800))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.section("fault suite figures" + (" (production)" if PRODUCTION else ""))
        for line in FIGURES:
            terminalreporter.write_line(line)


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """The first truthy result of `check`, polled for `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


@dataclass
class AofRedis:
    """A redis-server of the suite's own, persisting with AOF (fsync on every write), which a
    test may restart."""

    folder: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port)

    def start(self) -> None:
        server = shutil.which("redis-server")
        assert server, "the fault suite needs redis-server on PATH"
        self.process = subprocess.Popen(
            [
                server,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--dir", str(self.folder),
                "--appendonly", "yes",
                "--appendfsync", "always",
                "--save", "",
            ],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for(self._answers, 10, "redis-server to start")

    def _answers(self) -> bool:
        try:
            return bool(self.client().ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()  # SIGTERM: Redis flushes its AOF and exits
            self.process.wait(10)
            self.process = None

    def restart(self, down: float = 0.5) -> None:
        self.stop()
        time.sleep(down)
        self.start()


@pytest.fixture(scope="session")
def aof(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AofRedis]:
    server = AofRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_db(aof: AofRedis) -> Iterator[redis.Redis]:
    """The suite's Redis, empty before and after each test."""
    client = aof.client()
    client.flushall()
    yield client
    aof.client().flushall()


@pytest.fixture
def arxiv() -> Iterator[FeedServer]:
    with serve_feeds(FeedServer(routes={"/rss/cs.SD+eess.AS": DAY_FEED.read_bytes()})) as feeds:
        yield feeds


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with serve_slack() as server:
        yield server


@dataclass
class Mail:
    server: SmtpServer
    bundle: Path


@pytest.fixture
def mail(tmp_path: Path) -> Iterator[Mail]:
    ca = trustme.CA()
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    with smtp_server(ca) as server:
        yield Mail(server, bundle)


def environment(
    aof: AofRedis,
    arxiv: FeedServer,
    slack: SlackStandIn | None = None,
    mail: Mail | None = None,
    **extra: str,
) -> dict[str, str]:
    """The processes' environment: nothing of the machine's own settings, the suite's Redis,
    arXiv's stand-in, and Slack and email when given."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
    }
    env.update(
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
        REDIS_URL=aof.url,
        ARXIV_FEED_URL=arxiv.url + "/rss/",
        ARXIV_CATEGORIES="cs.SD,eess.AS",
        FEED_DEADLINE_SECONDS=str(FEED_DEADLINE),
        **SETTINGS,
    )
    if slack is not None:
        env.update(
            SLACK_BOT_TOKEN=SLACK_TOKEN,
            SLACK_CHANNEL=CHANNEL,
            SLACK_API_URL=slack.url,
            SLACK_SIGNING_SECRET="faults-signing-secret",
        )
    if mail is not None:
        env.update(
            SMTP_HOST=mail.server.host,
            SMTP_PORT=str(mail.server.port),
            SMTP_USER=SMTP_USER,
            SMTP_PASSWORD=SMTP_PASSWORD,
            EMAIL_FROM="Paperboy <paperboy@lab.example.org>",
            LINK_SECRET="faults-link-secret",
            PUBLIC_URL="https://paperboy.lab.example.org",
            SSL_CERT_FILE=str(mail.bundle),
        )
    env.update(extra)
    return env


def procfile(name: str, env: dict[str, str]) -> list[str]:
    """The Procfile's command for process `name`, its `${VAR:-default}` filled from `env`."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        kind, _, command = line.partition(":")
        if kind.strip() == name:
            filled = re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: env.get(m[1], m[2]), command.strip())
            words = shlex.split(filled)
            return [str(BIN / words[0]), *words[1:]]
    raise KeyError(f"the Procfile has no {name!r} process")


@dataclass
class Processes:
    """Processes started for a test, their output in files, stopped at its end."""

    folder: Path
    running: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    def start(self, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (self.folder / f"{name}.log").open("wb")
        process = subprocess.Popen(
            command, env=env, cwd=self.folder, stdout=log, stderr=subprocess.STDOUT
        )
        self.running.append((name, process))
        return process

    def worker(self, env: dict[str, str], name: str = "worker") -> subprocess.Popen[bytes]:
        """An rq worker as the Procfile's `worker` starts it (with its scheduler), telling where
        its work horse is."""
        command = procfile("worker", env)
        command[2:2] = ["--worker-class", "faults.horses.RecordingWorker"]
        return self.start(name, command, env)

    def web(self, env: dict[str, str]) -> subprocess.Popen[bytes]:
        """The web process as the Procfile's `web` starts it."""
        return self.start("web", procfile("web", env), env)

    def output(self, name: str) -> str:
        path = self.folder / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        for _, process in self.running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for _, process in self.running:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def processes(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Processes]:
    started = Processes(tmp_path)
    yield started
    started.stop()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        for name, _ in started.running:
            print(f"----- {name} -----\n{started.output(name)[-6000:]}")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


class Killer:
    """Kills the work horse (kill -9) the first time a count reaches `at`."""

    def __init__(self, client: redis.Redis, at: int) -> None:
        self.client, self.at = client, at
        self.killed_at: float | None = None

    def __call__(self, count: int) -> None:
        if self.killed_at is not None or count < self.at:
            return
        pid = self.client.get(HORSE_KEY)
        assert pid is not None, "no work horse has started"
        os.kill(int(pid), signal.SIGKILL)
        self.killed_at = time.monotonic()


@contextmanager
def timed() -> Iterator[list[float]]:
    started = time.monotonic()
    took: list[float] = []
    yield took
    took.append(time.monotonic() - started)
