"""`paperboy run --feed <day>` with SMTP configured: one email per subscriber, in their order."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import trustme

from paperboy import days, readers
from paperboy.cli import main
from paperboy.services import context
from paperboy.settings import Settings
from paperboy.store import Store
from tests.conftest import TEST_REDIS_URL, parsed
from tests.emailing import DAY, DAY_FEED
from tests.standins.smtp import PASSWORD, USER, smtp_server


def papers_in(msg: EmailMessage) -> list[str]:
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    return [line.split("/abs/")[1] for line in text.splitlines() if "arxiv.org/abs/" in line]


@pytest.fixture
def configured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, store: Store) -> Any:
    """The environment of an operator who set SMTP_* to a local server that a test CA signs."""
    ca = trustme.CA()
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.chdir(tmp_path)  # no .env of the checkout
    for name in (
        "ANTHROPIC_API_KEY",
        "SLACK_BOT_TOKEN",
        "SLACK_CHANNEL",
        "CRITERIA_FILE",
        "SEED_PAPERS_FILE",
        "AUTHORS_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    with smtp_server(ca) as server:
        env = {
            "REDIS_URL": TEST_REDIS_URL,
            "SMTP_HOST": server.host,
            "SMTP_PORT": str(server.port),
            "SMTP_USER": USER,
            "SMTP_PASSWORD": PASSWORD,
            "EMAIL_FROM": "Paperboy <paperboy@lab.example.org>",
            "LINK_SECRET": "cli-test-secret",
            "PUBLIC_URL": "https://paperboy.example.org",
            "DIGEST_SIZE": "10",
            "PACING": "0",  # every outside service is a local stand-in
            # The default trust store plus nothing else: the test CA, as an operator's CA.
            "SSL_CERT_FILE": str(bundle),
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        yield server


def test_run_emails_each_subscriber_their_own_order_once(
    configured: Any, store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = configured
    assert main(["subscribe", "--user", "UADA", "--email", "ada@example.org"]) == 0
    assert main(["subscribe", "--user", "UBOB", "--email", "bob@example.org"]) == 0
    assert main(["subscribe", "--user", "UOFF", "--email", "off@example.org"]) == 0
    assert main(["unsubscribe", "--user", "UOFF"]) == 0
    # Ada likes speech and audio papers: her ranking should lean that way.
    feed = parsed(DAY_FEED)
    liked = [p.id for p in feed.papers if "speech" in p.text.lower()][:4]
    assert len(liked) == 4
    for paper in liked:
        assert main(["vote", "--user", "UADA", "--paper", paper, "--up"]) == 0

    out = tmp_path / "digests"
    assert main(["run", "--feed", str(DAY_FEED), "--out", str(out)]) == 0

    assert sorted(r for item in server.received for r in item.rcpt_tos) == [
        "ada@example.org",
        "bob@example.org",
    ]
    ctx = context(Settings(), store)
    batch, order = days.load_batch(ctx, DAY), days.load_order(ctx, DAY)
    mine = {}
    for reader in ("UADA", "UBOB"):
        (msg,) = server.to(f"{reader[1:].lower()}@example.org")
        assert msg.get_content_type() == "multipart/alternative"
        assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
        assert msg["Subject"] == "10 papers for you, Tue 03 Jun"
        assert msg["List-Unsubscribe"].startswith("<https://paperboy.example.org/unsubscribe/")
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert msg["Message-ID"].endswith("@lab.example.org>")
        assert msg["From"] == "Paperboy <paperboy@lab.example.org>"
        expected = [s.paper for s in readers.rank_for(ctx, reader, batch, order)][:10]
        mine[reader] = papers_in(msg)
        assert mine[reader] == expected
    assert mine["UBOB"] == [s.paper for s in order][:10]  # no votes: the group order
    assert mine["UADA"] != mine["UBOB"]

    # The same day again: nobody gets a second message.
    assert main(["run", "--feed", str(DAY_FEED), "--out", str(out)]) == 0
    assert len(server.received) == 2


def test_run_without_link_secret_says_what_to_set(
    configured: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("LINK_SECRET")
    assert main(["run", "--feed", str(DAY_FEED)]) == 1  # the day still ran, email did not
    out, err = capsys.readouterr()
    assert "Tue 03 Jun: 10 of 834 new papers" in out  # the terminal got the digest
    assert "nothing was delivered by email" in err and "LINK_SECRET" in err
    assert configured.received == []
