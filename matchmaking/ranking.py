"""The transparent re-ranker: named features of one (candidate, call) pair, a weighted sum, and
the reasons that explain it.

Every feature lies in [0, 1] and has one weight in :class:`Weights`, so a score can always be
read back as "these features, this much each" and each reason carries its share of the score.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import date, timedelta

from .concepts import ConceptGraph
from .model import WORKING_LEVEL_SCORE, Availability, Call, Profile, Reason
from .text import PHRASE_MIN, best_match

FEATURES = (
    "required",
    "optional",
    "complement",
    "occupation",
    "text",
    "languages",
    "availability",
    "cross_border",
    "remote",
)


@dataclass(frozen=True)
class Weights:
    """Weight of each feature in the score; plus the knobs of candidate generation/exposure."""

    required: float = 1.0  # idf-weighted coverage of the required concepts (partial credit)
    optional: float = 0.2  # same for the optional concepts
    complement: float = 0.3  # share of what the author lacks that this candidate brings
    occupation: float = 0.15  # holds (or is close to) an occupation the call names
    text: float = 0.1  # concepts the node's linker found in the call's free text
    languages: float = 0.1  # best working level among shared languages
    availability: float = 0.15  # share of the call's dates the candidate is available
    cross_border: float = 0.05  # the federation exists to make cross-border teams
    remote: float = 0.05  # both the call and the candidate accept remote work
    # Credit for a concept that only the text channel (bio linked by the node) found: the member
    # did not confirm it, so it is worth less than a declared skill.
    text_credit: float = 0.7
    # Credit for a skill the candidate's occupation implies (ESCO occupation -> essential
    # skill): a camera operator operates a camera, but did not say so.
    implied_credit: float = 0.6
    # Credit, times the similarity, for a call phrase no concept was found for that matches a
    # phrase the candidate wrote (matchmaking.text): the weakest evidence.
    phrase_credit: float = 0.5
    # Exposure control: score *= 1 / (1 + exposure * ln(1 + decayed times suggested)).
    exposure: float = 0.05
    exposure_decay: float = 0.995  # per suggestion request

    def total(self) -> float:
        return sum(getattr(self, f) for f in FEATURES)


_FIELDS = {f.name for f in fields(Weights)}
assert all(f in _FIELDS for f in FEATURES)


def merge_intervals(avail: tuple[Availability, ...]) -> list[tuple[date, date]]:
    spans = sorted((a.start, a.end) for a in avail if a.end >= a.start)
    merged: list[tuple[date, date]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1] + timedelta(days=1):
            if e > merged[-1][1]:
                merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return merged


def overlap(avail: tuple[Availability, ...], start: date, end: date) -> tuple[int, date, date]:
    """(days of availability inside [start, end], first such day, last such day)."""
    days, first, last = 0, end, start
    for s, e in merge_intervals(avail):
        lo, hi = max(s, start), min(e, end)
        if lo <= hi:
            days += (hi - lo).days + 1
            first, last = min(first, lo), max(last, hi)
    return days, first, last


def call_window(call: Call) -> tuple[date, date] | None:
    """The call's dates; a single given bound is treated as a one-day window."""
    if call.starts is None and call.ends is None:
        return None
    s = call.starts or call.ends
    e = call.ends or call.starts
    assert s is not None and e is not None
    return (s, e) if s <= e else (e, s)


class CallQuery:
    """A call prepared for scoring many candidates: idf weights looked up once."""

    __slots__ = (
        "call",
        "required",
        "optional",
        "idf",
        "req_total",
        "opt_total",
        "lacking",
        "lack_total",
        "text_total",
        "window",
        "wanted",
        "req_phrases",
        "opt_phrases",
        "phrase_idf",
    )

    def __init__(
        self,
        call: Call,
        idf: Callable[[str], float],
        author: Profile | None,
    ) -> None:
        self.call = call
        self.required = tuple(sorted(call.required))
        self.optional = tuple(sorted(call.optional - call.required))
        self.wanted = frozenset(self.required) | frozenset(self.optional)
        every = self.wanted | call.text_concepts
        self.idf = {c: idf(c) for c in every}
        self.req_phrases = tuple(dict.fromkeys(call.required_phrases))
        self.opt_phrases = tuple(p for p in dict.fromkeys(call.optional_phrases))
        # A phrase weighs like a concept nobody declared (the rarest there is): it is what the
        # author asked for, in their words.
        self.phrase_idf = idf("")
        self.req_total = sum(self.idf[c] for c in self.required)
        self.req_total += self.phrase_idf * len(self.req_phrases)
        self.opt_total = sum(self.idf[c] for c in self.optional)
        self.opt_total += self.phrase_idf * len(self.opt_phrases)
        # What the author already brings is not "added to the team" by anybody else.
        have = (author.skills | author.occupations) if author is not None else frozenset()
        self.lacking = tuple(c for c in self.required + self.optional if c not in have)
        self.lack_total = sum(self.idf[c] for c in self.lacking)
        self.text_total = sum(self.idf[c] for c in call.text_concepts)
        self.window = call_window(call)


def language_ok(p: Profile, call: Call) -> bool:
    """The call's language rule: one shared working language, or every one of them
    (``all_languages``); and for a translation call, one of its language pairs."""
    if call.languages:
        have = p.working_languages()
        if call.all_languages:
            if not call.languages <= have:
                return False
        elif not have & call.languages:
            return False
    return not call.pairs or bool(call.pairs & p.pairs)


def feasible(p: Profile, q: CallQuery) -> bool:
    """Hard filters beyond visibility: the call's language rule and some availability."""
    call = q.call
    if not language_ok(p, call):
        return False
    if q.window is not None and p.availability:
        return overlap(p.availability, *q.window)[0] > 0
    return True


def held_groups(p: Profile, graph: ConceptGraph) -> dict[str, float]:
    out: dict[str, float] = {}
    for c in p.skills | p.occupations:
        for code, credit in graph.groups(c):
            if out.get(code, 0.0) < credit:
                out[code] = credit
    return out


def implied(p: Profile, graph: ConceptGraph) -> frozenset[str]:
    """Skills the candidate's occupations imply (not those they declared themselves)."""
    if not p.occupations:
        return frozenset()
    out: set[str] = set()
    for occ in p.occupations:
        out.update(graph.implies(occ))
    return frozenset(out - p.skills)


def _credit(
    c: str,
    p: Profile,
    w: Weights,
    graph: ConceptGraph,
    groups: dict[str, float] | None,
    implies: frozenset[str],
) -> tuple[float, str, dict[str, float] | None]:
    """Credit of candidate p for concept c: 1 held, text_credit via text, implied_credit via
    an occupation (``implies``: the skills p's occupations imply), else related."""
    if c in p.skills or c in p.occupations:
        return 1.0, "held", groups
    best, how = 0.0, ""
    if c in p.text_concepts:
        best, how = w.text_credit, "text"
    if w.implied_credit > best and c in implies:
        best, how = w.implied_credit, "implied"
    if groups is None:
        groups = held_groups(p, graph)
    rel, _code = graph.best_credit(c, groups)
    if rel > best:
        best, how = rel, "related"
    return best, how, groups


def _phrase_credit(p: Profile, q: CallQuery, w: Weights, wrote: list[str]) -> tuple[float, float]:
    """(required, optional) credit of the call's phrases that match a phrase p wrote; the
    (theirs, wanted) pairs are appended to ``wrote``."""
    out = [0.0, 0.0]
    for slot, phrases in enumerate((q.req_phrases, q.opt_phrases)):
        for wanted in phrases:
            sim, theirs = best_match(wanted, p.phrases)
            if sim >= PHRASE_MIN:
                out[slot] += w.phrase_credit * sim * q.phrase_idf
                wrote += [theirs, wanted]
    return out[0], out[1]


def features(
    p: Profile, q: CallQuery, w: Weights, graph: ConceptGraph
) -> tuple[dict[str, float], dict[str, list[str]]]:
    """Feature values in [0, 1] and, per kind of match, the concepts behind them."""
    call = q.call
    groups: dict[str, float] | None = None
    how: dict[str, list[str]] = {
        "held": [],
        "text": [],
        "implied": [],
        "related": [],
        "opt_held": [],
        "wrote": [],
    }
    imp = implied(p, graph)
    req = 0.0
    for c in q.required:
        credit, kind, groups = _credit(c, p, w, graph, groups, imp)
        if credit:
            req += credit * q.idf[c]
            how[kind].append(c)
    opt = 0.0
    for c in q.optional:
        credit, kind, groups = _credit(c, p, w, graph, groups, imp)
        if credit:
            opt += credit * q.idf[c]
            how["opt_held" if kind == "held" else kind].append(c)
    if p.phrases:
        r, o = _phrase_credit(p, q, w, how["wrote"])
        req, opt = req + r, opt + o
    has = p.skills | p.occupations | p.text_concepts
    adds = [c for c in q.lacking if c in has]
    how["adds"] = adds
    occ = [c for c in sorted(q.wanted) if c in p.occupations]
    how["occupation"] = occ
    text_hits = [c for c in sorted(call.text_concepts) if c in has]
    how["text_hits"] = text_hits
    f = {
        "required": req / q.req_total if q.req_total else 0.0,
        "optional": opt / q.opt_total if q.opt_total else 0.0,
        "complement": (sum(q.idf[c] for c in adds) / q.lack_total) if q.lack_total else 0.0,
        "occupation": 1.0 if occ else 0.0,
        "text": (sum(q.idf[c] for c in text_hits) / q.text_total) if q.text_total else 0.0,
        "languages": 0.0,
        "availability": 0.0,
        "cross_border": 1.0 if p.country != call.country else 0.0,
        "remote": 1.0 if (call.remote and p.remote) else 0.0,
    }
    if call.languages:
        levels = [WORKING_LEVEL_SCORE.get(p.languages.get(c, ""), 0.0) for c in call.languages]
        # Needing every language, the weakest one counts; needing one, the strongest.
        f["languages"] = min(levels) if call.all_languages else max(levels)
    if q.window is not None:
        if not p.availability:
            f["availability"] = 0.5  # unknown: neither rewarded nor excluded
        else:
            days = overlap(p.availability, *q.window)[0]
            f["availability"] = days / ((q.window[1] - q.window[0]).days + 1)
    return f, how


def linear_score(f: Mapping[str, float], w: Weights) -> float:
    """Weighted feature sum normalised to [0, 1] by the total weight."""
    return sum(getattr(w, k) * v for k, v in f.items()) / w.total()


def _issue11_reasons(
    p: Profile,
    call: Call,
    how: Mapping[str, list[str]],
    graph: ConceptGraph,
    required_share: float,
    languages_share: float,
) -> list[Reason]:
    """Skills implied by an occupation, phrases that matched, the translator's language pair."""
    out: list[Reason] = []
    if how["implied"]:
        by_occ = []
        for c in how["implied"]:
            by_occ += [c, min(o for o in p.occupations if c in graph.implies(o))]
        out.append(Reason("implied_skill", tuple(by_occ), weight=required_share / 2))
    if how["wrote"]:
        out.append(Reason("wrote", values=tuple(how["wrote"]), weight=required_share / 3))
    if call.pairs & p.pairs:
        pair = min(call.pairs & p.pairs)
        out.append(Reason("language_pair", values=pair, weight=languages_share))
    return out


def reasons(
    p: Profile,
    q: CallQuery,
    f: Mapping[str, float],
    how: Mapping[str, list[str]],
    w: Weights,
    graph: ConceptGraph,
) -> list[Reason]:
    """Reasons for one suggestion, strongest first; IRIs and codes only, never prose."""
    call, total = q.call, w.total()
    out: list[Reason] = []

    def share(name: str) -> float:
        return getattr(w, name) * f[name] / total

    if how["held"]:
        out.append(Reason("covers_required", tuple(how["held"]), weight=share("required")))
    if how["opt_held"]:
        out.append(Reason("covers_optional", tuple(how["opt_held"]), weight=share("optional")))
    if how["related"]:
        mine = sorted(p.skills | p.occupations)
        pairs: list[str] = []
        for c in how["related"]:
            best = max(mine, key=lambda m: (graph.related(c, m), m), default="")
            if best and graph.related(c, best) > 0:
                pairs += [c, best]
        if pairs:
            out.append(Reason("related_skill", tuple(pairs), weight=share("required") / 2))
    out += _issue11_reasons(p, call, how, graph, share("required"), share("languages"))
    if how["adds"]:
        out.append(Reason("adds_to_team", tuple(how["adds"]), weight=share("complement")))
    if how["occupation"]:
        out.append(Reason("occupation_match", tuple(how["occupation"]), weight=share("occupation")))
    via_text = sorted(set(how["text"]) | set(how["text_hits"]))
    if via_text:
        out.append(Reason("text_match", tuple(via_text), weight=share("text")))
    shared = sorted(p.working_languages() & call.languages)
    if shared:
        out.append(Reason("shared_languages", values=tuple(shared), weight=share("languages")))
    if q.window is not None and p.availability:
        days, first, last = overlap(p.availability, *q.window)
        if days:
            out.append(
                Reason(
                    "availability_overlap",
                    values=(str(days), first.isoformat(), last.isoformat()),
                    weight=share("availability"),
                )
            )
    if p.country != call.country:
        out.append(
            Reason("cross_border", values=(p.country, call.country), weight=share("cross_border"))
        )
    else:
        out.append(Reason("same_country", values=(p.country,), weight=0.0))
    if f["remote"]:
        out.append(Reason("remote_ok", weight=share("remote")))
    out.sort(key=lambda r: (-r.weight, r.code))
    return out
