"""Per-reader learning: votes -> a personal model, its explanations, and the blend.

The default learner is nearest neighbours among the votes: a paper scores the mean cosine to
its 3 nearest 👍 papers minus the mean cosine to its 10 nearest 👎 or weak negatives (the
papers of recent days the reader was shown and let pass, or without them today's other
papers: most papers are not wanted). Measured in bench/quality.py (part b), 60 votes move it
where they barely moved a tf-idf SVM refitted over the whole vocabulary (the learner it
replaced); the cosines use a vocabulary of
the day that keeps every term, since a rare term shared with a voted paper is the best clue.

Beside it, a criteria model: a logistic regression over a few features of each paper (its
cosine to each of the group's topics and seed papers and to the reader's own seeds, the best of
those, and its count of the criteria's unwanted keywords), fitted on the votes. It learns which
parts of the prior this reader cares about ("Model Compression up, Large Language Models
down"), which carries over to a new day better than the voted papers' words alone, and says so
in the profile. The two are standardised over the day and added (`ProfileRecipe`). The
personal score is blended with the group's, more as votes accumulate (`blend`).

Pure: the caller passes the votes, the papers they name, and the day.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from paperboy.authors import AuthorMatcher
from paperboy.local import (
    MAX_REASON_TERMS,
    DayCorpus,
    Positive,
    PriorModel,
    _stdz,
    cosines,
    day_corpus,
    doc_terms,
    found,
    padded,
    paper_words,
    seed_label,
)
from paperboy.models import Paper, Prior, Score, SeedPaper
from paperboy.vectors import Rows, Vector, Vocabulary, cross, fit_logistic

LIKED_ENOUGH = 0.05  # cosine to a liked paper above which "you liked '…'" is said
LIKED_SHOWN = 100  # "you liked" looks at the latest this many liked papers: cost is per paper
EXPLAIN_TOP = 100  # papers that get reasons: more than a digest or an email shows
FOLLOWED_LIFT = 10.0  # added to a blended score (day-standardised units): above everything else
LEANING_SAID = 0.2  # a criteria-model weight from which a topic is said to be voted up/down
MAX_CRITERIA_SAID = 6  # criteria (topics or seed papers) named each way in a profile


def nothing_learned() -> dict[str, Any]:
    """`ReaderModel.explain`'s answer for a profile with no votes: empty lists, fresh each time."""
    return {
        "terms": {"up": [], "down": []},
        "criteria": {"up": [], "down": []},
        "weighty_papers": [],
    }


@dataclass(frozen=True)
class ProfileRecipe:
    """The personal model's knobs; defaults chosen in bench/quality.py (part b).

    Two learners, mixed by weight: nearest neighbours among the votes and the criteria model
    (see the module's docstring).
    """

    title_weight: int = 2
    followed_boost: float = 10.0
    blend_half: float = 30.0  # votes at which the personal share is 0.45, about even
    neighbour_weight: float = 1.0  # k nearest liked papers' cosine minus k nearest disliked
    neighbour_k: int = 3  # how many nearest liked papers the kNN term averages
    disliked_k: int = 10  # how many nearest disliked (or weak negative) papers it averages
    weak_as_disliked: bool = True  # weak negatives count among the disliked neighbours
    criteria_weight: float = 0.5  # the criteria model's share, next to the kNN's 1 (0: off)
    criteria_c: float = 1.0  # its inverse regularisation: about 20 features, tens of votes


@dataclass
class _Fit:
    """A fitted personal model on one day's vocabulary."""

    corpus: DayCorpus
    taste: Vector  # per term: liked papers' weight above the disliked's and the day's
    distaste: Vector  # per term: disliked papers' weight above the liked's and the day's
    voted_ids: list[str] = field(default_factory=list)
    liked: Vector | None = None  # cosine of each of the day's papers with each liked paper
    disliked: Vector | None = None  # ... and with each disliked paper (columns in vote order)
    leaning: Vector | None = None  # the criteria model's weight per positive (standardised)
    criteria: Vector | None = None  # its score for each of the day's papers


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
        recent: Iterable[Paper] = (),
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
        # Papers of recent days the reader was shown and let pass: weak negatives.
        self.recent = [p for p in recent if p.id not in self.votes]
        self._fit: _Fit | None = None
        self._day: list[Paper] = []

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

    def _wide(self, corpus: DayCorpus, papers: list[Paper]) -> tuple[Vocabulary, Rows]:
        """The day's papers in a vocabulary that keeps every term, once per day.

        The corpus drops terms seen in one paper of the day only, but a term that one paper
        of today shares with a paper the reader voted on is exactly what makes them neighbours.
        """
        cached = corpus.memo.get("wide")
        if not isinstance(cached, tuple):
            docs = [doc_terms(*paper_words(p), self.recipe.title_weight) for p in papers]
            cached = corpus.memo["wide"] = Vocabulary.fit(docs, min_df=1)
        return cached

    def _near(self, corpus: DayCorpus, papers: list[Paper], voted: list[Paper]) -> Vector:
        """Cosines of the day's papers (rows) with the voted papers (columns), in the wide
        vocabulary. A voted paper's column does not change with later votes: each is
        computed once per day, so a new vote costs one column."""
        cache = corpus.memo.setdefault("near", {})
        assert isinstance(cache, dict)
        keys = [(p.id, p.title, p.abstract) for p in voted]
        missing = {k: p for k, p in zip(keys, voted, strict=True) if k not in cache}
        if missing:
            vocab, rows = self._wide(corpus, papers)
            new = cross(rows, self._rows(corpus, list(missing.values()), vocab))
            for n, key in enumerate(missing):
                cache[key] = new[:, n].astype(np.float32)  # half the memory to stack
        if not keys:
            return np.zeros((len(papers), 0), dtype=np.float32)
        return np.stack([cache[k] for k in keys], axis=1)

    def _rows(
        self, corpus: DayCorpus, papers: list[Paper], vocab: Vocabulary | None = None
    ) -> Rows:
        """Voted papers in the day's vocabulary; each paper's row is cached per vocabulary."""
        # Cached on the corpus (so per vocabulary, dropped with it), keyed by the paper's text.
        vocab = vocab or corpus.vocab
        cache = corpus.memo.setdefault(("rows", vocab is corpus.vocab), {})
        assert isinstance(cache, dict)
        keys = [(p.id, p.title, p.abstract) for p in papers]
        missing = {k: p for k, p in zip(keys, papers, strict=True) if k not in cache}
        if missing:
            # One batch: vectorising papers one by one costs three times as much.
            new = vocab.rows(
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
        return Rows(indptr, indices, data, vocab.n_cols)

    def fit(self, papers: list[Paper]) -> _Fit:
        """Fit on the day of `papers` (cached per day, so ranking again is cheap)."""
        r = self.recipe
        positives = [p.text for p in self.model.positives]
        corpus = day_corpus(papers, positives, r.title_weight)
        if self._fit is not None and self._fit.corpus is corpus:
            return self._fit
        self._day = papers
        voted_ids = list(self.votes)
        voted = [self.voted[pid] for pid in voted_ids]
        voted_rows = self._rows(corpus, voted)
        values = np.array([float(self.votes[pid]) for pid in voted_ids])
        liked = disliked = None
        if r.neighbour_weight and len(values):
            liked = self._near(
                corpus, papers, [p for p, v in zip(voted, values, strict=True) if v > 0]
            )
            disliked = self._near(
                corpus, papers, [p for p, v in zip(voted, values, strict=True) if v < 0]
            )
        taste, distaste = _tastes(corpus, voted_rows, values)
        self._fit = _Fit(corpus, taste, distaste, voted_ids, liked, disliked)
        if r.criteria_weight and (values > 0).any() and (values < 0).any():
            self._fit.leaning, self._fit.criteria = self._criteria_model(
                corpus, voted, voted_rows, values
            )
        return self._fit

    def _criteria_model(
        self, corpus: DayCorpus, voted: list[Paper], voted_rows: Rows, values: Vector
    ) -> tuple[Vector, Vector]:
        """The criteria model (see the module's docstring): its weight per positive, and its
        score for each of the day's papers. Features are standardised over the day, so a
        weight means the same whatever a feature's scale."""
        day = _criteria_features(corpus.sims, self._unwanted(corpus))
        cache = corpus.memo.setdefault("unwanted-voted", {})
        assert isinstance(cache, dict)
        for p in voted:
            if p.id not in cache:
                title, abstract = paper_words(p)
                cache[p.id] = unwanted_count(self.model.unwanted, title, abstract)
        unwanted = np.array([cache[p.id] for p in voted], dtype=float)
        mine = _criteria_features(cosines(voted_rows, corpus.positives), unwanted)
        mean, sd = day.mean(axis=0), day.std(axis=0)
        sd[sd < 1e-12] = 1.0
        w, _ = fit_logistic((mine - mean) / sd, values, self.recipe.criteria_c)
        return w[: corpus.positives.n_rows], ((day - mean) / sd) @ w

    def score(self, papers: list[Paper], explain_top: int = EXPLAIN_TOP) -> dict[str, Score]:
        """Personal scores for a day's papers; the best `explain_top` get reasons in words."""
        if not papers:
            return {}
        r = self.recipe
        fit = self.fit(papers)
        corpus = fit.corpus
        sims = corpus.sims
        total = np.zeros(len(papers))
        if fit.liked is not None:
            total = total + r.neighbour_weight * _stdz(self._neighbours(corpus, fit))
        if fit.criteria is not None:
            total = total + r.criteria_weight * _stdz(fit.criteria)
        liked_ids = [pid for pid in self.votes if self.votes[pid] > 0][-LIKED_SHOWN:]
        followed = self._followed(corpus, papers)
        total = total + r.followed_boost * np.array([bool(f) for f in followed], dtype=float)
        scores = {
            p.id: _score({**_EMPTY, "paper": p.id, "score": float(total[i]), "reasons": []})
            for i, p in enumerate(papers)
        }
        # Reasons cost a little per paper: only the papers a reader may see get them.
        top = np.argsort(-total, kind="stable")[:explain_top]
        if fit.liked is not None:  # the cosines are there already: the latest liked papers'
            liked = fit.liked[top][:, fit.liked.shape[1] - len(liked_ids) :]
        else:
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
            if fit.leaning is not None and (favoured := self._favoured(sims[i], fit.leaning)):
                reasons.append(f"close to what you vote up: {favoured}")
            scores[paper.id] = _score(
                {**scores[paper.id].__dict__, "criterion": criterion, "reasons": reasons}
            )
        return scores

    def _neighbours(self, corpus: DayCorpus, fit: _Fit) -> Vector:
        """Each paper's mean cosine to its nearest liked papers minus its mean cosine to its
        nearest disliked ones (weak negatives included): the kNN side of the model."""
        r = self.recipe
        assert fit.liked is not None and fit.disliked is not None
        out = _top_mean(fit.liked, r.neighbour_k)
        disliked = _top(fit.disliked, r.disliked_k)
        if r.weak_as_disliked:  # the k nearest of both: of the k nearest of each
            disliked = _top(
                np.hstack([disliked, self._weak_nearest(corpus, r.disliked_k)]), r.disliked_k
            )
        out = out - disliked.mean(axis=1) if disliked.shape[1] else out
        return out

    def _weak_nearest(self, corpus: DayCorpus, k: int) -> Vector:
        """Each paper's `k` largest cosines to the weak negatives: the recent papers the reader
        let pass or, without them, the day's other papers. Votes do not change them, so they
        are computed once per day and set of recent papers."""
        today = {p.id for p in self._day}
        recent = [p for p in self.recent if p.id not in today]
        key = ("weak", k, tuple(p.id for p in recent))
        out = corpus.memo.get(key)
        if not isinstance(out, np.ndarray):
            vocab, rows = self._wide(corpus, self._day)
            if recent:
                near = cross(rows, self._rows(corpus, recent, vocab))
            else:  # today's other papers (those voted on too: a vote outweighs them)
                near = cross(rows, rows)
                np.fill_diagonal(near, -1.0)
            out = corpus.memo[key] = _top(near, k)
        return out

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
                    counts[i] = _unwanted_in(m.unwanted, text, corpus.titles[i])
            corpus.memo[key] = counts
        return counts

    def _favoured(self, sims: Vector, leaning: Vector) -> str | None:
        """The positive the paper is closest to, when the reader's votes lean towards it."""
        if not len(leaning):
            return None
        j = int(np.argmax(sims))
        positive = self.model.positives[j]
        if sims[j] <= 0 or leaning[j] < LEANING_SAID or not (positive.topic or positive.seed_title):
            return None  # the criteria's keyword list is no thing to name as a reason
        return _positive_name(positive)

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

    def explain(self, papers: list[Paper], n_terms: int = 12) -> dict[str, Any]:
        """What the votes taught: terms and criteria up and down, the votes that weigh most."""
        fit = self.fit(papers)
        if not self.votes:
            return nothing_learned()
        names = fit.corpus.names
        up = [names[j] for j in np.argsort(-fit.taste, kind="stable")[:n_terms] if fit.taste[j] > 0]
        down = [
            names[j]
            for j in np.argsort(-fit.distaste, kind="stable")[:n_terms]
            if fit.distaste[j] > 0
        ]
        weighty = []
        if fit.liked is not None and fit.disliked is not None:
            # A vote weighs by how close it sits to today's papers.
            values = np.array([self.votes[pid] for pid in fit.voted_ids])
            pull = np.zeros(len(values))
            pull[values > 0] = _top_mean(fit.liked.T, self.recipe.disliked_k)
            pull[values < 0] = _top_mean(fit.disliked.T, self.recipe.disliked_k)
            for k in np.argsort(-pull, kind="stable")[:n_terms]:
                pid = fit.voted_ids[k]
                weighty.append(
                    {"paper": pid, "title": self.voted[pid].title, "vote": self.votes[pid]}
                )
        leaning = fit.leaning if fit.leaning is not None else np.zeros(0)
        order = np.argsort(-leaning, kind="stable")
        names = [_positive_name(p) for p in self.model.positives]
        favoured = [names[j] for j in order if leaning[j] >= LEANING_SAID]
        disfavoured = [names[j] for j in order[::-1] if leaning[j] <= -LEANING_SAID]
        return {
            "terms": {"up": up, "down": down},
            "criteria": {
                "up": favoured[:MAX_CRITERIA_SAID],
                "down": disfavoured[:MAX_CRITERIA_SAID],
            },
            "weighty_papers": weighty,
        }


def unwanted_count(unwanted: dict[str, str], title: list[str], abstract: list[str]) -> int:
    """A paper's count of unwanted keywords from its stemmed words (see `_unwanted_in`)."""
    return _unwanted_in(unwanted, padded([*title, "|", *abstract]), padded(title))


def _unwanted_in(unwanted: dict[str, str], text: str, title: str) -> int:
    """Unwanted keywords in a padded text, at most 2, plus those in its title again."""
    if not unwanted or not (hits := found(unwanted, text)):
        return 0
    return min(len(hits), 2) + len(found(unwanted, title))


def _criteria_features(sims: Vector, unwanted: Vector) -> Vector:
    """The criteria model's features: cosine to each positive, the best one, unwanted count."""
    best = sims.max(axis=1, keepdims=True) if sims.shape[1] else np.zeros((len(sims), 0))
    return np.hstack([sims, best, unwanted[:, None]])


def _positive_name(positive: Positive) -> str:
    """A positive in words: a criteria topic by name, a seed paper by its title."""
    if positive.topic:
        return positive.topic
    if positive.seed_title:
        return f"papers like '{positive.seed_title}'"
    return "the criteria's keywords"


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


def _top(sims: Vector, k: int) -> Vector:
    """Each row's `k` largest values, in no order (all of them when a row has fewer)."""
    if sims.shape[1] <= k:
        return sims
    return np.partition(sims, sims.shape[1] - k, axis=1)[:, -k:]


def _top_mean(sims: Vector, k: int) -> Vector:
    """Each row's mean of its `k` largest values (0 for a row of no values)."""
    if sims.shape[1] == 0:
        return np.zeros(sims.shape[0])
    k = min(k, sims.shape[1])
    return np.partition(sims, sims.shape[1] - k, axis=1)[:, -k:].mean(axis=1)


def blend_weight(n_votes: int, half: float = ProfileRecipe.blend_half) -> float:
    """The personal model's share, 0.9·n/(n+half): 0 with no votes, 0.45 at `half` votes,
    approaching 0.9."""
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
    mixed = ((1 - share) * g + share * p).tolist()
    out = []
    for pid, value in zip(ids, mixed, strict=True):
        mine = personal[pid].reasons if pid in personal else []
        theirs = group[pid].reasons
        reasons = [*mine, *(x for x in theirs if x not in mine)] if mine else list(theirs)
        out.append(_score({**group[pid].__dict__, "score": value, "reasons": reasons}))
    return sorted(out, key=lambda s: (-s.score, s.paper))
