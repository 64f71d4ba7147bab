"""`paperboy doctor`: check every configured service and say how to fix what is missing."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import httpx
import redis

from paperboy.arxiv import http_client
from paperboy.prior import load_prior
from paperboy.resources import example_profile_dir
from paperboy.settings import Settings
from paperboy.store import LOCAL_REDIS, connect

Status = Literal["ok", "warn", "fail", "off"]


@dataclass
class Check:
    name: str
    status: Status
    detail: str


def check_redis(settings: Settings) -> Check:
    url = settings.redis_url or LOCAL_REDIS
    try:
        client = connect(url)
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
            + "; check the network or ARXIV_FEED_URL, or use --feed with a saved feed",
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


def check_slack(settings: Settings) -> Check:
    if settings.slack_bot_token is None:
        return Check("Slack", "off", "SLACK_BOT_TOKEN is not set: no Slack digest")
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    client = WebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        timeout=10,
    )
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
    missing = [
        name
        for name, value in (
            ("SLACK_CHANNEL", settings.slack_channel),
            ("SLACK_SIGNING_SECRET", settings.slack_signing_secret),
        )
        if not value
    ]
    if missing:
        return Check(
            "Slack",
            "fail",
            f"token works (bot {auth.get('user')}), but {' and '.join(missing)} unset",
        )
    return Check(
        "Slack",
        "ok",
        f"bot {auth.get('user')} in {auth.get('team')}, channel {settings.slack_channel}",
    )


def check_smtp(settings: Settings, context: ssl.SSLContext | None = None) -> Check:
    if not settings.smtp_host:
        return Check("email", "off", "SMTP_HOST is not set: no email digest")
    missing = [
        n
        for n, v in (("EMAIL_FROM", settings.email_from), ("LINK_SECRET", settings.link_secret))
        if not v
    ]
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=10) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=context or ssl.create_default_context())
            if settings.smtp_user and settings.smtp_password:
                smtp.login(settings.smtp_user, settings.smtp_password.get_secret_value())
    except smtplib.SMTPAuthenticationError:
        return Check("email", "fail", "SMTP login refused: check SMTP_USER and SMTP_PASSWORD")
    except (OSError, smtplib.SMTPException) as exc:
        return Check(
            "email",
            "fail",
            f"{settings.smtp_host}:{settings.smtp_port} failed ({exc.__class__.__name__}: {exc})",
        )
    if missing:
        return Check("email", "fail", f"SMTP works, but {' and '.join(missing)} unset")
    return Check(
        "email", "ok", f"{settings.smtp_host}:{settings.smtp_port}, from {settings.email_from}"
    )


def checks(settings: Settings) -> Iterator[Check]:
    """Every check, in the order a new operator would fix things."""
    yield check_redis(settings)
    yield check_profile(settings)
    yield check_feeds(settings)
    yield check_anthropic(settings)
    yield check_slack(settings)
    yield check_smtp(settings)
