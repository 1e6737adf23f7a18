"""Link free text typed in any of our languages to ESCO concepts.

Method (see shared/research/matchmaking.md): a character 3-gram TF-IDF over every label and
synonym of every concept in every language, plus whole-word tokens. Within one language this is
about as good as a multilingual embedding model and needs no model download; across languages
it works because the shipped vocabulary carries labels in all seven languages. Labels in the
member's own language get a small boost, since linking through another language's labels fails
often. Compounds (sv/de/nl "ljudtekniker", "geluidstechnicus") are also split into the label
words they are made of. Candidates are then reordered by how much of the query a concept's
labels cover (Snowball stems of words and compound parts, rare ones weighing more), so that
"musikmarknadsföring" goes to "marknadsföra musik" rather than to "marknadsföring".
Results are *suggestions*: the member confirms, the importer reports what it linked.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache, partial

import numpy as np
import snowballstemmer
from scipy import sparse

from profiles import text_model
from profiles.languages import UI_LANGUAGES
from profiles.linking_meaning import SURE_SCORE, ranker_for

# The languages the linker knows labels in: the UI languages (profiles.languages).
LANGUAGES = UI_LANGUAGES

# Auto-linking (imports) accepts the best concept only when it is this sure. Below it, down to
# PROPOSE_MIN_SCORE, the concept is *proposed*: the member confirms or corrects it, and until
# then it counts as weaker evidence. 0.62 linked "videoprojectie" to "videoproductie" (0.66) and
# "éclairagiste" to an electrician. On the held-aside synonyms of bench_linking.py (seed 1) the
# top-1 is right for 88 % of queries scoring >= 0.75, 62 % between 0.45 and 0.75, 34 % below.
AUTO_LINK_MIN_SCORE = 0.75
PROPOSE_MIN_SCORE = 0.45
AUTO_LINK_MARGIN = 0.08
OWN_LANGUAGE_BOOST = 1.08
# Below this best-label similarity a phrase gives no evidence of its language (gibberish
# scores ~0.24 against the curated vocabulary through stray 3-grams).
MIN_LANGUAGE_EVIDENCE = 0.3
# Each word's first four letters are a feature too: a cheap stem, so that compounds and
# inflections with the same start ("riggutrustning" / "riggning") meet. Together with the
# second-best label of a concept counting a little (SECOND_LABEL_WEIGHT), held-aside synonyms
# of bench_linking.py link right +1.4 points overall (nl +3.6, es +3.2, fr +2.2, it +1.8,
# sv +0.6, de +0.7, en -0.8).
PREFIXES = (4,)
# Measured on three seeds of bench_linking.py (held-aside synonyms, acc@1, all languages):
# second label 0.2 -> 0.4: +0.3 points; coverage (Linker._coverage) at weight 1.0 with IDF
# weights: +1.5 points (0.5 without IDF: +1.0; 1.5 and 2.5 are no better). Typos of labels
# lose 0.5 points with both (0.984 -> 0.979 on a sample of 2,500).
SECOND_LABEL_WEIGHT = 0.4
COVERAGE_WEIGHT = 1.0
# Labels considered per query, whatever ``limit`` is (so the top-1 never depends on it).
CANDIDATES = 64
# A label that shares exactly one whole word with a query, whose other words have nothing in
# common with the query's other words, is a different thing ("dance company" vs "dance
# marketing"): its score is scaled by this.
ONE_WORD_PENALTY = 0.6
# The shortest head split_compound cuts off a compound ("teknik", "design" but not "ing").
MIN_HEAD = 4

_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def normalise(text: str) -> str:
    """Case-fold, strip accents and punctuation, collapse spaces: 'Éclairage  scénique!' ->
    'eclairage scenique'."""
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(_WORD.findall(text))


def features(text: str) -> list[str]:
    """Character 3-grams of each word padded with spaces, plus the words themselves and their
    first letters (no language knowledge: see :meth:`Linker.features` for stems and parts)."""
    norm = normalise(text)
    out: list[str] = []
    for word in norm.split():
        padded = f" {word} "
        out.extend(padded[i : i + 3] for i in range(len(padded) - 2))
        out.append("w:" + word)
        for n in PREFIXES:
            if len(word) > n:
                out.append(f"p{n}:" + word[:n])
    return out


# Snowball's classic algorithms (https://snowballstem.org): plurals, definite and verb forms
# meet ("kostymer"/"kostym", "partituren"/"partituur", "disegnare"/"disegno"). Dutch uses the
# Porter-style variant: the newer one strips "ge-" ("geluidstechnicus" -> "luidstechnicus").
# snowballstemmer runs PyStemmer's C code when that is installed (a dependency): its own
# pure-Python stemmers made building the linker ~20 s slower.
_SNOWBALL = {
    "en": "english",
    "de": "german",
    "sv": "swedish",
    "fr": "french",
    "nl": "dutch_porter",
    "it": "italian",
    "es": "spanish",
}
_STEMMERS: dict[str, object] = {}
MIN_STEM = 3


@lru_cache(maxsize=200_000)
def stem(word: str, lang: str) -> str:
    """The Snowball stem of one case-folded word in ``lang``, accents stripped afterwards
    (French and Italian stemmers read them); the word itself for other languages."""
    stemmer = _STEMMERS.get(lang)
    if stemmer is None:
        algo = _SNOWBALL.get(lang)
        if algo is None:
            return normalise(word)
        stemmer = _STEMMERS[lang] = snowballstemmer.stemmer(algo)
    out = normalise(stemmer.stemWord(word))  # type: ignore[attr-defined]
    for suffix in _NOUN_SUFFIXES.get(lang, ()):
        if out.endswith(suffix) and len(out) - len(suffix) >= MIN_STEM + 1:
            out = out[: -len(suffix)]
            break
    return out if len(out) >= MIN_STEM else normalise(word)


# Verbal nouns Snowball keeps whole in Swedish and Dutch, though members write either form
# ("riggning" / "rigga", "marknadsföring" / "marknadsföra", "opname" aside).
_NOUN_SUFFIXES = {"sv": ("ning", "ing"), "nl": ("ing",)}
# Function words carry no meaning of their own for coverage (Linker.units).
_STOPWORDS = frozenset(
    " ".join(
        (
            "a an and of for in on the to with och av i med pa till att som en ett",
            "und der die das den dem des fur mit von zu im am zum zur ein eine",
            "et de la le les du d l au aux pour un une avec sur",
            "van het een voor met op te bij aan",
            "e di del della dei degli delle il lo gli per con da su una al alla",
            "y el los las por para",
        )
    ).split()
)


def _trigrams(words: Iterable[str]) -> set[str]:
    out: set[str] = set()
    for w in words:
        padded = f" {w} "
        out.update(padded[i : i + 3] for i in range(len(padded) - 2))
    return out


def _one_shared_word_penalty(
    query: Sequence[str],
    label: frozenset[str],
    label_rest_grams: Callable[[str], set[str]] | None = None,
) -> float:
    """:data:`ONE_WORD_PENALTY` when query and label share one whole word and nothing else.
    ``label_rest_grams(shared)`` may supply the 3-grams of the label's other words (cached)."""
    shared = label.intersection(query)
    if len(shared) != 1:
        return 1.0
    (word,) = shared
    q_rest = [w for w in query if w != word]
    if not q_rest or len(label) == 1:
        return 1.0  # one is a part of the other ("dance" in "contemporary dance"): related
    a = _trigrams(q_rest)
    b = label_rest_grams(word) if label_rest_grams else _trigrams(w for w in label if w != word)
    jaccard = len(a & b) / len(a | b) if a | b else 0.0
    return ONE_WORD_PENALTY if jaccard < 0.2 else 1.0


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


def one_edit_apart(a: str, b: str) -> bool:
    """At most one deletion, insertion, substitution or swap of neighbours apart: a typo."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    if len(a) == len(b):
        return a[i + 1 :] == b[i + 1 :] or (
            a[i : i + 2] == b[i : i + 2][::-1] and a[i + 2 :] == b[i + 2 :]
        )
    return a[i:] == b[i + 1 :]


def confidence(text: str, found: Sequence[LinkSuggestion]) -> str:
    """ "link" (sure enough to link), "propose" (ask the member) or "none", from the best two
    suggestions of one query ``text``."""
    # The first may be there by meaning (profiles.linking_meaning) with a low word score:
    # it is proposed when the words found something close among the first three.
    if not found or max(f.score for f in found[:3]) < PROPOSE_MIN_SCORE:
        return "none"
    # One typo away from the label: typos of labels link right 99.5 % of the time at any
    # score (bench_linking.py), unknown synonyms in the same score band only 62 %.
    typo = one_edit_apart(normalise(text), normalise(found[0].label))
    if found[0].score < AUTO_LINK_MIN_SCORE and not typo:
        return "propose"
    # Two near-equal candidates ("acting techniques" vs "acting and directing techniques")
    # mean we do not know which one was meant: ask rather than guess.
    if (
        len(found) > 1
        and found[0].score < 0.95
        and found[0].score - found[1].score < AUTO_LINK_MARGIN
        and not typo
    ):
        return "propose"
    return "link"


class Linker:
    """An immutable, thread-safe index of labels. Build once per vocabulary revision."""

    def __init__(
        self,
        labels: Iterable[Label],
        kinds: dict[str, str] | None = None,
        vectors: text_model.LabelVectors | None = None,
    ) -> None:
        """``vectors``: the labels' text vectors (:mod:`profiles.text_model`); without them,
        or with text similarity off, linking is by words alone."""
        self._labels: list[Label] = list(labels)
        self._kinds = kinds or {}
        self._meaning = ranker_for(self._labels, self._kinds, vectors)
        self._exact: dict[str, list[int]] = defaultdict(list)
        columns: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        # Words of every label: the parts compounds are split into (split_compound).
        self._known = {
            w for label in self._labels for w in normalise(label.text).split() if len(w) >= 3
        }
        for i, label in enumerate(self._labels):
            self._exact[normalise(label.text)].append(i)
            for f in set(self.features(label.text)):
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
        self._label_words = [frozenset(normalise(label.text).split()) for label in self._labels]
        self._rows_by_lang = {
            lang: np.flatnonzero(self._label_langs == lang) for lang in set(self._label_langs)
        }
        self._kind_masks: dict[str, np.ndarray] = {}
        self._lang_masks: dict[str, np.ndarray] = {}
        self._rest_cache: dict[tuple[int, str], set[str]] = {}
        # Per concept, the units of all its labels (any language): coverage (link_detect).
        concept_units: dict[str, set[str]] = defaultdict(set)
        for label in self._labels:
            concept_units[label.iri].update(self.units(label.text, label.lang))
        self._concept_units = {iri: frozenset(u) for iri, u in concept_units.items()}
        # A unit few concepts have says more ("ui" in "UI-designer") than a common one.
        unit_df: dict[str, int] = defaultdict(int)
        for units in self._concept_units.values():
            for u in units:
                unit_df[u] += 1
        n_concepts = max(len(self._concept_units), 1)
        self._unit_idf = {u: math.log((1 + n_concepts) / (1 + df)) for u, df in unit_df.items()}
        self._unit_idf_max = math.log(1 + n_concepts)

    def __len__(self) -> int:
        return len(self._labels)

    def split_compound(self, word: str) -> tuple[str, str] | None:
        """(modifier, head) of a folded compound whose head is a label word of at least
        :data:`MIN_HEAD` letters and whose modifier is one too, maybe with a linking letter
        (sv/de/nl "-s-", "-e-", "-en-"): "ljudtekniker" -> ("ljud", "tekniker"),
        "geluidstechnicus" -> ("geluid", "technicus"). The longest such head wins (the head
        names the thing); None for words that are not such a compound."""
        if len(word) < MIN_HEAD + 3:
            return None
        known = self._known
        for i in range(3, len(word) - MIN_HEAD + 1):
            head, mod = word[i:], word[:i]
            if head not in known:
                continue
            for link in ("", "s", "e", "en", "n"):
                if link and not mod.endswith(link):
                    continue
                base = mod[: len(mod) - len(link)] if link else mod
                if len(base) >= 3 and base in known:
                    return base, head
        return None

    def units(self, text: str, lang: str) -> frozenset[str]:
        """What ``text`` is about, word by word: the stem in ``lang`` of each word that is
        not a function word, a compound counting as its two parts ("musikmarknadsföring" ->
        {"musik", "marknadsfor"}). Compared between a query and a concept's labels."""
        out: set[str] = set()
        for word in normalise(text).split():
            if word in _STOPWORDS:
                continue
            parts = self.split_compound(word)
            out.update(stem(part, lang) for part in (parts or (word,)))
        return frozenset(out)

    def features(self, text: str) -> list[str]:
        """:func:`features` plus the parts of each compound as words of their own ("w:").
        Stems are not features: as features they cost typos of labels 0.5 points of acc@1
        (bench_linking.py) for nothing on synonyms; they count in :meth:`units` instead."""
        out = features(text)
        for word in normalise(text).split():
            parts = self.split_compound(word)
            if parts:
                out.extend("w:" + part for part in parts)
        return out

    def scores(self, text: str) -> np.ndarray:
        """Cosine similarity of ``text`` to every label (exact label text: 1.0), no boosts."""
        n = len(self._labels)
        out = np.zeros(n, dtype=np.float32)
        norm = normalise(text)
        if not norm or not n:
            return out
        all_feats = self.features(text)
        feats = [self._columns[f] for f in all_feats if f in self._columns]
        if feats:
            counts: dict[int, int] = defaultdict(int)
            for j in feats:
                counts[j] += 1
            cols = np.fromiter(counts.keys(), dtype=np.int64)
            weights = np.fromiter(counts.values(), dtype=np.float32) * self._idf[cols]
            # Normalise against all query features, including unknown ones, so that a query
            # that is mostly unknown words cannot score high on the few it shares.
            unknown = len(all_feats) - len(feats)
            denom = math.sqrt(
                float(np.dot(weights, weights)) + unknown * float(self._idf.max()) ** 2
            )
            out = np.asarray(self._matrix[:, cols] @ (weights / denom)).ravel()
            out = out.astype(np.float32, copy=False)
        for idx in self._exact.get(norm, ()):
            out[idx] = 1.0
        return out

    def detect_language(
        self, text: str, langs: Sequence[str], scores: np.ndarray | None = None
    ) -> str | None:
        """Which of ``langs`` the phrase is written in: the language whose labels match it
        best (a tie goes to the earlier language). None when no label of these languages
        matches at all. Members list languages in any order and write skills in several of
        them, so the first-listed language is not evidence of anything."""
        if scores is None:
            scores = self.scores(text)
        best, found = 0.0, None
        for lang in langs:
            rows = self._rows_by_lang.get(lang)
            if rows is None or not len(rows):
                continue
            top = float(scores[rows].max())
            if top > best + 1e-6:
                best, found = top, lang
        return found if best > MIN_LANGUAGE_EVIDENCE else None

    def link(
        self,
        text: str,
        lang: str | None = None,
        *,
        kind: str | None = None,
        limit: int = 5,
        langs: Sequence[str] = (),
    ) -> list[LinkSuggestion]:
        """Best concepts for ``text``, one suggestion per concept, best first.

        ``lang`` is the language the text is written in; with ``langs`` instead (the member's
        languages), it is detected among them (:meth:`detect_language`). Labels in that
        language get a small boost. ``kind`` filters before anything is cut, so a query whose
        best labels are skills still finds occupations. The order does not depend on
        ``limit``: ties are broken by the unclipped score, then exactness, own language,
        preferred label, and finally the IRI (never by label text).
        """
        return self.link_detect(text, lang, kind=kind, limit=limit, langs=langs)[1]

    def link_detect(
        self,
        text: str,
        lang: str | None = None,
        *,
        kind: str | None = None,
        limit: int = 5,
        langs: Sequence[str] = (),
    ) -> tuple[str | None, list[LinkSuggestion]]:
        """:meth:`link`, also answering the language used (given, or detected among ``langs``),
        with one similarity computation for both."""
        scores = self.scores(text)
        if not len(scores):
            return lang, []
        if lang is None and langs:
            lang = self.detect_language(text, langs, scores)
        if kind is not None:
            scores = scores * self._kind_mask(kind)
        own = self._own_mask(lang)
        boosted = scores * np.where(own, OWN_LANGUAGE_BOOST, 1.0).astype(np.float32)
        k = min(CANDIDATES, len(boosted))
        top = np.argpartition(-boosted, k - 1)[:k] if k < len(boosted) else np.arange(k)
        top = top[boosted[top] > 0.05]
        query_words = normalise(text).split()
        best: dict[str, tuple[tuple[float, ...], int, float]] = {}
        runner_up: dict[str, float] = {}
        for idx in top.tolist():
            label = self._labels[idx]
            raw = float(scores[idx])
            score = float(boosted[idx])
            if raw < 1.0:
                score *= _one_shared_word_penalty(
                    query_words, self._label_words[idx], partial(self._rest_grams, idx)
                )
            key = (-score, -raw, -float(own[idx]), -float(label.preferred))
            if label.iri not in best or key < best[label.iri][0]:
                if label.iri in best:
                    runner_up[label.iri] = max(runner_up.get(label.iri, 0.0), best[label.iri][2])
                best[label.iri] = (key, idx, score)
            else:
                runner_up[label.iri] = max(runner_up.get(label.iri, 0.0), score)
        best = self._reorder(best, runner_up, text, lang)
        if self._meaning is not None and not self._words_conclusive(best, text):
            best = self._meaning.rerank(best, text, lang, kind, scores)
        ranked = sorted(best.items(), key=lambda kv: (kv[1][0], kv[0]))[:limit]
        out = []
        for iri, (_key, idx, score) in ranked:
            label = self._labels[idx]
            exact = float(scores[idx]) >= 1.0
            shown = (1.0 if label.lang == lang or lang is None else 0.99) if exact else score
            out.append(
                LinkSuggestion(iri, min(shown, 1.0 if exact else 0.98), label.text, label.lang)
            )
        return lang, out

    def _words_conclusive(
        self, best: dict[str, tuple[tuple[float, ...], int, float]], text: str
    ) -> bool:
        """The words decide alone when a label scores at least :data:`SURE_SCORE`, when no
        label reaches :data:`MIN_LANGUAGE_EVIDENCE`, or when the best label is one typo away
        from the text (a typo is not a synonym: meaning would only
        blur it; bench_linking.py: typos 0.969 -> 0.98 with this rule)."""
        top = max((v[2] for v in best.values()), default=0.0)
        if top >= SURE_SCORE or top < MIN_LANGUAGE_EVIDENCE:
            # Sure; or no word of ours at all ("xyzzyq"): meaning would find the nearest
            # concepts to anything, so it is not asked.
            return True
        first = min(best.values(), key=lambda v: v[0])
        return one_edit_apart(normalise(text), normalise(self._labels[first[1]].text))

    def _reorder(
        self,
        best: dict[str, tuple[tuple[float, ...], int, float]],
        runner_up: dict[str, float],
        text: str,
        lang: str | None,
    ) -> dict[str, tuple[tuple[float, ...], int, float]]:
        """The candidates' sort keys adjusted for evidence beyond their best label (order
        only: the score shown stays the best label's)."""
        if SECOND_LABEL_WEIGHT:
            # A synonym the vocabulary lacks usually shares words with several labels of the
            # right concept and with one label of a wrong one: the second-best label of a
            # concept counts a little (order only; the shown score stays the best label's).
            best = {
                iri: ((k[0] - SECOND_LABEL_WEIGHT * runner_up.get(iri, 0.0), *k[1:]), i, sc)
                for iri, (k, i, sc) in best.items()
            }
        if COVERAGE_WEIGHT:
            # A query naming two things ("musikmarknadsföring") is about the concept whose
            # labels name both, not the one whose short label names one ("marknadsföring").
            q_units = self.units(text, lang) if lang else frozenset()
            if len(q_units) > 1:
                best = {
                    iri: ((k[0] - COVERAGE_WEIGHT * self._coverage(q_units, iri), *k[1:]), i, sc)
                    for iri, (k, i, sc) in best.items()
                }
        return best

    def _coverage(self, q_units: frozenset[str], iri: str) -> float:
        """Share of the query's units that some label of concept ``iri`` has too, each unit
        weighted by its rarity among concepts (IDF)."""
        have = self._concept_units.get(iri, frozenset())
        weights = {u: self._unit_idf.get(u, self._unit_idf_max) for u in q_units}
        total = sum(weights.values())
        return sum(w for u, w in weights.items() if u in have) / total if total else 0.0

    def _rest_grams(self, idx: int, word: str) -> set[str]:
        """3-grams of label ``idx``'s words other than ``word`` (memoised per label)."""
        key = (idx, word)
        found = self._rest_cache.get(key)
        if found is None:
            found = _trigrams(w for w in self._label_words[idx] if w != word)
            if len(self._rest_cache) < 200_000:
                self._rest_cache[key] = found
        return found

    def _own_mask(self, lang: str | None) -> np.ndarray:
        """Labels in ``lang`` (cached: comparing an object array per query is slow)."""
        mask = self._lang_masks.get(lang or "")
        if mask is None:
            mask = self._label_langs == lang if lang else np.zeros(len(self._labels), dtype=bool)
            self._lang_masks[lang or ""] = mask
        return mask

    def _kind_mask(self, kind: str) -> np.ndarray:
        mask = self._kind_masks.get(kind)
        if mask is None:
            kinds = self._kinds
            mask = np.fromiter(
                (kinds.get(label.iri) == kind for label in self._labels),
                dtype=bool,
                count=len(self._labels),
            ).astype(np.float32)
            self._kind_masks[kind] = mask
        return mask

    def link_one(
        self,
        text: str,
        lang: str | None = None,
        *,
        kind: str | None = None,
        langs: Sequence[str] = (),
    ) -> LinkSuggestion | None:
        """The concept to link automatically, or None when no candidate is sure enough
        (:func:`confidence` is not ``"link"``)."""
        found = self.link(text, lang, kind=kind, limit=2, langs=langs)
        return found[0] if found and confidence(text, found) == "link" else None

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
