"""Operator settings read from the environment and `.env`; only entry points build them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from croniter import croniter
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

CommaList = Annotated[list[str], NoDecode]


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
    llm_max_papers: int = 200
    llm_max_usd_per_day: float = 0.05
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
    schedule_cron: str = "0 6 * * 1-5"
    weekly_cron: str = "0 14 * * 5"
    """When the week in the group is posted (cron, UTC): Fridays at 14:00."""
    weekly_show_voters: bool = False
    """Name who liked each paper in the week's post (names from Slack's users.info)."""

    pacing: float = Field(default=1.0, ge=0)
    """Multiplies the waits kept between requests to arXiv (3 s) and between posts to one Slack
    channel (1.05 s); 0 only against local stand-ins."""

    @field_validator("schedule_cron", "weekly_cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        if not croniter.is_valid(value):
            raise ValueError(f"{value!r} is not a cron expression like '0 14 * * 5' (UTC)")
        return value

    @field_validator("slack_admins", "arxiv_categories", "arxiv_announce_types", mode="before")
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
