"""Link free text typed in any of our languages to ESCO concepts.

Method (see shared/research/matchmaking.md): a character 3-gram TF-IDF over every label and
synonym of every concept in every language, plus whole-word tokens. Within one language this is
about as good as a multilingual embedding model and needs no model download; across languages
it works because the shipped vocabulary carries labels in all seven languages. Labels in the
member's own language get a small boost, since linking through another language's labels fails
often. Results are *suggestions*: the member confirms, the importer reports what it linked.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from profiles.languages import UI_LANGUAGES

# The languages the linker knows labels in: the UI languages (profiles.languages).
LANGUAGES = UI_LANGUAGES

# Auto-linking (imports) accepts the best concept only when it is this sure; anything less is
# reported as unlinked rather than guessed.
AUTO_LINK_MIN_SCORE = 0.62
AUTO_LINK_MARGIN = 0.08
OWN_LANGUAGE_BOOST = 1.08

_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def normalise(text: str) -> str:
    """Case-fold, strip accents and punctuation, collapse spaces: 'Éclairage  scénique!' ->
    'eclairage scenique'."""
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(_WORD.findall(text))


def features(text: str) -> list[str]:
    """Character 3-grams of each word padded with spaces, plus the words themselves."""
    norm = normalise(text)
    out: list[str] = []
    for word in norm.split():
        padded = f" {word} "
        out.extend(padded[i : i + 3] for i in range(len(padded) - 2))
        out.append("w:" + word)
    return out


@dataclass(frozen=True)
class Label:
    iri: str
    lang: str
    text: str
    preferred: bool = False


@dataclass(frozen=True)
class LinkSuggestion:
    iri: str
    score: float  # 0..1 (1 = exact label match)
    label: str  # the label that matched
    lang: str  # language of the matching label


class Linker:
    """An immutable, thread-safe index of labels. Build once per vocabulary revision."""

    def __init__(self, labels: Iterable[Label], kinds: dict[str, str] | None = None) -> None:
        self._labels: list[Label] = list(labels)
        self._kinds = kinds or {}
        self._exact: dict[str, list[int]] = defaultdict(list)
        columns: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        for i, label in enumerate(self._labels):
            self._exact[normalise(label.text)].append(i)
            for f in set(features(label.text)):
                j = columns.setdefault(f, len(columns))
                rows.append(i)
                cols.append(j)
        self._columns = columns
        n_labels, n_feats = len(self._labels), max(len(columns), 1)
        data = np.ones(len(rows), dtype=np.float32)
        matrix = sparse.csr_matrix(
            (data, (np.asarray(rows, dtype=np.int32), np.asarray(cols, dtype=np.int32))),
            shape=(n_labels, n_feats),
        )
        df = np.bincount(np.asarray(cols, dtype=np.int64), minlength=n_feats).astype(np.float32)
        self._idf = np.log((1.0 + n_labels) / (1.0 + df)).astype(np.float32) + 1.0
        matrix = matrix.multiply(self._idf[np.newaxis, :]).tocsr()
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        self._matrix = sparse.csc_matrix(sparse.diags(1.0 / norms) @ matrix, dtype=np.float32)
        self._iris = np.asarray([label.iri for label in self._labels], dtype=object)
        self._label_langs = np.asarray([label.lang for label in self._labels], dtype=object)

    def __len__(self) -> int:
        return len(self._labels)

    def link(
        self, text: str, lang: str | None = None, *, kind: str | None = None, limit: int = 5
    ) -> list[LinkSuggestion]:
        """Best concepts for ``text``, one suggestion per concept, best first."""
        norm = normalise(text)
        if not norm or not self._labels:
            return []
        best: dict[str, LinkSuggestion] = {}

        def offer(iri: str, score: float, idx: int) -> None:
            if kind is not None and self._kinds.get(iri) != kind:
                return
            current = best.get(iri)
            if current is None or score > current.score:
                label = self._labels[idx]
                best[iri] = LinkSuggestion(iri, min(score, 1.0), label.text, label.lang)

        for idx in self._exact.get(norm, ()):
            label = self._labels[idx]
            offer(label.iri, 1.0 if lang in (None, label.lang) else 0.99, idx)

        feats = [self._columns[f] for f in features(text) if f in self._columns]
        if feats:
            counts: dict[int, int] = defaultdict(int)
            for j in feats:
                counts[j] += 1
            cols = np.fromiter(counts.keys(), dtype=np.int64)
            weights = np.fromiter(counts.values(), dtype=np.float32) * self._idf[cols]
            # Normalise against all query features, including unknown ones, so that a query
            # that is mostly unknown words cannot score high on the few it shares.
            unknown = len(features(text)) - len(feats)
            denom = math.sqrt(
                float(np.dot(weights, weights)) + unknown * float(self._idf.max()) ** 2
            )
            scores = np.asarray(self._matrix[:, cols] @ (weights / denom)).ravel()
            if lang:
                scores = scores * np.where(self._label_langs == lang, OWN_LANGUAGE_BOOST, 1.0)
            top = np.argpartition(-scores, min(limit * 8, len(scores) - 1))[: limit * 8]
            for idx in top[np.argsort(-scores[top])]:
                score = float(scores[idx])
                if score <= 0.05:
                    break
                offer(str(self._iris[idx]), min(score, 0.98), int(idx))
        ranked = sorted(best.values(), key=lambda s: (-s.score, s.label))
        return ranked[:limit]

    def link_one(
        self, text: str, lang: str | None = None, *, kind: str | None = None
    ) -> LinkSuggestion | None:
        """The concept to link automatically, or None when no candidate is sure enough."""
        found = self.link(text, lang, kind=kind, limit=2)
        if not found or found[0].score < AUTO_LINK_MIN_SCORE:
            return None
        # Two near-equal candidates ("acting techniques" vs "acting and directing techniques")
        # mean we do not know which one was meant: report it unlinked rather than guess.
        if (
            len(found) > 1
            and found[0].score < 0.95
            and found[0].score - found[1].score < AUTO_LINK_MARGIN
        ):
            return None
        return found[0]

    def extract(self, text: str, lang: str | None = None, max_words: int = 4) -> set[str]:
        """Concepts whose label appears word for word in a longer text (a bio, a call text)."""
        words = normalise(text).split()
        found: set[str] = set()
        for n in range(max_words, 0, -1):
            for i in range(len(words) - n + 1):
                phrase = " ".join(words[i : i + n])
                if n == 1 and len(phrase) < 5:
                    continue  # short single words are too ambiguous ("art", "web")
                for idx in self._exact.get(phrase, ()):
                    found.add(self._labels[idx].iri)
        return found


def labels_from_rows(rows: Sequence[tuple[str, str, str, bool]]) -> list[Label]:
    return [Label(iri, lang, text, preferred) for iri, lang, text, preferred in rows]
