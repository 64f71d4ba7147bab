"""A reader's model: the group's local scorer refit with what the reader taught it, and why.

A reader's taste is learnt inside the group's own model, not beside it. Their 👍 papers and
their own seed papers join the group's seed papers and topics as positives, each weighing what
a seed paper weighs; their 👎 papers, and the papers they were shown and let pass, join the
day's papers as negatives, each weighing what one of the day's papers weighs. The prior's rows
are always there, so a handful of votes nudges the group's model and many votes reshape it, and
the group's rule turns the refit into the reader's score: standardised SVM margins, a little of
the best cosine to the prior's positives (the group's and the reader's own seeds; votes are
training rows, not neighbours), the criteria's keyword penalty, followed authors first. With
nothing taught, the model is the group's. No share to tune: measured in `bench/feedback.py`,
chronologically (votes on earlier days, a later day ranked), with misclicks and without.

Colleagues' votes of the week join the same fit as softer rows: what they say about a paper the
reader has not voted on (`paperboy.group`: each colleague weighs how much better than a coin
they agree with the reader, and colleagues together never weigh more than the reader's own vote
would) scales that paper's row, a positive's or a negative's weight.

Pure: the caller passes the votes, the papers they name, and the day.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from paperboy.authors import AuthorMatcher
from paperboy.features import DayCorpus, stack
from paperboy.local import MAX_REASON_TERMS, GroupFit, LocalScorer, Training
from paperboy.models import Paper, SeedPaper
from paperboy.vectors import Rows, Vector, cross, fit_linear

LIKED_ENOUGH = 0.05
"""Cosine to a liked paper from which "you liked '…'" is said."""
UNSURE_AMONG = 50
"""Suggestions to vote on come from the reader's top this many papers."""
LISTED_TERMS = 12
"""Terms a profile lists as rated up (and down); a paper's reasons name only those."""


@dataclass(frozen=True)
class Taught:
    """What a reader has taught: standing votes, their own seed papers, what they let pass."""

    liked: list[Paper] = field(default_factory=list)  # in the order they were voted
    disliked: list[Paper] = field(default_factory=list)
    passed: list[Paper] = field(default_factory=list)  # shown on earlier days, not voted on
    seeds: list[SeedPaper] = field(default_factory=list)
    colleagues: list[tuple[Paper, float]] = field(default_factory=list)
    """Papers the reader has not voted on, with what colleagues' votes say of each: in (0, 1]
    for 👍, [-1, 0) for 👎, as a share of one of the reader's own votes."""

    @property
    def votes(self) -> int:
        return len(self.liked) + len(self.disliked)

    def __bool__(self) -> bool:
        return bool(self.liked or self.disliked or self.seeds or self.colleagues)


@dataclass
class ReaderFit:
    """A reader's model of one day, as arrays over the day's papers (in their order)."""

    group: GroupFit
    margins: Vector  # the refit SVM's decision values
    score: Vector  # the reader's local score: the group's rule over the refit
    taste: Vector  # per term: what the liked papers share above the disliked ones and the day
    distaste: Vector
    pull: dict[str, float]  # per voted paper: how much it weighs in the refit


def seed_paper(seed: SeedPaper) -> Paper:
    """A reader's seed paper as a paper to vectorise."""
    return Paper(id=seed.id or f"seed:{seed.title}", title=seed.title, abstract=seed.abstract)


class ReaderModel:
    """The group's local scorer refit with one reader's votes, seeds and passed papers."""

    def __init__(self, scorer: LocalScorer, taught: Taught, authors: Iterable[str] = ()) -> None:
        self.scorer = scorer
        self.taught = taught
        self.own_authors = AuthorMatcher(list(authors))  # the reader's own: first in any case
        self._fits: dict[str, ReaderFit] = {}

    def fit(self, papers: list[Paper]) -> ReaderFit:
        """The reader's model of the day of `papers` (in their order), fitted once per day."""
        group = self.scorer.fit(papers)
        key = group.corpus.key
        if key not in self._fits:
            self._fits[key] = self._refit(group, papers)
        return self._fits[key]

    def _refit(self, group: GroupFit, papers: list[Paper]) -> ReaderFit:
        corpus, t = group.corpus, self.taught
        today = {p.id: i for i, p in enumerate(papers)}
        # Positives: the reader's seeds and liked papers (today's too: they were voted on).
        seeds = [seed_paper(s) for s in t.seeds if s.title or s.abstract]
        liked_today = {today[p.id] for p in t.liked if p.id in today}
        # More negatives: every 👎 paper (one of today's counts once more) and the papers
        # passed on other days.
        voted = {p.id for p in t.liked} | {p.id for p in t.disliked}
        passed = [p for p in t.passed if p.id not in today and p.id not in voted]
        # Colleagues' papers, as a share of a vote: a day's paper keeps its own row too.
        up = [(p, e) for p, e in t.colleagues if e > 0]
        down = [(p, -e) for p, e in t.colleagues if e < 0]
        positives = [*seeds, *t.liked, *(p for p, _ in up)]
        others = [*t.disliked, *passed, *(p for p, _ in down)]
        day = np.ones(len(papers), dtype=bool)
        day[list(liked_today)] = False
        training = _training(
            group,
            corpus.rows(positives),
            corpus.rows(others),
            day,
            np.concatenate([np.ones(len(seeds) + len(t.liked)), [e for _, e in up]]),
            np.concatenate([np.ones(len(t.disliked) + len(passed)), [e for _, e in down]]),
        )
        w0 = np.append(group.w, group.b)
        w, b = fit_linear(training.x, training.y, training.weight, self.scorer.recipe.c, w0=w0)
        margins = corpus.papers.dot(w) + b
        # The best cosine to a positive stays the prior's: the group's positives and the
        # reader's own seeds. Votes are training rows; as nearest neighbours on their own they
        # follow every misclick (measured: 02-19 worse than no votes with a fifth flipped).
        best = group.best_positive
        if seeds:
            best = np.maximum(best, corpus.similarity(seeds).max(axis=1))
        score = group.combine(margins, best, self.scorer.recipe)
        taste, distaste = _tastes(corpus, corpus.rows(t.liked), corpus.rows(t.disliked))
        pull = _pull(group, w, b, t)
        return ReaderFit(group, margins, score, taste, distaste, pull)

    # explanations -----------------------------------------------------------------------

    def reasons(self, fit: ReaderFit, rows: Sequence[int]) -> list[list[str]]:
        """What the reader taught that speaks for each of the day's papers `rows`, in words: the
        liked paper it is closest to and the terms the reader's votes favour (the group
        scorer's reasons come with the paper's group score). Worked out only for the papers a
        reader may see: the cosines are with those rows only."""
        corpus, liked = fit.group.corpus, self.taught.liked
        near = cross(corpus.papers.take(rows), corpus.rows(liked)) if liked else None
        # a paper is said to share only terms the reader's profile lists as rated up, never a
        # word it happens to share with a liked paper ("study", "propose")
        listed = np.zeros_like(fit.taste)
        top = _top(fit.taste, LISTED_TERMS)
        listed[top] = fit.taste[top]
        out = []
        for k, i in enumerate(rows):
            mine = []
            if near is not None and near[k, j := int(np.argmax(near[k]))] >= LIKED_ENOUGH:
                mine.append(f"you liked '{liked[j].title}'")
            if up := self.paper_terms(corpus, i, listed):
                mine.append("terms you rated up: " + ", ".join(up))
            out.append(mine)
        return out

    @staticmethod
    def paper_terms(corpus: DayCorpus, i: int, taste: Vector) -> list[str]:
        """The paper's terms that the reader's votes weigh most in favour of."""
        if not taste.any():
            return []
        lo, hi = corpus.papers.indptr[i], corpus.papers.indptr[i + 1]
        cols, vals = corpus.papers.indices[lo:hi], corpus.papers.data[lo:hi]
        pull = vals * taste[cols]
        order = np.argsort(-pull, kind="stable")[:MAX_REASON_TERMS]
        return [corpus.names[cols[k]] for k in order if pull[k] > 0]

    def terms(self, fit: ReaderFit, n: int = LISTED_TERMS) -> tuple[list[str], list[str]]:
        """The terms the votes favour and disfavour most, against the day's average paper."""
        names = fit.group.corpus.names
        return [names[j] for j in _top(fit.taste, n)], [names[j] for j in _top(fit.distaste, n)]

    def unsure(self, fit: ReaderFit, papers: Sequence[Paper], n: int = 5) -> list[int]:
        """The `n` papers of the day, not voted on, that the refit model is least sure about:
        the smallest absolute margins among its top UNSURE_AMONG. A vote on them teaches most."""
        voted = {p.id for p in self.taught.liked} | {p.id for p in self.taught.disliked}
        top = [i for i in np.argsort(-fit.score, kind="stable") if papers[i].id not in voted]
        top = top[:UNSURE_AMONG]
        return sorted(top, key=lambda i: (abs(float(fit.margins[i])), i))[:n]


def _training(
    group: GroupFit,
    positives: Rows,
    others: Rows,
    day: NDArray[np.bool_],
    pos_share: Vector,
    neg_share: Vector,
) -> Training:
    """The group's training set with the reader's rows added: `positives` weigh what a seed
    paper weighs, `others` (negatives) what one of the day's papers weighs, each times its
    share (1 for the reader's own, less for what colleagues say); the day's papers not in
    `day` (liked today) leave the negatives, as they join the positives."""
    corpus = group.corpus
    papers = corpus.papers if day.all() else corpus.papers.take(np.flatnonzero(day))
    n_pos, n_day = corpus.positives.n_rows + positives.n_rows, papers.n_rows + others.n_rows
    pos_w, neg_w = group.positive_weight, group.negative_weight
    if not pos_w and n_pos:  # a group with no seeds or topics: the reader's own take that role
        pos_w = (n_pos + n_day) / (2 * n_pos)
    share = np.concatenate(
        [np.ones(corpus.positives.n_rows), pos_share, np.ones(papers.n_rows), neg_share]
    )
    return Training(
        stack([corpus.positives, positives, papers, others]),
        np.concatenate([np.ones(n_pos), -np.ones(n_day)]),
        np.concatenate([np.full(n_pos, pos_w), np.full(n_day, neg_w)]) * share,
    )


def _top(values: Vector, n: int) -> NDArray[np.intp]:
    """The indices of the `n` largest positive values, largest first."""
    order = np.argsort(-values, kind="stable")[:n]
    return order[values[order] > 0]


def _tastes(corpus: DayCorpus, liked: Rows, disliked: Rows) -> tuple[Vector, Vector]:
    """What the votes say per term, against the day's average paper so "model" says nothing.

    Up: the liked papers' mean weight above both the disliked papers' and the day's; down: the
    other way round. These name terms in explanations; the ranking uses the refit model.
    """
    n = corpus.papers.n_rows
    background = corpus.papers.tdot(np.ones(n)) / max(n, 1)
    up = liked.tdot(np.ones(liked.n_rows)) / max(liked.n_rows, 1)
    down = disliked.tdot(np.ones(disliked.n_rows)) / max(disliked.n_rows, 1)
    zero = np.zeros_like(background)
    taste = up - np.maximum(down, background) if liked.n_rows else zero
    distaste = down - np.maximum(up, background) if disliked.n_rows else zero
    return taste, distaste


def _pull(group: GroupFit, w: Vector, b: float, taught: Taught) -> dict[str, float]:
    """How much each vote weighs in the refit: its row's weight times the squared hinge's pull,
    which is nothing for a vote the model already agrees with by a margin."""
    out: dict[str, float] = {}
    for papers, sign, weight in (
        (taught.liked, 1.0, group.positive_weight),
        (taught.disliked, -1.0, group.negative_weight),
    ):
        if papers:
            margins = group.corpus.rows(papers).dot(w) + b
            for paper, m in zip(papers, margins, strict=True):
                out[paper.id] = weight * max(0.0, 1.0 - sign * float(m))
    return out


def taught_from(
    votes: dict[str, int],
    papers: dict[str, Paper],
    seeds: Iterable[SeedPaper] = (),
    passed: Iterable[Paper] = (),
    colleagues: Iterable[tuple[Paper, float]] = (),
) -> Taught:
    """What a reader taught, from their standing votes (in the log's order) and the papers
    those name, and what colleagues' votes say of other papers (see `Taught.colleagues`);
    votes on papers no longer stored cannot teach and are left out."""
    return Taught(
        liked=[papers[pid] for pid, v in votes.items() if v > 0 and pid in papers],
        disliked=[papers[pid] for pid, v in votes.items() if v < 0 and pid in papers],
        passed=[p for p in passed if p.id not in votes],
        seeds=list(seeds),
        colleagues=[(p, e) for p, e in colleagues if p.id not in votes and e],
    )
