"""Sending digests through a real SMTP server: STARTTLS, login, retries, once per reader a day."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable, Iterator
from email.message import EmailMessage

import pytest
from pydantic import SecretStr

from paperboy import days, mailer, pipeline
from paperboy.leases import Busy
from paperboy.models import Delivery, Reader, ReaderDigest, Score
from paperboy.order import top_entries
from paperboy.smtp import ServerUnavailable, Smtp
from paperboy.store import Store, in_process
from tests.emailing import DAY, NOW, SECRET, day_papers, digest, group_order, settings, store_day
from tests.standins import refused_port
from tests.standins.smtp import PASSWORD, USER, SmtpServer, smtp_server


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


def session_factory(server: SmtpServer, clock: Clock, **extra: object) -> Callable[[], Smtp]:
    def session() -> Smtp:
        values: dict[str, object] = {
            "port": server.port,
            "user": USER,
            "password": SecretStr(PASSWORD),
            "ssl_context": server.client_context,
            "sleep": clock.sleep,
            "jitter": lambda: 0.5,
        }
        values.update(extra)
        return Smtp(server.host, **values)  # type: ignore[arg-type]

    return session


def deliverer(
    server: SmtpServer, clock: Clock, store: Store, **extra: object
) -> mailer.EmailDeliverer:
    connections = extra.pop("connections", 1)  # one at a time, unless a test asks
    return mailer.EmailDeliverer(
        session_factory(server, clock, **extra),
        store,
        "Paperboy <paperboy@lab.example.org>",
        "https://paperboy.example.org",
        SecretStr(SECRET),
        14,
        connections=connections,  # type: ignore[arg-type]
        now=lambda: NOW,
    )


def mail(
    email: mailer.EmailDeliverer, size: int = 12, orders: dict[str, list[Score]] | None = None
) -> str:
    """Hand the channel the day as the pipeline does: the group's digest, and the digest of each
    reader it asks for (the group's order unless `orders` gives theirs)."""
    papers = list(day_papers())
    by_id, group = {p.id: p for p in papers}, group_order(papers)
    mine = [
        ReaderDigest(
            reader=r,
            entries=top_entries((orders or {}).get(r.id, group), by_id, r.digest_size or size),
        )
        for r in email.readers(DAY)
    ]
    return email.deliver(Delivery(digest=digest(size=size), readers=mine))


def subscribe(store: Store, *readers: Reader) -> None:
    for reader in readers:
        store.save_reader(reader)


def titles(msg: EmailMessage) -> list[str]:
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    return [line.split("/abs/")[1] for line in text.splitlines() if "arxiv.org/abs/" in line]


@pytest.fixture
def day(store: Store) -> days.Context:
    papers = list(day_papers())
    return store_day(store, papers, group_order(papers))


ADA = Reader(id="UADA", email="ada@example.org", email_enabled=True)
BOB = Reader(id="UBOB", email="bob@example.org", email_enabled=True, digest_size=5)


def test_each_subscribed_reader_gets_one_message_in_their_own_order(
    server: SmtpServer, store: Store, day: days.Context
) -> None:
    subscribe(
        store,
        ADA,
        BOB,
        Reader(id="UOFF", email="off@example.org", email_enabled=False),
        Reader(id="UNOADDR", email_enabled=True),
    )

    reversed_order = list(reversed(group_order(list(day_papers()))))
    result = mail(deliverer(server, Clock(), store), orders={"UBOB": reversed_order})

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
    server: SmtpServer, store: Store, day: days.Context
) -> None:
    subscribe(store, ADA.model_copy(update={"digest_size": 20}))
    day.deliverers = [deliverer(server, Clock(), store)]
    batch, order = days.load_batch(day, DAY), days.load_order(day, DAY)
    assert pipeline.deliver(day, digest(size=12), batch, order).failed == {}
    assert len(titles(server.to("ada@example.org")[0])) == 20  # from the stored day's order


def test_running_twice_sends_nothing_more(
    server: SmtpServer, store: Store, day: days.Context
) -> None:
    subscribe(store, ADA, BOB)
    first = mail(deliverer(server, Clock(), store))
    second = mail(deliverer(server, Clock(), store))
    assert first == "emailed 2 of 2 readers"
    assert second == "no reader is waiting for today's email"  # both had it
    assert len(server.received) == 2
    assert server.logins == 1  # the second run did not even connect
    sent = store.emailed(DAY)
    assert sent["UADA"] == server.to("ada@example.org")[0]["Message-ID"]


def test_a_new_subscriber_gets_the_day_on_a_second_run(
    server: SmtpServer, store: Store, day: days.Context
) -> None:
    subscribe(store, ADA)
    mail(deliverer(server, Clock(), store))
    subscribe(store, BOB)
    mail(deliverer(server, Clock(), store))
    assert sorted(r for item in server.received for r in item.rcpt_tos) == [
        "ada@example.org",
        "bob@example.org",
    ]


def test_a_claim_held_elsewhere_is_respected(
    server: SmtpServer, store: Store, day: days.Context
) -> None:
    subscribe(store, ADA, BOB)
    elsewhere = store.claim_email(DAY, "UADA", 60)  # another worker is sending to Ada now
    assert elsewhere is not None
    with pytest.raises(Busy, match="emailed 1 of 2 readers; 1 reader"):  # not done: RQ retries
        mail(deliverer(server, Clock(), store))
    assert [r for item in server.received for r in item.rcpt_tos] == ["bob@example.org"]
    elsewhere.release()  # that worker finished without a message (it failed): Ada's turn
    assert mail(deliverer(server, Clock(), store)) == "emailed 1 of 1 readers"
    assert len(server.to("ada@example.org")) == 1


def test_temporary_refusals_are_retried_with_backoff(
    server: SmtpServer, store: Store, day: days.Context
) -> None:
    subscribe(store, ADA)
    server.rcpt_script["ada@example.org"] = ["451 4.7.1 Greylisted, try later", "421 4.3.2 Busy"]
    clock = Clock()
    assert mail(deliverer(server, clock, store)) == "emailed 1 of 1 readers"
    assert clock.waits == [2.0, 4.0]  # doubling, jitter fixed at the middle
    assert len(server.received) == 1


def test_a_permanent_refusal_is_not_retried_and_the_others_go_on(
    server: SmtpServer, store: Store, day: days.Context, caplog: pytest.LogCaptureFixture
) -> None:
    gone = Reader(id="UGONE", email="gone@example.org", email_enabled=True)
    subscribe(store, ADA, gone, BOB)
    server.rcpt_script["gone@example.org"] = ["550 5.1.1 No such user"]
    clock = Clock()
    with caplog.at_level(logging.WARNING):
        result = mail(deliverer(server, clock, store))
    assert result == "emailed 2 of 3 readers; 1 failed (see the log)"
    assert clock.waits == []
    assert "email to reader UGONE failed" in caplog.text and "550 5.1.1 No such user" in caplog.text
    assert sorted(store.emailed(DAY)) == ["UADA", "UBOB"]
    # The failure holds no claim: once the address is fixed, the next run sends to them only.
    store.save_reader(gone.model_copy(update={"email": "back@example.org"}))
    assert mail(deliverer(server, clock, store)) == "emailed 1 of 1 readers"
    assert len(server.to("back@example.org")) == 1 and len(server.received) == 3


def test_temporary_failures_that_last_are_logged_and_the_others_go_on(
    server: SmtpServer, store: Store, day: days.Context, caplog: pytest.LogCaptureFixture
) -> None:
    subscribe(store, ADA, BOB)
    server.rcpt_script["ada@example.org"] = ["452 4.2.2 Mailbox full"] * 4
    clock = Clock()
    with caplog.at_level(logging.WARNING):
        result = mail(deliverer(server, clock, store))
    assert result == "emailed 1 of 2 readers; 1 failed (see the log)"
    assert clock.waits == [2.0, 4.0, 8.0]
    assert "(after 4 tries)" in caplog.text
    assert list(store.emailed(DAY)) == ["UBOB"]


def test_an_unreachable_server_stops_the_run_and_claims_nobody(
    store: Store, day: days.Context
) -> None:
    subscribe(store, ADA, BOB)
    nowhere = SmtpServer(port=refused_port(), client_context=ssl.create_default_context())
    clock = Clock()
    with pytest.raises(ServerUnavailable, match="after 4 tries") as stopped:
        mail(deliverer(nowhere, clock, store))
    assert stopped.value.temporary
    assert clock.waits == [2.0, 4.0, 8.0]
    assert store.emailed(DAY) == {}
    assert store.claim_email(DAY, "UADA", 60) and store.claim_email(DAY, "UBOB", 60)


def test_pipeline_delivery_logs_an_unreachable_server_and_goes_on(
    store: Store, day: days.Context, caplog: pytest.LogCaptureFixture
) -> None:
    subscribe(store, ADA)
    nowhere = SmtpServer(port=refused_port(), client_context=ssl.create_default_context())
    day.deliverers = [deliverer(nowhere, Clock(), store)]
    batch, order = days.load_batch(day, DAY), days.load_order(day, DAY)
    with caplog.at_level(logging.ERROR):
        delivered = pipeline.deliver(day, digest(), batch, order)
    assert delivered.done == [] and isinstance(delivered.failed["email"], ServerUnavailable)
    assert "the mail server is unavailable" in caplog.text


def test_the_certificate_is_always_verified(
    server: SmtpServer, store: Store, day: days.Context
) -> None:
    subscribe(store, ADA)
    lax = ssl.create_default_context()
    lax.check_hostname = False
    lax.verify_mode = ssl.CERT_NONE  # asking not to verify changes nothing
    for context in (ssl.create_default_context(), lax):
        clock = Clock()
        with pytest.raises(ServerUnavailable, match="certificate is not trusted") as err:
            mail(deliverer(server, clock, store, ssl_context=context))
        assert not err.value.temporary and clock.waits == []
    assert server.received == [] and server.logins == 0


def test_a_wrong_password_is_permanent_and_never_logged(
    server: SmtpServer, store: Store, day: days.Context, caplog: pytest.LogCaptureFixture
) -> None:
    subscribe(store, ADA)
    clock = Clock()
    with caplog.at_level(logging.DEBUG), pytest.raises(ServerUnavailable, match="535"):
        mail(deliverer(server, clock, store, password=SecretStr("wrong-password-123")))
    assert clock.waits == [] and server.failed_logins >= 1  # no second connection
    assert "wrong-password-123" not in caplog.text and PASSWORD not in caplog.text


def test_no_login_over_an_unencrypted_connection(server: SmtpServer) -> None:
    smtp = Smtp(server.host, server.port, starttls=False, user=USER, password=SecretStr(PASSWORD))
    with pytest.raises(ServerUnavailable, match="not encrypted"):
        smtp.send(EmailMessage())


def test_one_connection_carries_many_messages_and_is_renewed(
    server: SmtpServer, store: Store, day: days.Context
) -> None:
    subscribe(
        store,
        *[Reader(id=f"U{n}", email=f"r{n}@example.org", email_enabled=True) for n in range(5)],
    )
    mail(deliverer(server, Clock(), store, per_connection=2))
    assert len(server.received) == 5
    assert server.logins == 3


def test_several_connections_share_the_readers_and_each_gets_one_message(
    server: SmtpServer, store: Store, day: days.Context
) -> None:
    subscribe(
        store,
        *[Reader(id=f"U{n}", email=f"r{n}@example.org", email_enabled=True) for n in range(12)],
    )
    result = mail(deliverer(server, Clock(), store, connections=4))
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
    assert mailer.from_settings(settings(**values), Store(in_process())) is expected


def test_email_without_a_link_secret_says_how_to_fix_it() -> None:
    with pytest.raises(ValueError, match="set it to a long random string"):
        mailer.from_settings(
            settings(smtp_host="mail.example.org", email_from="p@example.org", link_secret=None),
            Store(in_process()),
        )


def test_from_settings_sends_with_the_configured_server(
    server: SmtpServer, store: Store, day: days.Context
) -> None:
    subscribe(store, ADA)
    configured = settings(
        smtp_host=server.host,
        smtp_port=server.port,
        smtp_user=USER,
        smtp_password=SecretStr(PASSWORD),
        email_from="p@lab.example.org",
    )
    email = mailer.from_settings(configured, store, ssl_context=server.client_context)
    assert email is not None
    assert mail(email) == "emailed 1 of 1 readers"
    assert server.to("ada@example.org")[0]["From"] == "p@lab.example.org"


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
    accepted: list[int] = []
    with smtp_server(eight_bit=eight_bit) as running:
        with session_factory(running, Clock())() as session:
            session.send(out, accepted=lambda: accepted.append(len(running.received)))
        [received] = running.received
    assert (received.mail_from, received.rcpt_tos) == ("p@example.org", ["ada@example.org"])
    assert accepted == [1]  # told once, after the server had it
    data = received.raw
    if eight_bit:
        assert data.replace(b"\r\n", b"\n") == out.data.replace(b"\r\n", b"\n")
    else:
        assert data.isascii()
    parsed = message_from_bytes(data, policy=policy.default)
    again = out.message()
    for kind in ("plain", "html"):
        assert parsed.get_body((kind,)).get_content() == again.get_body((kind,)).get_content()  # type: ignore[union-attr]
    assert parsed["List-Unsubscribe"] == again["List-Unsubscribe"]


def test_lines_starting_with_a_dot_arrive_as_written() -> None:
    from paperboy.emails import Outgoing

    body = b"Subject: dots\r\n\r\n.leading\r\n.\r\n..two\r\nlast line without an end"
    out = Outgoing("p@example.org", "ada@example.org", "<m@example.org>", body)
    with smtp_server() as running:
        with session_factory(running, Clock())() as session:
            session.send(out)
        [received] = running.received
    assert received.raw.replace(b"\r\n", b"\n") == body.replace(b"\r\n", b"\n") + b"\n"
