"""The email channel: each subscribed reader's own digest of a day (or a week), mailed once.

It receives the readers' digests as data (the pipeline ranks them) and sends each over SMTP
(`paperboy.smtp`), a few connections at once. Each reader and day (a weekly reader's week) is
claimed in Redis for the attempt (a lease, renewed while it lasts) and marked once the server
accepted the message, so a second run (or a second worker) sends nothing more, a crash frees its
readers within LOCK_SECONDS, and a reader whose message fails is logged and released for a later
run while the others go on. What each reader's digest showed them is recorded: their model
counts the papers they let pass. Readers with an hour of their own or a weekly digest are mailed
by the hourly job (`paperboy.hourly`) through this same channel; the day's deliver step leaves
them out.
"""

from __future__ import annotations

import logging
import ssl
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING

from pydantic import SecretStr

from paperboy import emails, rhythm
from paperboy.leases import LEASE_SECONDS, Busy, held
from paperboy.models import Delivery, Digest, Reader, ReaderDigest, utc_now
from paperboy.progress import Progress, silent
from paperboy.smtp import SendError, ServerUnavailable, Smtp
from paperboy.store import Store

if TYPE_CHECKING:
    from paperboy.settings import Settings

log = logging.getLogger(__name__)

CONNECTIONS = 4
"""SMTP connections a delivery uses at once: one message is written while another is sent."""


@dataclass
class _Run:
    """One delivery's shared state across its connections."""

    digest: Digest
    links: emails.Links
    todo: Iterator[ReaderDigest]
    total: int = 0
    progress: Progress = silent
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    counts: Counter[str] = field(default_factory=Counter)
    gate: threading.Lock = field(default_factory=threading.Lock)
    """Held from the end of a message's DATA until it is marked: at most one message of the
    delivery is ever accepted by the server and not yet marked."""

    def next_reader(self) -> ReaderDigest | None:
        with self.lock:
            return None if self.stop.is_set() else next(self.todo, None)

    def count(self, outcome: str) -> None:
        with self.lock:
            self.counts[outcome] += 1
            self.progress("mailing readers", sum(self.counts.values()), self.total)


@dataclass
class EmailDeliverer:
    """Mails each subscribed reader their own digest, once per reader and day."""

    smtp: Callable[[], Smtp]
    store: Store
    sender: str
    public_url: str
    link_secret: SecretStr
    link_ttl_days: int = 14
    connections: int = CONNECTIONS
    now: Callable[[], datetime] = utc_now
    lock_seconds: float = LEASE_SECONDS
    progress: Progress = silent
    name: str = "email"

    def readers(self, day: date) -> list[Reader]:
        """The subscribed readers mailed with the group's digest whose digest of `day` has not
        gone out yet (those with an hour of their own, or weekly, wait for the hourly job)."""
        sent = self.store.emailed(day)
        return [
            r
            for r in self.store.readers()
            if r.email_enabled and r.email and r.id not in sent and not rhythm.own_time(r)
        ]

    def deliver(self, delivery: Delivery) -> str:
        if not delivery.readers:
            return "no reader is waiting for today's email"
        secret = self.link_secret.get_secret_value().encode()
        links = emails.Links(self.public_url, secret, self.now(), self.link_ttl_days)
        run = _Run(
            delivery.digest, links, iter(delivery.readers), len(delivery.readers), self.progress
        )
        workers = max(1, min(self.connections, len(delivery.readers)))
        with ThreadPoolExecutor(workers, thread_name_prefix="paperboy-mail") as pool:
            done = [pool.submit(self._work, run) for _ in range(workers)]
            problems = [f.exception() for f in done if f.exception() is not None]
        counts = run.counts
        if problems:
            log.error(
                "day %s: the mail server is unavailable; %d sent, the rest wait for the next run",
                delivery.digest.day,
                counts["sent"],
            )
            raise problems[0]  # type: ignore[misc]
        said = (
            f"emailed {counts['sent']} of {len(delivery.readers)} readers"
            + (f" ({counts['before']} had today's already)" if counts["before"] else "")
            + (f"; {counts['failed']} failed (see the log)" if counts["failed"] else "")
        )
        if counts["held"]:
            # Not done while a reader is held by another sender, or by one killed moments ago:
            # the job fails and its retry mails them once their claim has expired.
            raise Busy(f"{said}; {counts['held']} reader(s) held by another sender for now")
        return said

    def confirm(self, reader_id: str, address: str) -> None:
        """Mail `address` the link that confirms it as the reader's (no digest goes to an
        address set on Home before); SendError or ValueError when it cannot go."""
        secret = self.link_secret.get_secret_value().encode()
        links = emails.Links(self.public_url, secret, self.now(), self.link_ttl_days)
        message = emails.confirmation(reader_id, address, sender=self.sender, links_=links)
        with self.smtp() as session:
            session.send(message)
        log.info("sent reader %s the confirmation of a new address", reader_id)

    def _work(self, run: _Run) -> None:
        """One connection's share: readers taken one by one until none is left."""
        with self.smtp() as session:
            while (mine := run.next_reader()) is not None:
                try:
                    run.count(self._send(session, run, mine))
                except BaseException:
                    run.stop.set()
                    raise

    def _send(self, session: Smtp, run: _Run, mine: ReaderDigest) -> str:
        """Claim, write and send one reader's message; 'sent', 'before', 'held' or 'failed'."""
        day, reader = rhythm.period(run.digest), mine.reader
        claim = self.store.claim_email(day, reader.id, self.lock_seconds)
        if claim is None:
            return "held"  # being sent elsewhere, or by a sender killed moments ago
        with held(claim):  # released at the end: a failed reader may be tried again later
            if self.store.was_emailed(day, reader.id):
                return "before"
            try:
                message = emails.outgoing(
                    reader, run.digest, mine.entries, sender=self.sender, links_=run.links
                )
                # Marked as the server accepts it: a crash in between sends it again on the
                # retry (at most one message of the delivery at a time); never a miss.
                session.send(
                    message,
                    accepted=lambda: self.store.mark_emailed(day, reader.id, message.message_id),
                    gate=run.gate,
                )
            except ServerUnavailable:
                raise
            except (SendError, ValueError) as exc:
                log.warning("day %s: email to reader %s failed: %s", day, reader.id, exc)
                return "failed"
            except Exception:
                log.exception("day %s: email to reader %s failed", day, reader.id)
                return "failed"
            shown: dict[date, list[str]] = {}
            for entry in mine.entries:  # a week's papers, each under its own day
                shown.setdefault(entry.paper.day or run.digest.day, []).append(entry.paper.id)
            for when, ids in shown.items():
                earlier = self.store.shown(reader.id, when) if run.digest.since else []
                self.store.mark_shown(reader.id, when, list(dict.fromkeys([*earlier, *ids])))
        log.info("day %s: emailed reader %s (%d papers)", day, reader.id, len(mine.entries))
        return "sent"


def from_settings(
    settings: Settings,
    store: Store,
    ssl_context: ssl.SSLContext | None = None,
    progress: Progress = silent,
) -> EmailDeliverer | None:
    """The email channel SMTP_* and EMAIL_FROM describe; None when email is not configured."""
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
            learned=store.set_smtputf8,
        )

    return EmailDeliverer(
        session,
        store,
        settings.email_from,
        settings.public_url,
        settings.link_secret,
        settings.link_ttl_days,
        lock_seconds=settings.lock_seconds,
        progress=progress,
    )
