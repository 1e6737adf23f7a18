"""Partial credit between concepts from their place in the ESCO skill hierarchy / ISCO.

Two concepts are *related* when they share a deep enough hierarchy code: two skills filed under
the same ESCO group "S4.5.0" are near-substitutes for a call, two occupations in the same ISCO
unit group "2652" (musicians, singers, composers) likewise. Shallow codes ("S4" = management
skills, ISCO major group "2" = professionals) say nothing useful and give no credit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

# Credit for sharing a code at a given depth of its path (root letter/digit = depth 1).
# Depth 4 is the leaf level of both the ESCO skill hierarchy (S4.5.0) and ISCO-08 (2652).
DEFAULT_CREDIT_BY_DEPTH: Mapping[int, float] = {4: 0.3, 3: 0.1}

_DOTTED = re.compile(r"^([A-Z])(\d+)((?:\.\d+)*)$")
_LETTER_DIGITS = re.compile(r"^([A-Z])(\d+)$")


def code_path(code: str) -> tuple[str, ...]:
    """Ancestors of a hierarchy code, root first, the code itself last.

    - ESCO skill hierarchy, dotted: "S4.5.0" -> ("S", "S4", "S4.5", "S4.5.0")
    - ESCO knowledge (ISCED-F style): "K0613" -> ("K", "K06", "K061", "K0613")
    - ISCO-08, digits only: "2652" -> ("2", "26", "265", "2652")
    """
    code = code.strip()
    if code.isdigit():
        return tuple(code[:i] for i in range(1, len(code) + 1))
    m = _DOTTED.match(code)
    if m and (m.group(3) or len(m.group(2)) <= 1):
        letter, first, rest = m.groups()
        path = [letter, letter + first]
        for part in rest.split(".")[1:]:
            path.append(path[-1] + "." + part)
        return tuple(path)
    m = _LETTER_DIGITS.match(code)
    if m:
        letter, digits = m.groups()
        path = [letter, letter + digits[:2]]
        path.extend(letter + digits[:i] for i in range(3, len(digits) + 1))
        return tuple(path)
    return (code,) if code else ()


class ConceptGraph:
    """Concept IRI -> hierarchy codes, answering ``related(a, b)`` in O(codes) dict lookups;
    and occupation IRI -> the skills it implies (``implies``), which the ranker credits.

    ``codes`` maps each IRI to its leaf codes (a skill may sit in several ESCO groups). Every
    ancestor code whose depth has a credit in ``credit_by_depth`` becomes a *group*; concepts
    sharing a group are related with that group's credit (the deepest shared group wins).
    """

    def __init__(
        self,
        codes: Mapping[str, Iterable[str]],
        *,
        credit_by_depth: Mapping[int, float] | None = None,
        implies: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        self._implies: dict[str, frozenset[str]] = {
            occ: frozenset(skills) for occ, skills in (implies or {}).items()
        }
        credits = dict(DEFAULT_CREDIT_BY_DEPTH if credit_by_depth is None else credit_by_depth)
        if any(not 0.0 <= c < 1.0 for c in credits.values()):
            raise ValueError("partial credits must be in [0, 1)")
        self._groups: dict[str, tuple[tuple[str, float], ...]] = {}
        for iri, leafs in codes.items():
            best: dict[str, float] = {}
            for leaf in leafs:
                path = code_path(leaf)
                for depth, code in enumerate(path, start=1):
                    credit = credits.get(depth, 0.0)
                    if credit > 0.0:
                        best[code] = max(best.get(code, 0.0), credit)
            if best:
                # Deepest (highest credit) first, then by code, so callers iterating it are
                # deterministic and can stop at the first hit.
                self._groups[iri] = tuple(sorted(best.items(), key=lambda kv: (-kv[1], kv[0])))

    def __len__(self) -> int:
        return len(self._groups)

    def __contains__(self, iri: object) -> bool:
        return iri in self._groups

    def implies(self, iri: str) -> frozenset[str]:
        """Skills an occupation implies (ESCO essential skills); empty for anything else."""
        return self._implies.get(iri, frozenset())

    def groups(self, iri: str) -> tuple[tuple[str, float], ...]:
        """(group code, credit) pairs of a concept, highest credit first; () if unknown."""
        return self._groups.get(iri, ())

    def related(self, a: str, b: str) -> float:
        """Partial credit in [0, 1]: 1 for the same concept, else the deepest shared group's."""
        if a == b:
            return 1.0
        gb = self._groups.get(b)
        if not gb:
            return 0.0
        ga = dict(self._groups.get(a, ()))
        for code, credit in gb:  # sorted by credit, so the first hit is the best
            if code in ga:
                return min(credit, ga[code])
        return 0.0

    def best_credit(self, target: str, held_groups: Mapping[str, float]) -> tuple[float, str]:
        """Best partial credit of ``target`` against a set of groups someone holds.

        Returns (credit, group code) or (0.0, "").
        """
        for code, credit in self._groups.get(target, ()):
            if code in held_groups:
                return credit, code
        return 0.0, ""
