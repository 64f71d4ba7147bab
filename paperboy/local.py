"""The local scorer: ranks every paper of a day against the group's prior, with no network.

Recipe (measured in `bench/quality.py`, leave-one-day-out): tf-idf over words and bigrams with
sublinear tf; a linear SVM with the seed papers and the criteria's topics as positives and the
day's papers as negatives (arxiv-sanity-lite's idea); plus a little of the best cosine
similarity to any positive; minus a penalty per "irrelevant"/"application" keyword of the
criteria the paper mentions; plus a large boost for a followed author. Deterministic.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from paperboy.authors import AuthorMatcher
from paperboy.criteria import keyword_list, parse_criteria
from paperboy.features import (
    CORPUS_CACHE_SIZE,
    DayCorpus,
    day_corpus,
    found,
    stack,
    standardise,
)
from paperboy.models import Paper, Prior, Score
from paperboy.vectors import Rows, Vector, fit_linear, words

SIMILAR_ENOUGH = 0.06  # cosine to a seed paper above which "similar to your paper" is said
MAX_REASON_TERMS = 4


@dataclass(frozen=True)
class Recipe:
    """The local scorer's knobs; the defaults are the rule of thumb the bench reports."""

    c: float = 0.1  # SVM regularisation (small: the day's papers are noisy negatives)
    title_weight: int = 2  # a title counts this many times: titles say what a paper is about
    irrelevant_penalty: float = 0.5  # per irrelevant keyword matched, in day-standardised units
    similarity_weight: float = 0.25  # weight of the best cosine to a positive, standardised
    followed_boost: float = 10.0  # puts followed authors above everything else


@dataclass(frozen=True)
class Positive:
    """A text the group wants, and how to name it in a reason."""

    text: str
    seed_title: str | None = None  # set for seed papers: "similar to your paper '…'"
    topic: str | None = None  # set for criteria topics: Score.criterion


def seed_label(title: str, abstract: str) -> str:
    """A seed's title, or the first words of its abstract when it has none."""
    if title.strip():
        return title.strip()
    head = " ".join(abstract.split()[:8])
    return f"{head}…" if head else "untitled"


def _phrase(text: str) -> str:
    return " ".join(words(text))  # stemmed, so "experts" finds "expert"


class PriorModel:
    """The prior turned into texts and phrases: positives, wanted and unwanted keywords."""

    def __init__(self, prior: Prior) -> None:
        crit = parse_criteria(prior.criteria)
        self.positives: list[Positive] = []
        for seed in prior.seeds:
            text = f"{seed.title}. {seed.abstract}".strip(". ")
            if text:
                self.positives.append(
                    Positive(text, seed_title=seed_label(seed.title, seed.abstract))
                )
        for topic in crit.topics:
            self.positives.append(Positive(f"{topic.name}. {topic.relevant}", topic=topic.name))
        if crit.keywords:
            self.positives.append(Positive(" ".join(crit.keywords)))
        if not crit.topics and crit.prose:
            self.positives.append(Positive(crit.prose))
        wanted = list(crit.keywords)
        for topic in crit.topics:
            wanted += [k for k in keyword_list(topic.relevant) if len(k.split()) <= 3]
        self.wanted = _phrases(wanted)
        self.unwanted = _phrases(crit.negative_keywords)
        self.matcher = AuthorMatcher(prior.authors)
        self.key = hashlib.sha256(prior.model_dump_json().encode()).hexdigest()


def _phrases(raw: list[str]) -> dict[str, str]:
    """Padded stemmed phrase -> the phrase as the criteria wrote it (lower-case), first kept."""
    out: dict[str, str] = {}
    for item in raw:
        stem = _phrase(item)
        if stem and f" {stem} " not in out:
            out[f" {stem} "] = item.lower()
    return out


def unwanted_counts(phrases: dict[str, str], texts: list[str], titles: list[str]) -> Vector:
    """Each paper's count of unwanted keywords, at most 2, plus those in its title again."""
    out = np.zeros(len(texts))
    if phrases:
        for i, text in enumerate(texts):
            if hits := found(phrases, text):
                out[i] = min(len(hits), 2) + len(found(phrases, titles[i]))
    return out


@dataclass
class Training:
    """An SVM's training set: rows, labels (+1 wanted, -1 not) and each row's weight."""

    x: Rows
    y: Vector
    weight: Vector


@dataclass
class GroupFit:
    """The local scorer's model of one day, as arrays over the day's papers (in their order)."""

    corpus: DayCorpus
    training: Training
    w: Vector  # the SVM: a weight per column, and a bias
    b: float
    positive_weight: float  # what one positive row (a seed paper, a topic) weighs in the fit
    negative_weight: float  # what one of the day's papers weighs
    best_positive: Vector  # each paper's best cosine with a positive
    penalty: Vector  # the unwanted keywords' penalty, in day-standardised units
    followed: list[list[str]]  # the group's followed authors of each paper
    score: Vector  # the local score

    def combine(self, margins: Vector, best: Vector, recipe: Recipe) -> Vector:
        """The scorer's rule, from an SVM's margins on the day's papers and each paper's best
        cosine with a positive: both standardised over the day, less the penalty, plus the
        boost for a followed author."""
        total = standardise(margins)
        if self.corpus.positives.n_rows or best.any():
            total = total + recipe.similarity_weight * standardise(best)
        lift = np.array([bool(f) for f in self.followed], dtype=float) * recipe.followed_boost
        return total - self.penalty + lift


def fit_group(
    corpus: DayCorpus, model: PriorModel, recipe: Recipe, papers: list[Paper]
) -> GroupFit:
    """The local scorer's SVM: the positives against the day's papers, balanced classes (as
    arxiv-sanity-lite does: a dozen seeds against a thousand papers)."""
    n_pos, n_day = corpus.positives.n_rows, corpus.papers.n_rows
    total = n_pos + n_day
    pos_w = total / (2 * n_pos) if n_pos else 0.0
    neg_w = total / (2 * n_day) if n_day else 0.0
    training = Training(
        stack([corpus.positives, corpus.papers]),
        np.concatenate([np.ones(n_pos), -np.ones(n_day)]),
        np.concatenate([np.full(n_pos, pos_w), np.full(n_day, neg_w)]),
    )
    if n_pos and n_day:
        w, b = fit_linear(training.x, training.y, training.weight, recipe.c)
    else:
        w, b = np.zeros(corpus.vocab.n_cols), 0.0
    sims = corpus.sims
    best = sims.max(axis=1) if sims.shape[1] else np.zeros(n_day)
    penalty = recipe.irrelevant_penalty * unwanted_counts(
        model.unwanted, corpus.texts, corpus.titles
    )
    fit = GroupFit(
        corpus,
        training,
        w,
        b,
        pos_w,
        neg_w,
        best,
        penalty,
        [model.matcher.followed_in(p.authors) for p in papers],
        np.zeros(n_day),
    )
    fit.score = fit.combine(corpus.papers.dot(w) + b, best, recipe)
    return fit


class LocalScorer:
    """Scores papers against the group's prior with tf-idf, an SVM and keyword rules."""

    name = "local"

    def __init__(self, prior: Prior, recipe: Recipe | None = None) -> None:
        self.prior = prior
        self.recipe = recipe or Recipe()
        self.model = PriorModel(prior)
        self._fits: dict[str, GroupFit] = {}  # by corpus key: the last few days

    def corpus(self, papers: list[Paper]) -> DayCorpus:
        """The day's corpus: its papers with the prior's positive texts."""
        positives = [p.text for p in self.model.positives]
        return day_corpus(papers, positives, self.recipe.title_weight)

    def fit(self, papers: list[Paper]) -> GroupFit:
        """The model of the day of `papers` (in their order), fitted once per day."""
        corpus = self.corpus(papers)
        if corpus.key not in self._fits:
            if len(self._fits) >= CORPUS_CACHE_SIZE:
                self._fits.pop(next(iter(self._fits)))
            self._fits[corpus.key] = fit_group(corpus, self.model, self.recipe, papers)
        return self._fits[corpus.key]

    def score(self, papers: list[Paper]) -> dict[str, Score]:
        """One Score per paper id; higher is better; reasons say why in words."""
        if not papers:
            return {}
        fit = self.fit(papers)
        return {
            paper.id: Score(
                paper=paper.id,
                scorer=self.name,
                score=float(fit.score[i]),
                criterion=self.criterion(fit.corpus.sims[i]),
                reasons=self.reasons(fit, i),
            )
            for i, paper in enumerate(papers)
        }

    def reasons(self, fit: GroupFit, i: int) -> list[str]:
        """Why the scorer placed the day's `i`-th paper where it did, in words."""
        m, corpus = self.model, fit.corpus
        reasons = [f"followed author: {name}" for name in fit.followed[i]]
        seed = self.nearest_seed(corpus.sims[i])
        if seed is not None:
            reasons.append(f"similar to your paper '{seed}'")
        if matched := found(m.wanted, corpus.texts[i]):
            reasons.append("matches: " + ", ".join(matched[:MAX_REASON_TERMS]))
        if unwanted := found(m.unwanted, corpus.texts[i]):
            reasons.append("outside the criteria: " + ", ".join(unwanted[:MAX_REASON_TERMS]))
        return reasons

    def nearest_seed(self, sims: Vector) -> str | None:
        """The seed paper most similar to a paper, when close enough to say so."""
        best, seed = -1.0, None
        for j, pos in enumerate(self.model.positives):
            if pos.seed_title and sims[j] > best:
                best, seed = float(sims[j]), pos.seed_title
        return seed if best >= SIMILAR_ENOUGH else None

    def criterion(self, sims: Vector) -> str | None:
        """The criteria topic closest to a paper, if any is close at all."""
        best, topic = 0.0, None
        for j, pos in enumerate(self.model.positives):
            if pos.topic and sims[j] > best:
                best, topic = float(sims[j]), pos.topic
        return topic
