"""The `paperboy` command: the whole day in-process, and one-off work on the store."""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from datetime import time as dt_time
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from paperboy import __version__, logs
from paperboy.addresses import AddressError, checked
from paperboy.arxiv import FetchError
from paperboy.budget import Budget
from paperboy.console import HtmlFile, Terminal
from paperboy.feed import FeedError, parse_arxiv_id
from paperboy.group import read_group
from paperboy.models import GroupVotes, Reader, VoteValue, utc_now
from paperboy.pipeline import Context, NoFeedError, fetch, run_day, score
from paperboy.progress import Meter
from paperboy.rhythm import zone, zone_named
from paperboy.services import Channels, arxiv_client, channels, context
from paperboy.settings import Settings, explain
from paperboy.store import ServiceError, Store, open_store

log = logging.getLogger("paperboy")

SAMPLE_FEED = "examples/stat-2024-03-26.xml"
UNREACHABLE = 3
"""Exit status when arXiv cannot be reached, so scripts can fall back to a saved feed."""


class UsageError(Exception):
    """A command that cannot do what was asked, said in one sentence."""


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2025-06-03") from None


def _count(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 100:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number from 1 to 100")
    return int(text)


def _paper_id(text: str) -> str:
    found = parse_arxiv_id(text)
    if not found:
        raise argparse.ArgumentTypeError(f"{text!r} is not an arXiv id like 2502.11089")
    return found[0]


# commands --------------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    store = open_store(settings)
    html = HtmlFile(Path(args.out))
    meter = Meter()  # on a terminal, a line redrawn in place; otherwise a few log lines
    found = Channels() if args.dry_run else channels(settings, store, meter)
    ctx = context(settings, store, [Terminal(), html, *found.ready], meter)
    _say_prior(ctx, settings)
    sources = args.feed or settings.feed_urls
    arxiv = arxiv_client(settings, store)
    log.info("reading %s", ", ".join(sources))
    batch, _, delivered = run_day(ctx, sources, arxiv, args.date, dry_run=args.dry_run)
    if not batch.papers:
        print(
            f"No announcement for {batch.day}: the feed has no new papers, nothing was delivered."
        )
        return 0
    if html.written:
        print(f"\nThe digest is in {html.written}")
    if settings.anthropic_api_key is None:
        print("Claude did not judge: set ANTHROPIC_API_KEY to add its relevance and novelty.")
    if args.dry_run:
        print("Dry run: nothing was delivered or marked as seen.")
    elif not store.persistent:
        print("No Redis: nothing was kept (set REDIS_URL or start redis-server to remember days).")
    for name, why in found.broken.items():
        print(f"paperboy: nothing was delivered by {name}: {why}", file=sys.stderr)
    for name, exc in delivered.failed.items():
        print(f"paperboy: delivery by {name} failed: {exc}", file=sys.stderr)
    return 1 if found.broken or delivered.failed else 0


def cmd_rank(args: argparse.Namespace, settings: Settings) -> int:
    store = open_store(settings)
    ctx = context(settings, store)
    batch = fetch(
        ctx, args.feed, arxiv_client(settings, store), args.date, mark=False, dedupe=False
    )
    order = score(ctx, batch)
    group = {s.paper: s.score for s in order}
    personal: dict[str, float] = {}
    colleagues: dict[str, GroupVotes] = {}
    if args.user:
        from paperboy.colleagues import Colleagues
        from paperboy.readers import ranking_for

        votes = read_group(store, ctx.now())
        ranking = ranking_for(ctx, args.user, batch, order, Colleagues.of(votes))
        order = ranking.scores()
        if ranking.personal is not None:
            personal = {p.id: float(v) for p, v in zip(batch.papers, ranking.personal, strict=True)}
        colleagues = votes.counts(group, args.user)
    by_id = {p.id: p for p in batch.papers}
    shown = order[: args.limit] if args.limit else order
    if args.json:
        rows = []
        for s in shown:
            paper = by_id[s.paper]
            row: dict[str, Any] = {
                "id": paper.id,
                "title": paper.title,
                "authors": paper.authors,
                "score": round(s.score, 6),
                "scorer": s.scorer,
                "reasons": s.reasons,
                "announce_type": paper.announce_type,
            }
            if s.relevance is not None:
                row.update(relevance=s.relevance, novelty=s.novelty, criterion=s.criterion)
            if args.user:  # paperboy/order.py: Claude's grade bands, the reader's score within
                mine = personal.get(s.paper)
                row.update(
                    group_score=round(group[s.paper], 6),
                    personal_score=round(mine, 6) if mine is not None else None,
                    group_votes=colleagues.get(s.paper, GroupVotes()).model_dump(),
                )
            rows.append(row)
        json.dump(rows, sys.stdout, ensure_ascii=False, indent=1)
        print()
        return 0
    for n, s in enumerate(shown, 1):
        paper = by_id[s.paper]
        print(f"{n:>4}  {s.score:7.3f}  {paper.id:<11} {paper.title}")
        if s.reasons:
            print(f"{'':25}{'; '.join(s.reasons)}")
    return 0


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    store = open_store(settings, allow_in_process=False)
    ctx = context(settings, store)
    batch = fetch(ctx, args.feed, arxiv_client(settings, store), args.date)
    print(
        f"Stored {len(batch.papers)} papers for {batch.day} "
        f"({len(batch.repeats)} already seen on an earlier day)."
    )
    return 0


def cmd_vote(args: argparse.Namespace, settings: Settings) -> int:
    store = open_store(settings, allow_in_process=False)
    value: VoteValue = 1 if args.up else -1 if args.down else 0
    if value == 0 and store.current_vote(args.user, args.paper) == 0:
        print(f"{args.user} has no vote on {args.paper} to undo.")
        return 0
    if not store.papers([args.paper]):
        log.warning(
            "paper %s is not in the store (not fetched, or expired); the vote is kept anyway "
            "and counts once the paper is fetched",
            args.paper,
        )
    cast = store.cast(args.user, args.paper, value, "cli")
    word = {1: "👍", -1: "👎", 0: "undone"}[value] + (" already" if cast.outcome == "same" else "")
    up, down = store.tally(args.paper)
    print(f"{args.user} on {args.paper}: {word} (now {up} 👍, {down} 👎)")
    return 0


def cmd_profile(args: argparse.Namespace, settings: Settings) -> int:
    store = open_store(settings, allow_in_process=False)
    from paperboy.readers import profile

    found = profile(store, args.user, context(settings, store), args.suggest)
    record = found.model_dump(mode="json", exclude_none=False)
    if not args.suggest:
        del record["day"], record["suggest"]
    if args.json:
        print(json.dumps(record, ensure_ascii=False, indent=1))
        return 0
    print(f"Reader {record['user']}" + (f" <{record['email']}>" if record["email"] else ""))
    reader = store.reader(args.user) or Reader(id=args.user)
    state = f"on, {reader.cadence}, {when(reader)}" if record["email_enabled"] else "off"
    print(f"Email digest: {state}")
    print(f"Votes shared with the group: {'yes' if record['share_votes'] else 'no, kept private'}")
    shown = "" if len(record["votes"]) <= 10 else ", the latest 10 below"
    events = f"{record['events']} event{'' if record['events'] == 1 else 's'} in the log"
    print(f"Votes: {len(record['votes'])} standing ({events}{shown})")
    for vote in record["votes"][-10:]:
        print(f"  {'👍' if vote['value'] > 0 else '👎'} {vote['paper']}  {vote['at'][:10]}")
    print("Terms rated up:   " + (", ".join(record["terms"]["up"]) or "none yet"))
    print("Terms rated down: " + (", ".join(record["terms"]["down"]) or "none yet"))
    weighty = record["weighty_papers"]
    if weighty:
        print("Votes that weigh most in the ranking:")
        for item in weighty[:8]:
            print(f"  {'👍' if item['vote'] > 0 else '👎'} {item['paper']}  {item['title']}")
    print("Followed authors: " + (", ".join(record["authors"]) or "none"))
    print(f"Seed papers: {len(record['seed_papers'])}")
    for seed in record["seed_papers"]:
        print(f"  {seed.get('id') or '-':<11} {seed.get('title') or seed.get('abstract', '')[:70]}")
    if args.suggest:
        if not record["suggest"]:
            print("Nothing to suggest: no day has been ranked yet.")
        else:
            print(
                f"Help Paperboy learn your taste: vote on these papers of {record['day']} "
                "(paperboy vote --user U --paper ID --up/--down), the ones it is least sure about:"
            )
            for item in record["suggest"]:
                print(f"  {item['paper']:<11} {item['title']}")
    return 0


def cmd_subscribe(args: argparse.Namespace, settings: Settings) -> int:
    store = open_store(settings, allow_in_process=False)
    reader = store.reader(args.user) or Reader(id=args.user)
    address = reader.email
    if args.email is not None:
        try:
            address = checked(args.email, store.smtputf8())
        except AddressError as exc:
            raise UsageError(str(exc)) from None
    if not address:
        raise UsageError(f"{args.user} has no email address yet: add --email ADDRESS")
    # An admin's word: the address needs no confirmation link (one set on Home does).
    update: dict[str, Any] = {"email": address, "pending_email": None, "email_enabled": True}
    if args.cadence:
        update["cadence"] = args.cadence
    if args.hour is not None:
        update["hour"] = None if args.hour == "group" else int(args.hour)
    if args.tz is not None:
        try:
            zone_named(args.tz)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        update["tz"] = args.tz
    reader = reader.model_copy(update=update)
    store.save_reader(reader)
    print(f"{args.user} will get the {reader.cadence} digest at {address}, {when(reader)}.")
    return 0


def when(reader: Reader) -> str:
    """When a reader's email comes, in words."""
    if reader.hour is None:
        return (
            "with the group's digest"
            if reader.cadence == "daily"
            else "on Friday, once its digest is made"
        )
    return f"at {reader.hour:02d}:00 {zone(reader)}"


def _hour(text: str) -> str:
    if text == "group" or (text.isdigit() and 0 <= int(text) <= 23):
        return text
    raise argparse.ArgumentTypeError(f"{text!r} is not an hour from 0 to 23 (or 'group')")


def cmd_unsubscribe(args: argparse.Namespace, settings: Settings) -> int:
    store = open_store(settings, allow_in_process=False)
    reader = store.reader(args.user)
    if reader is None:
        raise UsageError(f"no reader {args.user} in the store")
    store.save_reader(reader.model_copy(update={"email_enabled": False}))
    print(f"{args.user} will get no more email.")
    return 0


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    store = open_store(settings, allow_in_process=False)
    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout  # noqa: SIM115
    count = 0
    try:
        for record in store.export_with_papers(args.user):
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    finally:
        if args.out:
            out.close()
    log.info("exported %d records", count)
    return 0


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    store = open_store(settings, allow_in_process=False)
    path = Path(args.file)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise UsageError(
                f"{path}:{number} is not JSON ({exc.msg}); nothing was imported"
            ) from None
    try:
        readers, votes, papers = store.import_with_papers(records)
    except ValueError as exc:
        raise UsageError(f"{path}: {exc}; nothing after it was imported") from None
    print(
        f"Imported {readers} readers and {votes} new votes from {path}, with the text of "
        f"{papers} kept papers."
    )
    return 0


def cmd_forget(args: argparse.Namespace, settings: Settings) -> int:
    store = open_store(settings, allow_in_process=False)
    store.forget(args.user)
    print(
        f"Forgot {args.user}: votes, poll choices, reading list, seeds, authors and settings are "
        "removed."
    )
    return 0


def cmd_saved(args: argparse.Namespace, settings: Settings) -> int:
    from paperboy import bibtex

    store = open_store(settings, allow_in_process=False)
    saved = store.saved(args.user)
    papers = store.papers([s.paper for s in saved])
    if args.bibtex:
        kept = [papers[s.paper] for s in saved if s.paper in papers]
        sys.stdout.write(bibtex.entries(kept))
        missing = len(saved) - len(kept)
        if missing:
            log.warning("%d saved papers are no longer stored and are left out", missing)
        return 0
    if not saved:
        print(f"{args.user} has saved nothing.")
        return 0
    print(f"{args.user}'s reading list: {len(saved)} papers, newest first")
    for item in saved:
        paper = papers.get(item.paper)
        title = paper.title if paper else "(no longer stored)"
        print(f"  {item.at:%Y-%m-%d}  {item.paper:<11} {title}")
    return 0


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    from paperboy.search import lines, search

    store = open_store(settings)
    text = " ".join(args.words)
    found = search(store, text, args.limit, _permalinks(settings))
    if args.json:
        print(json.dumps([item.as_json() for item in found], ensure_ascii=False, indent=1))
        return 0
    if not found:
        print(f"Nothing Paperboy has seen matches “{text}”.")
        return 0
    print("\n".join(lines(found)))
    return 0


def _permalinks(settings: Settings) -> Callable[[str, str], str | None] | None:
    """Slack's permalinks of posted papers, when Slack is configured."""
    if settings.slack_bot_token is None:
        return None
    from slack_sdk.errors import SlackApiError

    from paperboy.slack import web_client

    client = web_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)

    def look(channel: str, ts: str) -> str | None:
        try:
            return str(client.chat_getPermalink(channel=channel, message_ts=ts)["permalink"])
        except (SlackApiError, OSError) as exc:
            log.warning("no permalink for %s/%s: %s", channel, ts, exc)
            return None

    return look


def cmd_seed(args: argparse.Namespace, settings: Settings) -> int:
    from paperboy.seeds import add_seed, remove_seed

    store = open_store(settings, allow_in_process=False)
    for item in args.papers:
        if args.remove:
            done = remove_seed(store, args.user, item)
            word = "removed from" if done else "is not among"
            print(f"{args.user}: {item} {word} the seed papers.")
            continue
        seed = add_seed(
            store, args.user, item, arxiv_client(settings, store), settings.arxiv_api_url
        )
        print(f"{args.user}: seed paper {seed.id} added: {seed.title}")
    return 0


def cmd_follow(args: argparse.Namespace, settings: Settings) -> int:
    from paperboy.seeds import follow, unfollow

    store = open_store(settings, allow_in_process=False)
    name = " ".join(args.name)
    if args.command == "follow":
        done = follow(store, args.user, name)
        print(f"{args.user} {'now follows' if done else 'already follows'} {name}.")
    else:
        done = unfollow(store, args.user, name)
        print(f"{args.user} {'no longer follows' if done else 'was not following'} {name}.")
    return 0


def cmd_week(args: argparse.Namespace, settings: Settings) -> int:
    from paperboy.week import gather_week, week_of

    store = open_store(settings, allow_in_process=False)
    clock = datetime.combine(args.date, dt_time(23, 59), UTC) if args.date else utc_now()
    group = read_group(store, clock, with_papers=False)
    summary = gather_week(store, week_of(settings.weekly_cron, clock), group)
    print(f"The week in the group, {summary.week.label}", end="")
    if not summary.liked:
        print(": no paper got more 👍 than 👎, so the clock posts nothing.")
        return 0
    print(f": {summary.voters} readers voted on {summary.voted} of the week's papers.")
    polled = {item.paper.id for item in summary.poll}
    for n, item in enumerate(summary.liked, 1):
        poll = "  (in the poll)" if item.paper.id in polled else ""
        counts = f"👍 {item.up} · 👎 {item.down}"
        print(f"{n:>3}. {counts}  {item.paper.id:<11} {item.paper.title}{poll}")
    if not polled:
        print("No reading-group poll: it needs three liked papers.")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    """Every check, printed as it completes; a wrong setting is one failed check among them."""
    from paperboy.doctor import checks, load_settings

    settings, found = load_settings()
    failed = 0
    # the checks report what the clients would log, in their own words
    with logs.silenced((*logs.QUIET, "paperboy.slack.api")):
        for check in itertools.chain(found, checks(settings)):
            mark = {"ok": "ok  ", "warn": "warn", "fail": "FAIL", "off": "off "}[check.status]
            print(f"[{mark}] {check.name}: {check.detail}", flush=True)
            failed += check.status == "fail"
    return 1 if failed else 0


def cost_rows(store: Store, days: int, today: date, limit: float) -> list[dict[str, Any]]:
    """Each of the last `days` days up to `today` with a ledger, oldest first: its totals,
    papers judged of kept, and spend against the budget."""
    budget = Budget(store)
    wanted = [d for d in budget.cost_days() if 0 <= (today - d).days < days]
    return [budget.report(d, limit) for d in wanted]


def cmd_costs(args: argparse.Namespace, settings: Settings) -> int:
    store = open_store(settings)
    rows = cost_rows(store, args.days, utc_now().date(), settings.llm_max_usd_per_day)
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    if not rows:
        print(f"No Claude calls in the last {args.days} days.")
        return 0
    fields = ["calls", "input", "output", "cache_write", "cache_read"]
    head = ["calls", "input", "output", "cache write", "cache read"]
    print(
        f"{'day':<10} {'judged of kept':>15} "
        + " ".join(f"{h:>11}" for h in head)
        + f" {'dollars':>9} {'budget':>7}"
    )
    notes = []
    for row in rows:
        limit = f"${row['limit']:.2f}" if row["limit"] is not None else "-"
        print(
            f"{row['day']:<10} {row['judged']:>6,} of {row['kept']:>5,} "
            + " ".join(f"{int(row[f]):>11,}" for f in fields)
            + f" {row['spent']:>9.4f} {limit:>7}"
        )
        if row["by_batch"]:
            notes.append(f"{row['day']}: {row['by_batch']:,} papers judged by batch, at half price")
        if row["ran_out"]:
            left = f"{row['ran_out']:,} papers kept their local score"
            notes.append(f"{row['day']}: the budget ran out; {left}")
        if row["unsettled"] > 0:
            notes.append(
                f"{row['day']}: ${row['unsettled']:.4f} counted for calls that never reported back"
            )
    total = {f: sum(r[f] for r in rows) for f in [*fields, "spent", "judged", "kept"]}
    print(
        f"{'total':<10} {int(total['judged']):>6,} of {int(total['kept']):>5,} "
        + " ".join(f"{int(total[f]):>11,}" for f in fields)
        + f" {total['spent']:>9.4f}"
    )
    for note in notes:
        print(note)
    return 0


# wiring ----------------------------------------------------------------------------------


def _say_prior(ctx: Context, settings: Settings) -> None:
    if settings.criteria_file or settings.seed_papers_file or settings.authors_file:
        log.info("group profile: %s", ctx.prior.source)
    else:
        print(
            f"Using the {ctx.prior.source}; set CRITERIA_FILE, SEED_PAPERS_FILE and "
            "AUTHORS_FILE (see .env.example) for your group's own.",
            file=sys.stderr,
        )


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="paperboy",
        description="Paperboy reads arXiv's new papers, ranks them for your group and delivers "
        "a digest. Settings come from the environment and .env (see .env.example).",
    )
    top.add_argument("--version", action="version", version=f"paperboy {__version__}")
    top.add_argument("-v", "--verbose", action="store_true", help="log debugging detail")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Callable[..., int], help_: str) -> argparse.ArgumentParser:
        cmd = sub.add_parser(name, help=help_, description=help_)
        cmd.set_defaults(func=func)
        return cmd

    feed_help = (
        "a saved feed file or a feed URL to read instead of arXiv's configured feeds (repeatable)"
    )
    given_feed_help = "a saved feed file or a feed URL to read (repeatable)"
    date_help = "the day's date (YYYY-MM-DD); default: the feed's own pubDate"

    run = add("run", cmd_run, "Run the whole day in-process: fetch, score, rank and deliver.")
    run.epilog = (
        f"Exit status: 0 done; 1 a channel failed to deliver, or a service or setting is wrong; "
        f"2 a setting or profile file cannot be read; {UNREACHABLE} arXiv could not be reached "
        "(try a saved feed with --feed; `make run` does, with the sample in examples/)."
    )
    run.add_argument("--feed", action="append", metavar="PATH_OR_URL", help=feed_help)
    run.add_argument("--date", type=_date, help=date_help)
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="fetch, score (Claude too, if configured) and rank, print the digest "
        "and write it as HTML, but deliver and mark nothing",
    )
    run.add_argument(
        "--out",
        default="digests",
        metavar="DIR",
        help="folder for the HTML digest (default: ./digests)",
    )

    rank = add("rank", cmd_rank, "Rank a feed's papers without delivering or storing anything.")
    rank.add_argument(
        "--feed", action="append", required=True, metavar="PATH_OR_URL", help=given_feed_help
    )
    rank.add_argument("--date", type=_date, help=date_help)
    rank.add_argument("--user", metavar="U", help="rank for this reader (default: the group)")
    rank.add_argument(
        "--json",
        action="store_true",
        help="print a JSON array, best first; with --user, `personal_score` (and `score`) is the "
        "reader's refit local score, `group_score` the group's (Claude's relevance + novelty/10 "
        "for a judged paper), `group_votes` the 👍 and 👎 of the reader's colleagues who share "
        'their votes ({"up": N, "down": M}); papers stay in Claude\'s grade bands',
    )
    rank.add_argument("--limit", type=int, metavar="N", help="show only the best N")

    ingest = add("ingest", cmd_ingest, "Store a feed's papers without delivering (backfills).")
    ingest.add_argument(
        "--feed", action="append", required=True, metavar="PATH_OR_URL", help=given_feed_help
    )
    ingest.add_argument("--date", type=_date, help=date_help)

    vote = add("vote", cmd_vote, "Record a reader's vote on a paper.")
    vote.add_argument("--user", required=True, metavar="U", help="the reader's Slack user id")
    vote.add_argument("--paper", required=True, type=_paper_id, metavar="ID", help="arXiv id")
    choice = vote.add_mutually_exclusive_group(required=True)
    choice.add_argument("--up", action="store_true", help="👍")
    choice.add_argument("--down", action="store_true", help="👎")
    choice.add_argument("--undo", action="store_true", help="withdraw the current vote")

    profile = add("profile", cmd_profile, "Show what a reader's profile holds and has learned.")
    profile.add_argument("--user", required=True, metavar="U", help="the reader's Slack user id")
    profile.add_argument("--json", action="store_true", help="print JSON")
    profile.add_argument(
        "--suggest",
        action="store_true",
        help="also list 5 papers of the latest day that the reader's ranking is least sure "
        "about: a vote on them teaches it most",
    )

    subscribe = add(
        "subscribe",
        cmd_subscribe,
        "Send a reader the email digest: daily or weekly, with the group's or at their own hour.",
    )
    subscribe.add_argument("--user", required=True, metavar="U", help="the reader's Slack user id")
    subscribe.add_argument(
        "--email",
        metavar="A",
        help="their email address (needed the first time); set at once, without the "
        "confirmation email an address set on Home gets",
    )
    rhythm_ = subscribe.add_mutually_exclusive_group()
    rhythm_.add_argument(
        "--daily",
        dest="cadence",
        action="store_const",
        const="daily",
        help="each announcement day's digest (the default)",
    )
    rhythm_.add_argument(
        "--weekly",
        dest="cadence",
        action="store_const",
        const="weekly",
        help="once a week, their own best of the week (on Friday at their hour)",
    )
    subscribe.add_argument(
        "--hour",
        type=_hour,
        metavar="H",
        help="the hour (0 to 23, their time zone) their email comes, at the first hourly run "
        "once the day's digest exists; 'group' to get it with the group's digest (the default)",
    )
    subscribe.add_argument(
        "--tz",
        metavar="AREA/CITY",
        help="their time zone, an IANA name like Asia/Tokyo (default: Slack's, else UTC)",
    )

    unsubscribe = add("unsubscribe", cmd_unsubscribe, "Stop a reader's email digest.")
    unsubscribe.add_argument("--user", required=True, metavar="U", help="the reader")

    export = add(
        "export",
        cmd_export,
        "Print readers, the vote log, reading-group poll choices and reading lists as JSON "
        "lines, with the kept papers' text (and, for all readers, the whole archive of posted, "
        "voted and saved papers and where they were posted), for all readers or one.",
    )
    export.add_argument("--user", metavar="U", help="only this reader")
    export.add_argument("--out", metavar="FILE", help="write to FILE instead of standard output")

    imp = add(
        "import",
        cmd_import,
        "Load readers, votes, poll choices, reading lists and kept papers from an export's JSON "
        "lines.",
    )
    imp.add_argument("file", metavar="FILE", help="a file written by `paperboy export`")

    forget = add(
        "forget",
        cmd_forget,
        "Delete a reader's votes, poll choices, reading list, seeds, authors and settings.",
    )
    forget.add_argument("--user", required=True, metavar="U", help="the reader")

    seed = add(
        "seed",
        cmd_seed,
        "Add papers to a reader's seed papers by arXiv id or URL (title and abstract "
        "come from arXiv).",
    )
    seed.add_argument("--user", required=True, metavar="U", help="the reader's Slack user id")
    seed.add_argument("--remove", action="store_true", help="remove these papers instead")
    seed.add_argument(
        "papers",
        nargs="+",
        metavar="ID_OR_URL",
        help="arXiv ids or URLs, like 2502.11089 or https://arxiv.org/abs/2502.11089",
    )

    for name, help_ in (
        ("follow", "Follow an author: their papers come first for this reader."),
        ("unfollow", "Stop following an author."),
    ):
        cmd = add(name, cmd_follow, help_)
        cmd.add_argument("--user", required=True, metavar="U", help="the reader's Slack user id")
        cmd.add_argument("name", nargs="+", metavar="NAME", help="the author's name, as on arXiv")

    saved = add(
        "saved", cmd_saved, "Print a reader's reading list (the papers they saved), newest first."
    )
    saved.add_argument("--user", required=True, metavar="U", help="the reader's Slack user id")
    saved.add_argument(
        "--bibtex",
        action="store_true",
        help="print it as BibTeX instead: one @misc entry a paper, which Zotero imports",
    )

    find = add(
        "search",
        cmd_search,
        "Find the papers Paperboy has seen that best match some words (titles, abstracts, author "
        "names): those of the last weeks, and every paper posted, voted on or saved.",
    )
    find.add_argument("words", nargs="+", metavar="WORDS", help="what to look for")
    find.add_argument(
        "--json",
        action="store_true",
        help="print a JSON array, best first: id, title, authors, day, categories, url, thread "
        "(the permalink of its reply in Slack, or null), up, down, score",
    )
    find.add_argument(
        "--limit", type=_count, default=10, metavar="N", help="how many papers (default: 10)"
    )

    week = add(
        "week",
        cmd_week,
        "Show the week in the group: the papers its readers liked most, as the weekly post lists "
        "them (the clock posts it to Slack at WEEKLY_CRON).",
    )
    week.add_argument(
        "--date",
        type=_date,
        help="a day of the week to show: the week WEEKLY_CRON closes by its end (default: now)",
    )

    add(
        "doctor",
        cmd_doctor,
        "Check every setting and configured service (Redis and its persistence and eviction "
        "policy, the schedule, arXiv, Claude, Slack and its channel, email and PUBLIC_URL) "
        "and say how to fix what is wrong.",
    )

    costs = add(
        "costs",
        cmd_costs,
        "Show what Claude cost per day: papers judged of kept, calls, tokens, and dollars "
        "against the day's budget.",
    )
    costs.add_argument(
        "--days",
        type=int,
        default=7,
        metavar="N",
        help="the last N days, today included (default: 7)",
    )
    costs.add_argument("--json", action="store_true", help="print JSON")
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logs.configure("text", "DEBUG" if args.verbose else "INFO")  # until the settings say
    try:
        if args.func is cmd_doctor:  # it reports a wrong setting among its checks
            return cmd_doctor(args)
        settings = Settings()
        logs.configure(settings.log_format, "DEBUG" if args.verbose else settings.log_level)
        return int(args.func(args, settings))
    except NoFeedError as exc:
        if exc.fetched.unreachable:
            print(
                f"paperboy: arXiv cannot be reached from this machine; try a saved feed: "
                f"paperboy {args.command} --feed {SAMPLE_FEED}",
                file=sys.stderr,
            )
            return UNREACHABLE
        else:
            print(f"paperboy: no feed could be read: {exc}", file=sys.stderr)
        return 1
    except (UsageError, ServiceError, FetchError, FeedError, LookupError) as exc:
        print(f"paperboy: {exc}", file=sys.stderr)
        return 1
    except ValidationError as exc:
        print(f"paperboy: a setting is wrong: {explain(exc)}", file=sys.stderr)
        return 2
    except ValueError as exc:  # bad profile files, explained by their reader
        print(f"paperboy: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `paperboy rank --json | head`: the reader has seen enough
        # Python would complain again while flushing stdout at exit: point it at nothing.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a shell reports it


if __name__ == "__main__":
    sys.exit(main())
