"""A blind labelled evaluation set for bench_match_quality.py (``--set blind``).

Written without reading the curated vocabulary or bench/eval_set.py, so that the figures it
gives are not tuned to what the vocabulary happens to know: members and calls are phrased the
way freelancers write (seven languages, mostly free text, a few concepts picked from ESCO by
their IRI), and the labels were committed before the set was first run.

Three partnered nodes: ``smart.be`` (members in Belgium and France), ``smart.se`` (Sweden),
``smart.de`` (Germany and Austria). Members are in :mod:`eval_blind_members`, calls and their
labels in :mod:`eval_blind_calls`. Each call labels

- ``relevant``: member -> grade (2 strong fit, 1 partial fit);
- ``traps``: member -> kind, one of ``decoy`` (similar words, another profession),
  ``unavailable`` (a fit whose availability misses the call's dates), ``language`` (a fit
  without the call's working language), ``pair`` (a translator/interpreter for other pairs).

Coop-only members of another node than the call's are never labelled: suggesting them is a
*forbidden* suggestion (as is suggesting the author), counted apart.

The interface is the one bench_match_quality.py reads: ``MEMBERS``, ``CALLS``, ``check()``,
``forbidden(spec, member)``; members offer ``languages()``, ``phrases(field)``, ``wrote``,
``avail``, ``pairs``, and ``picked_iris`` (ESCO IRIs chosen in a picker).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

LANGS = ("en", "de", "sv", "fr", "nl", "it", "es")
NODES = ("smart.be", "smart.se", "smart.de")
TRAP_KINDS = ("decoy", "unavailable", "language", "pair")
WORKING = ("B1", "B2", "C1", "C2", "native")


@dataclass(frozen=True)
class Member:
    """One member's profile as typed. ``langs`` is "code:level ..." in the member's order."""

    key: str
    node: str
    country: str
    langs: str
    wrote: str  # the language the free text is written in
    occupations: tuple[str, ...] = ()
    skills: tuple[str, ...] = ()
    picked_iris: tuple[str, ...] = ()  # ESCO occupations/skills picked from a list
    avail: tuple[date, date] | None = None
    visibility: str = "partners"
    pairs: str = ""  # "nl>fr fr>nl": translation/interpreting directions

    def languages(self) -> dict[str, str]:
        return dict(item.split(":", 1) for item in self.langs.split())

    def phrases(self, name: str) -> tuple[str, ...]:
        return {"occupations": self.occupations, "skills": self.skills}[name]


@dataclass(frozen=True)
class CallSpec:
    key: str
    node: str
    author: str
    country: str
    lang: str  # the language the call is written in
    languages: tuple[str, ...]  # working languages
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    dates: tuple[date, date] | None = None
    relevant: Mapping[str, int] = field(default_factory=dict)
    traps: Mapping[str, str] = field(default_factory=dict)
    all_languages: bool = False
    pairs: tuple[str, ...] = ()  # "nl>fr"


def forbidden(spec: CallSpec, m: Member) -> bool:
    """May ``m`` never be suggested for ``spec``: the author, or coop-only on another node."""
    return m.key == spec.author or (m.visibility == "coop" and m.node != spec.node)


def _speaks(m: Member, spec: CallSpec) -> bool:
    have = {c for c, lvl in m.languages().items() if lvl in WORKING}
    want = set(spec.languages)
    if want and not (want <= have if spec.all_languages else want & have):
        return False
    mine = set(m.pairs.split())
    return not spec.pairs or bool(mine & set(spec.pairs))


def _available(m: Member, spec: CallSpec) -> bool:
    if not spec.dates or not m.avail:
        return True
    return m.avail[0] <= spec.dates[1] and spec.dates[0] <= m.avail[1]


def check() -> None:
    """The labels are consistent with the members: raises AssertionError otherwise."""
    keys = [m.key for m in MEMBERS]
    assert len(keys) == len(set(keys)), "duplicate member keys"
    by_key = {m.key: m for m in MEMBERS}
    for m in MEMBERS:
        assert m.node in NODES and m.wrote in LANGS, m.key
        assert set(m.languages()) <= set(LANGS), m.key
        assert m.occupations or m.skills or m.picked_iris, m.key
    assert {m.wrote for m in MEMBERS} == set(LANGS)
    assert len({c.key for c in CALLS}) == len(CALLS)
    for c in CALLS:
        assert c.node in NODES and c.lang in LANGS, c.key
        assert set(c.relevant).isdisjoint(c.traps), c.key
        assert set(c.relevant) | set(c.traps) <= set(by_key), c.key
        for k in c.relevant:
            m = by_key[k]
            assert not forbidden(c, m), (c.key, k, "relevant but forbidden")
            assert _speaks(m, c) and _available(m, c), (c.key, k, "relevant but filtered")
        for k, kind in c.traps.items():
            m = by_key[k]
            assert kind in TRAP_KINDS and not forbidden(c, m), (c.key, k)
            if kind == "unavailable":
                assert _speaks(m, c) and not _available(m, c), (c.key, k)
            if kind in ("language", "pair"):
                assert not _speaks(m, c), (c.key, k)


from eval_blind_calls import CALLS  # noqa: E402
from eval_blind_members import MEMBERS  # noqa: E402

__all__ = ["CALLS", "MEMBERS", "CallSpec", "Member", "check", "forbidden"]
