"""A reader's App Home, gathered from the store: recent votes, the reading list, settings, the
group's facts.

What the profile has learned comes from the interactive worker (it ranks and explains, which
takes the ranking's numerical code); the web process builds the rest on its own, with no
learned part, when that worker is not running. Pure apart from reading the store.
"""

from __future__ import annotations

from typing import Any

from paperboy import blocks, saved_blocks
from paperboy.budget import Budget
from paperboy.models import Explanation, Paper, Reader, Vote
from paperboy.settings import Settings
from paperboy.store import Store
from paperboy.votes import recent_votes

RECENT_VOTES = 8
"""How many of the reader's latest standing votes Home lists."""
ADMIN_DAYS = 7
"""How many recent days the admins' section lists."""


def admin_lines(settings: Settings, store: Store) -> list[str]:
    """The group's configuration and the last days' costs, one line each."""
    s = settings
    model = s.anthropic_model if s.anthropic_api_key else "none: local scorer only"
    cap = f"at most {s.llm_max_papers} papers" if s.llm_max_papers else "every kept paper"
    way = " by Message Batches (half price)" if s.llm_batch else ""
    lines = [
        f"Categories: {', '.join(s.arxiv_categories)} (announce types "
        f"{', '.join(s.arxiv_announce_types)}) · schedule {s.schedule_cron} UTC",
        f"Criteria file: {s.criteria_file or 'the example profile'}",
        f"Model: {model} · {cap}{way} within ${s.llm_max_usd_per_day:.2f} a day · digest of "
        f"{s.digest_size}",
    ]
    budget = Budget(store)
    days = sorted(set(store.days()) | set(budget.cost_days()))[-ADMIN_DAYS:]
    for day in reversed(days):
        record = store.day(day, "slack")
        row = budget.report(day, s.llm_max_usd_per_day)
        posted = record.slack.picked if record and record.slack else "—"
        limit = f" of ${row['limit']:.2f}" if row["limit"] is not None else ""
        line = (
            f"{day:%a %d %b}: {row['kept']:,} read, {posted} posted; Claude judged "
            f"{row['judged']:,} of {row['kept']:,} for ${row['spent']:.4f}{limit} in "
            f"{int(row['calls'])} call{'' if row['calls'] == 1 else 's'}"
        )
        if row["ran_out"]:
            line += f" · ⚠ the budget ran out: {row['ran_out']:,} papers kept their local score"
        lines.append(line)
    lines.append(
        "Change these in the environment (ARXIV_CATEGORIES, CRITERIA_FILE, "
        "ANTHROPIC_MODEL, LLM_MAX_USD_PER_DAY, LLM_BATCH) and restart the worker."
    )
    return lines


def home_view(
    settings: Settings,
    store: Store,
    user: str,
    learned: Explanation | None,
    notice: str | None = None,
) -> dict[str, Any]:
    """The Home view of one reader; `learned` None when it could not be worked out now."""
    reader = store.reader(user) or Reader(id=user)
    recent = recent_votes(store.votes(user), RECENT_VOTES)
    papers = store.papers([v.paper for v in recent])
    shown: list[tuple[Vote, Paper | None]] = [(v, papers.get(v.paper)) for v in recent]
    admin = admin_lines(settings, store) if user in settings.slack_admins else None
    saved = store.saved(user)
    titles = store.papers([s.paper for s in saved[: saved_blocks.ON_HOME]])
    reading = saved_blocks.home_blocks([(s, titles.get(s.paper)) for s in saved])
    return blocks.home_view(reader, shown, learned, settings.digest_size, admin, notice, reading)
