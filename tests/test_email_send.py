"""Sending digests through a real SMTP server: STARTTLS, login, retries, once per reader a day."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from pydantic import SecretStr

from paperboy import mailer, pipeline
from paperboy.models import Reader, Score
from paperboy.store import Store
from tests.emailing import DAY, SECRET, day_papers, digest, group_order, settings, store_day
from tests.standins.smtp import PASSWORD, USER, SmtpServer, free_port, smtp_server


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    with smtp_server() as running:
        yield running


class Clock:
    """Records the waits the mailer asks for instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)


def session_factory(server: SmtpServer, clock: Clock, **extra: object) -> mailer.OrderFor:
    def session() -> mailer.Smtp:
        values: dict[str, object] = {
            "port": server.port,
            "user": USER,
            "password": SecretStr(PASSWORD),
            "ssl_context": server.client_context,
            "sleep": clock.sleep,
            "jitter": lambda: 0.5,
        }
        values.update(extra)
        return mailer.Smtp(server.host, **values)  # type: ignore[arg-type]

    return session  # type: ignore[return-value]


def deliverer(server: SmtpServer, clock: Clock, **extra: object) -> mailer.EmailDeliverer:
    order_for = extra.pop("order_for", mailer.reader_order)
    connections = extra.pop("connections", 1)  # one at a time, unless a test asks
    return mailer.EmailDeliverer(
        session_factory(server, clock, **extra),  # type: ignore[arg-type]
        "Paperboy <paperboy@lab.example.org>",
        "https://paperboy.example.org",
        SecretStr(SECRET),
        14,
        order_for=order_for,  # type: ignore[arg-type]
        connections=connections,  # type: ignore[arg-type]
    )


def subscribe(store: Store, *readers: Reader) -> None:
    for reader in readers:
        store.save_reader(reader)


def titles(msg: EmailMessage) -> list[str]:
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    return [line.split("/abs/")[1] for line in text.splitlines() if "arxiv.org/abs/" in line]


@pytest.fixture
def day(store: Store) -> pipeline.Context:
    papers = list(day_papers())
    return store_day(store, papers, group_order(papers))


ADA = Reader(id="UADA", email="ada@example.org", email_enabled=True)
BOB = Reader(id="UBOB", email="bob@example.org", email_enabled=True, digest_size=5)


def test_each_subscribed_reader_gets_one_message_in_their_own_order(
    server: SmtpServer, store: Store, day: pipeline.Context
) -> None:
    subscribe(
        store,
        ADA,
        BOB,
        Reader(id="UOFF", email="off@example.org", email_enabled=False),
        Reader(id="UNOADDR", email_enabled=True),
    )

    def order_for(
        ctx: pipeline.Context, reader: str, batch: pipeline.Batch, order: list[Score]
    ) -> list[Score]:
        return list(reversed(order)) if reader == "UBOB" else order

    result = deliverer(server, Clock(), order_for=order_for).deliver(digest(), day)

    assert result == "emailed 2 of 2 readers"
    assert sorted(r for item in server.received for r in item.rcpt_tos) == [
        "ada@example.org",
        "bob@example.org",
    ]
    (ada,) = server.to("ada@example.org")
    (bob,) = server.to("bob@example.org")
    ids = [p.id for p in day_papers()]
    assert titles(ada) == ids[:12]  # the context's DIGEST_SIZE
    assert titles(bob) == list(reversed(ids))[:5]  # their own order and size
    assert ada["Subject"] == "12 papers for you, Tue 03 Jun"
    assert bob["Subject"] == "5 papers for you, Tue 03 Jun"
    for msg in (ada, bob):
        assert msg.get_content_type() == "multipart/alternative"
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert msg["List-Unsubscribe"].startswith("<https://paperboy.example.org/unsubscribe/")
        assert msg["From"] == "Paperboy <paperboy@lab.example.org>"
    assert server.logins == 1  # STARTTLS, then one login for both messages


def test_a_reader_can_get_more_than_the_group_digest(
    server: SmtpServer, store: Store, day: pipeline.Context
) -> None:
    subscribe(store, ADA.model_copy(update={"digest_size": 20}))
    deliverer(server, Clock()).deliver(digest(size=12), day)
    assert len(titles(server.to("ada@example.org")[0])) == 20  # from the stored day's order


def test_running_twice_sends_nothing_more(
    server: SmtpServer, store: Store, day: pipeline.Context
) -> None:
    subscribe(store, ADA, BOB)
    first = deliverer(server, Clock()).deliver(digest(), day)
    second = deliverer(server, Clock()).deliver(digest(), day)
    assert first == "emailed 2 of 2 readers"
    assert second == "emailed 0 of 2 readers (2 had today's already)"
    assert len(server.received) == 2
    assert server.logins == 1  # the second run did not even connect
    sent = store.emailed(DAY)
    assert sent["UADA"] == server.to("ada@example.org")[0]["Message-ID"]


def test_a_new_subscriber_gets_the_day_on_a_second_run(
    server: SmtpServer, store: Store, day: pipeline.Context
) -> None:
    subscribe(store, ADA)
    deliverer(server, Clock()).deliver(digest(), day)
    subscribe(store, BOB)
    deliverer(server, Clock()).deliver(digest(), day)
    assert sorted(r for item in server.received for r in item.rcpt_tos) == [
        "ada@example.org",
        "bob@example.org",
    ]


def test_a_claim_held_elsewhere_is_respected(
    server: SmtpServer, store: Store, day: pipeline.Context
) -> None:
    subscribe(store, ADA, BOB)
    assert store.claim_email(DAY, "UADA")  # another worker is sending to Ada right now
    result = deliverer(server, Clock()).deliver(digest(), day)
    assert result == "emailed 1 of 2 readers (1 had today's already)"
    assert [r for item in server.received for r in item.rcpt_tos] == ["bob@example.org"]


def test_temporary_refusals_are_retried_with_backoff(
    server: SmtpServer, store: Store, day: pipeline.Context
) -> None:
    subscribe(store, ADA)
    server.rcpt_script["ada@example.org"] = ["451 4.7.1 Greylisted, try later", "421 4.3.2 Busy"]
    clock = Clock()
    assert deliverer(server, clock).deliver(digest(), day) == "emailed 1 of 1 readers"
    assert clock.waits == [2.0, 4.0]  # doubling, jitter fixed at the middle
    assert len(server.received) == 1


def test_a_permanent_refusal_is_not_retried_and_the_others_go_on(
    server: SmtpServer, store: Store, day: pipeline.Context, caplog: pytest.LogCaptureFixture
) -> None:
    gone = Reader(id="UGONE", email="gone@example.org", email_enabled=True)
    subscribe(store, ADA, gone, BOB)
    server.rcpt_script["gone@example.org"] = ["550 5.1.1 No such user"]
    clock = Clock()
    with caplog.at_level(logging.WARNING):
        result = deliverer(server, clock).deliver(digest(), day)
    assert result == "emailed 2 of 3 readers; 1 failed (see the log)"
    assert clock.waits == []
    assert "email to reader UGONE failed" in caplog.text and "550 5.1.1 No such user" in caplog.text
    assert sorted(store.emailed(DAY)) == ["UADA", "UBOB"]
    # The failure holds no claim: once the address is fixed, the next run sends to them only.
    store.save_reader(gone.model_copy(update={"email": "back@example.org"}))
    assert deliverer(server, clock).deliver(digest(), day).startswith("emailed 1 of 3")
    assert len(server.to("back@example.org")) == 1 and len(server.received) == 3


def test_temporary_failures_that_last_are_logged_and_the_others_go_on(
    server: SmtpServer, store: Store, day: pipeline.Context, caplog: pytest.LogCaptureFixture
) -> None:
    subscribe(store, ADA, BOB)
    server.rcpt_script["ada@example.org"] = ["452 4.2.2 Mailbox full"] * 4
    clock = Clock()
    with caplog.at_level(logging.WARNING):
        result = deliverer(server, clock).deliver(digest(), day)
    assert result == "emailed 1 of 2 readers; 1 failed (see the log)"
    assert clock.waits == [2.0, 4.0, 8.0]
    assert "(after 4 tries)" in caplog.text
    assert list(store.emailed(DAY)) == ["UBOB"]


def test_an_unreachable_server_stops_the_run_and_claims_nobody(
    store: Store, day: pipeline.Context
) -> None:
    subscribe(store, ADA, BOB)
    nowhere = SmtpServer(port=free_port(), client_context=ssl.create_default_context())
    clock = Clock()
    with pytest.raises(mailer.ServerUnavailable, match="after 4 tries") as stopped:
        deliverer(nowhere, clock).deliver(digest(), day)
    assert stopped.value.temporary
    assert clock.waits == [2.0, 4.0, 8.0]
    assert store.emailed(DAY) == {}
    assert store.claim_email(DAY, "UADA") and store.claim_email(DAY, "UBOB")


def test_pipeline_delivery_logs_an_unreachable_server_and_goes_on(
    store: Store, day: pipeline.Context, caplog: pytest.LogCaptureFixture
) -> None:
    subscribe(store, ADA)
    nowhere = SmtpServer(port=free_port(), client_context=ssl.create_default_context())
    day.deliverers = [deliverer(nowhere, Clock())]
    with caplog.at_level(logging.ERROR):
        assert pipeline.deliver(day, digest()) == []
    assert "the mail server is unavailable" in caplog.text


def test_the_certificate_is_always_verified(
    server: SmtpServer, store: Store, day: pipeline.Context
) -> None:
    subscribe(store, ADA)
    lax = ssl.create_default_context()
    lax.check_hostname = False
    lax.verify_mode = ssl.CERT_NONE  # asking not to verify changes nothing
    for context in (ssl.create_default_context(), lax):
        clock = Clock()
        with pytest.raises(mailer.ServerUnavailable, match="certificate is not trusted") as err:
            deliverer(server, clock, ssl_context=context).deliver(digest(), day)
        assert not err.value.temporary and clock.waits == []
    assert server.received == [] and server.logins == 0


def test_a_wrong_password_is_permanent_and_never_logged(
    server: SmtpServer, store: Store, day: pipeline.Context, caplog: pytest.LogCaptureFixture
) -> None:
    subscribe(store, ADA)
    clock = Clock()
    with caplog.at_level(logging.DEBUG), pytest.raises(mailer.ServerUnavailable, match="535"):
        deliverer(server, clock, password=SecretStr("wrong-password-123")).deliver(digest(), day)
    assert clock.waits == [] and server.failed_logins >= 1  # no second connection
    assert "wrong-password-123" not in caplog.text and PASSWORD not in caplog.text


def test_no_login_over_an_unencrypted_connection(server: SmtpServer) -> None:
    smtp = mailer.Smtp(
        server.host, server.port, starttls=False, user=USER, password=SecretStr(PASSWORD)
    )
    with pytest.raises(mailer.ServerUnavailable, match="not encrypted"):
        smtp.send(EmailMessage())


def test_one_connection_carries_many_messages_and_is_renewed(
    server: SmtpServer, store: Store, day: pipeline.Context
) -> None:
    subscribe(
        store,
        *[Reader(id=f"U{n}", email=f"r{n}@example.org", email_enabled=True) for n in range(5)],
    )
    deliverer(server, Clock(), per_connection=2).deliver(digest(), day)
    assert len(server.received) == 5
    assert server.logins == 3


def test_several_connections_share_the_readers_and_each_gets_one_message(
    server: SmtpServer, store: Store, day: pipeline.Context
) -> None:
    subscribe(
        store,
        *[Reader(id=f"U{n}", email=f"r{n}@example.org", email_enabled=True) for n in range(12)],
    )
    result = deliverer(server, Clock(), connections=4).deliver(digest(), day)
    assert result == "emailed 12 of 12 readers"
    assert sorted(r for item in server.received for r in item.rcpt_tos) == sorted(
        f"r{n}@example.org" for n in range(12)
    )
    assert 1 <= server.logins <= 4
    assert len(store.emailed(DAY)) == 12


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, None),
        ({"smtp_host": "mail.example.org"}, None),
        ({"email_from": "p@example.org"}, None),
    ],
)
def test_email_is_off_unless_smtp_host_and_email_from_are_set(
    values: dict[str, object], expected: None
) -> None:
    assert mailer.from_settings(settings(**values)) is expected


def test_email_without_a_link_secret_says_how_to_fix_it() -> None:
    with pytest.raises(ValueError, match="set it to a long random string"):
        mailer.from_settings(
            settings(smtp_host="mail.example.org", email_from="p@example.org", link_secret=None)
        )


def test_from_settings_sends_with_the_configured_server(
    server: SmtpServer, store: Store, day: pipeline.Context
) -> None:
    subscribe(store, ADA)
    configured = settings(
        smtp_host=server.host,
        smtp_port=server.port,
        smtp_user=USER,
        smtp_password=SecretStr(PASSWORD),
        email_from="p@lab.example.org",
    )
    email = mailer.from_settings(configured, ssl_context=server.client_context)
    assert email is not None
    assert email.deliver(digest(), day) == "emailed 1 of 1 readers"
    assert server.to("ada@example.org")[0]["From"] == "p@lab.example.org"


class Conn:
    """Just enough of smtplib.SMTP to see what `transmit` hands over."""

    def __init__(self, *extensions: str) -> None:
        self.extensions = extensions
        self.sent: list[tuple[str, list[str], bytes, list[str]]] = []

    def has_extn(self, name: str) -> bool:
        return name.lower() in self.extensions

    def sendmail(self, sender: str, to: list[str], data: bytes, options: list[str]) -> None:
        self.sent.append((sender, to, data, options))


@pytest.mark.parametrize("eight_bit", [True, False])
def test_8bit_bodies_are_declared_or_re_encoded_for_the_server(eight_bit: bool) -> None:
    from email import message_from_bytes, policy

    from paperboy import emails
    from tests.emailing import NOW

    day = digest()
    reader = Reader(id="U1", email="ada@example.org", email_enabled=True)
    links = emails.Links("https://paperboy.example.org", SECRET.encode(), NOW, 14)
    out = emails.outgoing(reader, day, day.entries, sender="Paperboy <p@example.org>", links_=links)
    assert not out.data.isascii()  # 👍, accents in names
    conn = Conn("8bitmime") if eight_bit else Conn()
    mailer.transmit(conn, out)  # type: ignore[arg-type]
    [(sender, to, data, options)] = conn.sent
    assert (sender, to) == ("p@example.org", ["ada@example.org"])
    if eight_bit:
        assert data == out.data and options == ["BODY=8BITMIME"]
    else:
        assert data.isascii() and options == []
    parsed = message_from_bytes(data, policy=policy.default)
    again = out.message()
    for kind in ("plain", "html"):
        assert parsed.get_body((kind,)).get_content() == again.get_body((kind,)).get_content()  # type: ignore[union-attr]
    assert parsed["List-Unsubscribe"] == again["List-Unsubscribe"]
