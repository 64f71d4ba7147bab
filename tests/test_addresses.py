"""Addresses: checked at subscribe (offline), sent in punycode, beyond ASCII only where the mail
server offers SMTPUTF8, which the mailer and `paperboy doctor` learn and keep in the store."""

from __future__ import annotations

from pathlib import Path

import pytest
import trustme
from pydantic import SecretStr

from paperboy import addresses, emails, mailer
from paperboy.cli import main
from paperboy.models import Delivery, Reader, ReaderDigest
from paperboy.smtp import Smtp
from paperboy.store import Store
from tests.emailing import NOW, SECRET, digest
from tests.standins.smtp import PASSWORD, USER, SmtpServer, smtp_server


@pytest.mark.parametrize(
    ("given", "smtputf8", "kept", "says"),
    [
        ("ada@example.org", False, "ada@example.org", None),
        ("  Ada@Example.ORG ", False, "Ada@example.org", None),
        ("ada@bücher.example", False, "ada@bücher.example", None),
        ("josé@example.org", True, "josé@example.org", None),
        ("josé@example.org", False, None, "cannot deliver to it: it does not offer SMTPUTF8"),
        ("josé@example.org", None, None, "does not know yet whether its mail server offers"),
        ("nope", False, None, "does not look like an email address"),
        ("a@b", False, None, "does not look like an email address"),
        ("a@@example.org", True, None, "does not look like an email address"),
    ],
)
def test_addresses_are_checked_when_given(
    given: str, smtputf8: bool | None, kept: str | None, says: str | None
) -> None:
    if says is None:
        assert addresses.checked(given, smtputf8) == kept
        return
    with pytest.raises(addresses.AddressError, match=says):
        addresses.checked(given, smtputf8)


def test_an_idn_domain_goes_as_punycode_and_a_local_part_as_it_is() -> None:
    assert addresses.for_sending("ada@bücher.example") == "ada@xn--bcher-kva.example"
    assert addresses.for_sending("josé@bücher.example") == "josé@xn--bcher-kva.example"
    assert addresses.sender("Équipe <digest@bücher.example>")[0] == "digest@xn--bcher-kva.example"


def send(server: SmtpServer, store: Store, *readers: Reader) -> str:
    for reader in readers:
        store.save_reader(reader)
    channel = mailer.EmailDeliverer(
        lambda: Smtp(
            server.host,
            server.port,
            user=USER,
            password=SecretStr(PASSWORD),
            ssl_context=server.client_context,
            learned=store.set_smtputf8,
        ),
        store,
        "Paperboy <paperboy@lab.example.org>",
        "https://paperboy.example.org",
        SecretStr(SECRET),
        now=lambda: NOW,
    )
    day = digest(size=3)
    mine = [ReaderDigest(reader=r, entries=day.entries) for r in channel.readers(day.day)]
    return channel.deliver(Delivery(digest=day, readers=mine))


def test_an_idn_domain_is_sent_as_punycode_and_the_server_is_learned(store: Store) -> None:
    assert store.smtputf8() is None  # nothing asked the server yet
    with smtp_server() as server:
        result = send(
            server, store, Reader(id="U1", email="ada@bücher.example", email_enabled=True)
        )
    assert result == "emailed 1 of 1 readers"
    (got,) = server.received
    assert got.rcpt_tos == ["ada@xn--bcher-kva.example"]
    head = got.raw.partition(b"\r\n\r\n")[0]
    assert b"To: ada@xn--bcher-kva.example\r\n" in head and b"=?" not in head
    assert store.smtputf8() is False  # this server's EHLO does not offer SMTPUTF8


def test_a_local_part_beyond_ascii_goes_only_where_the_server_offers_smtputf8(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    jose = Reader(id="UJOSE", email="josé@example.org", email_enabled=True)
    with smtp_server() as plain:  # an address kept from before the check: logged, not sent
        assert send(plain, store, jose) == "emailed 0 of 1 readers; 1 failed (see the log)"
    assert "does not offer SMTPUTF8, which josé@example.org needs" in caplog.text
    assert plain.received == [] and store.emailed(NOW.date()) == {}
    with smtp_server(smtputf8=True) as utf8:
        assert send(utf8, store, jose) == "emailed 1 of 1 readers"
    (got,) = utf8.received
    assert got.rcpt_tos == ["josé@example.org"]
    assert "To: josé@example.org\r\n".encode() in got.raw  # RFC 6532, not an encoded-word
    assert store.smtputf8() is True


def test_subscribe_refuses_what_the_server_cannot_deliver(
    unconfigured: Path, store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["subscribe", "--user", "UJOSE", "--email", "josé@example.org"]) == 1
    err = capsys.readouterr().err
    assert "letters beyond ASCII before the @" in err and "paperboy doctor" in err
    assert store.reader("UJOSE") is None
    assert main(["subscribe", "--user", "U2", "--email", "ada@Bücher.example"]) == 0
    assert store.reader("U2").email == "ada@bücher.example"  # type: ignore[union-attr]
    store.set_smtputf8(True)  # as the mailer or doctor learned it
    assert main(["subscribe", "--user", "UJOSE", "--email", "josé@example.org"]) == 0
    assert store.reader("UJOSE").email == "josé@example.org"  # type: ignore[union-attr]


def test_doctor_learns_whether_the_server_offers_smtputf8(
    unconfigured: Path,
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ca = trustme.CA()
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    with smtp_server(ca, smtputf8=True) as server:
        for name, value in {
            "SMTP_HOST": server.host,
            "SMTP_PORT": str(server.port),
            "SMTP_USER": USER,
            "SMTP_PASSWORD": PASSWORD,
            "EMAIL_FROM": "p@lab.example.org",
            "LINK_SECRET": "s",
            "SSL_CERT_FILE": str(bundle),
            "ARXIV_FEED_URL": "http://127.0.0.1:9/rss/",
        }.items():
            monkeypatch.setenv(name, value)
        main(["doctor"])
    email = [line for line in capsys.readouterr().out.splitlines() if "] email:" in line]
    assert email and email[0].startswith("[ok") and "offers SMTPUTF8" in email[0]
    assert store.smtputf8() is True


def test_emails_say_nothing_in_encoded_words_about_addresses() -> None:
    day = digest(size=2)
    reader = Reader(id="U1", email="ada@bücher.example", email_enabled=True)
    links = emails.Links("https://paperboy.example.org", SECRET.encode(), NOW, 14)
    out = emails.outgoing(reader, day, day.entries, sender="p@bücher.example", links_=links)
    assert (out.sender, out.recipient) == ("p@xn--bcher-kva.example", "ada@xn--bcher-kva.example")
    assert b"=?" not in out.data.partition(b"\r\n\r\n")[0]
