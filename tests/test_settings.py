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
    [("DIGEST_SIZE", "many"), ("PACING", "-1"), ("WEEKLY_CRON", "every friday")],
)
def test_a_bad_value_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=name.lower()):
        Settings(_env_file=None)  # type: ignore[call-arg]
