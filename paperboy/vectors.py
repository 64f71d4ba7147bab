"""Tf-idf vectors and linear models in plain numpy: the local scorer's and profiles' maths.

Why not scikit-learn: importing any part of it costs about 4 s here (it pulls in scipy.stats),
more than a whole day's ranking is allowed. The few operations we need (a sparse row matrix,
tf-idf with sublinear tf, an L2-regularised linear fit) are short in numpy and run as fast.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise

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
    why will with within without would yet you your yours yourself yourselves""".split()  # noqa: SIM905
)


def _stem(word: str) -> str:
    """A light plural stemmer: "experts" and "expert" are one feature, "loss" stays."""
    if len(word) > 3 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is", "ias")):
        return word[:-1]
    return word


class _Stems(dict[str, str]):
    """A cache keyed by content: each token's stem, or "" for a stop word."""

    def __missing__(self, token: str) -> str:
        stem = "" if token in STOP_WORDS or len(token) < 2 else _stem(token)
        if len(self) < 500_000:
            self[token] = stem
        return stem


_STEMS = _Stems()


def words(text: str) -> list[str]:
    """Lower-cased, stemmed, stop-word-free words of a text."""
    stems = _STEMS
    return [stem for token in _TOKEN.findall(text.lower()) if (stem := stems[token])]


def grams(toks: list[str]) -> list[str]:
    """Words and the bigrams of neighbouring words."""
    return toks + [f"{a} {b}" for a, b in pairwise(toks)]


def terms(text: str) -> list[str]:
    """The features of a text: its words and the bigrams of neighbouring words."""
    return grams(words(text))


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
        return row_sums(self.indptr, self.data * np.take(w, self.indices))

    def tdot(self, v: Vector) -> Vector:
        """X.T @ v."""
        out = np.bincount(self.indices, self.data * v[self.row_ids], minlength=self.n_cols)
        return out.astype(np.float64, copy=False)

    def dense(self) -> Vector:
        """The matrix as a dense array (only for a few rows)."""
        out = np.zeros((self.n_rows, self.n_cols))
        out[self.row_ids, self.indices] = self.data
        return out

    def take(self, rows: Iterable[int]) -> Rows:
        """A new matrix of the given rows, in that order."""
        pick_rows = np.fromiter(rows, dtype=np.int64)
        starts, ends = self.indptr[:-1][pick_rows], self.indptr[1:][pick_rows]
        parts = [np.arange(s, e) for s, e in zip(starts, ends, strict=True)]
        pick = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        indptr = np.concatenate([[0], np.cumsum(ends - starts)]).astype(np.int64)
        return Rows(indptr, self.indices[pick], self.data[pick], self.n_cols)


def row_sums(indptr: NDArray[np.int64], values: Vector) -> Vector:
    """Sum of `values` within each row of a CSR layout (reduceat: faster than bincount here)."""
    n = len(indptr) - 1
    if len(values) == 0:
        return np.zeros(n)
    starts = np.minimum(indptr[:-1], len(values) - 1)
    out = np.add.reduceat(values, starts)
    out[indptr[:-1] == indptr[1:]] = 0.0  # reduceat gives an empty row the next value
    return out.astype(np.float64, copy=False)


class Vocabulary:
    """Term columns and idf weights learnt from one corpus (a day's papers plus the prior).

    Terms seen in fewer than `min_df` documents get no column: a term of one document cannot
    make two documents alike, and dropping them makes the matrix several times narrower. They
    still count towards a row's norm, as any term the vocabulary does not know does, with the
    highest idf (a term of one document's); the vocabulary keeps only its columns' terms.
    """

    def __init__(self, index: dict[str, int], idf: Vector, unknown_idf: float) -> None:
        self.index = index  # term -> column
        self.idf = idf  # by column
        self.unknown_idf = unknown_idf  # a term with no column: seen in one document, or never
        self.n_cols = len(idf)

    @classmethod
    def fit(cls, docs: list[list[str]], min_df: int = 2) -> tuple[Vocabulary, Rows]:
        """Learn terms and idf from the docs and return their rows too, in one pass."""
        seen: dict[str, int] = {}
        indptr, indices, counts = [0], [], []
        for doc in docs:
            for term, count in Counter(doc).items():
                i = seen.get(term)
                if i is None:
                    i = seen[term] = len(seen)
                indices.append(i)
                counts.append(count)
            indptr.append(len(indices))
        ind = np.asarray(indices, dtype=np.int64)
        df = np.bincount(ind, minlength=len(seen)).astype(np.float64)
        # Smoothed idf, as scikit-learn's TfidfTransformer computes it.
        idf = np.log((1 + len(docs)) / (1 + df)) + 1.0
        kept = df >= min_df
        column = np.where(kept, np.cumsum(kept) - 1, -1).astype(np.int64)
        unknown = float(idf.max()) if len(idf) else 1.0
        rows = _tfidf(indptr, ind, counts, np.append(idf, unknown), np.append(column, -1))
        index = {term: int(column[i]) for term, i in seen.items() if kept[i]}
        return cls(index, idf[kept], unknown), rows

    def __len__(self) -> int:
        return self.n_cols

    def rows(self, docs: Iterable[list[str]]) -> Rows:
        """Tf-idf rows with sublinear tf, L2-normalised; unknown terms count towards the norm."""
        index = self.index
        unknown = self.n_cols  # a column id for "not in the vocabulary"
        indptr, indices, counts = [0], [], []
        for doc in docs:
            for term, count in Counter(doc).items():
                indices.append(index.get(term, unknown))
                counts.append(count)
            indptr.append(len(indices))
        idf = np.append(self.idf, self.unknown_idf)
        column = np.append(np.arange(self.n_cols), -1)
        return _tfidf(indptr, np.asarray(indices, dtype=np.int64), counts, idf, column)

    def names(self) -> list[str]:
        """Terms by column."""
        out = [""] * self.n_cols
        for term, col in self.index.items():
            out[col] = term
        return out


def _tfidf(
    indptr: list[int],
    ind: NDArray[np.int64],
    counts: list[int],
    idf: Vector,
    column: NDArray[np.int64],
) -> Rows:
    """Rows from term counts: sublinear tf times idf, L2-normalised over every term, then only
    the terms with a column (`column` -1: none) kept."""
    data = (1.0 + np.log(np.asarray(counts, dtype=np.float64))) * idf[ind]
    ptr = np.asarray(indptr, dtype=np.int64)
    row_ids = np.repeat(np.arange(len(ptr) - 1), np.diff(ptr))
    norms = np.sqrt(np.bincount(row_ids, data * data, minlength=len(ptr) - 1))
    data = data / np.where(norms > 0, norms, 1.0)[row_ids]
    cols = column[ind]
    keep = cols >= 0
    ptr = np.concatenate([[0], np.cumsum(np.bincount(row_ids[keep], minlength=len(ptr) - 1))])
    n_cols = int(column.max()) + 1 if len(column) else 0
    return Rows(ptr.astype(np.int64), cols[keep], data[keep], n_cols)


def _dot(a: Vector, b: Vector) -> float:
    """Inner product without BLAS: on small vectors its threads cost more than they save."""
    return float((a * b).sum())


def fit_linear(
    x: Rows,
    y: Vector,
    weight: Vector,
    c: float,
    steps: int = 12,
    max_cg: int = 25,
    w0: Vector | None = None,
) -> tuple[Vector, float]:
    """An L2-regularised squared-hinge linear SVM (liblinear's L2R_L2LOSS) by Newton-CG.

    Minimises 0.5*|w|^2 + c * sum(weight_i * max(0, 1 - y_i (w.x_i + b))^2); the bias is
    regularised too, as in liblinear. `w0` warm-starts a refit after a few new labels.
    """
    d = x.n_cols
    w = np.zeros(d + 1) if w0 is None else w0.copy()
    row_ids = x.row_ids

    def margins(v: Vector) -> Vector:
        return row_sums(x.indptr, x.data * np.take(v, x.indices)) + v[-1]

    def back(u: Vector) -> Vector:
        return np.append(np.bincount(x.indices, x.data * np.take(u, row_ids), minlength=d), u.sum())

    for _ in range(steps):
        z = margins(w)
        active = (y * z < 1.0).astype(np.float64) * weight
        grad = w + 2.0 * c * back(active * (z - y))
        if _dot(grad, grad) < 1e-8 * d:
            break
        # Conjugate gradient on the generalised Hessian I + 2c X_A^T D X_A.
        step, r = np.zeros(d + 1), -grad
        p, rr = r.copy(), _dot(r, r)
        for _ in range(max_cg):
            hp = p + 2.0 * c * back(active * margins(p))
            alpha = rr / _dot(p, hp)
            step += alpha * p
            r -= alpha * hp
            rr_new = _dot(r, r)
            if rr_new < 1e-6 * _dot(grad, grad):
                break
            p = r + (rr_new / rr) * p
            rr = rr_new
        w += step
    return w[:-1], float(w[-1])


PAIRS_PER_CHUNK = 2_000_000
"""How many scattered products `cross` forms at once: bounds its memory (about 50 MB)."""
DENSE_RATIO = 200
"""About how many times faster a dense (BLAS) product is, per multiplication, than a scattered
one: a column shared by many rows of both sides is cheaper multiplied densely."""


def cross(a: Rows, b: Rows) -> Vector:
    """Inner products of every row of `a` with every row of `b` (cosines, as rows are unit).

    A sparse product in numpy. The few columns that many rows on both sides use (common words)
    are multiplied as dense blocks; every other value of `a` meets the values of `b` in its
    column one by one, in chunks, so memory stays bounded.
    """
    n_a, n_b = a.n_rows, b.n_rows
    if n_a == 0 or n_b == 0 or len(a.data) == 0 or len(b.data) == 0:
        return np.zeros((n_a, n_b))
    n_cols = max(a.n_cols, b.n_cols)
    uses_a = np.bincount(a.indices, minlength=n_cols)
    uses_b = np.bincount(b.indices, minlength=n_cols)
    heavy = uses_a * uses_b * DENSE_RATIO >= n_a * n_b
    out = _dense_part(a, b, heavy) if heavy.any() else np.zeros((n_a, n_b))
    light_a, light_b = ~heavy[a.indices], ~heavy[b.indices]
    out += _scattered_part(
        a.row_ids[light_a], a.indices[light_a], a.data[light_a],
        b.row_ids[light_b], b.indices[light_b], b.data[light_b],
        n_a, n_b, n_cols,
    )  # fmt: skip
    return out


def _dense_part(a: Rows, b: Rows, heavy: NDArray[np.bool_]) -> Vector:
    """The product over the `heavy` columns, as dense blocks."""
    column = np.cumsum(heavy) - 1
    cols = int(heavy.sum())
    blocks = []
    for side in (a, b):
        keep = heavy[side.indices]
        block = np.zeros((side.n_rows, cols))
        block[side.row_ids[keep], column[side.indices[keep]]] = side.data[keep]
        blocks.append(block)
    return np.asarray(blocks[0] @ blocks[1].T, dtype=np.float64)


def _scattered_part(
    a_rows: NDArray[np.int64],
    a_cols: NDArray[np.int64],
    a_vals: Vector,
    b_rows: NDArray[np.int64],
    b_cols: NDArray[np.int64],
    b_vals: Vector,
    n_a: int,
    n_b: int,
    n_cols: int,
) -> Vector:
    """The product over the given values: each value of `a` times those of `b` in its column."""
    out = np.zeros(n_a * n_b)
    if len(a_vals) == 0 or len(b_vals) == 0:
        return out.reshape(n_a, n_b)
    by_col = np.argsort(b_cols, kind="stable")
    b_rows, b_vals = b_rows[by_col], b_vals[by_col]
    starts = np.searchsorted(b_cols[by_col], np.arange(n_cols + 1))
    first = starts[a_cols]
    meets = starts[a_cols + 1] - first  # how many of b's values share each value's column
    ends = np.cumsum(meets)
    lo = 0
    while lo < len(meets):
        done = int(ends[lo - 1]) if lo else 0
        hi = max(lo + 1, int(np.searchsorted(ends, done + PAIRS_PER_CHUNK, "right")))
        count = meets[lo:hi]
        pair = np.repeat(np.arange(lo, hi), count)
        offset = np.arange(len(pair)) - np.repeat(np.cumsum(count) - count, count)
        where = first[pair] + offset
        out += np.bincount(
            a_rows[pair] * n_b + b_rows[where], a_vals[pair] * b_vals[where], minlength=len(out)
        )
        lo = hi
    return out.reshape(n_a, n_b)
