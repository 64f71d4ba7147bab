"""The local scorer: ranks every paper of a day against the group's prior, with no network.

Recipe (measured in `bench/quality.py`, leave-one-day-out): tf-idf over words and bigrams with
sublinear tf; a linear SVM with the seed papers and the criteria's topics as positives and the
day's papers as negatives (arxiv-sanity-lite's idea); plus a little of the best cosine
similarity to any positive; minus a penalty per "irrelevant"/"application" keyword of the
criteria the paper mentions; plus a large boost for a followed author. Deterministic.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from paperboy.authors import AuthorMatcher
from paperboy.criteria import keyword_list, parse_criteria
from paperboy.models import Paper, Prior, Score
from paperboy.vectors import Rows, Vector, Vocabulary, fit_linear, grams, terms, words

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


def _stdz(values: Vector) -> Vector:
    """Centre and scale to unit deviation over the day, so weights mean the same every day."""
    if len(values) == 0:
        return values
    sd = float(values.std())
    return (values - values.mean()) / sd if sd > 1e-12 else values - values.mean()


def paper_words(paper: Paper) -> tuple[list[str], list[str]]:
    """A paper's title words and abstract words, stemmed."""
    return words(paper.title), words(paper.abstract)


def doc_terms(title: list[str], abstract: list[str], title_weight: int = 2) -> list[str]:
    """A paper's features from its words, with its title counted `title_weight` times."""
    return grams(title) * title_weight + grams(abstract)


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


def found(phrases: dict[str, str], padded: str) -> list[str]:
    """The phrases that occur in a padded stemmed text (" w1 w2 … "), as the criteria wrote them."""
    return [label for stem, label in phrases.items() if stem in padded]


def padded(stems: list[str]) -> str:
    """Stemmed words joined for phrase search."""
    return f" {' '.join(stems)} "


@dataclass
class DayCorpus:
    """A day's papers vectorised with the prior's positives: the expensive, shareable part."""

    vocab: Vocabulary
    papers: Rows
    positives: Rows
    titles: list[str]  # padded stemmed titles, for keyword search
    texts: list[str]  # padded stemmed title + abstract (a "|" between them)
    key: str = ""  # the hash of the inputs: same key, same corpus
    _sims: Vector | None = None
    _names: list[str] | None = None
    # Per-corpus results that profiles reuse on every refit (rows of voted papers, penalties).
    memo: dict[object, object] = field(default_factory=dict)

    @property
    def sims(self) -> Vector:
        """Cosine of each paper with each positive, computed once per corpus."""
        if self._sims is None:
            self._sims = cosines(self.papers, self.positives)
        return self._sims

    @property
    def names(self) -> list[str]:
        """The vocabulary's terms by column, computed once per corpus."""
        if self._names is None:
            self._names = self.vocab.names()
        return self._names


_CORPORA: OrderedDict[str, DayCorpus] = OrderedDict()  # a cache keyed by content (hash)
_CORPUS_CACHE_SIZE = 8


def day_corpus(papers: list[Paper], positives: list[str], title_weight: int) -> DayCorpus:
    """Vectorise a day's papers and the positive texts, reusing the result for the same inputs."""
    digest = hashlib.sha256(str(title_weight).encode())
    for paper in papers:
        digest.update(f"\0{paper.id}\0{paper.title}\0{paper.abstract}".encode())
    for text in positives:
        digest.update(f"\1{text}".encode())
    key = digest.hexdigest()
    if key in _CORPORA:
        _CORPORA.move_to_end(key)
        return _CORPORA[key]
    split = [paper_words(p) for p in papers]
    docs = [doc_terms(t, a, title_weight) for t, a in split] + [terms(t) for t in positives]
    vocab, rows = Vocabulary.fit(docs)
    n = len(papers)
    corpus = DayCorpus(
        vocab,
        rows.take(range(n)),
        rows.take(range(n, len(docs))),
        [padded(t) for t, _ in split],
        [padded([*t, "|", *a]) for t, a in split],
        key,
    )
    _CORPORA[key] = corpus
    while len(_CORPORA) > _CORPUS_CACHE_SIZE:
        _CORPORA.popitem(last=False)
    return corpus


def cosines(rows: Rows, others: Rows) -> Vector:
    """Cosine of every row with every other row (both L2-normalised): shape (rows, others)."""
    out = np.zeros((rows.n_rows, others.n_rows))
    if others.n_rows == 0 or rows.n_rows == 0:
        return out
    # Only columns the few `others` use matter: gather those entries once.
    dense = others.dense()
    used = np.flatnonzero(dense.any(axis=0))
    column = np.full(rows.n_cols, -1)
    column[used] = np.arange(len(used))
    keep = column[rows.indices] >= 0
    rids, cols, vals = rows.row_ids[keep], column[rows.indices[keep]], rows.data[keep]
    compact = dense[:, used]
    for j in range(others.n_rows):
        out[:, j] = np.bincount(rids, vals * compact[j, cols], minlength=rows.n_rows)
    return out


def svm_scores(corpus: DayCorpus, c: float) -> Vector:
    """Decision values of an SVM fitted with the positives against the day's papers."""
    n_pos, n_day = corpus.positives.n_rows, corpus.papers.n_rows
    if n_pos == 0 or n_day == 0:
        return np.zeros(n_day)
    x = stack([corpus.positives, corpus.papers])
    y = np.concatenate([np.ones(n_pos), -np.ones(n_day)])
    total = n_pos + n_day
    # Balanced classes, as arxiv-sanity-lite does: a dozen seeds against a thousand papers.
    weight = np.where(y > 0, total / (2 * n_pos), total / (2 * n_day))
    w, b = fit_linear(x, y, weight, c)
    return corpus.papers.dot(w) + b


def stack(parts: list[Rows]) -> Rows:
    """Rows of several matrices with the same columns, one under the other."""
    offsets = np.cumsum([0] + [p.indptr[-1] for p in parts[:-1]])
    indptr = np.concatenate([[0]] + [p.indptr[1:] + o for p, o in zip(parts, offsets, strict=True)])
    return Rows(
        indptr.astype(np.int64),
        np.concatenate([p.indices for p in parts]),
        np.concatenate([p.data for p in parts]),
        parts[0].n_cols,
    )


class LocalScorer:
    """Scores papers against the group's prior with tf-idf, an SVM and keyword rules."""

    name = "local"

    def __init__(self, prior: Prior, recipe: Recipe | None = None) -> None:
        self.prior = prior
        self.recipe = recipe or Recipe()
        self.model = PriorModel(prior)

    def score(self, papers: list[Paper]) -> dict[str, Score]:
        """One Score per paper id; higher is better; reasons say why in words."""
        if not papers:
            return {}
        r, m = self.recipe, self.model
        corpus = day_corpus(papers, [p.text for p in m.positives], r.title_weight)
        total = _stdz(svm_scores(corpus, r.c))
        sims = corpus.sims
        if sims.shape[1]:
            total = total + r.similarity_weight * _stdz(sims.max(axis=1))
        scores: dict[str, Score] = {}
        for i, paper in enumerate(papers):
            reasons: list[str] = []
            value = float(total[i])
            followed = m.matcher.followed_in(paper.authors)
            if followed:
                value += r.followed_boost
                reasons += [f"followed author: {name}" for name in followed]
            criterion = None
            if sims.shape[1]:
                reasons, criterion = self._similarity_reasons(sims[i], reasons)
            text = corpus.texts[i]
            matched = found(m.wanted, text)
            if matched:
                reasons.append("matches: " + ", ".join(matched[:MAX_REASON_TERMS]))
            unwanted = found(m.unwanted, text)
            if unwanted:
                in_title = found(m.unwanted, corpus.titles[i])
                value -= r.irrelevant_penalty * (min(len(unwanted), 2) + len(in_title))
                reasons.append("outside the criteria: " + ", ".join(unwanted[:MAX_REASON_TERMS]))
            scores[paper.id] = Score(
                paper=paper.id, scorer=self.name, score=value, criterion=criterion, reasons=reasons
            )
        return scores

    def _similarity_reasons(self, sims: Vector, reasons: list[str]) -> tuple[list[str], str | None]:
        """The most similar seed paper (when close enough) and the closest criteria topic."""
        best_seed, best_topic = -1.0, -1.0
        seed, topic = None, None
        for j, pos in enumerate(self.model.positives):
            if pos.seed_title and sims[j] > best_seed:
                best_seed, seed = sims[j], pos.seed_title
            if pos.topic and sims[j] > best_topic:
                best_topic, topic = sims[j], pos.topic
        if seed is not None and best_seed >= SIMILAR_ENOUGH:
            reasons = [*reasons, f"similar to your paper '{seed}'"]
        return reasons, topic if best_topic > 0 else None
