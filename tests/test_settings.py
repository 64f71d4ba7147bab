"""Settings: the operator's names and defaults, as `.env.example` documents them."""

from __future__ import annotations

import re

import pytest

from paperboy.settings import Settings

from .conftest import ROOT

EXAMPLE = ROOT / ".env.example"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)


def test_env_example_lists_every_setting_with_its_default() -> None:
    listed = set(re.findall(r"^([A-Z_]+)=", EXAMPLE.read_text(), re.MULTILINE))
    assert listed == {name.upper() for name in Settings.model_fields}
    from_example = Settings(_env_file=EXAMPLE)  # type: ignore[call-arg]
    assert from_example == Settings(_env_file=None)  # type: ignore[call-arg]


def test_comma_lists_and_unknown_keys(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("ARXIV_CATEGORIES", "cs.LG, cs.CL ,stat.ML")
    monkeypatch.setenv("SLACK_ADMINS", "U1,U2")
    env = tmp_path / ".env"
    env.write_text("SOMETHING_ELSE=1\nDIGEST_SIZE=9\n")
    settings = Settings(_env_file=env)  # type: ignore[call-arg]
    assert settings.arxiv_categories == ["cs.LG", "cs.CL", "stat.ML"]
    assert settings.slack_admins == ["U1", "U2"]
    assert settings.digest_size == 9
    assert settings.feed_urls == ["https://rss.arxiv.org/rss/cs.LG+cs.CL+stat.ML"]


def test_secrets_never_show(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-very-secret")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert "very-secret" not in repr(settings) and "very-secret" not in str(settings)
    assert settings.anthropic_api_key is not None
    assert settings.anthropic_api_key.get_secret_value() == "sk-ant-very-secret"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DIGEST_SIZE", "many"),
        ("PACING", "-1"),
        ("SCHEDULE_CRON", "0 25 * * 1-5"),  # hour 25
        ("SCHEDULE_CRON", "0 6 * * 1-5 0"),  # six fields
        ("SCHEDULE_CRON", "0 6 30 2 *"),  # 30 February: never runs
        ("LOG_FORMAT", "xml"),
        ("LOG_LEVEL", "LOUD"),
        ("SCHEDULE_CRON", "every morning"),
        ("SCHEDULE_CRON", "0 6 * *"),
        ("FETCH_CRON", "30 25 * * 1-5"),
        ("LLM_MAX_PAPERS", "0"),
        ("LLM_MAX_USD_PER_DAY", "-0.1"),
        ("LLM_BATCH", "sometimes"),
        ("WEEKLY_CRON", "every friday"),
    ],
)
def test_a_bad_value_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=name.lower()):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_a_cron_expression_is_read_as_the_clock_reads_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCHEDULE_CRON", " 30  7 * * mon-fri ")
    monkeypatch.setenv("LOG_FORMAT", "JSON")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.schedule_cron == "30 7 * * mon-fri"
    assert settings.log_format == "json" and settings.log_level == "INFO"


def test_claude_reads_every_kept_paper_within_a_dime_unless_capped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    assert defaults.llm_max_papers is None and defaults.llm_max_usd_per_day == 0.10
    assert not defaults.llm_batch and defaults.fetch_cron == "30 5 * * 1-5"
    monkeypatch.setenv("LLM_MAX_PAPERS", "300")
    monkeypatch.setenv("FETCH_CRON", " 15  5 * * 1-5 ")
    capped = Settings(_env_file=None)  # type: ignore[call-arg]
    assert capped.llm_max_papers == 300 and capped.fetch_cron == "15 5 * * 1-5"
