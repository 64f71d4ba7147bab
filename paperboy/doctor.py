"""`paperboy doctor`: check every configured service and say how to fix what is missing.

Each check does what the running processes do (the mailer's own SMTP session, the channel read
as a re-run reads it), so a working setup passes and a broken one fails with the fix; the
libraries it calls say nothing of their own.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import httpx
import redis
from croniter import croniter
from pydantic import ValidationError

from paperboy.arxiv import http_client
from paperboy.models import utc_now
from paperboy.prior import load_prior
from paperboy.resources import example_profile_dir
from paperboy.settings import Settings
from paperboy.slack import web_client
from paperboy.smtp import IMPLICIT_TLS_PORT, ServerUnavailable, Smtp, describe
from paperboy.store import LOCAL_REDIS, Store, connect

if TYPE_CHECKING:
    from slack_sdk import WebClient

Status = Literal["ok", "warn", "fail", "off"]


@dataclass
class Check:
    name: str
    status: Status
    detail: str


def check_redis(settings: Settings) -> Check:
    url = settings.redis_url or LOCAL_REDIS
    try:
        client = connect(url, patience=0)  # a check: Redis answers now, or it fails
        client.ping()
        info = client.info("persistence")
    except redis.RedisError as exc:
        if settings.redis_url:
            return Check(
                "Redis", "fail", f"REDIS_URL does not answer ({exc}); start Redis or fix REDIS_URL"
            )
        return Check(
            "Redis",
            "warn",
            "not configured and none on localhost: the CLI runs on an "
            "in-process store and nothing persists; set REDIS_URL",
        )
    where = "REDIS_URL" if settings.redis_url else "127.0.0.1:6379 (REDIS_URL unset)"
    if not info.get("aof_enabled"):
        return Check(
            "Redis",
            "warn",
            f"{where} answers, but AOF is off: a restart can lose "
            "votes; run redis-server with --appendonly yes",
        )
    return Check("Redis", "ok", f"{where} answers, AOF on")


EVICTS = {
    "allkeys": "any key: votes, readers and their settings, the jobs queued for the day",
    "volatile": (
        "keys that expire: the marks that keep a paper from being posted twice and a reader "
        "from being mailed twice, the day's papers, Claude's judgments and the leases"
    ),
}
"""What Redis throws away when it is full, by the kind of maxmemory-policy."""


def check_redis_memory(settings: Settings) -> Check | None:
    """maxmemory-policy must be noeviction: on any other, a full Redis silently drops keys
    instead of refusing the write. None when Redis does not answer (check_redis said so)."""
    try:
        client = connect(settings.redis_url or LOCAL_REDIS, patience=0)
        info = client.info("memory")
    except redis.RedisError:
        return None
    policy = str(info.get("maxmemory_policy", "unknown"))
    limit = int(info.get("maxmemory", 0) or 0)
    size = str(info.get("maxmemory_human", limit))
    if policy == "noeviction":
        return Check(
            "Redis memory",
            "ok",
            "maxmemory-policy noeviction: a full Redis refuses writes, it drops nothing",
        )
    lost = EVICTS.get(policy.split("-", 1)[0], "keys")
    fix = "set maxmemory-policy noeviction (redis.conf, or CONFIG SET maxmemory-policy noeviction)"
    if not limit:
        return Check(
            "Redis memory",
            "warn",
            f"maxmemory-policy {policy}, and no maxmemory: nothing is evicted now, but with a "
            f"limit Redis would evict {lost}; {fix}",
        )
    return Check(
        "Redis memory",
        "fail",
        f"maxmemory-policy {policy} with maxmemory {size}: when full, Redis evicts {lost}; {fix}",
    )


def check_profile(settings: Settings) -> Check:
    try:
        prior = load_prior(
            settings.criteria_file,
            settings.seed_papers_file,
            settings.authors_file,
            example_profile_dir(),
        )
    except (OSError, ValueError) as exc:
        return Check("group profile", "fail", str(exc))
    status: Status = "ok" if settings.criteria_file else "warn"
    hint = "" if settings.criteria_file else "; set CRITERIA_FILE, SEED_PAPERS_FILE, AUTHORS_FILE"
    return Check(
        "group profile",
        status,
        f"{prior.source}: {len(prior.seeds)} seed papers, {len(prior.authors)} "
        f"followed authors{hint}",
    )


def check_feeds(settings: Settings, http: httpx.Client | None = None) -> Check:
    client = http or http_client(timeout=10)
    failures = []
    for url in settings.feed_urls:
        try:
            response = client.get(url)
            if response.status_code != 200:
                failures.append(f"{url} answered HTTP {response.status_code}")
        except httpx.HTTPError as exc:
            failures.append(f"{url} cannot be reached ({exc.__class__.__name__})")
    if failures:
        return Check(
            "arXiv feeds",
            "fail",
            "; ".join(failures)
            + "; check the network or ARXIV_FEED_URL, or run `paperboy run --feed FILE` with "
            "a saved feed",
        )
    return Check("arXiv feeds", "ok", ", ".join(settings.feed_urls))


def check_anthropic(settings: Settings) -> Check:
    if settings.anthropic_api_key is None:
        return Check("Claude", "off", "ANTHROPIC_API_KEY is not set: the local scorer ranks alone")
    import anthropic

    client = anthropic.Anthropic(
        api_key=settings.anthropic_api_key.get_secret_value(),
        base_url=settings.anthropic_base_url,
        max_retries=0,
        timeout=10,
    )
    try:
        client.models.retrieve(settings.anthropic_model)
    except anthropic.AuthenticationError:
        return Check("Claude", "fail", "ANTHROPIC_API_KEY was refused: create a new key")
    except anthropic.NotFoundError:
        return Check(
            "Claude", "fail", f"model {settings.anthropic_model} is unknown: fix ANTHROPIC_MODEL"
        )
    except anthropic.APIError as exc:
        return Check("Claude", "fail", f"the API cannot be reached ({exc.__class__.__name__})")
    way = (
        f"; the day goes by Message Batch from {settings.fetch_cron}" if settings.llm_batch else ""
    )
    return Check(
        "Claude",
        "ok",
        f"{settings.anthropic_model}, budget ${settings.llm_max_usd_per_day:.2f} a day{way}",
    )


def check_slack(settings: Settings, client: WebClient) -> Check:
    """The bot token, and what the web process needs: the signing secret over HTTP, or an
    app-level token in Socket Mode (which needs no signing secret)."""
    from slack_sdk.errors import SlackApiError

    try:
        auth = client.auth_test()
    except SlackApiError as exc:
        return Check(
            "Slack",
            "fail",
            f"auth.test failed ({exc.response.get('error')}): "
            "reinstall the app and copy its bot token",
        )
    except Exception as exc:  # network faults of any kind
        return Check("Slack", "fail", f"Slack cannot be reached ({exc.__class__.__name__})")
    bot = f"bot {auth.get('user')} in {auth.get('team') or auth.get('team_id')}"
    if settings.slack_app_token is not None:
        if not settings.slack_app_token.get_secret_value().startswith("xapp-"):
            return Check(
                "Slack",
                "fail",
                f"{bot}, but SLACK_APP_TOKEN is not an app-level token (xapp-…): create one "
                "with connections:write under Basic Information, or unset it to use HTTP",
            )
        return Check("Slack", "ok", f"{bot}; Slack traffic over Socket Mode (SLACK_APP_TOKEN)")
    if settings.slack_signing_secret is None:
        return Check(
            "Slack",
            "fail",
            f"{bot}, but SLACK_SIGNING_SECRET is unset: the web process cannot take Slack's "
            "requests (clicks, /paperboy, Home); copy it from Basic Information, or use Socket "
            "Mode (SLACK_APP_TOKEN)",
        )
    return Check("Slack", "ok", f"{bot}; Slack traffic over HTTP at /slack/events")


CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{6,}$")
"""A channel's id (C… public or private, G… an older private one), as SLACK_CHANNEL wants it."""


def check_channel(settings: Settings, client: WebClient) -> Check:
    """SLACK_CHANNEL is a channel's id and the bot is in it: read its latest message, as a
    re-run reads the channel to find what it posted (conversations.history)."""
    from slack_sdk.errors import SlackApiError

    channel = settings.slack_channel
    if not channel:
        return Check(
            "Slack channel", "fail", "SLACK_CHANNEL is unset: set it to the channel's id (C…)"
        )
    find_id = "set it to the channel's id (C…, at the bottom of the channel's About panel)"
    try:
        client.conversations_history(channel=channel, limit=1)
    except SlackApiError as exc:
        error = exc.response.get("error")
        if error == "not_in_channel":
            why = f"the bot is not in {channel}: invite it there (/invite @paperboy)"
        elif error == "channel_not_found" and not CHANNEL_ID.match(channel):
            why = f"SLACK_CHANNEL is {channel!r}, a name: {find_id}"
        elif error == "channel_not_found":
            why = (
                f"no channel {channel} that the bot can see: check the id, and invite the bot "
                "if the channel is private (/invite @paperboy)"
            )
        elif error == "missing_scope":
            why = (
                "the app may not read channel history (channels:history, groups:history): "
                "reinstall it from slack/manifest.json"
            )
        else:
            why = f"conversations.history on {channel} failed ({error})"
        return Check("Slack channel", "fail", why)
    except Exception as exc:  # network faults of any kind
        return Check("Slack channel", "fail", f"Slack cannot be reached ({exc.__class__.__name__})")
    if not CHANNEL_ID.match(channel):
        return Check("Slack channel", "warn", f"SLACK_CHANNEL is {channel!r}: {find_id}")
    return Check("Slack channel", "ok", f"{channel}: the bot is in it and can read it")


def check_smtp(
    settings: Settings,
    context: ssl.SSLContext | None = None,
    remember: Callable[[bool], None] | None = None,
) -> Check:
    """Connect, secure and log in as the mailer does (the same session: STARTTLS, or TLS from
    the first byte on port 465); what the server's EHLO says about SMTPUTF8 goes to `remember`
    (the store, for the web process's address checks)."""
    if not settings.smtp_host:
        return Check("email", "off", "SMTP_HOST is not set: no email digest")
    missing = [
        n
        for n, v in (("EMAIL_FROM", settings.email_from), ("LINK_SECRET", settings.link_secret))
        if not v
    ]
    where = f"{settings.smtp_host}:{settings.smtp_port}"
    session = Smtp(
        settings.smtp_host,
        settings.smtp_port,
        settings.smtp_starttls,
        settings.smtp_user,
        settings.smtp_password,
        timeout=10,
        ssl_context=context or ssl.create_default_context(),
        learned=remember,
        attempts=1,
    )
    try:
        with session:
            utf8 = session.offers("smtputf8")
    except smtplib.SMTPAuthenticationError:
        return Check("email", "fail", "SMTP login refused: check SMTP_USER and SMTP_PASSWORD")
    except ServerUnavailable as exc:
        return Check("email", "fail", str(exc))
    except (OSError, smtplib.SMTPException) as exc:
        hint = (
            "; port 465 takes TLS from the first byte: set SMTP_STARTTLS=false"
            if settings.smtp_port == IMPLICIT_TLS_PORT and settings.smtp_starttls
            else ""
        )
        return Check("email", "fail", f"{where} failed ({describe(exc)}){hint}")
    if missing:
        return Check("email", "fail", f"SMTP works, but {' and '.join(missing)} unset")
    offers = (
        "offers SMTPUTF8 (addresses beyond ASCII before the @ are taken)"
        if utf8
        else "no SMTPUTF8 (addresses beyond ASCII before the @ are refused at subscribe)"
    )
    tls = "TLS from the first byte" if session.implicit_tls else "STARTTLS"
    if not settings.smtp_starttls and not session.implicit_tls:
        tls = "no encryption"
    return Check("email", "ok", f"{where} ({tls}), from {settings.email_from}; {offers}")


def check_public_url(settings: Settings) -> Check | None:
    """With email on, PUBLIC_URL must be https: the links in every email (votes, one-click
    unsubscribe, which RFC 8058 allows over https only) point there."""
    if not (settings.smtp_host and settings.email_from):
        return None
    url = urlsplit(settings.public_url)
    if url.scheme != "https" or not url.hostname:
        return Check(
            "PUBLIC_URL",
            "fail",
            f"{settings.public_url!r} is not an https address: one-click unsubscribe (RFC 8058) "
            "and the links in each email need the web process's public https address; set "
            "PUBLIC_URL=https://…",
        )
    if url.hostname in ("localhost", "127.0.0.1", "::1"):
        return Check(
            "PUBLIC_URL", "fail", f"{settings.public_url}: email links would work only here"
        )
    return Check("PUBLIC_URL", "ok", f"{settings.public_url}: the links in each email point here")


def check_schedule(settings: Settings, now: datetime) -> Check:
    """When the clock starts the day (SCHEDULE_CRON, already checked when settings load)."""
    runs = croniter(settings.schedule_cron, now)
    upcoming = [runs.get_next(datetime) for _ in range(7)]
    weekdays = [when for when in upcoming if when.weekday() < 5]
    if not weekdays:
        return Check(
            "schedule",
            "warn",
            f"SCHEDULE_CRON {settings.schedule_cron!r} starts no weekday soon: arXiv announces "
            "Monday to Friday",
        )
    return Check(
        "schedule",
        "ok",
        f"SCHEDULE_CRON {settings.schedule_cron!r} (UTC): the next day starts "
        f"{weekdays[0]:%a %d %b %H:%M} UTC",
    )


def load_settings() -> tuple[Settings, list[Check]]:
    """The settings, and a failed check for each that is wrong; those are taken at their
    defaults, so that everything else can still be checked."""
    try:
        return Settings(), []
    except ValidationError as error:
        found: list[Check] = []
        wrong: dict[str, Any] = {}
        for problem in error.errors():
            name = str(problem["loc"][0]) if problem["loc"] else "settings"
            default = Settings.model_fields[name].default if name in Settings.model_fields else None
            wrong[name] = default
            found.append(
                Check(
                    name.upper(),
                    "fail",
                    f"{problem['msg'].removeprefix('Value error, ')}; every process refuses to "
                    f"start until it is fixed (checked below with the default, {default!r})",
                )
            )
        return Settings(**wrong), found


def checks(settings: Settings, now: datetime | None = None) -> Iterator[Check]:
    """Every check, in the order a new operator would fix things."""
    yield check_redis(settings)
    memory = check_redis_memory(settings)
    if memory is not None:
        yield memory
    yield check_schedule(settings, now or utc_now())
    yield check_profile(settings)
    yield check_feeds(settings)
    yield check_anthropic(settings)
    if settings.slack_bot_token is None:
        yield Check("Slack", "off", "SLACK_BOT_TOKEN is not set: no Slack digest")
    else:
        client = web_client(
            settings.slack_bot_token.get_secret_value(),
            settings.slack_api_url,
            rate_limit_retries=1,
            connection_retries=0,
        )
        slack = check_slack(settings, client)
        yield slack
        if slack.status != "fail":
            yield check_channel(settings, client)
    yield check_smtp(settings, remember=_remembering(settings))
    public = check_public_url(settings)
    if public is not None:
        yield public


def _remembering(settings: Settings) -> Callable[[bool], None] | None:
    """Where the SMTP check keeps what the server offers: the store, when Redis answers."""
    try:
        client = connect(settings.redis_url or LOCAL_REDIS, patience=0)
        client.ping()
    except redis.RedisError:
        return None
    return Store(client).set_smtputf8
