"""The `paperboy` command end to end, on a real Redis and the fixture feeds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from paperboy.cli import UNREACHABLE, main
from paperboy.models import Reader, Vote
from paperboy.store import Store
from tests.conftest import FIXTURES, ROOT, parsed
from tests.standins import refused_port

DAY = FIXTURES / "days" / "cs.CL+cs.CV+cs.MM+cs.LG+cs.SI-2025-06-03.xml.gz"
SMALL_DAY = FIXTURES / "days" / "cs.SD+eess.AS-2025-06-04.xml"


@pytest.fixture(autouse=True)
def settings_env(unconfigured: Path, store: Store) -> None:
    """Point the CLI at the tests' Redis and nothing else; run it from an empty folder."""


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_rank_json_lists_each_new_and_cross_paper_once(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "rank", "--feed", str(DAY), "--json")
    rows = json.loads(out)
    feed = parsed(DAY)
    replaced = {p.id for p in feed.papers if p.announce_type.startswith("replace")}
    expected = {p.id for p in feed.kept(["new", "cross"])}
    assert code == 0
    assert len(rows) == len({r["id"] for r in rows}) == len(expected)
    assert {r["id"] for r in rows} == expected and not replaced & {r["id"] for r in rows}
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    first = rows[0]
    assert set(first) >= {"id", "title", "authors", "score", "scorer", "reasons"}
    assert first["scorer"] == "local" and isinstance(first["authors"], list)


def test_rank_for_a_reader_gives_their_colleagues_votes_unless_kept_private(
    capsys: pytest.CaptureFixture[str], store: Store
) -> None:
    paper = parsed(SMALL_DAY).kept(["new", "cross"])[3].id
    run(capsys, "vote", "--user", "U2", "--paper", paper, "--up")
    run(capsys, "vote", "--user", "U3", "--paper", paper, "--down")
    run(capsys, "vote", "--user", "U1", "--paper", paper, "--up")  # the reader's own: not counted
    rows = json.loads(run(capsys, "rank", "--feed", str(SMALL_DAY), "--user", "U1", "--json")[1])
    votes = {r["id"]: r["group_votes"] for r in rows}
    assert votes[paper] == {"up": 1, "down": 1}
    assert {v["up"] + v["down"] for p, v in votes.items() if p != paper} == {0}
    store.save_reader(Reader(id="U3", share_votes=False))
    rows = json.loads(run(capsys, "rank", "--feed", str(SMALL_DAY), "--user", "U1", "--json")[1])
    assert next(r["group_votes"] for r in rows if r["id"] == paper) == {"up": 1, "down": 0}
    assert json.loads(run(capsys, "profile", "--user", "U3", "--json")[1])["share_votes"] is False


def test_week_lists_what_the_group_liked(capsys: pytest.CaptureFixture[str], store: Store) -> None:
    run(capsys, "ingest", "--feed", str(SMALL_DAY), "--date", "2025-06-04")
    ids = [p.id for p in parsed(SMALL_DAY).kept(["new", "cross"])[:3]]
    at = datetime(2025, 6, 4, 12, tzinfo=UTC)
    for reader, paper, value in [("U1", ids[0], 1), ("U2", ids[0], 1), ("U1", ids[1], 1),
                                 ("U2", ids[2], -1)]:  # fmt: skip
        store.append_vote(Vote(reader=reader, paper=paper, value=value, at=at))
    code, out, _ = run(capsys, "week", "--date", "2025-06-06")
    assert code == 0
    assert "Sat 31 May to Fri 06 Jun: 2 readers voted on 3 of the week's papers" in out
    listed = [line.split()[6] for line in out.splitlines() if line[:4].strip().endswith(".")]
    assert listed == ids[:2]
    assert "No reading-group poll: it needs three liked papers." in out
    assert "no paper got more" in run(capsys, "week", "--date", "2025-06-13")[1]


def test_rank_limit_and_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "rank", "--feed", str(SMALL_DAY), "--limit", "5")
    assert code == 0
    assert len([line for line in out.splitlines() if line[:4].strip().isdigit()]) == 5


def test_dry_run_of_the_sample_prints_and_writes_the_digest_and_marks_nothing(
    capsys: pytest.CaptureFixture[str], store: Store, tmp_path: Path
) -> None:
    code, out, err = run(
        capsys, "run", "--feed", str(ROOT / "examples" / "stat-2024-03-26.xml"), "--dry-run"
    )
    html = tmp_path / "digests" / "paperboy-2024-03-26.html"
    assert code == 0
    assert "Tue 26 Mar: 15 of 62 new papers, judged by the local scorer" in out
    assert str(html.relative_to(tmp_path)) in out and html.exists()
    assert html.read_text().count("<article>") == 15
    assert "Dry run" in out and "example profile" in err
    assert store.day(__import__("datetime").date(2024, 3, 26)) is None


def test_run_without_a_network_says_so_in_one_sentence(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARXIV_FEED_URL", f"http://127.0.0.1:{refused_port()}/rss/")
    code, _, err = run(capsys, "run")
    assert code == UNREACHABLE
    last = err.strip().splitlines()[-1]
    assert "Traceback" not in err
    assert last.startswith("paperboy: arXiv cannot be reached") and "--feed examples/" in last


def test_vote_undo_switch_then_profile(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "ingest", "--feed", str(SMALL_DAY))[0] == 0
    paper = parsed(SMALL_DAY).kept(["new"])[0].id
    for flag in ("--up", "--undo", "--down"):
        assert run(capsys, "vote", "--user", "U1", "--paper", paper, flag)[0] == 0
    other = "2506.00002"
    assert (
        run(capsys, "vote", "--user", "U1", "--paper", f"https://arxiv.org/abs/{other}v2", "--up")[
            0
        ]
        == 0
    )
    code, out, _ = run(capsys, "profile", "--user", "U1", "--json")
    profile = json.loads(out)
    assert code == 0 and profile["user"] == "U1"
    assert {(v["paper"], v["value"], v["source"]) for v in profile["votes"]} == {
        (paper, -1, "cli"),
        (other, 1, "cli"),
    }
    assert set(profile) >= {"email", "seed_papers", "authors", "terms"}
    assert set(profile["terms"]) == {"up", "down"}


def test_subscribe_export_import_round_trip(
    capsys: pytest.CaptureFixture[str], store: Store, tmp_path: Path
) -> None:
    run(capsys, "subscribe", "--user", "U7", "--email", "grace@example.org")
    run(capsys, "vote", "--user", "U7", "--paper", "2506.00019", "--up")
    run(capsys, "export", "--user", "U7", "--out", str(tmp_path / "u7.jsonl"))
    lines = (tmp_path / "u7.jsonl").read_text().splitlines()
    assert [json.loads(line)["type"] for line in lines] == ["reader", "vote"]
    before = json.loads(run(capsys, "profile", "--user", "U7", "--json")[1])
    run(capsys, "forget", "--user", "U7")
    assert json.loads(run(capsys, "profile", "--user", "U7", "--json")[1])["votes"] == []
    code, out, _ = run(capsys, "import", str(tmp_path / "u7.jsonl"))
    assert code == 0 and "1 readers and 1 new votes" in out
    assert json.loads(run(capsys, "profile", "--user", "U7", "--json")[1]) == before


@pytest.mark.parametrize(
    "argv, says",
    [
        (["vote", "--user", "U1", "--paper", "not-an-id", "--up"], "not an arXiv id"),
        (["subscribe", "--user", "U1", "--email", "nobody"], "does not look like an email"),
        (["rank", "--feed", "/no/such/feed.xml"], "cannot read the file"),
        (["run", "--date", "yesterday", "--dry-run"], "not a date"),
    ],
)
def test_bad_input_is_one_clear_sentence(
    capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse rejects bad arguments itself
        code = int(exc.code or 0)
    err = capsys.readouterr().err
    assert code != 0 and says in err and "Traceback" not in err


def test_import_rejects_a_broken_line_and_imports_nothing(
    capsys: pytest.CaptureFixture[str], store: Store, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"type": "reader", "id": "U9"}\n{not json\n')
    code, _, err = run(capsys, "import", str(bad))
    assert code == 1 and "bad.jsonl:2 is not JSON" in err
    assert store.reader("U9") is None


def test_import_refuses_a_time_without_its_zone_for_every_kind_of_record(
    capsys: pytest.CaptureFixture[str], store: Store, tmp_path: Path
) -> None:
    naive = "2025-06-03T09:00:00"
    for record in (
        {"type": "vote", "reader": "U9", "paper": "2506.00001", "value": 1, "at": naive},
        {"type": "poll", "reader": "U9", "week": "2025-06-02", "paper": "2506.00001", "at": naive},
        {"type": "saved", "reader": "U9", "paper": "2506.00001", "saved": True, "at": naive},
    ):
        bad = tmp_path / "naive.jsonl"
        bad.write_text(json.dumps({"type": "reader", "id": "U9"}) + "\n" + json.dumps(record))
        code, _, err = run(capsys, "import", str(bad))
        assert code == 1 and "Traceback" not in err, record["type"]
        assert "timezone" in err.replace("time zone", "timezone"), err
        assert store.reader("U9") is None and store.votes("U9") == []


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for command in (
        "run",
        "rank",
        "ingest",
        "vote",
        "profile",
        "subscribe",
        "unsubscribe",
        "export",
        "import",
        "forget",
        "saved",
        "search",
        "week",
        "doctor",
    ):
        with pytest.raises(SystemExit) as exited:
            main([command, "--help"])
        assert exited.value.code == 0
        assert "usage: paperboy " + command in capsys.readouterr().out


def test_rank_json_piped_into_a_reader_that_stops_early_ends_quietly() -> None:
    """`paperboy rank --json | head`: no traceback when the pipe closes; SIGPIPE's exit code."""
    paperboy = Path(sys.executable).parent / "paperboy"  # the installed console script
    command = [str(paperboy), "rank", "--feed", str(DAY), "--json"]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ)
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.read(200).startswith(b"[")
        proc.stdout.close()  # what `head` does once it has its lines
        err = proc.stderr.read().decode()
        code = proc.wait(timeout=60)
    assert "Traceback" not in err and "BrokenPipeError" not in err
    assert code == 141


def test_undo_without_a_vote_says_so_and_logs_nothing(
    capsys: pytest.CaptureFixture[str], store: Store
) -> None:
    code, out, _ = run(capsys, "vote", "--user", "U3", "--paper", "2506.00002", "--undo")
    assert code == 0 and "U3 has no vote on 2506.00002 to undo" in out
    assert store.votes("U3") == []


def test_profile_suggests_papers_to_vote_on(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "profile", "--user", "U9", "--suggest")[1].count("no day has been") == 1
    assert run(capsys, "run", "--feed", str(SMALL_DAY))[0] == 0
    code, out, _ = run(capsys, "profile", "--user", "U9", "--suggest", "--json")
    record = json.loads(out)
    day = {p.id for p in parsed(SMALL_DAY).kept(["new", "cross"])}
    assert code == 0 and record["day"] == "2025-06-04"
    assert len(record["suggest"]) == 5 and {s["paper"] for s in record["suggest"]} <= day
    first = record["suggest"][0]["paper"]
    assert run(capsys, "vote", "--user", "U9", "--paper", first, "--up")[0] == 0
    again = json.loads(run(capsys, "profile", "--user", "U9", "--suggest", "--json")[1])
    assert first not in {s["paper"] for s in again["suggest"]}  # voted on: not offered again
    code, out, _ = run(capsys, "profile", "--user", "U9", "--suggest")
    assert "Help Paperboy learn your taste" in out and again["suggest"][0]["paper"] in out
