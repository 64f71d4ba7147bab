"""`paperboy doctor` says what is configured, what is missing, and how to fix it."""

from __future__ import annotations

import socket

import pytest

from paperboy.cli import main

from .conftest import FIXTURES
from .standins.feeds import FeedServer, serve


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
    monkeypatch.setenv("ARXIV_FEED_URL", f"http://127.0.0.1:{closed_port()}/rss/")
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(closed_port()))
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{closed_port()}/0")
    monkeypatch.setenv("CRITERIA_FILE", "/no/such/criteria.md")
    code, found = lines(capsys)
    assert code == 1
    for name in ("Redis", "arXiv feeds", "email", "group profile"):
        assert found[name].startswith("[FAIL"), found[name]
    assert "REDIS_URL" in found["Redis"] and "--feed" in found["arXiv feeds"]
