"""IVFMatchIndex: MatchIndex whose concept channel scores only a few clusters of profiles.

An approximate candidate generator, measured by bench/bench_scale.py against the exact
:class:`matchmaking.MatchIndex` (recall of the final ranked list, not of the candidates).

``train()`` clusters the main segment's rows (binary profile x column vectors, L2-normalised)
with spherical k-means on a seeded sample, assigns every row to its nearest centroid and keeps
a copy of the matrix whose rows are renumbered cluster after cluster, so each column's postings
are grouped by cluster (an inverted file per cluster). A query scores the centroids (mean rows,
so ``centroid . q`` is the mean channel score in that cluster), takes the ``nprobe`` best
clusters and reads only their runs of the query's postings: exact channel scores for the rows
of those clusters, at a cost proportional to their postings. Hard filters, the
``candidates`` cut and the exact re-rank are the index's own. ``nprobe >= nlist`` scores every
row and therefore returns exactly what MatchIndex returns.

No node uses it yet: the README's Scale section says from which population it pays (~300k
profiles per index) and what it costs (a clustered copy of the postings, a re-train after bulk
loads). It subclasses MatchIndex and reads its segment, so it lives beside it.

Rows added after ``train()`` are in no cluster: while anything is pending, or the segment has
changed since ``train()``, queries use the exact channel (slower, never wrong); call ``train()``
again after a compaction. Nothing here is thread-safe beyond what MatchIndex is.
"""

from __future__ import annotations

import math
from collections.abc import Collection

import numpy as np
import scipy.sparse as sp

from .concepts import ConceptGraph
from .index import MatchIndex
from .model import Profile
from .ranking import CallQuery, Weights


def _normalise(x: sp.csr_matrix) -> sp.csr_matrix:
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / norms).astype(np.float32) @ x)


def spherical_kmeans(x: sp.csr_matrix, k: int, *, seed: int = 0, iters: int = 8) -> np.ndarray:
    """Centroids (k x columns, float32, unit rows) of L2-normalised sparse rows ``x``."""
    rng = np.random.default_rng(seed)
    k = min(k, x.shape[0])
    cent = x[rng.choice(x.shape[0], k, replace=False)].toarray()
    for _ in range(iters):
        assign = np.asarray((x @ cent.T).argmax(axis=1)).ravel()
        onehot = sp.csr_matrix(
            (np.ones(x.shape[0], np.float32), (assign, np.arange(x.shape[0]))),
            shape=(k, x.shape[0]),
        )
        cent = np.asarray((onehot @ x).todense(), dtype=np.float32)
        empty = np.flatnonzero(~cent.any(axis=1))
        if len(empty):  # re-seed empty clusters with random rows
            cent[empty] = x[rng.choice(x.shape[0], len(empty), replace=False)].toarray()
        cent /= np.maximum(np.linalg.norm(cent, axis=1, keepdims=True), 1e-12)
    return cent


class IVFMatchIndex(MatchIndex):
    """A MatchIndex whose concept channel, once :meth:`train` ran, reads ``nprobe`` clusters.

    ``seed`` seeds the sample and k-means (same seed, same rows: same clusters); setting
    ``exact = True`` answers with the parent's exact channel from the same built index."""

    def __init__(
        self,
        graph: ConceptGraph,
        *,
        weights: Weights | None = None,
        candidates: int = 300,
        nprobe: int = 8,
        seed: int = 0,
    ) -> None:
        super().__init__(graph, weights=weights, candidates=candidates)
        self.nprobe = nprobe
        self.seed = seed
        # True: the parent's exact channel (the bench measures both on one built index)
        self.exact = False
        self._ivf: sp.csc_matrix | None = None  # rows grouped by cluster
        self._ptr = np.zeros((0, 1), dtype=np.int64)  # column x cluster -> first posting
        self._perm = np.zeros(0, dtype=np.int64)  # ivf row -> main-segment row
        self._offsets = np.zeros(1, dtype=np.int64)  # cluster c = ivf rows [off[c], off[c+1])
        self._means = np.zeros((0, 0), dtype=np.float32)  # cluster x column mean row

    @property
    def nlist(self) -> int:
        return len(self._offsets) - 1

    def train(self, nlist: int | None = None, *, sample: int = 40, batch: int = 50_000) -> None:
        """Cluster the main segment: ``nlist`` (default ~sqrt(rows)) clusters, k-means on
        ``sample`` rows per cluster, then assign every row (``batch`` rows at a time)."""
        self.compact()
        csr = self._mat.tocsr()
        n = csr.shape[0]
        k = nlist or max(1, round(math.sqrt(n)))
        rng = np.random.default_rng(self.seed)
        pick = np.sort(rng.choice(n, min(n, k * sample), replace=False))
        cent = spherical_kmeans(_normalise(csr[pick]), k, seed=self.seed)
        assign = np.empty(n, dtype=np.int64)
        for lo in range(0, n, batch):
            block = _normalise(csr[lo : lo + batch])
            assign[lo : lo + batch] = np.asarray((block @ cent.T).argmax(axis=1)).ravel()
        self._perm = np.argsort(assign, kind="stable")
        counts = np.bincount(assign, minlength=len(cent))
        self._offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        clustered = sp.csr_matrix(csr[self._perm])
        self._means = np.zeros((len(cent), csr.shape[1]), dtype=np.float32)
        for c in np.flatnonzero(counts):
            block = clustered[self._offsets[c] : self._offsets[c + 1]]
            self._means[c] = np.asarray(block.sum(axis=0)).ravel() / counts[c]
        csc = clustered.tocsc()
        csc.sort_indices()  # within a column: ascending clustered row = grouped by cluster
        # ptr[j, c]: where cluster c's postings start in column j (ptr[j, nlist]: column end)
        ncols, k = csc.shape[1], len(cent)
        col_of = np.repeat(np.arange(ncols), np.diff(csc.indptr))
        per = np.bincount(col_of * k + assign[self._perm][csc.indices], minlength=ncols * k)
        self._ptr = np.zeros((ncols, k + 1), dtype=np.int64)
        self._ptr[:, 0] = csc.indptr[:-1]
        self._ptr[:, 1:] = csc.indptr[:-1, None] + np.cumsum(per.reshape(ncols, k), axis=1)
        self._ivf = csc

    @property
    def ivf_nbytes(self) -> int:
        """Extra memory on top of MatchIndex: clustered copy, pointers, permutation, means."""
        m = self._ivf
        own = 0 if m is None else m.data.nbytes + m.indices.nbytes + m.indptr.nbytes
        return (
            own + self._perm.nbytes + self._offsets.nbytes + self._means.nbytes + self._ptr.nbytes
        )

    def _candidates(
        self,
        q: CallQuery,
        viewer_node: str,
        langs: frozenset[str],
        *,
        cross_border_only: bool = False,
        own_node_only: bool = False,
        remote_only: bool = False,
        skip: Collection[str] = (),
    ) -> list[Profile]:
        if not self._clusters_current():
            # not trained, or trained on another segment: stay exact rather than miss rows
            return super()._candidates(
                q,
                viewer_node,
                langs,
                cross_border_only=cross_border_only,
                own_node_only=own_node_only,
                remote_only=remote_only,
                skip=skip,
            )
        rows, scores = self._probed_scores(self._query(q))
        rows, scores = self._filter_and_cut(
            rows,
            scores,
            viewer_node,
            langs,
            q.call.country,
            cross_border_only=cross_border_only,
            own_node_only=own_node_only,
            remote_only=remote_only,
            n_skip=len(skip),
            all_languages=q.call.all_languages,
        )
        pairs = zip(scores.tolist(), rows.tolist(), strict=True)
        out = sorted(((s, self._row_keys[r]) for s, r in pairs), key=lambda t: (-t[0], t[1]))
        return [self._profiles[k] for _, k in out if k not in skip]

    def _clusters_current(self) -> bool:
        """Trained on the main segment as it is now, and nothing pending outside it."""
        return (
            not self.exact
            and self._ivf is not None
            and self._ivf.shape[0] == self._mat.shape[0]
            and not self._pending
        )

    def _probed_scores(self, qw: dict[tuple[str, str], float]) -> tuple[np.ndarray, np.ndarray]:
        """Main-segment rows of the ``nprobe`` best clusters with a positive channel score for
        the query weights ``qw``, and those scores (aligned, rows ascending)."""
        assert self._ivf is not None
        ncols = self._ivf.shape[1]
        cols = [(i, v) for k, v in qw.items() if (i := self._cols.get(k)) is not None and i < ncols]
        if not cols:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        idx = np.fromiter((i for i, _ in cols), dtype=np.int64, count=len(cols))
        vec = np.fromiter((v for _, v in cols), dtype=np.float32, count=len(cols))
        probe = np.argsort(-(self._means[:, idx] @ vec), kind="stable")[: self.nprobe]
        # Postings of each column are grouped by cluster: take, for every query column, the
        # runs of the probed clusters (work proportional to the postings of those clusters),
        # then sum per row. Rows are numbered locally, cluster after cluster.
        m, ptr = self._ivf, self._ptr
        lo, hi = self._offsets[probe], self._offsets[probe + 1]
        base = np.cumsum(hi - lo) - (hi - lo)
        starts = ptr[idx][:, probe].ravel()
        lens = ptr[idx][:, probe + 1].ravel() - starts
        shift = np.broadcast_to(base - lo, (len(idx), len(probe))).ravel()
        weight = np.broadcast_to(vec[:, None], (len(idx), len(probe))).ravel()
        run = np.flatnonzero(lens)
        seg = np.repeat(run, lens[run])
        first = np.cumsum(lens) - lens
        pos = starts[seg] + np.arange(len(seg)) - first[seg]
        local = m.indices[pos] + shift[seg]
        summed = np.bincount(
            local, weights=weight[seg] * m.data[pos], minlength=int(base[-1] + hi[-1] - lo[-1])
        )
        hit = np.flatnonzero(summed)
        clustered_rows = np.concatenate([np.arange(a, b) for a, b in zip(lo, hi, strict=True)])
        rows = self._perm[clustered_rows[hit]]
        scores = summed[hit].astype(np.float32)
        # main-segment row order, as the exact channel sees it, so that the same rows give the
        # same candidate cut (argpartition breaks ties by position)
        order = np.argsort(rows, kind="stable")
        rows, scores = rows[order], scores[order]
        keep = scores > 0
        return rows[keep], scores[keep]
