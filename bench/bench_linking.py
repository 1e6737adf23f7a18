"""Linking accuracy per language on a held-aside part of the curated vocabulary.

    uv run python bench/bench_linking.py [--seed 1] [--share 0.2]

For every concept and language a seeded ~20% of the alternative labels is held aside and the
Linker is built without them (and without any same-text alternative label of that concept in
another language, so a sibling language cannot hand the answer back). Queries, each linked in
its own language with the concept's kind (as the product's skill/occupation fields do):
- ``alt``: each held-aside alternative label;
- ``noisy``: each preferred label with one change (typo: deletion, transposition, substitution,
  doubled letter; case/accents dropped; hyphen/space/compound change; see freetext.py).
Reported: acc@1, acc@5, MRR@10 per language, per kind and per change; the cross-lingual case
(the same queries against a linker that has only English labels for the queried concepts);
and auto-linking at AUTO_LINK_MIN_SCORE: coverage (link_one returns a concept), precision (it
is the right one), and the false-link rate for concepts missing from the vocabulary.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from freetext import NOISE_KINDS, noisy  # noqa: E402

from profiles.linking import AUTO_LINK_MIN_SCORE, LANGUAGES, Label, Linker, normalise  # noqa: E402
from profiles.text_model import LabelVectors, shipped_vectors  # noqa: E402
from profiles.vocabulary import load_curated_file  # noqa: E402

# The shipped label vectors (text similarity, profiles.text_model), or None with --words-only.
VECTORS: LabelVectors | None = None

Concept = dict[str, Any]


@dataclass(frozen=True)
class Query:
    text: str
    lang: str
    iri: str
    kind: str  # concept kind: skill / occupation
    variant: str  # "alt" or one of NOISE_KINDS


@dataclass
class Split:
    labels: list[Label]  # what the linker is built from
    held: list[Query]  # held-aside alternative labels
    kinds: dict[str, str]


def load_concepts() -> list[Concept]:
    return list(load_curated_file()["concepts"])


def all_labels(concepts: Iterable[Concept], langs: Sequence[str] = LANGUAGES) -> list[Label]:
    out: list[Label] = []
    for c in concepts:
        for lang, names in c["labels"].items():
            if lang in langs:
                out.append(Label(c["iri"], lang, names["preferred"], True))
                out.extend(Label(c["iri"], lang, a) for a in names.get("alt", []))
    return out


def hold_aside(concepts: Sequence[Concept], seed: int, share: float = 0.2) -> Split:
    """Each alternative label is held aside with probability ``share`` (seeded)."""
    rng = random.Random(f"hold-{seed}")
    held: list[Query] = []
    removed: dict[str, set[str]] = defaultdict(set)  # iri -> normalised held-aside texts
    for c in concepts:
        for lang in LANGUAGES:
            for alt in c["labels"].get(lang, {}).get("alt", []):
                if rng.random() < share:
                    held.append(Query(alt, lang, c["iri"], c["kind"], "alt"))
                    removed[c["iri"]].add(normalise(alt))
    labels = [
        lab
        for lab in all_labels(concepts)
        if lab.preferred or normalise(lab.text) not in removed[lab.iri]
    ]
    return Split(labels, held, {c["iri"]: c["kind"] for c in concepts})


def noisy_queries(concepts: Iterable[Concept], seed: int) -> list[Query]:
    """One variant of each kind of each preferred label in each language (unchanged ones,
    e.g. a spacing change of a short single word, are skipped)."""
    rng = random.Random(f"noisy-{seed}")
    out: list[Query] = []
    for c in concepts:
        for lang in LANGUAGES:
            names = c["labels"].get(lang)
            if not names:
                continue
            for kind in NOISE_KINDS:
                text = noisy(names["preferred"], kind, rng)
                if text != names["preferred"] or kind == "case_accents":
                    out.append(Query(text, lang, c["iri"], c["kind"], kind))
    return out


def rank_of(linker: Linker, q: Query, limit: int = 10) -> int | None:
    found = linker.link(q.text, q.lang, kind=q.kind, limit=limit)
    return next((i + 1 for i, s in enumerate(found) if s.iri == q.iri), None)


@dataclass
class Stats:
    n: int = 0
    at1: int = 0
    at5: int = 0
    rr: float = 0.0

    def add(self, rank: int | None) -> None:
        self.n += 1
        if rank is not None:
            self.at1 += rank == 1
            self.at5 += rank <= 5
            self.rr += 1.0 / rank

    def merge(self, other: Stats) -> None:
        self.n, self.at1, self.at5 = self.n + other.n, self.at1 + other.at1, self.at5 + other.at5
        self.rr += other.rr

    def row(self) -> tuple[float, float, float]:
        n = max(self.n, 1)
        return self.at1 / n, self.at5 / n, self.rr / n


def accuracy(linker: Linker, queries: Iterable[Query], key: Any) -> dict[Any, Stats]:
    """Stats grouped by ``key(query)`` (a tuple or a string); "all" holds every query."""
    out: dict[Any, Stats] = defaultdict(Stats)
    for q in queries:
        r = rank_of(linker, q)
        out[key(q)].add(r)
        out["all"].add(r)
    return out


def english_only_linkers(
    concepts: Sequence[Concept], split: Split, seed: int, folds: int = 5
) -> list[tuple[set[str], Linker]]:
    """Concepts split into ``folds`` seeded folds; for each fold a linker where that fold's
    concepts keep only their English labels (everything else as in ``split``)."""
    iris = sorted(c["iri"] for c in concepts)
    random.Random(f"folds-{seed}").shuffle(iris)
    folded = [set(iris[k::folds]) for k in range(folds)]
    return [(fold, english_only_linker(split, fold)) for fold in folded]


def english_only_linker(split: Split, fold: set[str]) -> Linker:
    """``split``'s linker, except that the concepts in ``fold`` keep only English labels."""
    labels = [lab for lab in split.labels if lab.iri not in fold or lab.lang == "en"]
    return Linker(labels, split.kinds, VECTORS)


def crosslingual(
    own: Linker, en_only: list[tuple[set[str], Linker]], queries: Iterable[Query]
) -> dict[str, tuple[Stats, Stats]]:
    """Per query language (not English): (own-language linker, English-only linker) stats on
    the same queries."""
    out: dict[str, tuple[Stats, Stats]] = defaultdict(lambda: (Stats(), Stats()))
    for q in queries:
        if q.lang == "en":
            continue
        for fold, linker in en_only:
            if q.iri in fold:
                a, b = out[q.lang]
                a.add(rank_of(own, q))
                b.add(rank_of(linker, q))
                break
    return out


def autolink(linker: Linker, queries: Iterable[Query]) -> dict[str, tuple[int, int, int]]:
    """Per language: (queries, link_one returned a concept, it was the right one)."""
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for q in queries:
        got = linker.link_one(q.text, q.lang, kind=q.kind)
        for key in (q.lang, "all"):
            row = out[key]
            row[0] += 1
            row[1] += got is not None
            row[2] += got is not None and got.iri == q.iri
    return {k: (v[0], v[1], v[2]) for k, v in out.items()}


def unknown_concepts(
    concepts: Sequence[Concept], seed: int, share: float = 0.1
) -> tuple[Linker, list[Query]]:
    """A linker without a seeded ``share`` of the concepts, and those concepts' preferred
    labels as queries: any auto-link of them is a false link."""
    rng = random.Random(f"unknown-{seed}")
    gone = {c["iri"] for c in concepts if rng.random() < share}
    kept = [c for c in concepts if c["iri"] not in gone]
    queries = [
        Query(names["preferred"], lang, c["iri"], c["kind"], "unknown")
        for c in concepts
        if c["iri"] in gone
        for lang, names in c["labels"].items()
    ]
    kinds = {c["iri"]: c["kind"] for c in concepts}
    return Linker(all_labels(kept), kinds, VECTORS), queries


def _fmt(stats: Stats) -> str:
    a1, a5, m = stats.row()
    return f"{stats.n:5d} {a1:6.3f} {a5:6.3f} {m:6.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--share", type=float, default=0.2, help="share of alt labels held aside")
    ap.add_argument("--words-only", action="store_true", help="without text similarity")
    args = ap.parse_args()
    global VECTORS
    VECTORS = None if args.words_only else shipped_vectors()
    t0 = time.perf_counter()
    concepts = load_concepts()
    split = hold_aside(concepts, args.seed, args.share)
    linker = Linker(split.labels, split.kinds, VECTORS)
    noisy_q = noisy_queries(concepts, args.seed)
    queries = split.held + noisy_q
    print(
        f"curated vocabulary: {len(concepts)} concepts; linker built on {len(split.labels)} "
        f"labels, {len(split.held)} alt labels held aside (seed {args.seed}, share {args.share}); "
        f"{len(noisy_q)} noisy variants of preferred labels; text similarity: "
        f"{'off' if VECTORS is None else 'on'}"
    )

    by_lang = accuracy(linker, queries, lambda q: (q.variant == "alt", q.lang))
    langs = list(LANGUAGES)
    print("\n1. own language, per language            alt held aside      |  noisy preferred")
    print(
        f"{'lang':5} {'n':>5} {'acc@1':>6} {'acc@5':>6} {'MRR':>6} | "
        f"{'n':>5} {'acc@1':>6} {'acc@5':>6} {'MRR':>6}"
    )
    for lang in langs:
        print(f"{lang:5} {_fmt(by_lang[(True, lang)])} | {_fmt(by_lang[(False, lang)])}")
    tot_alt, tot_noisy = Stats(), Stats()
    for (is_alt, _), s in ((k, v) for k, v in by_lang.items() if k != "all"):
        tgt = tot_alt if is_alt else tot_noisy
        tgt.n, tgt.at1, tgt.at5, tgt.rr = (
            tgt.n + s.n,
            tgt.at1 + s.at1,
            tgt.at5 + s.at5,
            tgt.rr + s.rr,
        )
    print(f"{'all':5} {_fmt(tot_alt)} | {_fmt(tot_noisy)}")

    by_kind = accuracy(linker, queries, lambda q: (q.kind, q.variant == "alt"))
    print("\n2. per concept kind")
    print(f"{'kind':11} {'queries':8} {'n':>5} {'acc@1':>6} {'acc@5':>6} {'MRR':>6}")
    for kind in ("skill", "occupation"):
        for is_alt, name in ((True, "alt"), (False, "noisy")):
            print(f"{kind:11} {name:8} {_fmt(by_kind[(kind, is_alt)])}")

    by_variant = accuracy(linker, noisy_q, lambda q: q.variant)
    print("\n3. per change of the preferred label (all languages)")
    print(f"{'change':14} {'n':>5} {'acc@1':>6} {'acc@5':>6} {'MRR':>6}")
    for kind in NOISE_KINDS:
        print(f"{kind:14} {_fmt(by_variant[kind])}")

    en_only = english_only_linkers(concepts, split, args.seed)
    cross = crosslingual(linker, en_only, queries)
    print("\n4. cross-lingual: same non-English queries (alt + noisy), own-language labels vs")
    print("   a linker with only English labels for the queried concept")
    print(
        f"{'lang':5} {'n':>5} {'own@1':>6} {'own@5':>6} {'ownMRR':>6} | "
        f"{'en@1':>6} {'en@5':>6} {'enMRR':>6}"
    )
    for lang in langs[1:]:
        a, b = cross[lang]
        print(f"{lang:5} {_fmt(a)} | {_fmt(b)[6:]}")

    auto_alt = autolink(linker, split.held)
    auto_noisy = autolink(linker, noisy_q)
    unk_linker, unk_q = unknown_concepts(concepts, args.seed)
    false = autolink(unk_linker, unk_q)
    print(f"\n5. auto-link (link_one, AUTO_LINK_MIN_SCORE = {AUTO_LINK_MIN_SCORE}): coverage = it")
    print("   returns a concept, precision = the right one; false = concepts missing from the")
    print("   vocabulary (preferred labels of a held-out 10%) that link_one links anyway")
    print(f"{'':5} {'alt held aside':>26} | {'noisy preferred':>26} | {'unknown concepts':>16}")
    print(
        f"{'lang':5} {'n':>5} {'coverage':>9} {'precision':>10} | "
        f"{'n':>5} {'coverage':>9} {'precision':>10} | {'n':>9} {'false':>6}"
    )
    for lang in [*langs, "all"]:
        cells = []
        for auto in (auto_alt, auto_noisy):
            n, linked, right = auto[lang]
            cells.append(f"{n:5d} {linked / n:9.3f} {right / max(linked, 1):10.3f}")
        un, ul, _ = false.get(lang, (0, 0, 0))
        print(f"{lang:5} {cells[0]} | {cells[1]} | {un:9d} {ul / max(un, 1):6.3f}")
    print(f"\n({time.perf_counter() - t0:.1f}s)")


if __name__ == "__main__":
    main()
