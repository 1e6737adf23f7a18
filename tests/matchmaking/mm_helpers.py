"""Tiny hand-made concept world for the matchmaking unit tests."""

from datetime import date

import pytest

from matchmaking import Availability, Call, ConceptGraph, Profile

E = "http://data.europa.eu/esco/"
# Two siblings in ESCO group S1.1.1, a cousin in S1.1.2, unrelated skills, ISCO musicians.
A1, A2, B, C, D, F = (E + f"skill/{x}" for x in ("a1", "a2", "b", "c", "d", "f"))
MUSICIAN, COMPOSER, TEACHER = (E + f"isco/C{x}" for x in ("2652", "2651", "2341"))
CODES = {
    A1: ["S1.1.1"],
    A2: ["S1.1.1"],
    B: ["S1.1.2"],
    C: ["S2.3.4"],
    D: ["S5.1.0"],
    F: ["K0613"],
    MUSICIAN: ["2652"],
    COMPOSER: ["2651"],
    TEACHER: ["2341"],
}


@pytest.fixture
def graph() -> ConceptGraph:
    return ConceptGraph(CODES)


def profile(key: str, *skills: str, **kw) -> Profile:
    base = {
        "key": f"https://{kw.get('node', 'a.example')}/users/{key}",
        "username": key,
        "node": "a.example",
        "country": "BE",
        "city": "Bruxelles",
        "remote": False,
        "visibility": "public",
        "skills": frozenset(skills),
        "occupations": frozenset(),
        "languages": {"fr": "native"},
        "availability": (),
    }
    base.update(kw)
    return Profile(**base)


def call(*required: str, **kw) -> Call:
    base = {
        "key": "https://a.example/calls/1",
        "node": "a.example",
        "author_key": "https://a.example/users/author",
        "country": "BE",
        "city": "Bruxelles",
        "remote": False,
        "visibility": "public",
        "required": frozenset(required),
        "optional": frozenset(),
        "languages": frozenset({"fr"}),
        "starts": None,
        "ends": None,
    }
    base.update(kw)
    return Call(**base)


def span(a: str, b: str) -> tuple[Availability, ...]:
    return (Availability(date.fromisoformat(a), date.fromisoformat(b)),)
