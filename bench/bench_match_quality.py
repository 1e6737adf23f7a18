"""Match quality on a hand-labelled multilingual evaluation set.

    uv run python bench/bench_match_quality.py [--pipeline product|concepts-only] [--verbose]
        [--set default|blind ...]

``--set default`` (the default) is bench/eval_set.py; ``--set blind`` is bench/eval_blind.py, a
set written without reading the curated vocabulary or eval_set.py (so not tuned to them). Give
``--set`` twice to compare both in one run.

Members and calls go through the same steps as an import: each phrase is understood by the
node's vocabulary (profiles.understanding), the rows become matchmaking Profiles/Calls
(profiles.match_data), one MatchIndex ranks members for every call as seen from the call's
node. ``concepts-only`` is the behaviour before issue 11 for comparison: each phrase linked in
the member's first-listed language, kept only when linked, no phrase channel.

Prints, over the calls: nDCG@10 (graded), success@10 (a relevant member in the top 10), trap
rate (labelled traps in a top 10 / all traps), cross-language recall (relevant members who
wrote in another language than the call, found in the top 10), forbidden suggestions (author or
a coop-only member of another node: must be 0), and the share of phrases linked to a concept.
"""

from __future__ import annotations

import argparse
import importlib
import math
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

sys.path.insert(0, str(Path(__file__).resolve().parent))

from eval_set import CallSpec, Member  # noqa: E402

import matchmaking as mm  # noqa: E402
from profiles import match_data  # noqa: E402
from profiles.understanding import LINKED, summarise, understand  # noqa: E402
from profiles.vocabulary import Vocabulary  # noqa: E402

# --set name -> module with MEMBERS, CALLS, check(), forbidden(spec, member).
SETS = {"default": "eval_set", "blind": "eval_blind"}

Pipeline = tuple[
    Callable[[Member, Vocabulary], mm.Profile], Callable[[CallSpec, Vocabulary], mm.Call]
]


def ndcg(ranked: list[str], gains: dict[str, int], k: int = 10) -> float:
    dcg = sum(gains.get(key, 0) / math.log2(i + 2) for i, key in enumerate(ranked[:k]))
    ideal = sorted(gains.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


# ---------------------------------------------------------------- the old way (before issue 11)
_linked: list[bool] = []


def _old_link(vocab: Vocabulary, text: str, lang: str | None, kind: str | None) -> str | None:
    found = vocab.linker.link_one(text, lang, kind=kind)
    _linked.append(found is not None)
    return found.iri if found else None


def _picked(m: Member) -> tuple[frozenset[str], frozenset[str]]:
    """(skills, occupations) the member picked as IRIs (eval_blind's ``picked_iris``): held as
    given, like a profile's ESCO fields."""
    iris = getattr(m, "picked_iris", ())
    occ = frozenset(i for i in iris if "/occupation/" in i or "/isco/" in i)
    return frozenset(iris) - occ, occ


def old_profile(m: Member, vocab: Vocabulary) -> mm.Profile:
    first = next(iter(m.languages()))
    occ = {i for t in m.phrases("occupations") if (i := _old_link(vocab, t, first, "occupation"))}
    skills = {i for t in m.phrases("skills") if (i := _old_link(vocab, t, first, "skill"))}
    p_skills, p_occ = _picked(m)
    return _profile(m, frozenset(skills) | p_skills, frozenset(occ) | p_occ)


def _profile(m: Member, skills: frozenset[str], occ: frozenset[str], **kw: object) -> mm.Profile:
    avail = (mm.Availability(*m.avail),) if m.avail else ()
    return mm.Profile(
        key=m.key,
        username=m.key,
        node=m.node,
        country=m.country,
        city="",
        remote=False,
        visibility=m.visibility,
        skills=skills,
        occupations=occ,
        languages=m.languages(),
        availability=avail,
        **kw,  # type: ignore[arg-type]
    )


def old_call(c: CallSpec, vocab: Vocabulary) -> mm.Call:
    req = {i for t in c.required if (i := _old_link(vocab, t, c.lang, None))}
    opt = {i for t in c.optional if (i := _old_link(vocab, t, c.lang, None))}
    return _call(c, frozenset(req), frozenset(opt))


def _call(c: CallSpec, req: frozenset[str], opt: frozenset[str], **kw: object) -> mm.Call:
    return mm.Call(
        key=c.key,
        node=c.node,
        author_key=c.author,
        country=c.country,
        city="",
        remote=False,
        visibility="partners",
        required=req,
        optional=opt,
        languages=frozenset(c.languages),
        starts=c.dates[0] if c.dates else None,
        ends=c.dates[1] if c.dates else None,
        **kw,  # type: ignore[arg-type]
    )


# ---------------------------------------------------------------- the product (issue 11)
def _pairs(text: str) -> frozenset[tuple[str, str]]:
    return frozenset(tuple(p.split(">", 1)) for p in text.split())  # type: ignore[misc]


def product_profile(m: Member, vocab: Vocabulary) -> mm.Profile:
    langs = list(m.languages())
    phrases = [understand(vocab, t, langs, "occupation") for t in m.phrases("occupations")]
    phrases += [understand(vocab, t, langs, "skill") for t in m.phrases("skills")]
    _linked.extend(p.status == LINKED for p in phrases)
    u = summarise(vocab, phrases)
    p_skills, p_occ = _picked(m)
    return _profile(
        m,
        u.skills | p_skills,
        u.occupations | p_occ,
        text_concepts=u.weak,
        phrases=u.texts,
        pairs=_pairs(m.pairs),
    )


def product_call(c: CallSpec, vocab: Vocabulary) -> mm.Call:
    langs = [c.lang, *c.languages]
    req = [understand(vocab, t, langs) for t in c.required]
    opt = [understand(vocab, t, langs) for t in c.optional]
    _linked.extend(p.status == LINKED for p in req + opt)
    ur, uo = summarise(vocab, req), summarise(vocab, opt)
    return _call(
        c,
        ur.skills | ur.occupations,
        uo.skills | uo.occupations,
        text_concepts=ur.weak | uo.weak,
        required_phrases=ur.not_understood,
        optional_phrases=uo.not_understood,
        all_languages=c.all_languages,
        pairs=_pairs(" ".join(c.pairs)),
    )


PIPELINES: dict[str, Pipeline] = {
    "concepts-only": (old_profile, old_call),
    "product": (product_profile, product_call),
}


def load_set(name: str = "default") -> ModuleType:
    """The evaluation set module of ``--set name`` (see :data:`SETS`)."""
    return importlib.import_module(SETS[name])


def run(
    pipeline: str, vocab: Vocabulary, *, verbose: bool = False, evalset: str = "default"
) -> dict[str, float]:
    es = load_set(evalset)
    es.check()
    _linked.clear()
    to_profile, to_call = PIPELINES[pipeline]
    index = mm.MatchIndex(match_data.concept_graph(vocab), weights=mm.Weights(exposure=0.0))
    by_key = {m.key: m for m in es.MEMBERS}
    index.upsert_profiles(to_profile(m, vocab) for m in es.MEMBERS)
    n_ndcg = success = traps = traps_hit = cross = cross_hit = bad = 0.0
    for spec in es.CALLS:
        call = to_call(spec, vocab)
        ranked = [s.key for s in index.match_call(call, viewer_node=spec.node, limit=10)]
        n_ndcg += ndcg(ranked, spec.relevant)
        success += any(k in spec.relevant for k in ranked)
        traps += len(spec.traps)
        traps_hit += sum(1 for k in spec.traps if k in ranked)
        bad += sum(1 for k in ranked if es.forbidden(spec, by_key[k]))
        for k in spec.relevant:
            if by_key[k].wrote != spec.lang:
                cross += 1
                cross_hit += k in ranked
        if verbose:
            marks = [
                k + ("*" if k in spec.relevant else "!" if k in spec.traps else "") for k in ranked
            ]
            print(f"  {spec.key:12} {ndcg(ranked, spec.relevant):.2f} {' '.join(marks)}")
    n = len(es.CALLS)
    return {
        "nDCG@10": n_ndcg / n,
        "success@10": success / n,
        "trap_rate": traps_hit / traps if traps else 0.0,
        "cross_language_recall": cross_hit / cross if cross else 0.0,
        "forbidden": bad,
        "phrases_linked": sum(_linked) / len(_linked) if _linked else 0.0,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pipeline", choices=sorted(PIPELINES), action="append")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--set", dest="sets", choices=sorted(SETS), action="append")
    args = ap.parse_args()
    vocab = Vocabulary.from_curated()
    for evalset in args.sets or ["default"]:
        es = load_set(evalset)
        print(f"set {evalset}: {len(es.MEMBERS)} members, {len(es.CALLS)} calls, 7 languages")
        for name in args.pipeline or sorted(PIPELINES):
            print(name)
            for k, v in run(name, vocab, verbose=args.verbose, evalset=evalset).items():
                print(f"  {k:24} {v:.3f}" if k != "forbidden" else f"  {k:24} {v:.0f}")


if __name__ == "__main__":
    main()
