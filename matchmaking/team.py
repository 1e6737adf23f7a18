"""Greedy weighted set cover for a small complementary team (Lappas et al., KDD 2009).

Each round takes the candidate whose *new* coverage (idf-weighted) times fit is largest; the
classic greedy is within ln(n) of the optimal cover and, on calls with a handful of required
skills, usually optimal. Fit breaks near-ties so that a strong all-rounder beats a weak
specialist covering the same concepts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .model import Team, TeamMember


def greedy_team(
    need: Sequence[str],
    candidates: Sequence[tuple[float, str, frozenset[str]]],
    idf: Mapping[str, float],
    max_size: int,
) -> Team:
    """Pick at most ``max_size`` of (fit score, key, concepts) covering ``need``.

    Returns the members in pick order, each with the concepts they newly cover, and the needed
    concepts nobody covers. Deterministic: ties go to the lexicographically smaller key.
    """
    uncovered = list(dict.fromkeys(need))
    top = max((s for s, _, _ in candidates), default=0.0) or 1.0
    seen: set[str] = set()
    pool = []
    for s, k, concepts in candidates:
        if k not in seen:
            seen.add(k)
            pool.append((s / top, k, concepts))
    members: list[TeamMember] = []
    while uncovered and len(members) < max_size:
        best: tuple[float, str] | None = None
        best_cov: list[str] = []
        for fit, k, concepts in pool:
            cov = [c for c in uncovered if c in concepts]
            if not cov:
                continue
            gain = sum(idf.get(c, 1.0) for c in cov) * (0.5 + 0.5 * fit)
            if best is None or gain > best[0] or (gain == best[0] and k < best[1]):
                best, best_cov = (gain, k), cov
        if best is None:
            break
        members.append(TeamMember(best[1], tuple(sorted(best_cov))))
        pool = [t for t in pool if t[1] != best[1]]
        uncovered = [c for c in uncovered if c not in best_cov]
    return Team(tuple(members), tuple(sorted(uncovered)))
