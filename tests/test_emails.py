"""The digest as an email message: parts, headers, links and escaping (pure)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from html.parser import HTMLParser

import pytest

from paperboy import emails, tokens
from paperboy.models import GroupVotes, Reader
from tests.emailing import DAY, NOW, SECRET, day_papers, digest

SENDER = "Paperboy <paperboy@lab.example.org>"
READER = Reader(id="U123", email="ada@example.org", email_enabled=True)
LINKS = emails.Links("https://paperboy.example.org/", SECRET.encode(), NOW, 14)


def build(reader: Reader = READER, **extra: object) -> EmailMessage:
    day = digest(**extra)  # type: ignore[arg-type]
    msg = emails.message(reader, day, day.entries, sender=SENDER, links_=LINKS)
    # What a receiving server parses back from the bytes on the wire.
    parsed = message_from_bytes(bytes(msg), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def parts(msg: EmailMessage) -> tuple[str, str]:
    text, html = msg.get_body(("plain",)), msg.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


class Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.hrefs.extend(v for k, v in attrs if k == "href" and v)


@pytest.mark.parametrize(
    ("count", "day", "expected"),
    [
        (12, date(2025, 2, 18), "12 papers for you, Tue 18 Feb"),
        (1, date(2025, 6, 3), "1 paper for you, Tue 03 Jun"),
        (0, date(2025, 6, 6), "0 papers for you, Fri 06 Jun"),
    ],
)
def test_subject_says_the_count_and_the_date(count: int, day: date, expected: str) -> None:
    assert emails.subject(count, day) == expected


def test_the_message_is_multipart_alternative_with_text_and_html() -> None:
    msg = build()
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    text, html = parts(msg)
    assert text.startswith("12 papers for you, Tue 03 Jun")
    assert "<html" in html and "</html>" in html


def test_headers_for_mail_clients_and_one_click_unsubscribe() -> None:
    msg = build()
    assert msg["Subject"] == "12 papers for you, Tue 03 Jun"
    assert msg["From"] == SENDER
    assert msg["To"] == "ada@example.org"
    assert re.fullmatch(
        r"<paperboy\.2025-06-03\.[0-9a-f]{20}@lab\.example\.org>", msg["Message-ID"]
    )
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # Re-serialised here, a header this short may be folded after its colon: RFC 2369 allows it.
    unsubscribe = re.fullmatch(
        r"<(https://paperboy\.example\.org/unsubscribe/([^>]+))>", msg["List-Unsubscribe"].strip()
    )
    assert unsubscribe, msg["List-Unsubscribe"]
    link = tokens.verify(SECRET.encode(), unsubscribe.group(2), NOW, "unsubscribe")
    assert link.reader == "U123"
    assert msg["Date"] == "Tue, 03 Jun 2025 06:00:00 +0000"
    assert msg["List-Id"] == "Paperboy digest <paperboy.lab.example.org>"  # RFC 2919


@pytest.mark.parametrize(
    ("sender", "expected"),
    [
        ("p@lab.example.org", "Paperboy digest <p.lab.example.org>"),
        (
            '"Vision, ML" <Digest.Bot@Lab.Example.org>',
            "Vision ML digest <digest-bot.lab.example.org>",
        ),
        ("Équipe <digest@bücher.example>", "Équipe digest <digest.xn--bcher-kva.example>"),
    ],
)
def test_list_id_names_the_groups_list(sender: str, expected: str) -> None:
    assert emails.list_id(sender) == expected
    day = digest()
    out = emails.outgoing(READER, day, day.entries, sender=sender, links_=LINKS)
    assert str(out.message()["List-Id"]) == expected


def test_message_id_is_stable_per_reader_and_day() -> None:
    one = emails.message_id(SENDER, "U1", DAY)
    assert one == emails.message_id(SENDER, "U1", DAY)
    assert one != emails.message_id(SENDER, "U2", DAY)
    assert one != emails.message_id(SENDER, "U1", DAY + timedelta(days=1))


def test_each_paper_has_title_link_authors_why_scores_abstract_and_votes() -> None:
    day = digest()
    text, html = parts(build())
    found = Anchors()
    found.feed(html)
    for n, entry in enumerate(day.entries, 1):
        paper = entry.paper
        assert paper.url in found.hrefs
        assert paper.url in text
        assert f"{n}. " in text
        assert entry.score.reasons[0] in " ".join(text.split())
    first = day.entries[0]
    assert "relevance 9/10" in html and "novelty 7/10" in html and "local score 1.00" in html
    assert first.paper.authors[0] in html
    assert first.paper.abstract[:60] in " ".join(html.split())
    votes = [h for h in found.hrefs if "/feedback/" in h]
    assert len(votes) == 2 * len(day.entries)
    cast = [tokens.verify(SECRET.encode(), h.rsplit("/", 1)[1], NOW, "vote") for h in votes]
    assert {(c.paper, c.vote) for c in cast} == {
        (e.paper.id, v) for e in day.entries for v in (1, -1)
    }
    assert all(c.reader == "U123" for c in cast)
    assert text.count("/feedback/") == 2 * len(day.entries)


def test_a_card_says_how_many_in_the_group_liked_its_paper() -> None:
    day = digest()
    liked = day.entries[1].model_copy(update={"group": GroupVotes(up=3, down=1)})
    disliked = day.entries[2].model_copy(update={"group": GroupVotes(down=2)})
    entries = [day.entries[0], liked, disliked, *day.entries[3:]]
    msg = emails.message(READER, day, entries, sender=SENDER, links_=LINKS)
    text, html = parts(msg)
    assert text.count("Liked by") == html.count("Liked by") == 1
    card = text.split(liked.paper.url)[1].split(entries[2].paper.url)[0]
    assert "👍 Liked by 3 in your group" in card
    assert (
        "Liked by 3 in your group" in html.split(liked.paper.url)[1].split(entries[2].paper.url)[0]
    )
    ctx = emails.context(READER, day, entries, LINKS)
    assert emails.Pages().render(ctx) == emails.render(ctx)


def test_papers_appear_in_the_order_given() -> None:
    day = digest()
    entries = list(reversed(day.entries))
    msg = emails.message(READER, day, entries, sender=SENDER, links_=LINKS)
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    positions = [text.index(e.paper.url) for e in entries]
    assert positions == sorted(positions)


def test_css_is_inlined_and_media_rules_are_kept() -> None:
    _, html = parts(build())
    head, _, body = html.partition("<body")
    assert "@media (prefers-color-scheme: dark)" in head
    assert "@media (max-width: 480px)" in head
    assert 'class="title" style="' in body  # inlined for clients that drop <style>
    assert "color-scheme" in head


def test_no_script_no_remote_images_no_tracking() -> None:
    _, html = parts(build())
    found = Anchors()
    found.feed(html)
    assert not found.tags & {"script", "img", "iframe", "link", "object"}
    assert "http://" not in html  # every link is https (PUBLIC_URL here, and arXiv)


def test_titles_and_abstracts_are_escaped_in_html_and_kept_in_text() -> None:
    paper = day_papers()[0].model_copy(
        update={
            "title": 'Attention <script>alert("x")</script> & "quotes"',
            "abstract": "We show <b>bold</b> claims & more.",
        }
    )
    msg = build(papers=[paper, *day_papers()[1:5]])
    text, html = parts(msg)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<b>bold</b>" not in html
    assert 'Attention <script>alert("x")</script> & "quotes"' in text


def test_notes_and_missing_feeds_are_shown() -> None:
    msg = build(
        notes=["Claude was unavailable: ranked by the local scorer."],
        feeds=["cs.LG", "cs.AI"],
        missing_feeds=["cs.CV"],
    )
    text, html = parts(msg)
    missing = "Missing today: cs.CV. The papers below are from cs.LG, cs.AI only."
    for part in (text, html):
        assert "Claude was unavailable" in part
        assert missing in part
        # at the top: before any other note, and before the first paper
        first_paper = part.index('class="card"' if part is html else day_papers()[0].title[:30])
        assert part.index(missing) < part.index("Claude was unavailable") < first_paper


def test_the_text_part_is_wrapped_except_for_links() -> None:
    text, _ = parts(build())
    for line in text.splitlines():
        assert len(line) <= emails.TEXT_WIDTH or "http" in line or " " not in line.strip(), line


def test_a_reader_without_address_gets_no_message() -> None:
    with pytest.raises(ValueError, match="no email address"):
        build(Reader(id="U9"))


def test_pieces_inlined_once_give_what_rendering_from_scratch_gives() -> None:
    # The same card (and frame) serves many readers; the per-reader values are filled in.
    paper = day_papers()[0].model_copy(
        update={"title": 'Tricky <b>"quoted"</b> & it\'s\xa0a > b', "abstract": "A & <i>B</i>."}
    )
    day = digest(papers=[paper, *day_papers()[1:20]], size=15, notes=["Note & <more>"])
    readers = [READER, Reader(id="U\u00e9", email='"a & <b>"@example.org', email_enabled=True)]
    pages = emails.Pages()
    for reader in readers:
        for entries in (day.entries, list(reversed(day.entries))[:5], day.entries[3:9]):
            ctx = emails.context(reader, day, entries, LINKS)
            assert pages.render(ctx) == emails.render(ctx)


def test_a_line_too_long_for_smtp_is_sent_quoted_printable() -> None:
    paper = day_papers()[0].model_copy(update={"title": "Long" * 300})
    msg = build(papers=[paper, *day_papers()[1:3]])
    html_part = msg.get_body(("html",))
    assert html_part is not None and html_part["Content-Transfer-Encoding"] == "quoted-printable"
    text, html = parts(msg)
    assert "Long" * 300 in html and "Long" * 300 in text


def test_list_unsubscribe_is_one_url_in_angle_brackets_on_the_wire() -> None:
    day = digest()
    raw = emails.outgoing(READER, day, day.entries, sender=SENDER, links_=LINKS).data
    header = re.search(rb"^List-Unsubscribe: (.*?)\r\n(?![ \t])", raw, re.M | re.S)
    assert header and re.fullmatch(
        rb"<https://paperboy\.example\.org/unsubscribe/[^>\s]+>", header[1]
    )
    assert b"=?" not in raw.partition(b"\r\n\r\n")[0]  # no encoded-words among plain headers


def test_both_parts_go_as_8bit_with_short_lines() -> None:
    reader = Reader(id="U" + "X" * 40, email="a.long.address@example.org", email_enabled=True)
    msg = build(reader)
    for kind in ("plain", "html"):
        part = msg.get_body((kind,))
        assert part is not None and part["Content-Transfer-Encoding"] == "8bit"


@pytest.mark.parametrize("size", [5, 30])
def test_the_html_part_stays_under_gmails_clip(size: int) -> None:
    # Every paper judged, with a reason as long as Claude writes them: Gmail clips at 102 KB.
    reason = "Proposes a sparse router that cuts training compute by a third at equal quality. " * 2
    day = digest(size=size)
    for entry in day.entries:
        entry.score = entry.score.model_copy(
            update={"relevance": 9, "novelty": 7, "reasons": [reason, *entry.score.reasons]}
        )
    msg = emails.message(READER, day, day.entries, sender=SENDER, links_=LINKS)
    _, html = parts(msg)
    assert len(html.encode()) < 100_000
    head, _, body = html.partition("<body")
    # The whole look is in the head, once; each element carries only its essentials.
    assert "border-radius: 10px" in head and "border-radius" not in body
    assert body.count("border:1px solid #e1e4e8") == size
