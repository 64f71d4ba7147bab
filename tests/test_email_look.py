"""The HTML part in a real browser: nothing overflows on a phone; screenshots for the README.

Set PAPERBOY_SCREENSHOTS=docs to refresh `docs/email-375.png` and `docs/email-1200.png`
(and the dark-mode phone view); by default they go to the test's temporary folder.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from paperboy import emails
from paperboy.models import Reader
from tests.emailing import NOW, SECRET, day_papers, digest
from tests.standins import browser

pytestmark = pytest.mark.skipif(
    browser.chromium() is None,
    reason="Chromium is not installed: apt-get install chromium (.ci/run installs it)",
)

READER = Reader(id="U123", email="ada.lovelace@example.org", email_enabled=True)
LINKS = emails.Links("https://paperboy.example.org", SECRET.encode(), NOW, 14)
PHONE, DESKTOP = 375, 1200


@pytest.fixture(scope="module")
def chromium() -> Iterator[browser.Pipe]:
    """One headless Chromium for the module; each measurement gets a fresh tab of it."""
    with browser.launch() as running:
        yield running


def html_part(**extra: object) -> str:
    day = digest(**extra)  # type: ignore[arg-type]
    msg = emails.message(READER, day, day.entries, sender="paperboy@example.org", links_=LINKS)
    return msg.get_body(("html",)).get_content()  # type: ignore[union-attr]


def stress_papers() -> list:  # type: ignore[type-arg]
    """Real papers, some given the longest unbreakable text arXiv sends."""
    papers = list(day_papers()[:6])
    papers[0] = papers[0].model_copy(
        update={
            "title": "Supercalifragilisticexpialidociousnessandthensomemorewithoutanyspaceatall"
            "ForTestingLayout: a $\\mathcal{O}(n\\log n)$ method",
            "abstract": "Code: https://github.com/some-organisation/an-extremely-long-repository-"
            "name-that-never-breaks/tree/main/src/and/a/deep/path " + papers[0].abstract,
            "authors": ["A. Verylongfirstnamewithoutanybreaksatall-Andadoublebarrelledsurname"]
            * 12,
        }
    )
    return papers


@pytest.mark.parametrize("dark", [False, True])
def test_nothing_overflows_horizontally_on_a_phone(chromium: browser.Pipe, dark: bool) -> None:
    for html in (html_part(), html_part(papers=stress_papers())):
        found = browser.measure(html, PHONE, dark=dark, browser=chromium)
        assert found["innerWidth"] == PHONE
        assert found["scrollWidth"] <= PHONE, found
        assert found["overflowing"] == [], found["overflowing"]


def test_dark_mode_changes_the_colours(chromium: browser.Pipe) -> None:
    html = html_part()
    light = browser.measure(html, PHONE, browser=chromium)["background"]
    dark = browser.measure(html, PHONE, dark=True, browser=chromium)["background"]
    assert light != dark and dark == "rgb(17, 19, 21)"


def test_screenshots_at_phone_and_desktop_width(chromium: browser.Pipe, tmp_path: Path) -> None:
    folder = Path(os.environ.get("PAPERBOY_SCREENSHOTS") or tmp_path)
    html = html_part(size=12)
    desktop = browser.measure(html, DESKTOP, browser=chromium)
    assert desktop["scrollWidth"] <= DESKTOP and desktop["overflowing"] == []
    shots = [
        browser.screenshot(
            html, PHONE, folder / "email-375.png", height=1400, scale=2, browser=chromium
        ),
        browser.screenshot(html, DESKTOP, folder / "email-1200.png", height=1150, browser=chromium),
        browser.screenshot(
            html,
            PHONE,
            folder / "email-375-dark.png",
            height=1400,
            scale=2,
            dark=True,
            browser=chromium,
        ),
    ]
    for shot in shots:
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert shot.stat().st_size > 20_000  # a page was drawn, not a blank
