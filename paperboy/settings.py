"""Operator settings read from the environment and `.env`; only entry points build them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from paperboy.schedule import checked_cron

CommaList = Annotated[list[str], NoDecode]
Cron = Annotated[str, AfterValidator(checked_cron)]
"""A cron expression (five fields, UTC): every one Paperboy reads is checked when settings load,
so the clock refuses to start on one it could not run."""
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class Settings(BaseSettings):
    """Every setting of the operator's interface, under its documented name and default."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    redis_url: str | None = None

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_channel: str | None = None
    slack_api_url: str = "https://slack.com/api/"
    slack_admins: CommaList = []

    anthropic_api_key: SecretStr | None = None
    anthropic_model: str = "claude-haiku-5-5"
    anthropic_base_url: str | None = None
    llm_max_papers: int | None = Field(default=None, ge=1)
    """An optional cap on the papers Claude reads a day (unset: every kept paper)."""
    llm_max_usd_per_day: float = Field(default=0.10, ge=0)
    llm_batch: bool = False
    """Judge the day through the Message Batches API (half price) as soon as its feed is fresh."""
    llm_price_in_per_mtok: float | None = None
    llm_price_out_per_mtok: float | None = None

    arxiv_categories: CommaList = ["cs.LG", "cs.AI"]
    arxiv_announce_types: CommaList = ["new", "cross"]
    arxiv_feed_url: str = "https://rss.arxiv.org/rss/"
    arxiv_api_url: str = "http://export.arxiv.org/api/query"

    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_starttls: bool = True
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    email_from: str | None = None

    public_url: str = "http://localhost:8000"
    link_secret: SecretStr | None = None
    link_ttl_days: int = 14

    criteria_file: Path | None = None
    seed_papers_file: Path | None = None
    authors_file: Path | None = None

    digest_size: int = 15
    schedule_cron: Cron = "0 6 * * 1-5"
    fetch_cron: Cron = "30 5 * * 1-5"
    """With LLM_BATCH: when the clock starts looking for the day's fresh feed to submit (UTC)."""
    weekly_cron: Cron = "0 14 * * 5"
    """When the week in the group is posted (cron, UTC): Fridays at 14:00."""
    weekly_show_voters: bool = False
    """Name who liked each paper in the week's post (names from Slack's users.info)."""

    pacing: float = Field(default=1.0, ge=0)
    """Multiplies the waits kept between requests to arXiv (3 s), between posts to one Slack
    channel (1.05 s), and after a Slack post that got no answer (1, 4, 16 s); 0 only against
    local stand-ins."""

    lock_seconds: float = Field(default=60.0, gt=0)
    """How long a worker's hold on a step (posting a day, mailing a reader) lasts unless it
    renews it: after a crash the work resumes this long after."""
    retry_seconds: Annotated[list[int], NoDecode] = [60, 300, 900]
    """The waits before a failed step runs again, one a retry (empty: no retry)."""
    feed_deadline_seconds: float = Field(default=60.0, gt=0)
    """How long one feed may take, its retries and waits included."""

    log_format: Literal["text", "json"] = "text"
    """How every process writes its log: `text` lines or one JSON object a line."""
    log_level: str = "INFO"
    """The least severe log lines every process writes (DEBUG, INFO, WARNING, ERROR)."""

    @field_validator("log_format", "log_level", mode="before")
    @classmethod
    def _any_case(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("log_level")
    @classmethod
    def _a_level(cls, value: str) -> str:
        if value.upper() not in LOG_LEVELS:
            raise ValueError(f"{value!r} is not one of {', '.join(LOG_LEVELS)}")
        return value.upper()

    @field_validator(
        "slack_admins", "arxiv_categories", "arxiv_announce_types", "retry_seconds", mode="before"
    )
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator(
        "redis_url",
        "slack_channel",
        "anthropic_base_url",
        "smtp_host",
        "smtp_user",
        "email_from",
        "criteria_file",
        "seed_papers_file",
        "authors_file",
        "slack_bot_token",
        "slack_signing_secret",
        "slack_app_token",
        "anthropic_api_key",
        "smtp_password",
        "link_secret",
        "llm_price_in_per_mtok",
        "llm_price_out_per_mtok",
        "llm_max_papers",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # `.env.example` lists optional settings with empty values; empty means unset.
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def feed_urls(self) -> list[str]:
        """One feed per configured category set, categories joined with `+`."""
        base = (
            self.arxiv_feed_url if self.arxiv_feed_url.endswith("/") else self.arxiv_feed_url + "/"
        )
        return [base + "+".join(self.arxiv_categories)] if self.arxiv_categories else []


def explain(error: ValidationError) -> str:
    """Which settings are wrong and why, in one line, by their variable names (never echoing a
    value, which may be a secret)."""
    return "; ".join(
        f"{'.'.join(map(str, found['loc'])).upper()}: {found['msg'].removeprefix('Value error, ')}"
        for found in error.errors()
    )


def load_or_exit() -> Settings:
    """The settings, for a process that is starting (a worker, the clock, the web process): a
    wrong one stops it with a message naming it, rather than failing later, job after job."""
    try:
        return Settings()
    except ValidationError as error:
        raise SystemExit(f"paperboy: cannot start, a setting is wrong: {explain(error)}") from None
