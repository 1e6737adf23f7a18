"""Why a call of an evaluation set fails: how each phrase was understood.

    uv run python bench/eval_blind_explain.py [--set blind|default] [--all]

For every call whose top 10 misses a relevant member, or ranks a trap above any relevant
member (``--all``: every call), prints the call's phrases as the product understood them (status,
vocabulary label, score, detected language), the top 10 with scores and reason codes, and for
each relevant member left out (and each trap ranked in) their phrases the same way, so that
the linker/vocabulary engineer sees which phrase was not linked or was linked wrongly. Ends
with recall@10 per grade and the share of members' phrases linked, per written language.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_match_quality as bench  # noqa: E402

import matchmaking as mm  # noqa: E402
from profiles import match_data  # noqa: E402
from profiles.understanding import STATUSES, Phrase, understand  # noqa: E402
from profiles.vocabulary import Vocabulary  # noqa: E402


def show(p: Phrase) -> str:
    got = f"{p.label!r} ({p.score:.2f})" if p.iri else f"- ({p.score:.2f})"
    return f"{p.text!r} [{p.lang or '?'}] {p.status}: {got}"


def member_lines(m: object, vocab: Vocabulary) -> list[str]:
    langs = list(m.languages())  # type: ignore[attr-defined]
    out = [
        f"      occ   {show(understand(vocab, t, langs, 'occupation'))}"
        for t in m.phrases("occupations")
    ]  # type: ignore[attr-defined]
    out += [
        f"      skill {show(understand(vocab, t, langs, 'skill'))}" for t in m.phrases("skills")
    ]  # type: ignore[attr-defined]
    for iri in getattr(m, "picked_iris", ()):
        known = "in the vocabulary" if iri in vocab.kinds else "NOT in the vocabulary"
        out.append(f"      picked {iri.rsplit('/', 1)[-1][:8]} {known}")
    return out


def phrase_shares(es: object, vocab: Vocabulary) -> None:
    """Members' phrases linked / proposed / unlinked, by the language they are written in."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for m in es.MEMBERS:  # type: ignore[attr-defined]
        langs = list(m.languages())
        for kind, name in (("occupation", "occupations"), ("skill", "skills")):
            for t in m.phrases(name):
                counts[m.wrote][understand(vocab, t, langs, kind).status] += 1
    for lang, c in sorted(counts.items()):
        n = sum(c.values())
        shares = " ".join(f"{s} {c[s] / n:.2f}" for s in STATUSES)
        print(f"   members' phrases in {lang}: {n:3}  {shares}")


def explain(evalset: str, every: bool) -> None:
    vocab = Vocabulary.from_curated()
    es = bench.load_set(evalset)
    index = mm.MatchIndex(match_data.concept_graph(vocab), weights=mm.Weights(exposure=0.0))
    by_key = {m.key: m for m in es.MEMBERS}
    index.upsert_profiles(bench.product_profile(m, vocab) for m in es.MEMBERS)
    found: Counter[int] = Counter()
    for spec in es.CALLS:
        got = index.match_call(bench.product_call(spec, vocab), viewer_node=spec.node, limit=10)
        ranked = [s.key for s in got]
        missing = [k for k in spec.relevant if k not in ranked]
        found.update(g for k, g in spec.relevant.items() if k in ranked)
        # A trap above a fit: some relevant member ranks below it or is not in the top 10.
        last_fit = 99 if missing else max(ranked.index(k) for k in spec.relevant)
        traps_above = [k for k in ranked[:last_fit] if k in spec.traps]
        traps_in = [k for k in ranked if k in spec.traps]
        if not (every or missing or traps_above):
            continue
        print(f"== {spec.key} ({spec.lang}) nDCG@10 {bench.ndcg(ranked, spec.relevant):.2f}")
        langs = [spec.lang, *spec.languages]
        for t in spec.required:
            print(f"   required {show(understand(vocab, t, langs))}")
        for t in spec.optional:
            print(f"   optional {show(understand(vocab, t, langs))}")
        for s in got:
            mark = spec.relevant.get(s.key, spec.traps.get(s.key, ""))
            codes = ",".join(r.code for r in s.reasons)
            print(f"   {s.score:.3f} {s.key} {mark} [{codes}]")
        for k in missing:
            print(f"   MISSING {k} (grade {spec.relevant[k]}, wrote {by_key[k].wrote})")
            print("\n".join(member_lines(by_key[k], vocab)))
        for k in traps_in:
            print(f"   TRAP IN TOP 10 {k} ({spec.traps[k]})")
            print("\n".join(member_lines(by_key[k], vocab)))
    total = Counter(g for spec in es.CALLS for g in spec.relevant.values())
    print("== summary")
    for g in sorted(total, reverse=True):
        print(
            f"   recall@10 of grade-{g} members: {found[g]}/{total[g]} = {found[g] / total[g]:.3f}"
        )
    phrase_shares(es, vocab)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", dest="evalset", choices=sorted(bench.SETS), default="blind")
    ap.add_argument("--all", action="store_true")
    args = ap.parse_args()
    explain(args.evalset, args.all)


if __name__ == "__main__":
    main()
