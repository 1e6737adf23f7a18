"""Scale benchmark: MatchIndex at 100k / 300k / 1M profiles, numpy brute force beside it, and
an approximate (IVF) candidate channel with its recall against the exact index.

    uv run python bench/bench_scale.py [--sizes 100000,300000,1000000] [--calls 150] [--seed 0]
    uv run python bench/bench_scale.py --sizes 20000,50000 --calls 50   # quick (run_all --quick)

One seeded population of max(sizes) profiles (bench/gen_data.py); each size is its prefix, so
the smaller populations are exactly ``gen_data.generate(size, ...)``'s. The calls are the same
at every size: ``generate(min(sizes), calls, seed)``'s, authored by members present at all sizes.

Per size: build time and memory (arrays' nbytes, RSS delta) of the index and of the brute-force
baseline (bench/evaluate.py ``DenseBaseline``: dense float32 profile x concept matrix), then
match_call p50/p99 of the exact index and of the baseline on the same calls, interleaved, with
ratios. Above ``--baseline-cap`` profiles the baseline answers only ``--baseline-calls`` calls
(one dense mat-vec over the whole matrix per call; at 1M the matrix is ~6.5 GB).

Then the approximate index (matchmaking/ivf.py, IVFMatchIndex: k-means clusters, ``nprobe`` probed)
for each ``--nprobe``: p50/p99 and recall@10 / recall@50 of its final ranked list against the
exact index's list for the same call (mean over calls whose exact list is not empty).

Exposure control is off (``Weights(exposure=0)``): it makes rankings depend on query history,
which would turn recall into a measure of ordering. ``limit`` is 50 for every ranked list.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from evaluate import DenseBaseline  # noqa: E402
from gen_data import generate, to_profile  # noqa: E402

from matchmaking import Call, Weights  # noqa: E402
from matchmaking.ivf import IVFMatchIndex  # noqa: E402

LIMIT = 10  # timed lists, as bench_match (the figures the README already reports)
DEPTH = 50  # untimed lists for recall@50
EXACT, BRUTE = 0, -1  # variant ids beside the IVF ones (nprobe >= 1)
TARGET_P50, TARGET_P99 = 20.0, 50.0  # ms, the targets for match_call


def rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def pct(xs: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs) * 1000, q)) if xs else float("nan")


def ratio(a: float, b: float) -> str:
    return f"{a / b:6.2f}x" if b == b and b else "     -"


def suggest(index: IVFMatchIndex, c: Call, limit: int = LIMIT) -> list[str]:
    return [s.key for s in index.match_call(c, viewer_node=c.node, limit=limit)]


def recall(approx: dict[str, list[str]], exact: dict[str, list[str]], k: int) -> float:
    vals = [
        len(set(approx[key][:k]) & set(ex[:k])) / len(ex[:k]) for key, ex in exact.items() if ex
    ]
    return float(np.mean(vals)) if vals else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description="MatchIndex at scale, exact vs approximate")
    ap.add_argument("--sizes", default="100000,300000,1000000")
    ap.add_argument("--calls", type=int, default=150)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--nprobe", default="4,8,16,32", help="probed clusters, comma-separated")
    ap.add_argument("--nlist", type=int, default=0, help="clusters (default ~sqrt(profiles))")
    ap.add_argument("--no-baseline", action="store_true", help="skip numpy brute force")
    ap.add_argument("--baseline-cap", type=int, default=300_000)
    ap.add_argument("--baseline-calls", type=int, default=40)
    args = ap.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    nprobes = [int(s) for s in args.nprobe.split(",")]

    t = time.perf_counter()
    calls = generate(sizes[0], args.calls, seed=args.seed).calls
    ds = generate(sizes[-1], 0, seed=args.seed)
    graph = ds.graph()
    profiles_all = [to_profile(m) for m in ds.members]
    del ds
    print(
        f"generated {len(profiles_all)} profiles, {len(calls)} calls in "
        f"{time.perf_counter() - t:.0f}s (seed {args.seed}); exposure off",
        flush=True,
    )
    weights = Weights(exposure=0.0)
    summary = []
    for n in sizes:
        profiles = profiles_all[:n]
        gc.collect()
        rss0 = rss_mb()
        t = time.perf_counter()
        index = IVFMatchIndex(graph, weights=weights, seed=args.seed)
        index.upsert_profiles(profiles)
        build = time.perf_counter() - t
        rss = rss_mb() - rss0
        m = index._mat
        nbytes = m.data.nbytes + m.indices.nbytes + m.indptr.nbytes
        nbytes += sum(
            a.nbytes
            for a in (index._alive, index._node, index._country, index._coop, index._remote)
        )
        nbytes += index._langmask.nbytes

        base = None
        base_build = base_mem = float("nan")
        n_base = 0
        if not args.no_baseline:
            gc.collect()
            t = time.perf_counter()
            base = DenseBaseline(profiles)
            base_build = time.perf_counter() - t
            base_mem = base.nbytes / 2**20
            n_base = len(calls) if n <= args.baseline_cap else min(len(calls), args.baseline_calls)

        t = time.perf_counter()
        index.train(args.nlist or None)
        train = time.perf_counter() - t

        # Every variant answers each call in turn (exact, brute force, IVF per nprobe), starting
        # with a different one per call, so load from other processes on this shared machine and
        # cache eviction by the brute-force pass over its matrix hit all of them alike.
        index.exact = True
        suggest(index, calls[0])  # warm-up
        variants: list[int] = [EXACT, *nprobes] + ([BRUTE] if base is not None else [])
        lat: dict[int, list[float]] = {v: [] for v in variants}
        for j, c in enumerate(calls):
            for v in variants[j % len(variants) :] + variants[: j % len(variants)]:
                if v == BRUTE and (base is None or j >= n_base):
                    continue
                index.exact = v == EXACT
                index.nprobe = v
                t = time.perf_counter()
                if v == BRUTE and base is not None:
                    base.rank(c, viewer_node=c.node, limit=LIMIT)
                else:
                    suggest(index, c)
                lat[v].append(time.perf_counter() - t)
        del base
        lat_i, lat_b = lat[EXACT], lat.get(BRUTE, [])
        lat_a = {k: lat[k] for k in nprobes}
        # untimed, deeper lists for recall@10 / recall@50 (exposure is off: no history effect);
        # the candidate channel alone is timed here: the part of match_call that grows with N
        exact: dict[str, list[str]] = {}
        approx: dict[int, dict[str, list[str]]] = {k: {} for k in nprobes}
        chan: dict[int, list[float]] = {v: [] for v in (EXACT, *nprobes)}
        for c in calls:
            q = index._prepare(c)
            for v in (EXACT, *nprobes):
                index.exact = v == EXACT
                index.nprobe = v
                t = time.perf_counter()
                index._candidates(q, c.node, c.languages, skip={c.author_key})
                chan[v].append(time.perf_counter() - t)
                got = suggest(index, c, DEPTH)
                (exact if v == EXACT else approx[v])[c.key] = got
        gc.collect()

        print(f"\n== {n} profiles: {m.shape[1]} columns, {m.nnz} postings")
        print(f"{'figure':34} {'index':>10} {'brute':>10} {'idx/brute':>9}")
        rows = [
            ("build (s)", build, base_build),
            ("arrays nbytes (MiB)", nbytes / 2**20, base_mem),
            ("RSS delta of build (MiB)", rss, float("nan")),
            ("match_call p50 (ms)", pct(lat_i, 50), pct(lat_b, 50)),
            ("match_call p99 (ms)", pct(lat_i, 99), pct(lat_b, 99)),
            ("candidate channel p50 (ms)", pct(chan[EXACT], 50), float("nan")),
        ]
        for name, a, b in rows:
            print(f"{name:34} {a:10.2f} {b:10.2f} {ratio(a, b):>9}")
        if lat_b and len(lat_b) < len(lat_i):
            print(f"(brute force on the first {len(lat_b)} of {len(lat_i)} calls)")

        sizes_c = np.diff(index._offsets)
        print(
            f"\nIVF: {index.nlist} clusters (rows/cluster median {int(np.median(sizes_c))}, "
            f"max {int(sizes_c.max())}), trained in {train:.1f}s, "
            f"+{index.ivf_nbytes / 2**20:.0f} MiB"
        )
        print(
            f"{'nprobe':>6} {'p50 ms':>8} {'p99 ms':>8} {'p50/exact':>9} {'p50/brute':>9} "
            f"{'recall@10':>9} {'recall@50':>9} {'chan p50':>8}"
        )
        ivf_rows = []
        for k in nprobes:
            r10, r50 = recall(approx[k], exact, 10), recall(approx[k], exact, 50)
            a50, a99 = pct(lat_a[k], 50), pct(lat_a[k], 99)
            ivf_rows.append((k, a50, a99, r10, r50))
            print(
                f"{k:6d} {a50:8.2f} {a99:8.2f} {ratio(a50, pct(lat_i, 50)):>9} "
                f"{ratio(a50, pct(lat_b, 50)):>9} {r10:9.3f} {r50:9.3f} {pct(chan[k], 50):8.2f}",
                flush=True,
            )
        summary.append((n, build, nbytes, rss, lat_i, lat_b, train, index.nlist, ivf_rows))
        del index
        gc.collect()

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of the run: {peak:.0f} MiB")
    print(f"\nsummary (targets: p50 <= {TARGET_P50:.0f} ms, p99 <= {TARGET_P99:.0f} ms)")
    print("| profiles | build s | index MiB | exact p50/p99 ms | brute p50/p99 ms | meets |")
    print("|---|---|---|---|---|---|")
    for n, build, nbytes, _, lat_i, lat_b, *_ in summary:
        ok = pct(lat_i, 50) <= TARGET_P50 and pct(lat_i, 99) <= TARGET_P99
        print(
            f"| {n:,} | {build:.1f} | {nbytes / 2**20:.0f} | "
            f"{pct(lat_i, 50):.1f} / {pct(lat_i, 99):.1f} | "
            f"{pct(lat_b, 50):.1f} / {pct(lat_b, 99):.1f} | {'yes' if ok else 'no'} |"
        )
    print("\n| profiles | IVF nlist | nprobe | p50/p99 ms | recall@10 | recall@50 |")
    print("|---|---|---|---|---|---|")
    for n, *_, nlist, ivf_rows in summary:
        for nprobe, a50, a99, r10, r50 in ivf_rows:
            print(f"| {n:,} | {nlist} | {nprobe} | {a50:.1f} / {a99:.1f} | {r10:.3f} | {r50:.3f} |")


if __name__ == "__main__":
    main()
