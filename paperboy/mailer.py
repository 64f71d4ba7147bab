"""SMTP: sending each subscribed reader their own digest, once per day (edge).

`Smtp` is one session with the mail server: STARTTLS with the certificate verified (always),
login from settings, a timeout, and retries with backoff on temporary failures (4xx replies,
dropped or refused connections) but none on permanent ones (5xx). One connection carries many
messages. `EmailDeliverer` is the pipeline's email step: it claims each reader and day in Redis
before sending, so a second run (or a second worker) sends nothing more, and a reader whose
message fails is logged and skipped while the others go on.
"""

from __future__ import annotations

import logging
import random
import smtplib
import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from types import TracebackType
from typing import TYPE_CHECKING

from pydantic import SecretStr

from paperboy import emails, pipeline
from paperboy.models import Digest, Paper, Reader, Score

if TYPE_CHECKING:
    from paperboy.pipeline import Batch, Context
    from paperboy.settings import Settings

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 30.0
"""How long one SMTP command may take, in seconds."""
ATTEMPTS = 4
"""Tries per message (the first and three retries) before a temporary failure counts."""
BACKOFF_SECONDS = 2.0
"""The first wait between tries, in seconds; doubled each time, with jitter."""
MESSAGES_PER_CONNECTION = 100
"""Messages sent over one connection before it is renewed (servers cap this)."""
CONNECTIONS = 4
"""SMTP connections a delivery uses at once."""
IMPLICIT_TLS_PORT = 465


class SendError(Exception):
    """A message that was not sent; `temporary` says whether a later run may succeed."""

    def __init__(self, message: str, *, temporary: bool) -> None:
        super().__init__(message)
        self.temporary = temporary


class ServerUnavailable(SendError):
    """The mail server cannot be reached, or refuses this client: no message can go."""


def is_temporary(exc: BaseException) -> bool:
    """Whether trying again later may succeed: 4xx replies and network trouble, not 5xx."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return any(code < 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code < 500
    if isinstance(exc, smtplib.SMTPNotSupportedError | ssl.SSLCertVerificationError):
        return False
    return isinstance(exc, smtplib.SMTPServerDisconnected | OSError)


def describe(exc: BaseException) -> str:
    """What went wrong, in the server's words where it gave any (never a credential)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "recipient refused: " + "; ".join(
            f"{code} {text.decode(errors='replace')}" for code, text in exc.recipients.values()
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        text = (
            exc.smtp_error.decode(errors="replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        return f"{exc.smtp_code} {text}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"the server's certificate is not trusted ({exc.verify_message})"
    return f"{type(exc).__name__}: {exc}"


@dataclass
class Smtp:
    """A session with the mail server; connects on the first message, reuses the connection."""

    host: str
    port: int = 587
    starttls: bool = True
    user: str | None = None
    password: SecretStr | None = None
    timeout: float = TIMEOUT_SECONDS
    ssl_context: ssl.SSLContext = field(default_factory=ssl.create_default_context)
    connect: Callable[..., smtplib.SMTP] = smtplib.SMTP
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] = random.random
    attempts: int = ATTEMPTS
    backoff: float = BACKOFF_SECONDS
    per_connection: int = MESSAGES_PER_CONNECTION
    connections: int = 0
    _conn: smtplib.SMTP | None = field(default=None, init=False, repr=False)
    _sent_here: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        # Verification stays on whatever context is passed in: tests trust a test CA instead.
        self.ssl_context.check_hostname = True
        self.ssl_context.verify_mode = ssl.CERT_REQUIRED

    @property
    def implicit_tls(self) -> bool:
        return not self.starttls and self.port == IMPLICIT_TLS_PORT

    def _open(self) -> smtplib.SMTP:
        if self.implicit_tls:
            conn: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=self.ssl_context
            )
        else:
            conn = self.connect(self.host, self.port, timeout=self.timeout)
        try:
            if conn.sock is not None:
                # Each message is one write and then a wait for the reply: without this, the
                # write's last segment can sit out the server's delayed ACK (about 40 ms).
                conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.ehlo()
            if self.starttls:
                conn.starttls(context=self.ssl_context)
                conn.ehlo()
            elif self.user and not self.implicit_tls:
                raise ServerUnavailable(
                    "SMTP_USER is set but the connection is not encrypted: set SMTP_STARTTLS=true "
                    f"or use port {IMPLICIT_TLS_PORT}",
                    temporary=False,
                )
            if self.user:
                secret = self.password.get_secret_value() if self.password else ""
                conn.login(self.user, secret)
        except BaseException:
            conn.close()
            raise
        self.connections += 1
        return conn

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def close(self) -> None:
        """Say goodbye to the server, if connected."""
        if self._conn is not None:
            try:
                self._conn.quit()
            except (smtplib.SMTPException, OSError):
                pass
            finally:
                self._drop()

    def send(self, message: EmailMessage | emails.Outgoing) -> None:
        """Send one message, retrying temporary failures; SendError when it cannot go."""
        for attempt in range(1, self.attempts + 1):
            connecting = self._conn is None
            try:
                if self._conn is None:
                    self._conn = self._open()
                    self._sent_here = 0
                    connecting = False
                if isinstance(message, emails.Outgoing):
                    transmit(self._conn, message)
                else:
                    self._conn.send_message(message)
            except ServerUnavailable:
                raise
            except (smtplib.SMTPException, OSError) as exc:
                self._drop()
                temporary = is_temporary(exc)
                kind = ServerUnavailable if connecting else SendError
                where = f"{self.host}:{self.port}"
                if not temporary:
                    raise kind(f"{where}: {describe(exc)}", temporary=False) from exc
                if attempt == self.attempts:
                    raise kind(
                        f"{where}: {describe(exc)} (after {attempt} tries)", temporary=True
                    ) from exc
                delay = self.backoff * 2 ** (attempt - 1) * (0.5 + self.jitter())
                log.info("smtp %s: %s; trying again in %.1f s", where, describe(exc), delay)
                self.sleep(delay)
                continue
            self._sent_here += 1
            if self._sent_here >= self.per_connection:
                self.close()
            return

    def __enter__(self) -> Smtp:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def seven_bit(message: emails.Outgoing) -> bytes:
    """The message with its 8bit parts re-encoded (base64), for a server without 8BITMIME."""
    return message.message().as_bytes(policy=policy.SMTP.clone(cte_type="7bit"))


def transmit(conn: smtplib.SMTP, message: emails.Outgoing) -> None:
    """Hand a written-out message to the server: 8BITMIME declared when the body needs it."""
    data, options = message.data, []
    if not (message.sender + message.recipient).isascii():
        options += ["SMTPUTF8", "BODY=8BITMIME"]
    elif not data.isascii():
        if conn.has_extn("8bitmime"):
            options.append("BODY=8BITMIME")
        else:
            data = seven_bit(message)
    conn.sendmail(message.sender, [message.recipient], data, options)


# whose order ----------------------------------------------------------------------------


def reader_order(ctx: Context, reader_id: str, batch: Batch, order: list[Score]) -> list[Score]:
    """The reader's own order of the day: the group's blended with their profile."""
    return pipeline.rank_for(ctx, reader_id, batch, order)


def day_order(ctx: Context, digest: Digest) -> tuple[Batch, list[Score]]:
    """The whole day's papers and group order, as stored; the digest's own top when not stored."""
    try:
        return pipeline.load_batch(ctx, digest.day), pipeline.load_order(ctx, digest.day)
    except LookupError:
        log.info("day %s: no stored order; every reader gets the group's digest", digest.day)
        papers = [entry.paper for entry in digest.entries]
        batch = pipeline.Batch(digest.day, papers, [], digest.missing_feeds)
        return batch, [entry.score for entry in digest.entries]


OrderFor = Callable[["Context", str, "Batch", list[Score]], list[Score]]


# the deliverer --------------------------------------------------------------------------


@dataclass
class _Run:
    """One delivery's shared state across its connections."""

    digest: Digest
    ctx: Context
    batch: Batch
    order: list[Score]
    links: emails.Links
    todo: Iterator[Reader]
    lock: threading.Lock = field(default_factory=threading.Lock)
    rank_lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    counts: Counter[str] = field(default_factory=Counter)
    by_id: dict[str, Paper] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_id = {paper.id: paper for paper in self.batch.papers}

    def next_reader(self) -> Reader | None:
        with self.lock:
            return None if self.stop.is_set() else next(self.todo, None)

    def count(self, outcome: str) -> None:
        with self.lock:
            self.counts[outcome] += 1


@dataclass
class EmailDeliverer:
    """Mails each subscribed reader their own digest, once per reader and day."""

    smtp: Callable[[], Smtp]
    sender: str
    public_url: str
    link_secret: SecretStr
    link_ttl_days: int = 14
    order_for: OrderFor = reader_order
    connections: int = CONNECTIONS
    name: str = "email"

    def deliver(self, digest: Digest, ctx: Context) -> str:
        readers = [r for r in ctx.store.readers() if r.email_enabled and r.email]
        if not readers:
            return "email: no reader has email on"
        batch, order = day_order(ctx, digest)
        secret = self.link_secret.get_secret_value().encode()
        links = emails.Links(self.public_url, secret, ctx.now(), self.link_ttl_days)
        run = _Run(digest, ctx, batch, order, links, iter(readers))
        # A few connections at once: one message is rendered while another is on the wire.
        workers = max(1, min(self.connections, len(readers)))
        with ThreadPoolExecutor(workers, thread_name_prefix="paperboy-mail") as pool:
            done = [pool.submit(self._work, run) for _ in range(workers)]
            problems = [f.exception() for f in done if f.exception() is not None]
        counts = run.counts
        if problems:
            log.error(
                "day %s: the mail server is unavailable; %d sent, the rest wait for the next run",
                digest.day,
                counts["sent"],
            )
            raise problems[0]  # type: ignore[misc]
        return (
            f"emailed {counts['sent']} of {len(readers)} readers"
            + (f" ({counts['before']} had today's already)" if counts["before"] else "")
            + (f"; {counts['failed']} failed (see the log)" if counts["failed"] else "")
        )

    def _work(self, run: _Run) -> None:
        """One connection's share: readers taken one by one until none is left."""
        with self.smtp() as session:
            while (reader := run.next_reader()) is not None:
                try:
                    run.count(self._send(session, run, reader))
                except BaseException:
                    run.stop.set()
                    raise

    def _send(self, session: Smtp, run: _Run, reader: Reader) -> str:
        """Claim, build and send one reader's message; 'sent', 'before' or 'failed'."""
        store, day = run.ctx.store, run.digest.day
        if not store.claim_email(day, reader.id):
            return "before"
        try:
            with run.rank_lock:  # ranking is CPU work on shared caches: one at a time
                mine = self.order_for(run.ctx, reader.id, run.batch, run.order)
            size = reader.digest_size or run.ctx.digest_size
            entries = pipeline.top_entries(mine, run.by_id, size)
            message = emails.outgoing(
                reader, run.digest, entries, sender=self.sender, links_=run.links
            )
            session.send(message)
        except ServerUnavailable:
            store.release_email(day, reader.id)
            raise
        except (SendError, ValueError) as exc:
            store.release_email(day, reader.id)
            log.warning("day %s: email to reader %s failed: %s", day, reader.id, exc)
            return "failed"
        except Exception:
            store.release_email(day, reader.id)
            log.exception("day %s: email to reader %s failed", day, reader.id)
            return "failed"
        store.mark_emailed(day, reader.id, message.message_id)
        store.mark_shown(reader.id, day, [entry.paper.id for entry in entries])
        log.info("day %s: emailed reader %s (%d papers)", day, reader.id, len(entries))
        return "sent"


def from_settings(
    settings: Settings,
    ssl_context: ssl.SSLContext | None = None,
) -> EmailDeliverer | None:
    """The email deliverer SMTP_* and EMAIL_FROM describe; None when email is not configured."""
    if not (settings.smtp_host and settings.email_from):
        return None
    if settings.link_secret is None:
        raise ValueError(
            "email is configured (SMTP_HOST, EMAIL_FROM) but LINK_SECRET is not: "
            "set it to a long random string, e.g. the output of "
            "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
        )
    if "localhost" in settings.public_url or "127.0.0.1" in settings.public_url:
        log.warning(
            "PUBLIC_URL is %s: the links in emails work only on this machine", settings.public_url
        )
    host = settings.smtp_host

    def session() -> Smtp:
        return Smtp(
            host,
            settings.smtp_port,
            settings.smtp_starttls,
            settings.smtp_user,
            settings.smtp_password,
            ssl_context=ssl_context or ssl.create_default_context(),
        )

    return EmailDeliverer(
        session,
        settings.email_from,
        settings.public_url,
        settings.link_secret,
        settings.link_ttl_days,
    )
