"""The `/paperboy` slash command: help, seed, follow, unfollow, top, settings, forget."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond

from bot import Deps, Polite
from bot.home import publish_home
from paperboy import blocks
from paperboy.feed import parse_arxiv_id
from paperboy.models import Ranked, Reader, SeedPaper
from paperboy.pipeline import load_batch, load_order, rank_for

log = logging.getLogger(__name__)

TOP_LIMIT = 10
"""At most this many papers in `/paperboy top` (an ephemeral message stays short)."""

HELP = """*Paperboy* reads arXiv's new papers every weekday and ranks them for you.
• `/paperboy seed <arXiv id or URL>`: a paper that shows what you want more of
• `/paperboy follow <author>` and `/paperboy unfollow <author>`: papers by them come first
• `/paperboy top`: your own top papers of the latest day
• `/paperboy settings`: email digest on or off, its address, the digest size
• `/paperboy forget`: delete everything Paperboy keeps about you
👍/👎 on a paper teach your ranking; the Home tab shows what it has learned."""

Reply = dict[str, Any]


def parse(text: str) -> tuple[str, str]:
    """'follow  Yoshua Bengio' -> ('follow', 'Yoshua Bengio'); empty text is help."""
    parts = text.strip().split(None, 1)
    if not parts:
        return "help", ""
    return parts[0].lower(), parts[1].strip() if len(parts) > 1 else ""


def _reader(deps: Deps, user: str) -> Reader:
    return deps.store.reader(user) or Reader(id=user)


def seed(deps: Deps, user: str, arg: str) -> Reply:
    found = parse_arxiv_id(arg)
    if not arg or not found:
        raise Polite(
            f"“{blocks.escape(arg)}” is not an arXiv id or URL: try "
            "`/paperboy seed 2502.11089` or an arxiv.org/abs/ link."
        )
    paper_id = found[0]
    reader = _reader(deps, user)
    if any(s.id == paper_id for s in reader.seed_papers):
        return {"text": f"{paper_id} is already one of your seed papers."}
    known = deps.store.papers([paper_id]).get(paper_id)
    seed_paper = SeedPaper(
        id=paper_id, title=known.title if known else "", abstract=known.abstract if known else ""
    )
    deps.store.save_reader(
        reader.model_copy(update={"seed_papers": [*reader.seed_papers, seed_paper]})
    )
    name = f" “{blocks.escape(known.title)}”" if known else ""
    return {
        "text": f"Added seed paper {paper_id}{name}. Your ranking leans towards it from the "
        "next day on."
    }


def follow(deps: Deps, user: str, arg: str) -> Reply:
    name = " ".join(arg.split())
    if not name:
        raise Polite("Whom should Paperboy follow? Try `/paperboy follow Yoshua Bengio`.")
    reader = _reader(deps, user)
    if name.casefold() in {a.casefold() for a in reader.authors}:
        return {"text": f"You already follow {blocks.escape(name)}."}
    deps.store.save_reader(reader.model_copy(update={"authors": [*reader.authors, name]}))
    return {"text": f"Following {blocks.escape(name)}: their papers come first in your ranking."}


def unfollow(deps: Deps, user: str, arg: str) -> Reply:
    name = " ".join(arg.split())
    reader = _reader(deps, user)
    kept = [a for a in reader.authors if a.casefold() != name.casefold()]
    if not name or len(kept) == len(reader.authors):
        following = ", ".join(reader.authors) or "nobody yet"
        raise Polite(
            f"You do not follow “{blocks.escape(name)}”. You follow: {blocks.escape(following)}."
        )
    deps.store.save_reader(reader.model_copy(update={"authors": kept}))
    return {"text": f"No longer following {blocks.escape(name)}."}


def top(deps: Deps, user: str, arg: str = "") -> Reply:
    """The reader's own top papers of the latest ranked day."""
    ctx = deps.context
    for day in reversed(deps.store.days()):
        try:
            batch, order = load_batch(ctx, day), load_order(ctx, day)
        except LookupError:
            continue
        ranked = rank_for(ctx, user, batch, order)
        by_id = {p.id: p for p in batch.papers}
        size = min(_reader(deps, user).digest_size or deps.settings.digest_size, TOP_LIMIT)
        entries = [Ranked(paper=by_id[s.paper], score=s) for s in ranked if s.paper in by_id]
        return {
            "text": f"Your top {len(entries[:size])} papers of {day:%a %d %b}",
            "blocks": blocks.top_blocks(day, entries[:size]),
        }
    return {
        "text": "No day has been ranked yet: the first digest comes with the next announcement."
    }


def settings(deps: Deps, user: str, arg: str) -> Reply:
    return {
        "text": "Your Paperboy settings",
        "blocks": blocks.settings_blocks(_reader(deps, user), deps.settings.digest_size),
    }


def forget(deps: Deps, user: str, arg: str) -> Reply:
    return {"text": "Delete your Paperboy data?", "blocks": blocks.forget_blocks()}


def show_help(deps: Deps, user: str, arg: str) -> Reply:
    return {"text": HELP}


VERBS: dict[str, Callable[[Deps, str, str], Reply]] = {
    "help": show_help,
    "seed": seed,
    "follow": follow,
    "unfollow": unfollow,
    "settings": settings,
    "forget": forget,
}
CHANGES_HOME = {"seed", "follow", "unfollow"}


def register(app: App, deps: Deps) -> None:
    """Listen to /paperboy and to the forget confirmation buttons."""

    def answer(ack: Ack, command: dict[str, Any], context: BoltContext) -> None:
        verb, arg = parse(command.get("text") or "")
        if verb == "top":
            context["top"] = True
            ack(text="Ranking the latest day's papers for you…")
            return
        if verb not in VERBS:
            raise Polite(f"Paperboy does not know `{blocks.escape(verb)}`.\n{HELP}")
        reply = VERBS[verb](deps, str(command["user_id"]), arg)
        context["home"] = verb in CHANGES_HOME
        ack(**reply)

    def later(command: dict[str, Any], respond: Respond, context: BoltContext) -> None:
        user = str(command["user_id"])
        if context.get("top"):
            respond(response_type="ephemeral", **top(deps, user))
        if context.get("home"):
            publish_home(deps, user, fresh=True)

    def confirm_forget(ack: Ack, body: dict[str, Any]) -> None:
        user = str(body["user"]["id"])
        deps.store.forget(user)
        log.info("forgot reader %s at their request", user)
        ack()

    def forgotten(body: dict[str, Any], respond: Respond) -> None:
        respond(
            replace_original=True,
            text="Done: Paperboy has deleted your votes, seed papers, "
            "followed authors and settings.",
        )
        publish_home(deps, str(body["user"]["id"]), fresh=True)

    def ack_only(ack: Ack) -> None:
        ack()

    def cancelled(respond: Respond) -> None:
        respond(replace_original=True, text="Nothing was deleted.")

    app.command("/paperboy")(ack=answer, lazy=[later])
    app.action(blocks.FORGET_CONFIRM)(ack=confirm_forget, lazy=[forgotten])
    app.action(blocks.FORGET_CANCEL)(ack=ack_only, lazy=[cancelled])
