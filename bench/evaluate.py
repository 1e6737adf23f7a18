"""Quality metrics and the numpy brute-force baseline, shared by bench_match and the tests."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence

import numpy as np
from gen_data import Dataset, ground_truth

from matchmaking import Call, Profile
from matchmaking.ranking import CallQuery, feasible

Ranker = Callable[[Call], list[str]]  # call -> ranked member keys (top 10 used)


class DenseBaseline:
    """Dense float32 profile x concept matrix, IDF-weighted call vector, argpartition.

    Exact concept overlap only (no hierarchy credit, no features); the same hard filters as
    the index are applied to the head of the ranking, so it never shows what the index may not.
    """

    def __init__(self, profiles: Sequence[Profile]) -> None:
        self.profiles = list(profiles)
        concepts = sorted({c for p in profiles for c in p.skills | p.occupations | p.text_concepts})
        self.col = {c: i for i, c in enumerate(concepts)}
        self.m = np.zeros((len(profiles), len(concepts)), dtype=np.float32)
        for r, p in enumerate(profiles):
            for c in p.skills | p.occupations:
                self.m[r, self.col[c]] = 1.0
            for c in p.text_concepts - p.skills - p.occupations:
                self.m[r, self.col[c]] = 0.7
        df = (self.m > 0).sum(axis=0)
        self.idf = 1.0 + np.log((len(profiles) + 1) / (df + 1.0))
        self.by_key = {p.key: p for p in profiles}

    @property
    def nbytes(self) -> int:
        return int(self.m.nbytes)

    def rank(self, call: Call, *, viewer_node: str, limit: int = 10) -> list[str]:
        vec = np.zeros(self.m.shape[1], dtype=np.float32)
        for c in call.required:
            if c in self.col:
                vec[self.col[c]] += self.idf[self.col[c]]
        for c in call.optional - call.required:
            if c in self.col:
                vec[self.col[c]] += 0.3 * self.idf[self.col[c]]
        scores = self.m @ vec
        head = min(len(scores) - 1, 300)
        top = np.argpartition(-scores, head)[: head + 1]
        top = top[np.argsort(-scores[top], kind="stable")]
        q = CallQuery(call, lambda c: 1.0, None)
        out = []
        for r in top:
            p = self.profiles[r]
            if scores[r] <= 0:
                break
            if p.key == call.author_key:
                continue
            if not (p.node == viewer_node or p.visibility != "coop") or not feasible(p, q):
                continue
            out.append(p.key)
            if len(out) == limit:
                break
        return out


def ndcg(ranked: Sequence[str], gains: dict[str, float], k: int = 10) -> float:
    dcg = sum(gains.get(key, 0.0) / math.log2(i + 2) for i, key in enumerate(ranked[:k]))
    ideal = sorted(gains.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def mrr(ranked: Sequence[str], gains: dict[str, float]) -> float:
    return next((1.0 / (i + 1) for i, k in enumerate(ranked) if k in gains), 0.0)


def gini(counts: Sequence[float]) -> float:
    """0 = everyone equally exposed, 1 = one member gets every slot."""
    x = np.sort(np.asarray(counts, dtype=np.float64))
    if x.size == 0 or x.sum() == 0:
        return 0.0
    n = x.size
    return float((2 * np.arange(1, n + 1) - n - 1) @ x / (n * x.sum()))


def evaluate(
    ds: Dataset, calls: Sequence[Call], rankings: dict[str, list[str]], country: dict[str, str]
) -> dict[str, dict[str, float]]:
    """Metrics per call-author language and overall ("all").

    Exposure Gini is over members relevant to at least one evaluated call (those who deserve
    to be suggested), counting their appearances in the top 10 lists.
    """
    per: dict[str, list[tuple[float, float, float, float]]] = defaultdict(list)
    exposure: dict[str, int] = defaultdict(int)
    deserving: set[str] = set()
    for call in calls:
        gains = ground_truth(ds, call)
        ranked = rankings[call.key][:10]
        for k in ranked:
            exposure[k] += 1
        if not gains:
            continue
        deserving |= set(gains)
        cross = sum(country[k] != call.country for k in ranked) / len(ranked) if ranked else 0.0
        row = (
            ndcg(ranked, gains),
            mrr(ranked, gains),
            float(any(k in gains for k in ranked)),
            cross,
        )
        per[ds.call_lang[call.key]].append(row)
        per["all"].append(row)
    out: dict[str, dict[str, float]] = {}
    g = gini([exposure.get(k, 0) for k in sorted(deserving)])
    for lang, rows in per.items():
        a = np.asarray(rows)
        out[lang] = {
            "n": float(len(rows)),
            "ndcg@10": float(a[:, 0].mean()),
            "mrr": float(a[:, 1].mean()),
            "success@10": float(a[:, 2].mean()),
            "cross_border": float(a[:, 3].mean()),
            "gini": g,
        }
    return out
