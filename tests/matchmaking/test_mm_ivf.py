"""The approximate IVF channel, matchmaking/ivf.py (measured by bench/bench_scale.py).

Probing every cluster must give exactly the exact index's suggestions; probing few must still
find most of them on generated profiles (bench_scale measures the real recall at 100k-1M).
Profiles are generated over the shipped vocabulary (always there) and over all of ESCO (what
bench_scale measures; the ESCO files go through the ``esco_dir`` gate).
"""

import pytest
from gen_data import generate, to_profile

from matchmaking import MatchIndex, Weights
from matchmaking.ivf import IVFMatchIndex

W = Weights(exposure=0.0)  # rankings independent of query history


@pytest.fixture(scope="module", params=["curated", "esco"])
def world(request):
    if request.param == "esco":
        ds = generate(2000, 30, seed=3, esco_dir=request.getfixturevalue("esco_dir"))
    else:
        ds = generate(2000, 30, seed=3, universe="curated")
    profiles = [to_profile(m) for m in ds.members]
    exact = MatchIndex(ds.graph(), weights=W)
    exact.upsert_profiles(profiles)
    ivf = IVFMatchIndex(ds.graph(), weights=W, seed=3)
    ivf.upsert_profiles(profiles)
    ivf.train(16)
    want = {
        c.key: [s.key for s in exact.match_call(c, viewer_node=c.node, limit=20)] for c in ds.calls
    }
    return ds, profiles, ivf, want


def ranked(index, calls, **kw):
    return {c.key: [s.key for s in index.match_call(c, viewer_node=c.node, **kw)] for c in calls}


def test_clusters_partition_the_rows(world):
    _, profiles, ivf, _ = world
    assert ivf.nlist == 16
    assert sorted(ivf._perm.tolist()) == list(range(len(profiles)))
    assert ivf._offsets[-1] == len(profiles)


def test_probing_every_cluster_is_exact(world):
    ds, _, ivf, want = world
    ivf.nprobe = ivf.nlist
    assert ranked(ivf, ds.calls, limit=20) == want


def test_few_probes_keep_most_results_and_score_fewer_rows(world):
    ds, _, ivf, want = world
    ivf.nprobe = 2
    got = ranked(ivf, ds.calls, limit=20)
    hits = sum(len(set(got[k][:10]) & set(v[:10])) for k, v in want.items())
    total = sum(len(v[:10]) for v in want.values())
    assert total > 150
    assert 0.6 <= hits / total < 1.0  # approximate, but not useless


def test_untrained_or_stale_index_stays_exact(world):
    ds, profiles, _, want = world
    ivf = IVFMatchIndex(ds.graph(), weights=W, nprobe=1)
    ivf.upsert_profiles(profiles)
    calls = ds.calls[:10]
    assert ranked(ivf, calls, limit=20) == {c.key: want[c.key] for c in calls}
    ivf.train(16)
    ivf.upsert_profile(profiles[0])  # pending row, not in any cluster
    exact = MatchIndex(ds.graph(), weights=W)
    exact.upsert_profiles(profiles)
    exact.upsert_profile(profiles[0])
    assert ranked(ivf, calls, limit=20) == ranked(exact, calls, limit=20)
