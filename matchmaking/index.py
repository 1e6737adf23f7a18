"""MatchIndex: hard filters, a sparse concept channel for candidates, exact re-ranking.

Layout. Profiles live in a *main segment* (a CSC matrix profile x column, binary, plus numpy
arrays of the attributes the hard filters need) and a small *pending* buffer of recent upserts.
Columns are ``("c", iri)`` concepts a member declared, ``("t", iri)`` concepts only the node's
text linker found (or proposed), ``("i", iri)`` skills their occupations imply, ``("g", code)``
hierarchy groups of declared concepts (partial credit) and ``("n", 3-gram)`` character 3-grams
of the phrases they wrote (the phrase channel, matchmaking.text).
A query is a weighted set of columns; candidate scores are one sparse column-slice mat-vec
(work proportional to the postings touched, not to the number of profiles), then the best
``candidates`` are re-ranked exactly by :mod:`matchmaking.ranking`.

Updates. ``upsert_profile`` tombstones the old row and appends to pending; pending is scored
in Python at query time and merged into the main segment every ``compact_at`` upserts (one
O(nnz) pass that also drops tombstoned rows). ``remove_profile`` takes effect immediately.
"""

# size: the index is one class (segments, candidate channels, queries, exposure) read as a whole
from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Sequence

import numpy as np
import scipy.sparse as sp

from .concepts import ConceptGraph
from .model import Call, Profile, Reason, Suggestion, Team, visible
from .ranking import (
    CallQuery,
    Weights,
    feasible,
    features,
    implied,
    language_ok,
    linear_score,
    reasons,
)
from .team import greedy_team
from .text import grams

_COOP = 2
STOP_GRAM_SHARE = 0.02
STOP_GRAM_MIN = 500
_VIS = {"public": 0, "partners": 1, "coop": _COOP}
_OVERFLOW_BIT = 63


class MatchIndex:
    def __init__(
        self,
        graph: ConceptGraph,
        *,
        weights: Weights | None = None,
        compact_at: int = 512,
        candidates: int = 300,
    ) -> None:
        self.graph = graph
        self.weights = weights or Weights()
        self.compact_at = compact_at
        self.candidates = candidates
        self._profiles: dict[str, Profile] = {}
        self._calls: dict[str, Call] = {}
        self._call_postings: dict[tuple[str, str], set[str]] = {}
        self._cols: dict[tuple[str, str], int] = {}
        self._df: dict[str, int] = {}
        self._nodes: dict[str, int] = {}
        self._countries: dict[str, int] = {}
        self._lang_bits: dict[str, int] = {}
        # main segment
        self._mat = sp.csc_matrix((0, 0), dtype=np.float32)
        self._row_keys: list[str] = []
        self._row_of: dict[str, int] = {}
        self._alive = np.zeros(0, dtype=bool)
        self._node = np.zeros(0, dtype=np.int32)
        self._country = np.zeros(0, dtype=np.int32)
        self._coop = np.zeros(0, dtype=bool)
        self._remote = np.zeros(0, dtype=bool)
        self._langmask = np.zeros(0, dtype=np.uint64)
        self._pending: dict[str, Profile] = {}
        # exposure control: key -> (decayed count, tick of last update)
        self._exposure: dict[str, tuple[float, int]] = {}
        self._tick = 0

    # ------------------------------------------------------------------ updates
    def __len__(self) -> int:
        return len(self._profiles)

    def __contains__(self, key: object) -> bool:
        return key in self._profiles

    def profile(self, key: str) -> Profile | None:
        return self._profiles.get(key)

    def upsert_profile(self, p: Profile) -> None:
        """Add or replace a profile; visible to queries at once, merged in batches."""
        if p.visibility not in _VIS:
            raise ValueError(f"unknown visibility {p.visibility!r}")
        self._drop(p.key)
        self._profiles[p.key] = p
        self._pending[p.key] = p
        for c in self._concepts(p):
            self._df[c] = self._df.get(c, 0) + 1
        if len(self._pending) >= self.compact_at:
            self.compact()

    def upsert_profiles(self, profiles: Iterable[Profile]) -> None:
        """Bulk upsert with a single compaction at the end (initial load, resync)."""
        at, self.compact_at = self.compact_at, 1 << 62
        try:
            for p in profiles:
                self.upsert_profile(p)
        finally:
            self.compact_at = at
        self.compact()

    def remove_profile(self, key: str) -> None:
        """Forget a profile (deleted member, withdrawn consent); effective immediately."""
        self._drop(key)
        self._exposure.pop(key, None)

    def _drop(self, key: str) -> None:
        old = self._profiles.pop(key, None)
        if old is None:
            return
        for c in self._concepts(old):
            n = self._df[c] - 1
            if n:
                self._df[c] = n
            else:
                del self._df[c]
        if self._pending.pop(key, None) is None:
            row = self._row_of.pop(key)
            self._alive[row] = False

    @staticmethod
    def _concepts(p: Profile) -> frozenset[str]:
        return p.skills | p.occupations | p.text_concepts

    def upsert_call(self, c: Call) -> None:
        self.remove_call(c.key)
        self._calls[c.key] = c
        for col in self._call_columns(c):
            self._call_postings.setdefault(col, set()).add(c.key)

    def remove_call(self, key: str) -> None:
        old = self._calls.pop(key, None)
        if old is None:
            return
        for col in self._call_columns(old):
            keys = self._call_postings[col]
            keys.discard(key)
            if not keys:
                del self._call_postings[col]

    def _call_columns(self, c: Call) -> set[tuple[str, str]]:
        cols: set[tuple[str, str]] = set()
        for iri in c.required | c.optional | c.text_concepts:
            cols.add(("c", iri))
            cols.update(("g", code) for code, _ in self.graph.groups(iri))
        for phrase in c.required_phrases + c.optional_phrases:
            cols.update(("n", g) for g in grams(phrase))
        return cols

    # -------------------------------------------------------------- compaction
    def _col(self, key: tuple[str, str]) -> int:
        i = self._cols.get(key)
        if i is None:
            i = self._cols[key] = len(self._cols)
        return i

    def _profile_columns(self, p: Profile) -> list[int]:
        held = p.skills | p.occupations
        cols = {self._col(("c", c)) for c in held}
        cols.update(self._col(("t", c)) for c in p.text_concepts - held)
        cols.update(self._col(("i", c)) for c in implied(p, self.graph) - p.text_concepts)
        for c in held:
            cols.update(self._col(("g", code)) for code, _ in self.graph.groups(c))
        for phrase in p.phrases:
            cols.update(self._col(("n", g)) for g in grams(phrase))
        return sorted(cols)

    def _intern(self, table: dict[str, int], value: str) -> int:
        i = table.get(value)
        if i is None:
            i = table[value] = len(table)
        return i

    def _langmask_of(self, langs: Iterable[str]) -> int:
        m = 0
        for code in langs:
            bit = self._lang_bits.get(code)
            if bit is None:
                bit = self._lang_bits[code] = min(len(self._lang_bits), _OVERFLOW_BIT)
            m |= 1 << bit
        return m

    def compact(self) -> None:
        """Merge pending into the main segment and drop tombstoned rows: O(nnz) once."""
        keep = np.flatnonzero(self._alive)
        new = list(self._pending.values())
        if not new and len(keep) == len(self._alive):
            return
        indptr, indices = [0], []
        for p in new:
            cols = self._profile_columns(p)
            indices.extend(cols)
            indptr.append(len(indices))
        ncols = len(self._cols)
        old = self._mat.tocsr()[keep]
        old = sp.csr_matrix((old.data, old.indices, old.indptr), shape=(len(keep), ncols))
        add = sp.csr_matrix(
            (np.ones(len(indices), np.float32), np.asarray(indices, np.int32), indptr),
            shape=(len(new), ncols),
        )
        self._mat = sp.vstack([old, add], format="csc", dtype=np.float32)
        self._row_keys = [self._row_keys[i] for i in keep] + [p.key for p in new]
        self._row_of = {k: i for i, k in enumerate(self._row_keys)}
        self._alive = np.ones(len(self._row_keys), dtype=bool)

        def attr(old_arr: np.ndarray, values: list[int], dtype: type) -> np.ndarray:
            return np.concatenate([old_arr[keep], np.asarray(values, dtype=dtype)])

        self._node = attr(self._node, [self._intern(self._nodes, p.node) for p in new], np.int32)
        self._country = attr(
            self._country, [self._intern(self._countries, p.country) for p in new], np.int32
        )
        self._coop = attr(self._coop, [_VIS[p.visibility] == _COOP for p in new], bool)
        self._remote = attr(self._remote, [p.remote for p in new], bool)
        self._langmask = attr(
            self._langmask,
            [self._langmask_of(p.working_languages()) for p in new],
            np.uint64,
        )
        self._pending.clear()

    # ------------------------------------------------------------------ scoring
    def idf(self, concept: str) -> float:
        """1 + ln((N + 1) / (df + 1)): rare concepts decide, ubiquitous ones barely count."""
        return 1.0 + math.log((len(self._profiles) + 1) / (self._df.get(concept, 0) + 1))

    def _query(self, q: CallQuery) -> dict[tuple[str, str], float]:
        """Column weights of a call: declared > text-linked > hierarchy group."""
        w = self.weights
        qw: dict[tuple[str, str], float] = {}

        def add(concept: str, scale: float) -> None:
            base = q.idf.get(concept) or self.idf(concept)
            base *= scale
            qw[("c", concept)] = qw.get(("c", concept), 0.0) + base
            qw[("t", concept)] = qw.get(("t", concept), 0.0) + base * w.text_credit
            qw[("i", concept)] = qw.get(("i", concept), 0.0) + base * w.implied_credit
            for code, credit in self.graph.groups(concept):
                qw[("g", code)] = qw.get(("g", code), 0.0) + base * credit

        for c in q.required:
            add(c, 1.0)
        opt = w.optional / w.required if w.required else 1.0
        for c in q.optional:
            add(c, opt)
        for c in q.call.text_concepts - q.wanted:
            add(c, w.text / w.required if w.required else 1.0)
        # A phrase's 3-grams share its weight: a candidate who wrote the same phrase gets the
        # phrase's full weight, one sharing a few 3-grams a little (the re-ranker decides).
        # 3-grams held by more than STOP_GRAM_SHARE of the rows (" de", "ing") say nothing and
        # would fill the candidate pool with noise: they are left out of the channel (the
        # re-ranker still compares whole phrases).
        limit = max(STOP_GRAM_MIN, STOP_GRAM_SHARE * self._mat.shape[0])
        for phrases, scale in ((q.req_phrases, 1.0), (q.opt_phrases, opt)):
            for phrase in phrases:
                gs = grams(phrase)
                for g in gs:
                    if self._postings(("n", g)) > limit:
                        continue
                    share = q.phrase_idf * w.phrase_credit * scale / len(gs)
                    qw[("n", g)] = qw.get(("n", g), 0.0) + share
        return qw

    def _postings(self, key: tuple[str, str]) -> int:
        """Rows of the main segment holding column ``key``."""
        i = self._cols.get(key)
        if i is None or i >= self._mat.shape[1]:
            return 0
        return int(self._mat.indptr[i + 1] - self._mat.indptr[i])

    def _candidates(
        self,
        q: CallQuery,
        viewer_node: str,
        langs: frozenset[str],
        *,
        cross_border_only: bool = False,
        own_node_only: bool = False,
        remote_only: bool = False,
        skip: Collection[str] = (),
    ) -> list[Profile]:
        """Visible, language-feasible profiles with the best channel scores (unordered)."""
        qw = self._query(q)
        call = q.call
        out: list[tuple[float, str]] = []
        ncols = self._mat.shape[1]
        cols = [(i, v) for k, v in qw.items() if (i := self._cols.get(k)) is not None and i < ncols]
        if cols and self._mat.shape[0]:
            idx = np.fromiter((i for i, _ in cols), dtype=np.int64, count=len(cols))
            vec = np.fromiter((v for _, v in cols), dtype=np.float32, count=len(cols))
            scores = self._mat[:, idx] @ vec
            rows = np.flatnonzero(scores)
            rows, kept = self._filter_and_cut(
                rows,
                scores[rows],
                viewer_node,
                langs,
                call.country,
                cross_border_only=cross_border_only,
                own_node_only=own_node_only,
                remote_only=remote_only,
                n_skip=len(skip),
                all_languages=call.all_languages,
            )
            pairs = zip(kept.tolist(), rows.tolist(), strict=True)
            out.extend((float(score), self._row_keys[r]) for score, r in pairs)
        for p in self._pending.values():
            if not visible(p, viewer_node):
                continue
            if own_node_only and p.node != viewer_node:
                continue
            if cross_border_only and p.country == call.country:
                continue
            if remote_only and not p.remote:
                continue
            if not language_ok(p, call):
                continue
            held = p.skills | p.occupations
            s = sum(qw.get(("c", c), 0.0) for c in held)
            s += sum(qw.get(("t", c), 0.0) for c in p.text_concepts - held)
            s += sum(qw.get(("i", c), 0.0) for c in implied(p, self.graph) - p.text_concepts)
            groups = {code for c in held for code, _ in self.graph.groups(c)}
            s += sum(qw.get(("g", code), 0.0) for code in groups)
            s += sum(qw.get(("n", g), 0.0) for g in {g for ph in p.phrases for g in grams(ph)})
            if s > 0:
                out.append((s, p.key))
        out.sort(key=lambda t: (-t[0], t[1]))
        return [self._profiles[k] for _, k in out if k not in skip]

    def _filter_and_cut(
        self,
        rows: np.ndarray,
        scores: np.ndarray,
        viewer_node: str,
        langs: frozenset[str],
        call_country: str,
        *,
        cross_border_only: bool,
        own_node_only: bool,
        remote_only: bool,
        n_skip: int,
        all_languages: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The main-segment ``rows`` (with their channel ``scores``, aligned) that pass the hard
        filters, cut to the best ``candidates + n_skip + 1`` (unordered). Shared by every
        candidate channel (exact here, approximate ones built on this index)."""
        viewer = self._nodes.get(viewer_node, -1)
        mask = self._alive[rows] & ((self._node[rows] == viewer) | ~self._coop[rows])
        if langs:
            lm = np.uint64(self._langmask_of(langs))
            if all_languages:
                mask &= (self._langmask[rows] & lm) == lm
            else:
                mask &= (self._langmask[rows] & lm) != 0
        if own_node_only:
            mask &= self._node[rows] == viewer
        if cross_border_only:
            mask &= self._country[rows] != self._countries.get(call_country, -1)
        if remote_only:
            mask &= self._remote[rows]
        rows, scores = rows[mask], scores[mask]
        want = self.candidates + n_skip + 1
        if len(rows) > want:
            top = np.argpartition(-scores, want - 1)[:want]
            rows, scores = rows[top], scores[top]
        return rows, scores

    def _rank(
        self, q: CallQuery, pool: Iterable[Profile], *, exposure: bool
    ) -> list[tuple[float, Profile, dict[str, float], dict[str, list[str]]]]:
        w, graph = self.weights, self.graph
        ranked = []
        for p in pool:
            if not feasible(p, q):
                continue
            f, how = features(p, q, w, graph)
            if not (f["required"] or f["optional"] or f["text"]):
                continue
            s = linear_score(f, w)
            if exposure and w.exposure:
                e = self._exposure_of(p.key)
                f["exposure"] = e
                s /= 1.0 + w.exposure * math.log1p(e)
            ranked.append((s, p, f, how))
        ranked.sort(key=lambda t: (-t[0], t[1].key))
        return ranked

    # ----------------------------------------------------------------- exposure
    def _exposure_of(self, key: str) -> float:
        v = self._exposure.get(key)
        if v is None:
            return 0.0
        return v[0] * self.weights.exposure_decay ** (self._tick - v[1])

    def _expose(self, keys: Iterable[str]) -> None:
        """Count one more exposure for each key; one tick per suggestion request."""
        self._tick += 1
        for k in keys:
            self._exposure[k] = (self._exposure_of(k) + 1.0, self._tick)

    def exposure(self, key: str) -> float:
        """How often ``key`` was suggested lately (decayed count)."""
        return self._exposure_of(key)

    # --------------------------------------------------------------------- API
    def _prepare(self, call: Call) -> CallQuery:
        return CallQuery(call, self.idf, self._profiles.get(call.author_key))

    def match_call(
        self,
        call: Call,
        *,
        viewer_node: str,
        limit: int = 20,
        cross_border_only: bool = False,
        own_node_only: bool = False,
        remote_only: bool = False,
        exclude: Collection[str] = (),
        count_exposure: bool = True,
    ) -> list[Suggestion]:
        """Best collaborators for a call as seen from ``viewer_node``; never its author.
        ``count_exposure=False`` (the digest): rank without dampening or counting exposure."""
        q = self._prepare(call)
        skip = set(exclude) | {call.author_key}
        pool = self._candidates(
            q,
            viewer_node,
            call.languages,
            cross_border_only=cross_border_only,
            own_node_only=own_node_only,
            remote_only=remote_only,
            skip=skip,
        )
        ranked = self._rank(q, pool, exposure=count_exposure)[:limit]
        if count_exposure:
            self._expose(p.key for _, p, _, _ in ranked)
        return [
            Suggestion(p.key, s, tuple(reasons(p, q, f, how, self.weights, self.graph)), f)
            for s, p, f, how in ranked
        ]

    def explain(self, call: Call, key: str) -> Suggestion | None:
        """One profile's fit to ``call`` (score, reasons), whatever the filters; None if the
        index does not hold ``key``. Counts no exposure."""
        p = self._profiles.get(key)
        if p is None:
            return None
        q = self._prepare(call)
        f, how = features(p, q, self.weights, self.graph)
        s = linear_score(f, self.weights)
        return Suggestion(p.key, s, tuple(reasons(p, q, f, how, self.weights, self.graph)), f)

    def team_for_call(
        self,
        call: Call,
        *,
        viewer_node: str,
        max_size: int = 5,
        pool: Sequence[Suggestion] | None = None,
    ) -> Team:
        """A small team covering the call's required concepts the author lacks (greedy cover).

        The pool is exactly ``pool`` when given (e.g. the suggestions already shown, which the
        author may have filtered). Otherwise it is the top of the ranking, plus for each needed
        concept nobody there holds the best visible holder, so a rare skill is not missed just
        because its holders rank low overall.
        """
        q = self._prepare(call)
        if pool is None:
            cands = self._candidates(q, viewer_node, call.languages, skip={call.author_key})
        else:
            cands = [
                p
                for s in pool
                if (p := self._profiles.get(s.key)) is not None
                and visible(p, viewer_node)
                and p.key != call.author_key
            ]
        ranked = self._rank(q, cands, exposure=False)
        if pool is None:
            ranked = ranked[:50]
        have = {r for _, p, _, _ in ranked for r in q.required if r in self._concepts(p)}
        for r in q.lacking if pool is None else ():
            if r in have or r not in q.call.required:
                continue
            extra = self._holders(r, viewer_node, call.languages, skip={call.author_key})
            best = self._rank(q, extra, exposure=False)[:1]
            ranked.extend(best)
        author = self._profiles.get(call.author_key)
        covered = (author.skills | author.occupations) if author is not None else frozenset()
        need = [r for r in q.required if r not in covered]
        return greedy_team(
            need,
            [(s, p.key, self._concepts(p)) for s, p, _, _ in ranked],
            q.idf,
            max_size,
        )

    def _holders(
        self, concept: str, viewer_node: str, langs: frozenset[str], skip: Collection[str]
    ) -> list[Profile]:
        out: list[str] = []
        for key in (("c", concept), ("t", concept)):
            i = self._cols.get(key)
            if i is not None and i < self._mat.shape[1]:
                col = self._mat.indices[self._mat.indptr[i] : self._mat.indptr[i + 1]]
                out.extend(self._row_keys[r] for r in col if self._alive[r])
        out.extend(p.key for p in self._pending.values() if concept in self._concepts(p))
        res = []
        for k in sorted(set(out) - set(skip)):
            p = self._profiles[k]
            if visible(p, viewer_node) and (not langs or p.working_languages() & langs):
                res.append(p)
        return res

    def calls_for_member(
        self, profile: Profile, *, viewer_node: str, limit: int = 20
    ) -> list[Suggestion]:
        """Open calls visible on ``viewer_node`` that fit ``profile`` (keys are call keys)."""
        keys: set[str] = set()
        for c in self._concepts(profile):
            keys |= self._call_postings.get(("c", c), set())
            for code, _ in self.graph.groups(c):
                keys |= self._call_postings.get(("g", code), set())
        for c in implied(profile, self.graph):
            keys |= self._call_postings.get(("c", c), set())
        for g in {g for ph in profile.phrases for g in grams(ph)}:
            keys |= self._call_postings.get(("n", g), set())
        w, graph = self.weights, self.graph
        ranked = []
        for k in keys:
            call = self._calls[k]
            if not call.open or call.author_key == profile.key or not visible(call, viewer_node):
                continue
            q = self._prepare(call)
            if not feasible(profile, q):
                continue
            f, how = features(profile, q, w, graph)
            ranked.append((linear_score(f, w), k, q, f, how))
        ranked.sort(key=lambda t: (-t[0], t[1]))
        return [
            Suggestion(k, s, tuple(reasons(profile, q, f, how, w, graph)), f)
            for s, k, q, f, how in ranked[:limit]
        ]

    def _as_call(self, p: Profile) -> Call:
        """A member seen as a 'call' for their own concepts, to score people both ways."""
        return Call(
            key=p.key,
            node=p.node,
            author_key=p.key,
            country=p.country,
            city=p.city,
            remote=p.remote,
            visibility=p.visibility,
            required=p.skills | p.occupations,
            optional=frozenset(),
            languages=p.working_languages(),
            starts=None,
            ends=None,
            text_concepts=p.text_concepts,
            required_phrases=p.phrases,
        )

    def people_for_member(
        self, profile: Profile, *, viewer_node: str, limit: int = 20
    ) -> list[Suggestion]:
        """People to meet: reciprocal fit, harmonic mean of how well each fits the other.

        A pair only scores high if *both* directions do (RECON, RecSys 2010): the harmonic
        mean punishes one-sided interest.
        """
        w, graph = self.weights, self.graph
        qa = CallQuery(self._as_call(profile), self.idf, None)
        pool = self._candidates(qa, viewer_node, qa.call.languages, skip={profile.key})
        ranked = []
        for b in pool:
            if not feasible(b, qa):
                continue
            fab, how = features(b, qa, w, graph)
            qb = CallQuery(self._as_call(b), self.idf, None)
            fba, _ = features(profile, qb, w, graph)
            sab, sba = linear_score(fab, w), linear_score(fba, w)
            if sab <= 0 or sba <= 0:
                continue
            hm = 2 * sab * sba / (sab + sba)
            fab = dict(fab, forward=sab, backward=sba)
            if w.exposure:
                e = self._exposure_of(b.key)
                fab["exposure"] = e
                hm /= 1.0 + w.exposure * math.log1p(e)
            ranked.append((hm, b, fab, how))
        ranked.sort(key=lambda t: (-t[0], t[1].key))
        ranked = ranked[:limit]
        self._expose(b.key for _, b, _, _ in ranked)
        out = []
        for s, b, f, how in ranked:
            rs = reasons(b, qa, f, how, w, graph)
            rs.insert(
                0,
                Reason(
                    "reciprocal",
                    values=(f"{f['forward']:.3f}", f"{f['backward']:.3f}"),
                    weight=s,
                ),
            )
            out.append(Suggestion(b.key, s, tuple(rs), f))
        return out
