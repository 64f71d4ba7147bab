"""Per-reader learning: votes -> a personal linear model, its explanations, and the blend.

A reader's model is the local scorer's SVM refitted with their votes: the group's seeds and
criteria topics plus the reader's own seeds are positives, 👍 papers are positives, 👎 papers
are negatives weighted far above the day's other papers (weak negatives: unseen, not
disliked). Features come from the day's cached tf-idf vocabulary, so a refit after a vote costs
one small solve. Pure: the caller passes the votes, the papers they name, and the day.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from paperboy.authors import AuthorMatcher
from paperboy.local import (
    MAX_REASON_TERMS,
    DayCorpus,
    PriorModel,
    _stdz,
    cosines,
    day_corpus,
    doc_terms,
    found,
    paper_words,
    seed_label,
    stack,
)
from paperboy.models import Paper, Prior, Score, SeedPaper, Vote
from paperboy.vectors import Rows, Vector, fit_linear

LIKED_ENOUGH = 0.05  # cosine to a liked paper above which "you liked '…'" is said
LIKED_SHOWN = 100  # "you liked" looks at the latest this many liked papers: cost is per paper
EXPLAIN_TOP = 100  # papers that get reasons: more than a digest or an email shows
FOLLOWED_LIFT = 10.0  # added to a blended score (day-standardised units): above everything else
MAX_WEAK = 400  # weak negatives sampled from the day (evenly, so deterministically)


def current_votes(events: Iterable[Vote]) -> dict[str, int]:
    """Paper id -> the reader's latest vote (+1 or -1); undone votes (0) are dropped."""
    latest: dict[str, tuple[object, int, int]] = {}
    for order, event in enumerate(events):
        key = (event.at, order)  # the log's order breaks ties between equal timestamps
        if event.paper not in latest or key >= latest[event.paper][:2]:
            latest[event.paper] = (event.at, order, event.value)
    return {paper: value for paper, (_, _, value) in latest.items() if value != 0}


@dataclass(frozen=True)
class ProfileRecipe:
    """The personal model's knobs; defaults chosen in bench/quality.py (part b)."""

    c: float = 0.1
    title_weight: int = 2
    vote_weight: float = 3.0  # per 👍/👎, against about 0.5 per weak negative
    irrelevant_penalty: float = 0.5
    similarity_weight: float = 0.25
    followed_boost: float = 10.0
    blend_half: float = 5.0  # votes at which personal and group weigh the same
    newton_steps: int = 4  # enough for the ranking; keeps a refit fast
    neighbour_weight: float = 0.0  # k nearest liked papers' cosine minus k nearest disliked
    neighbour_k: int = 3  # how many nearest voted papers of each sign the kNN term averages


@dataclass
class _Fit:
    """A fitted personal model on one day's vocabulary."""

    corpus: DayCorpus
    w: Vector
    b: float
    taste: Vector  # per term: liked papers' weight above the disliked's and the day's
    distaste: Vector  # per term: disliked papers' weight above the liked's and the day's
    voted_ids: list[str] = field(default_factory=list)
    voted_rows: Rows | None = None
    alphas: Vector | None = None  # each vote's pull on the model (its loss gradient)


class ReaderModel:
    """A reader's taste: the group prior, their seeds and authors, and their votes."""

    def __init__(
        self,
        prior: Prior,
        votes: dict[str, int],
        voted_papers: dict[str, Paper],
        seeds: Iterable[SeedPaper] = (),
        authors: Iterable[str] = (),
        recipe: ProfileRecipe | None = None,
    ) -> None:
        self.recipe = recipe or ProfileRecipe()
        seeds = list(seeds)
        authors = list(authors)
        merged = prior.model_copy(
            update={"seeds": [*prior.seeds, *seeds], "authors": [*prior.authors, *authors]}
        )
        self.model = PriorModel(merged)
        self.own_seeds = {seed_label(s.title, s.abstract) for s in seeds}
        self.matcher = AuthorMatcher(merged.authors)
        self.own_matcher = AuthorMatcher(authors)  # the reader's own: they lift even with no vote
        # Only votes on papers we can read count; the caller's order (the log's) is kept.
        self.votes = {pid: v for pid, v in votes.items() if pid in voted_papers}
        self.voted = voted_papers
        self._fit: _Fit | None = None

    @property
    def n_votes(self) -> int:
        return len(self.votes)

    @property
    def evidence(self) -> int:
        """Votes plus the reader's own seed papers: what the blend's personal share grows with."""
        return len(self.votes) + len(self.own_seeds)

    def followed_first(self, order: list[Score], papers: list[Paper]) -> list[Score]:
        """The order with papers by the reader's own followed authors lifted to the top.

        The group's followed authors are lifted by the group's scorer already; these are the
        reader's own, which count from the moment they follow, votes or not.
        """
        if not self.own_matcher.by_surname:
            return order
        by_id = {p.id: p for p in papers}
        lifted, rest = [], []
        for s in order:
            paper = by_id.get(s.paper)
            names = self.own_matcher.followed_in(paper.authors) if paper else []
            if names:
                said = [f"followed author: {name}" for name in names]
                reasons = said + [r for r in s.reasons if r not in said]
                lifted.append(
                    _score({**s.__dict__, "score": s.score + FOLLOWED_LIFT, "reasons": reasons})
                )
            else:
                rest.append(s)
        # The lifted papers first, in the scorer's order; below them the order is unchanged.
        return [*lifted, *rest] if lifted else order

    def _rows(self, corpus: DayCorpus, papers: list[Paper]) -> Rows:
        """Voted papers in the day's vocabulary; each paper's row is cached per vocabulary."""
        # Cached on the corpus (so per vocabulary, dropped with it), keyed by the paper's text.
        cache = corpus.memo.setdefault("rows", {})
        assert isinstance(cache, dict)
        keys = [(p.id, p.title, p.abstract) for p in papers]
        missing = {k: p for k, p in zip(keys, papers, strict=True) if k not in cache}
        if missing:
            # One batch: vectorising papers one by one costs three times as much.
            new = corpus.vocab.rows(
                doc_terms(*paper_words(p), self.recipe.title_weight) for p in missing.values()
            )
            for n, key in enumerate(missing):
                lo, hi = new.indptr[n], new.indptr[n + 1]
                cache[key] = (new.indices[lo:hi], new.data[lo:hi])
        parts_i, parts_d, lengths = [], [], []
        for key in keys:
            row = cache[key]
            parts_i.append(row[0])
            parts_d.append(row[1])
            lengths.append(len(row[0]))
        indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        indices = np.concatenate(parts_i) if parts_i else np.zeros(0, np.int64)
        data = np.concatenate(parts_d) if parts_d else np.zeros(0)
        return Rows(indptr, indices, data, corpus.vocab.n_cols)

    def fit(self, papers: list[Paper]) -> _Fit:
        """Fit on the day of `papers` (cached per day, so ranking again is cheap)."""
        r = self.recipe
        positives = [p.text for p in self.model.positives]
        corpus = day_corpus(papers, positives, r.title_weight)
        if self._fit is not None and self._fit.corpus is corpus:
            return self._fit
        voted_ids = list(self.votes)
        voted_rows = self._rows(corpus, [self.voted[pid] for pid in voted_ids])
        values = np.array([float(self.votes[pid]) for pid in voted_ids])
        # Today's papers the reader has not voted on are the weak negatives.
        weak = [i for i, p in enumerate(papers) if p.id not in self.votes]
        weak = weak[:: max(1, -(-len(weak) // MAX_WEAK))]
        weak_rows = corpus.papers.take(weak)
        n_pos, n_weak = corpus.positives.n_rows, len(weak)
        total = n_pos + n_weak
        x = stack([corpus.positives, voted_rows, weak_rows])
        y = np.concatenate([np.ones(n_pos), values, -np.ones(n_weak)])
        weight = np.concatenate(
            [
                np.full(n_pos, total / (2 * max(n_pos, 1))),
                np.full(len(values), r.vote_weight),
                np.full(n_weak, total / (2 * max(n_weak, 1))),
            ]
        )
        if n_pos + len(values) == 0 or not (y > 0).any():
            w, b = np.zeros(corpus.vocab.n_cols), 0.0
        else:
            w, b = fit_linear(x, y, weight, r.c, steps=r.newton_steps, max_cg=10)
        taste, distaste = _tastes(corpus, voted_rows, values)
        z = voted_rows.dot(w) + b
        alphas = r.vote_weight * np.maximum(0.0, 1.0 - values * z) * values
        self._fit = _Fit(corpus, w, b, taste, distaste, voted_ids, voted_rows, alphas)
        return self._fit

    def score(self, papers: list[Paper], explain_top: int = EXPLAIN_TOP) -> dict[str, Score]:
        """Personal scores for a day's papers; the best `explain_top` get reasons in words."""
        if not papers:
            return {}
        r = self.recipe
        fit = self.fit(papers)
        corpus = fit.corpus
        total = _stdz(corpus.papers.dot(fit.w) + fit.b)
        sims = corpus.sims
        if sims.shape[1]:
            total = total + r.similarity_weight * _stdz(sims.max(axis=1))
        liked_ids = [pid for pid in self.votes if self.votes[pid] > 0][-LIKED_SHOWN:]
        if r.neighbour_weight and liked_ids:
            disliked_ids = [pid for pid in self.votes if self.votes[pid] < 0][-LIKED_SHOWN:]
            near = _top_mean(self._nearest(corpus, corpus.papers, liked_ids), r.neighbour_k)
            far = _top_mean(self._nearest(corpus, corpus.papers, disliked_ids), r.neighbour_k)
            total = total + r.neighbour_weight * _stdz(near - far)
        followed = self._followed(corpus, papers)
        total = total + r.followed_boost * np.array([bool(f) for f in followed], dtype=float)
        total = total - r.irrelevant_penalty * self._unwanted(corpus)
        scores = {
            p.id: _score({**_EMPTY, "paper": p.id, "score": float(total[i]), "reasons": []})
            for i, p in enumerate(papers)
        }
        # Reasons cost a little per paper: only the papers a reader may see get them.
        top = np.argsort(-total, kind="stable")[:explain_top]
        liked = self._nearest(corpus, corpus.papers.take(top), liked_ids)
        for k, i in enumerate(top):
            paper = papers[i]
            reasons = [f"followed author: {name}" for name in followed[i]]
            if liked.shape[1] and liked[k].max() >= LIKED_ENOUGH:
                reasons.append(f"you liked '{self.voted[liked_ids[int(liked[k].argmax())]].title}'")
            up = self._paper_terms(corpus, int(i), fit.taste)
            if up:
                reasons.append("terms you rated up: " + ", ".join(up))
            criterion = self._criterion(sims[i]) if sims.shape[1] else None
            if criterion:
                reasons.append(f"matches the group's criteria: {criterion}")
            scores[paper.id] = _score(
                {**scores[paper.id].__dict__, "criterion": criterion, "reasons": reasons}
            )
        return scores

    def _followed(self, corpus: DayCorpus, papers: list[Paper]) -> list[list[str]]:
        """The followed authors of each paper of the corpus, computed once per author list."""
        key = ("followed", self.matcher.followed)
        found_ = corpus.memo.get(key)
        if not isinstance(found_, list):
            found_ = corpus.memo[key] = [self.matcher.followed_in(p.authors) for p in papers]
        return found_

    def _unwanted(self, corpus: DayCorpus) -> Vector:
        """Each paper's count of the criteria's unwanted keywords (title ones count twice)."""
        m = self.model
        key = ("unwanted", tuple(m.unwanted))
        counts = corpus.memo.get(key)
        if not isinstance(counts, np.ndarray):
            counts = np.zeros(len(corpus.texts))
            if m.unwanted:
                for i, text in enumerate(corpus.texts):
                    if unwanted := found(m.unwanted, text):
                        counts[i] = min(len(unwanted), 2) + len(found(m.unwanted, corpus.titles[i]))
            corpus.memo[key] = counts
        return counts

    def _nearest(self, corpus: DayCorpus, rows: Rows, ids: list[str]) -> Vector:
        """Cosines of `rows` with the voted papers `ids`."""
        return cosines(rows, self._rows(corpus, [self.voted[pid] for pid in ids]))

    def _criterion(self, sims: Vector) -> str | None:
        best, name = 0.0, None
        for j, pos in enumerate(self.model.positives):
            if pos.topic and sims[j] > best:
                best, name = float(sims[j]), pos.topic
        return name

    @staticmethod
    def _paper_terms(corpus: DayCorpus, i: int, taste: Vector) -> list[str]:
        """The paper's terms that the reader's votes weigh most in favour of."""
        if not taste.any():
            return []
        names = corpus.names
        lo, hi = corpus.papers.indptr[i], corpus.papers.indptr[i + 1]
        cols, vals = corpus.papers.indices[lo:hi], corpus.papers.data[lo:hi]
        pull = vals * taste[cols]
        order = np.argsort(-pull, kind="stable")[:MAX_REASON_TERMS]
        return [names[cols[k]] for k in order if pull[k] > 0]

    def explain(self, papers: list[Paper], n_terms: int = 12) -> dict[str, object]:
        """What the votes taught: terms up and down, and the votes the model leans on most."""
        fit = self.fit(papers)
        if not self.votes:
            return {"terms": {"up": [], "down": []}, "weighty_papers": []}
        names = fit.corpus.names
        up = [names[j] for j in np.argsort(-fit.taste, kind="stable")[:n_terms] if fit.taste[j] > 0]
        down = [
            names[j]
            for j in np.argsort(-fit.distaste, kind="stable")[:n_terms]
            if fit.distaste[j] > 0
        ]
        weighty = []
        if fit.alphas is not None:
            for k in np.argsort(-np.abs(fit.alphas), kind="stable")[:n_terms]:
                pid = fit.voted_ids[k]
                weighty.append(
                    {"paper": pid, "title": self.voted[pid].title, "vote": self.votes[pid]}
                )
        return {"terms": {"up": up, "down": down}, "weighty_papers": weighty}


def _tastes(corpus: DayCorpus, rows: Rows, values: Vector) -> tuple[Vector, Vector]:
    """What the votes say per term, against the day's average paper so "model" says nothing.

    Up: the liked papers' mean weight above both the disliked papers' and the day's; down: the
    other way round. These name terms in explanations; the ranking uses the fitted model.
    """
    background = corpus.memo.get("background")
    if not isinstance(background, np.ndarray):
        n = corpus.papers.n_rows
        background = corpus.memo["background"] = corpus.papers.tdot(np.ones(n)) / max(n, 1)
    liked, disliked = (values > 0).astype(float), (values < 0).astype(float)
    up = rows.tdot(liked) / max(liked.sum(), 1.0)
    down = rows.tdot(disliked) / max(disliked.sum(), 1.0)
    zero = np.zeros_like(background)
    taste = up - np.maximum(down, background) if liked.any() else zero
    distaste = down - np.maximum(up, background) if disliked.any() else zero
    return taste, distaste


_EMPTY = {
    "paper": "",
    "scorer": "personal",
    "score": 0.0,
    "relevance": None,
    "novelty": None,
    "criterion": None,
}


def _score(fields: dict[str, object]) -> Score:
    """A Score from fields that are valid by construction, skipping validation.

    A refit scores every paper of the day (1,500 objects); validating each, or even pydantic's
    `model_construct`, costs a third of the time the update is allowed. `fields` must hold
    every field of Score.
    """
    score = Score.__new__(Score)
    object.__setattr__(score, "__dict__", fields)
    object.__setattr__(score, "__pydantic_fields_set__", set(fields))
    object.__setattr__(score, "__pydantic_extra__", None)
    object.__setattr__(score, "__pydantic_private__", None)
    return score


def _top_mean(sims: Vector, k: int) -> Vector:
    """Each row's mean of its `k` largest values (0 for a row of no values)."""
    if sims.shape[1] == 0:
        return np.zeros(sims.shape[0])
    k = min(k, sims.shape[1])
    return np.partition(sims, sims.shape[1] - k, axis=1)[:, -k:].mean(axis=1)


def blend_weight(n_votes: int, half: float = ProfileRecipe.blend_half) -> float:
    """The personal model's share: 0 with no votes, 1/2 at `half` votes, approaching 0.9."""
    return 0.9 * n_votes / (n_votes + half) if n_votes > 0 else 0.0


def blend(
    group: dict[str, Score],
    personal: dict[str, Score],
    n_votes: int,
    half: float = ProfileRecipe.blend_half,
) -> list[Score]:
    """A reader's ranking, best first: (1-s)*z(group) + s*z(personal), s = blend_weight(n_votes).

    Both scores are standardised over the day first, so the share means the same whatever the
    scorers' scales. With no votes the order is exactly the group's. Reasons: personal first.
    """
    ids = list(group)
    share = blend_weight(n_votes, half)
    if share == 0.0 or not personal:
        return sorted(group.values(), key=lambda s: (-s.score, s.paper))
    g = _stdz(np.array([group[pid].score for pid in ids]))
    p = _stdz(np.array([personal[pid].score if pid in personal else 0.0 for pid in ids]))
    mixed = (1 - share) * g + share * p
    out = []
    for k, pid in enumerate(ids):
        reasons = list(personal[pid].reasons if pid in personal else [])
        reasons += [x for x in group[pid].reasons if x not in reasons]
        out.append(_score({**group[pid].__dict__, "score": float(mixed[k]), "reasons": reasons}))
    return sorted(out, key=lambda s: (-s.score, s.paper))
