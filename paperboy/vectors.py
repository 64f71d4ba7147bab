"""Tf-idf vectors and linear models in plain numpy: the local scorer's and profiles' maths.

Why not scikit-learn: importing any part of it costs about 4 s here (it pulls in scipy.stats),
more than a whole day's ranking is allowed. The few operations we need (a sparse row matrix,
tf-idf with sublinear tf, an L2-regularised linear fit) are short in numpy and run as fast.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Vector = NDArray[np.float64]

_TOKEN = re.compile(r"[a-z0-9]+")
# scikit-learn's English stop list, trimmed of words that carry meaning here ("system", "bottom").
STOP_WORDS = frozenset(
    """a about above across after afterwards again against all almost alone along already also
    although always am among amongst amoungst amount an and another any anyhow anyone anything
    anyway anywhere are around as at be became because become becomes becoming been before
    beforehand behind being below beside besides between beyond both but by can cannot could did
    do does done down due during each eg either else elsewhere enough etc even ever every
    everyone everything everywhere except few for former formerly from further get give go had
    has hasnt have he hence her here hereafter hereby herein hereupon hers herself him himself his
    how however i ie if in indeed into is it its itself keep last latter latterly least less ltd
    made many may me meanwhile might mine more moreover most mostly much must my myself namely
    neither never nevertheless next no nobody none noone nor not nothing now nowhere of off often
    on once one only onto or other others otherwise our ours ourselves out over own per perhaps
    please put rather re same see seem seemed seeming seems several she should since so some
    somehow someone something sometime sometimes somewhere still such than that the their them
    themselves then thence there thereafter thereby therefore therein thereupon these they this
    those though through throughout thru thus to together too toward towards under until up upon
    us very via was we well were what whatever when whence whenever where whereafter whereas
    whereby wherein whereupon wherever whether which while whither who whoever whole whom whose
    why will with within without would yet you your yours yourself yourselves""".split()
)


def _stem(word: str) -> str:
    """A light plural stemmer: "experts" and "expert" are one feature, "loss" stays."""
    if len(word) > 3 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


_STEMS: dict[str, str] = {}  # a cache keyed by content: each word's stem, or "" for a stop word


def words(text: str) -> list[str]:
    """Lower-cased, stemmed, stop-word-free words of a text."""
    out = []
    for token in _TOKEN.findall(text.lower()):
        stem = _STEMS.get(token)
        if stem is None:
            stem = "" if token in STOP_WORDS or len(token) < 2 else _stem(token)
            if len(_STEMS) < 500_000:
                _STEMS[token] = stem
        if stem:
            out.append(stem)
    return out


def terms(text: str) -> list[str]:
    """The features of a text: its words and the bigrams of neighbouring words."""
    toks = words(text)
    return toks + [f"{a} {b}" for a, b in zip(toks, toks[1:], strict=False)]


@dataclass(frozen=True)
class Rows:
    """A sparse matrix in CSR form, one L2-normalised row per document."""

    indptr: NDArray[np.int64]
    indices: NDArray[np.int64]
    data: Vector
    n_cols: int

    @property
    def n_rows(self) -> int:
        return len(self.indptr) - 1

    @property
    def row_ids(self) -> NDArray[np.int64]:
        """For each stored value, the row it belongs to."""
        return np.repeat(np.arange(self.n_rows), np.diff(self.indptr))

    def dot(self, w: Vector) -> Vector:
        """X @ w."""
        return np.bincount(self.row_ids, self.data * w[self.indices], minlength=self.n_rows)

    def tdot(self, v: Vector) -> Vector:
        """X.T @ v."""
        return np.bincount(self.indices, self.data * v[self.row_ids], minlength=self.n_cols)

    def dense(self) -> Vector:
        """The matrix as a dense array (only for a few rows)."""
        out = np.zeros((self.n_rows, self.n_cols))
        out[self.row_ids, self.indices] = self.data
        return out

    def take(self, rows: Sequence[int]) -> Rows:
        """A new matrix of the given rows, in that order."""
        starts, ends = self.indptr[:-1][list(rows)], self.indptr[1:][list(rows)]
        parts = [np.arange(s, e) for s, e in zip(starts, ends, strict=True)]
        pick = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        indptr = np.concatenate([[0], np.cumsum(ends - starts)]).astype(np.int64)
        return Rows(indptr, self.indices[pick], self.data[pick], self.n_cols)


class Vocabulary:
    """Term ids and idf weights learnt from one corpus (a day's papers plus the prior)."""

    def __init__(self, docs: Iterable[list[str]]) -> None:
        self.index: dict[str, int] = {}
        df: list[int] = []
        n = 0
        for doc in docs:
            n += 1
            for term in set(doc):
                i = self.index.setdefault(term, len(df))
                if i == len(df):
                    df.append(0)
                df[i] += 1
        # Smoothed idf, as scikit-learn's TfidfTransformer computes it.
        self.idf: Vector = np.log((1 + n) / (1 + np.asarray(df, dtype=np.float64))) + 1.0

    def __len__(self) -> int:
        return len(self.index)

    def rows(self, docs: Iterable[list[str]]) -> Rows:
        """Tf-idf rows with sublinear tf, L2-normalised; unknown terms are dropped."""
        indptr, indices, counts = [0], [], []
        for doc in docs:
            seen: dict[int, int] = {}
            for term in doc:
                i = self.index.get(term)
                if i is not None:
                    seen[i] = seen.get(i, 0) + 1
            indices.extend(seen.keys())
            counts.extend(seen.values())
            indptr.append(len(indices))
        ind = np.asarray(indices, dtype=np.int64)
        data = (1.0 + np.log(np.asarray(counts, dtype=np.float64))) * self.idf[ind]
        ptr = np.asarray(indptr, dtype=np.int64)
        row_ids = np.repeat(np.arange(len(ptr) - 1), np.diff(ptr))
        norms = np.sqrt(np.bincount(row_ids, data * data, minlength=len(ptr) - 1))
        data = data / np.where(norms > 0, norms, 1.0)[row_ids]
        return Rows(ptr, ind, data, len(self.index))

    def names(self) -> list[str]:
        """Terms by id."""
        out = [""] * len(self.index)
        for term, i in self.index.items():
            out[i] = term
        return out


def fit_linear(
    x: Rows, y: Vector, weight: Vector, c: float, steps: int = 12, w0: Vector | None = None
) -> tuple[Vector, float]:
    """An L2-regularised squared-hinge linear SVM (liblinear's L2R_L2LOSS) by Newton-CG.

    Minimises 0.5*|w|^2 + c * sum(weight_i * max(0, 1 - y_i (w.x_i + b))^2); the bias is
    regularised too, as in liblinear. `w0` warm-starts a refit after a few new labels.
    """
    n, d = x.n_rows, x.n_cols
    w = np.zeros(d + 1) if w0 is None else w0.copy()
    row_ids = x.row_ids

    def margins(v: Vector) -> Vector:
        return np.bincount(row_ids, x.data * v[:-1][x.indices], minlength=n) + v[-1]

    def back(u: Vector) -> Vector:
        return np.append(np.bincount(x.indices, x.data * u[row_ids], minlength=d), u.sum())

    for _ in range(steps):
        z = margins(w)
        active = (y * z < 1.0).astype(np.float64) * weight
        grad = w + 2.0 * c * back(active * (z - y))
        if np.linalg.norm(grad) < 1e-4 * np.sqrt(d):
            break
        # Conjugate gradient on the generalised Hessian I + 2c X_A^T D X_A.
        step, r = np.zeros(d + 1), -grad
        p, rr = r.copy(), float(r @ r)
        for _ in range(25):
            hp = p + 2.0 * c * back(active * margins(p))
            alpha = rr / float(p @ hp)
            step += alpha * p
            r -= alpha * hp
            rr_new = float(r @ r)
            if rr_new < 1e-6 * float(grad @ grad):
                break
            p = r + (rr_new / rr) * p
            rr = rr_new
        w += step
    return w[:-1], float(w[-1])
