"""`paperboy doctor` says what is configured, what is missing, and how to fix it."""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import trustme
from redis import Redis, RedisError

from paperboy.cli import main

from .conftest import FIXTURES
from .standins import refused_port
from .standins.feeds import FeedServer, serve
from .standins.slack_api import TOKEN as SLACK_TOKEN
from .standins.slack_api import SlackStandIn
from .standins.slack_api import serve as slack_serve
from .standins.smtp import PASSWORD as SMTP_PASSWORD
from .standins.smtp import USER as SMTP_USER
from .standins.smtp import free_port, smtp_server

SMTPS_HOST = "127.0.0.46"
"""A loopback address of this test's own for port 465 (the whole 127/8 is the loopback)."""


@pytest.fixture(autouse=True)
def nothing_configured(unconfigured: object) -> None:
    """Every test starts from a machine with nothing set up but Redis."""


def lines(capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, str]]:
    code = main(["doctor"])
    out = capsys.readouterr().out
    return code, {line.split("] ", 1)[1].split(":", 1)[0]: line for line in out.splitlines()}


def test_fresh_setup(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    feed = (FIXTURES / "rss" / "cs.LG-2026-04-27-first3.xml").read_bytes()
    with serve(FeedServer(routes={"/rss/cs.LG+cs.AI": feed})) as server:
        monkeypatch.setenv("ARXIV_FEED_URL", server.url + "/rss/")
        code, found = lines(capsys)
    assert code == 0
    assert found["arXiv feeds"].startswith("[ok")
    assert found["Redis"].startswith("[warn") and "appendonly" in found["Redis"]
    assert found["group profile"].startswith("[warn") and "CRITERIA_FILE" in found["group profile"]
    assert found["Claude"].startswith("[off") and "local scorer" in found["Claude"]
    assert found["Slack"].startswith("[off") and found["email"].startswith("[off")


def test_broken_services_fail_with_a_fix(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARXIV_FEED_URL", f"http://127.0.0.1:{refused_port()}/rss/")
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(refused_port()))
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{refused_port()}/0")
    monkeypatch.setenv("CRITERIA_FILE", "/no/such/criteria.md")
    code, found = lines(capsys)
    assert code == 1
    for name in ("Redis", "arXiv feeds", "email", "group profile"):
        assert found[name].startswith("[FAIL"), found[name]
    assert "REDIS_URL" in found["Redis"] and "--feed" in found["arXiv feeds"]


def doctor(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, **env: str
) -> tuple[int, dict[str, str], str]:
    """`paperboy doctor` with `env` set (and arXiv at a closed port, so no test reaches out):
    its exit status, its lines by check, and what else it wrote to standard error."""
    monkeypatch.setenv("ARXIV_FEED_URL", f"http://127.0.0.1:{refused_port()}/rss/")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code = main(["doctor"])
    out, err = capsys.readouterr()
    found = {line.split("] ", 1)[1].split(":", 1)[0]: line for line in out.splitlines()}
    return code, found, err


@contextmanager
def own_redis(*options: str) -> Iterator[str]:
    """A redis-server of the test's own (its settings are the test's to choose; the shared one's
    are not), on a free port, for the block's duration: its URL."""
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", *options],
        stdout=subprocess.DEVNULL,
    )
    client = Redis(port=port)
    try:
        for _ in range(200):
            try:
                client.ping()
                break
            except RedisError:
                time.sleep(0.01)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        client.close()
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.parametrize(
    ("options", "status", "says"),
    [
        (["--maxmemory", "10mb", "--maxmemory-policy", "allkeys-lru"], "FAIL", "votes, readers"),
        (["--maxmemory", "10mb", "--maxmemory-policy", "volatile-lru"], "FAIL", "mailed twice"),
        (["--maxmemory-policy", "allkeys-lru"], "warn", "nothing is evicted now"),
        (["--maxmemory", "10mb", "--maxmemory-policy", "noeviction"], "ok", "drops nothing"),
    ],
)
def test_redis_that_would_evict_data_is_named_with_what_it_would_lose(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    options: list[str],
    status: str,
    says: str,
) -> None:
    with own_redis("--appendonly", "yes", *options) as url:
        _, found, _ = doctor(capsys, monkeypatch, REDIS_URL=url)
    assert found["Redis"].startswith("[ok") and "AOF on" in found["Redis"]
    memory = found["Redis memory"]
    assert memory.startswith(f"[{status}") and says in memory, memory
    if status == "FAIL":
        assert "maxmemory-policy noeviction" in memory


def test_implicit_tls_on_port_465_passes_as_paperboy_run_uses_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """SMTP_PORT=465 with SMTP_STARTTLS=false: TLS from the first byte, as the mailer does."""
    ca = trustme.CA()
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    try:
        server = smtp_server(ca, host=SMTPS_HOST, port=465, implicit_tls=True)
        smtp = server.__enter__()
    except OSError as exc:  # port 465 needs root (CI and the dev machines run as root)
        pytest.skip(f"cannot serve SMTP on {SMTPS_HOST}:465: {exc}")
    try:
        email = {
            "SMTP_HOST": SMTPS_HOST,
            "SMTP_PORT": "465",
            "SMTP_USER": SMTP_USER,
            "SMTP_PASSWORD": SMTP_PASSWORD,
            "EMAIL_FROM": "paperboy@lab.example.org",
            "LINK_SECRET": "doctor-test-secret",
            "PUBLIC_URL": "https://paperboy.lab.example.org",
            "SSL_CERT_FILE": str(bundle),
        }
        _, found, _ = doctor(capsys, monkeypatch, SMTP_STARTTLS="false", **email)
        assert found["email"].startswith("[ok") and "TLS from the first byte" in found["email"]
        assert smtp.logins == 1
        assert found["PUBLIC_URL"].startswith("[ok")
    finally:
        server.__exit__(None, None, None)


def test_email_needs_an_https_public_url(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, found, _ = doctor(
        capsys,
        monkeypatch,
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(refused_port()),
        EMAIL_FROM="paperboy@lab.example.org",
        LINK_SECRET="doctor-test-secret",
        PUBLIC_URL="http://paperboy.lab.example.org",
    )
    assert code == 1
    assert (
        found["PUBLIC_URL"].startswith("[FAIL") and "one-click unsubscribe" in found["PUBLIC_URL"]
    )
    monkeypatch.delenv("SMTP_HOST")  # no email: no PUBLIC_URL check
    assert "PUBLIC_URL" not in doctor(capsys, monkeypatch)[1]


def test_a_schedule_the_clock_cannot_run_fails_and_the_rest_is_checked(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, found, _ = doctor(capsys, monkeypatch, SCHEDULE_CRON="0 6 * * 1-5 0")
    assert code == 1
    assert found["SCHEDULE_CRON"].startswith("[FAIL") and "five fields" in found["SCHEDULE_CRON"]
    assert found["Redis"] and found["schedule"].startswith("[ok")  # the rest, with the default
    code, found, _ = doctor(capsys, monkeypatch, SCHEDULE_CRON="30 7 * * 1-5")
    assert "SCHEDULE_CRON" not in found
    assert found["schedule"].startswith("[ok") and "07:30 UTC" in found["schedule"]


def test_socket_mode_needs_no_signing_secret(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with slack_serve() as slack:
        slack_env = {"SLACK_BOT_TOKEN": SLACK_TOKEN, "SLACK_API_URL": slack.url}
        _, found, _ = doctor(
            capsys,
            monkeypatch,
            SLACK_APP_TOKEN="xapp-1-A0-1-abc",
            SLACK_CHANNEL="C0PAPERS",
            **slack_env,
        )
        assert found["Slack"].startswith("[ok") and "Socket Mode" in found["Slack"]
        assert "bot paperboy in Paperboy Lab" in found["Slack"]  # the workspace, by name
        assert found["Slack channel"].startswith("[ok")
        monkeypatch.delenv("SLACK_APP_TOKEN")  # over HTTP, the signing secret is needed
        _, found, _ = doctor(capsys, monkeypatch)
        assert found["Slack"].startswith("[FAIL") and "SLACK_SIGNING_SECRET" in found["Slack"]


@pytest.mark.parametrize(
    ("channel", "says"),
    [
        ("#papers", "a name: set it to the channel's id"),
        ("C0ELSEWHERE", "the bot is not in C0ELSEWHERE: invite it there (/invite @paperboy)"),
        ("G0SECRET", "invite the bot if the channel is private"),
    ],
)
def test_a_channel_the_bot_cannot_read_is_clear_advice(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, channel: str, says: str
) -> None:
    standin = SlackStandIn(
        channels={
            "C0PAPERS": {"name": "papers"},
            "C0ELSEWHERE": {"name": "elsewhere", "member": False},
            "G0SECRET": {"name": "secret", "member": False},
        }
    )
    with slack_serve(standin) as slack:
        env = {"SLACK_BOT_TOKEN": SLACK_TOKEN, "SLACK_API_URL": slack.url}
        code, found, _ = doctor(
            capsys, monkeypatch, SLACK_SIGNING_SECRET="s", SLACK_CHANNEL=channel, **env
        )
        assert code == 1 and found["Slack"].startswith("[ok")
        assert found["Slack channel"].startswith("[FAIL") and says in found["Slack channel"]
        _, found, _ = doctor(capsys, monkeypatch, SLACK_CHANNEL="C0PAPERS")
        assert found["Slack channel"].startswith("[ok")


def test_the_libraries_say_nothing_of_their_own(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Slack down: the doctor says so in its line, and nothing else is written."""
    caplog.set_level(logging.DEBUG)
    _, found, err = doctor(
        capsys,
        monkeypatch,
        SLACK_BOT_TOKEN=SLACK_TOKEN,
        SLACK_API_URL=f"http://127.0.0.1:{refused_port()}/api/",
        SLACK_SIGNING_SECRET="s",
        SLACK_CHANNEL="C0PAPERS",
    )
    assert found["Slack"].startswith("[FAIL") and "cannot be reached" in found["Slack"]
    assert err == ""
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
