"""Matchmaking benchmark: MatchIndex vs a numpy brute-force baseline, in the same run.

    uv run python bench/bench_match.py [--profiles 100000] [--calls 300] [--seed 0]
    uv run python bench/bench_match.py --free-text --profiles 5000 --calls 300

Prints build time, memory, match_call p50/p99 and quality (nDCG@10, MRR, success@10,
cross-border share, exposure Gini) per language of the call's author, with ratios.

``--free-text`` generates over the curated vocabulary (labels in 7 languages) and then also
sends every concept of every member and call through text in the member's/call author's
language (bench/freetext.py: labels, synonyms, typos, lower case, fillers) and back through
``profiles.linking.Linker.link_one``; the quality table then shows free-text next to clean
IRIs, against the same ground truth (the true concepts).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import sys
import time
import tracemalloc
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from evaluate import DenseBaseline, evaluate  # noqa: E402
from gen_data import VOCABULARY, Dataset, generate, to_profile  # noqa: E402

from matchmaking import Call, MatchIndex, Profile  # noqa: E402


def rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs) * 1000, q))


def with_phrases(
    profiles: list[Profile], calls: list[Call], seed: int
) -> tuple[list[Profile], list[Call]]:
    """Phrases drawn from the curated vocabulary's labels in all seven languages: real words,
    so that the 3-gram postings have the sizes real phrases give."""
    rng = random.Random(seed)
    data = json.loads(VOCABULARY.read_text(encoding="utf-8"))
    pool = sorted(
        {
            t
            for c in data["concepts"]
            for e in c["labels"].values()
            for t in [e["preferred"], *e["alt"]]
        }
    )
    profiles = [replace(p, phrases=tuple(rng.sample(pool, 3))) for p in profiles]
    calls = [replace(c, required_phrases=tuple(rng.sample(pool, 2))) for c in calls]
    return profiles, calls


def main() -> None:
    ap = argparse.ArgumentParser(description="MatchIndex benchmark")
    ap.add_argument("--profiles", type=int, default=100_000)
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-baseline", action="store_true", help="skip the dense baseline")
    ap.add_argument(
        "--free-text", action="store_true", help="also run with concepts typed as free text"
    )
    ap.add_argument(
        "--phrases",
        action="store_true",
        help="give every profile 3 and every call 2 unlinked phrases (the phrase channel)",
    )
    args = ap.parse_args()

    t = time.perf_counter()
    universe = "curated" if args.free_text else "esco"
    ds = generate(args.profiles, args.calls, seed=args.seed, universe=universe)
    profiles = [to_profile(m) for m in ds.members]
    if args.phrases:
        profiles, ds.calls = with_phrases(profiles, ds.calls, args.seed)
    graph = ds.graph()
    print(
        f"generated {len(profiles)} profiles, {len(ds.calls)} calls in "
        f"{time.perf_counter() - t:.1f}s (seed {args.seed})"
    )
    country = {p.key: p.country for p in profiles}

    # --- build
    gc.collect()
    rss0 = rss_mb()
    tracemalloc.start()
    t = time.perf_counter()
    index = MatchIndex(graph)
    index.upsert_profiles(profiles)
    build = time.perf_counter() - t
    _, peak = tracemalloc.get_traced_memory()
    current, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    idx_mem = current / 2**20
    idx_rss = rss_mb() - rss0
    base_build = base_mem = float("nan")
    baseline = None
    if not args.no_baseline:
        gc.collect()
        t = time.perf_counter()
        baseline = DenseBaseline(profiles)
        base_build = time.perf_counter() - t
        base_mem = baseline.nbytes / 2**20

    # --- queries (exposure control makes the index stateful: same order every run)
    lat_i: list[float] = []
    lat_b: list[float] = []
    ri: dict[str, list[str]] = {}
    rb: dict[str, list[str]] = {}
    for c in ds.calls:
        t = time.perf_counter()
        ri[c.key] = [s.key for s in index.match_call(c, viewer_node=c.node, limit=10)]
        lat_i.append(time.perf_counter() - t)
        if baseline is not None:
            t = time.perf_counter()
            rb[c.key] = baseline.rank(c, viewer_node=c.node, limit=10)
            lat_b.append(time.perf_counter() - t)

    # --- incremental updates
    rng = random.Random(args.seed)
    sample = rng.sample(profiles, min(1000, len(profiles)))
    t = time.perf_counter()
    for p in sample:
        index.upsert_profile(p)
    upsert = (time.perf_counter() - t) / len(sample)
    t = time.perf_counter()
    for p in sample[:100]:
        index.remove_profile(p.key)
    remove = (time.perf_counter() - t) / 100

    # people / calls for a member
    for c in ds.calls:
        index.upsert_call(c)
    lat_p, lat_c = [], []
    for p in sample[100:200]:
        t = time.perf_counter()
        index.people_for_member(p, viewer_node=p.node, limit=10)
        lat_p.append(time.perf_counter() - t)
        t = time.perf_counter()
        index.calls_for_member(p, viewer_node=p.node, limit=10)
        lat_c.append(time.perf_counter() - t)

    def ratio(a: float, b: float) -> str:
        return f"{a / b:7.2f}x" if b == b and b else "     -"

    print()
    print(f"{'figure':34} {'index':>10} {'baseline':>10} {'idx/base':>9}")
    rows = [
        ("build (s)", build, base_build),
        ("memory (MiB, tracemalloc/nbytes)", idx_mem, base_mem),
        ("memory RSS delta (MiB)", idx_rss, float("nan")),
        ("match_call p50 (ms)", pct(lat_i, 50), pct(lat_b, 50) if lat_b else float("nan")),
        ("match_call p99 (ms)", pct(lat_i, 99), pct(lat_b, 99) if lat_b else float("nan")),
    ]
    for name, a, b in rows:
        print(f"{name:34} {a:10.2f} {b:10.2f} {ratio(a, b):>9}")
    print(f"{'tracemalloc peak during build':34} {peak / 2**20:10.2f}")
    print(f"{'upsert_profile mean (ms)':34} {upsert * 1000:10.3f}")
    print(f"{'remove_profile mean (ms)':34} {remove * 1000:10.3f}")
    print(f"{'people_for_member p50/p99 (ms)':34} {pct(lat_p, 50):10.2f} {pct(lat_p, 99):10.2f}")
    print(f"{'calls_for_member p50/p99 (ms)':34} {pct(lat_c, 50):10.2f} {pct(lat_c, 99):10.2f}")

    qi = evaluate(ds, ds.calls, ri, country)
    qb = evaluate(ds, ds.calls, rb, country) if rb else {}
    print()
    print("quality (ground truth: feasible members holding >= 60% of required concepts)")
    metrics = ("ndcg@10", "mrr", "success@10", "cross_border", "gini")
    head = " ".join(f"{m:>13}" for m in metrics)
    print(f"{'lang':5} {'n':>4} {'ranker':8} {head}")
    for lang in ["all", *sorted(k for k in qi if k != "all")]:
        for name, q in (("index", qi), ("baseline", qb)):
            if lang in q:
                vals = " ".join(f"{q[lang][m]:13.3f}" for m in metrics)
                print(f"{lang:5} {int(q[lang]['n']):4d} {name:8} {vals}")
    if args.free_text:
        free_text_quality(ds, args.seed, qi, qb, country, no_baseline=args.no_baseline)


def free_text_quality(
    ds: Dataset,
    seed: int,
    qi: dict[str, dict[str, float]],
    qb: dict[str, dict[str, float]],
    country: dict[str, str],
    *,
    no_baseline: bool = False,
) -> None:
    """Re-run the quality part with every concept typed as text and linked back."""
    from dataclasses import replace

    from freetext import FreeText, Relinker
    from gen_data import load_curated

    from profiles.linking import Label, Linker

    concepts, _ = load_curated()
    kinds = {c["iri"]: c["kind"] for c in concepts}
    labels = [
        Label(c["iri"], lang, text, text == names["preferred"])
        for c in concepts
        for lang, names in c["labels"].items()
        for text in (names["preferred"], *names.get("alt", []))
    ]
    relink = Relinker(FreeText(concepts, seed), Linker(labels, kinds), kinds)
    t = time.perf_counter()
    profiles = [
        replace(
            to_profile(m),
            skills=relink.many(m.declared, m.native),
            occupations=relink.many(m.occupations, m.native),
            text_concepts=relink.many(m.typed, m.native),
        )
        for m in ds.members
    ]
    calls = [
        replace(
            c,
            required=relink.many(c.required, ds.call_lang[c.key]),
            optional=relink.many(c.optional, ds.call_lang[c.key]),
            text_concepts=relink.many(c.text_concepts, ds.call_lang[c.key]),
        )
        for c in ds.calls
    ]
    print(
        f"\nfree text: {len(profiles)} profiles, {len(calls)} calls typed and linked back "
        f"in {time.perf_counter() - t:.1f}s"
    )
    print(f"{'lang':5} {'texts':>7} {'linked right':>13} {'other concept':>14} {'not linked':>11}")
    for lang in [*sorted(k for k in relink.outcomes if k != "all"), "all"]:
        n, right, wrong, none = relink.outcomes[lang]
        print(f"{lang:5} {n:7d} {right / n:13.3f} {wrong / n:14.3f} {none / n:11.3f}")
    index = MatchIndex(ds.graph())
    index.upsert_profiles(profiles)
    ri = {c.key: [s.key for s in index.match_call(c, viewer_node=c.node, limit=10)] for c in calls}
    # Ground truth comes from the original calls and the members' true concepts.
    fi = evaluate(ds, ds.calls, ri, country)
    fb: dict[str, dict[str, float]] = {}
    if not no_baseline:
        base = DenseBaseline(profiles)
        rb = {c.key: base.rank(c, viewer_node=c.node, limit=10) for c in calls}
        fb = evaluate(ds, ds.calls, rb, country)
    print("\nquality, clean IRIs vs free text (same calls, same ground truth)")
    metrics = ("ndcg@10", "mrr", "success@10", "cross_border", "gini")
    head = " ".join(f"{m:>13}" for m in metrics)
    print(f"{'lang':5} {'n':>4} {'ranker':8} {'input':9} {head}")
    for lang in ["all", *sorted(k for k in qi if k != "all")]:
        for name, clean, free in (("index", qi, fi), ("baseline", qb, fb)):
            for mode, q in (("clean", clean), ("free-text", free)):
                if lang in q:
                    vals = " ".join(f"{q[lang][m]:13.3f}" for m in metrics)
                    print(f"{lang:5} {int(q[lang]['n']):4d} {name:8} {mode:9} {vals}")


if __name__ == "__main__":
    main()
