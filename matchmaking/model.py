"""Plain data the matchmaking package works on: profiles and calls in, suggestions out.

Everything here is frozen and hashable-by-identity so the node can build these objects from its
database rows and hand them over without the ranker ever touching a session. Concept IRIs,
coarse place, availability and the short phrases a member typed in their skill and occupation
fields (or an author in a call's skill fields) cross this boundary; no bio, no CV, no
embeddings, no sensitive attributes (age, gender, nationality) exist in these types, so the
ranker cannot use them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

# The node owns the visibility rules (profiles.visibility) and passes each row's visibility
# through; matchmaking only distinguishes the one level that never leaves its own node.
HOME_ONLY = "coop"

# Language levels a member may declare; A1/A2 are not enough to work in (CEFR "independent user"
# starts at B1), so only B1 and above count as a *working* language for the hard filter.
LEVELS = ("A1", "A2", "B1", "B2", "C1", "C2", "native")
WORKING_LEVEL_SCORE: Mapping[str, float] = {
    "B1": 0.6,
    "B2": 0.75,
    "C1": 0.9,
    "C2": 1.0,
    "native": 1.0,
}


@dataclass(frozen=True)
class Availability:
    """A closed date interval [start, end] during which the member can take work."""

    start: date
    end: date


@dataclass(frozen=True)
class Profile:
    """A member as the ranker sees it. ``key`` is the actor IRI, unique across the federation."""

    key: str
    username: str
    node: str
    country: str
    city: str
    remote: bool
    visibility: str
    skills: frozenset[str]
    occupations: frozenset[str]
    languages: Mapping[str, str]
    availability: tuple[Availability, ...]
    text_concepts: frozenset[str] = frozenset()
    # The member's own words for their skills and occupations, as typed (every phrase, linked
    # or not): the phrase channel (matchmaking.text) compares them with a call's phrases.
    phrases: tuple[str, ...] = ()
    # Translators/interpreters: (source, target) language pairs they work in.
    pairs: frozenset[tuple[str, str]] = frozenset()

    def working_languages(self) -> frozenset[str]:
        """Language codes declared at B1 or above (or native)."""
        return frozenset(c for c, lvl in self.languages.items() if lvl in WORKING_LEVEL_SCORE)


@dataclass(frozen=True)
class Call:
    """A call for collaborators. ``starts``/``ends`` None means no date constraint."""

    key: str
    node: str
    author_key: str
    country: str
    city: str
    remote: bool
    visibility: str
    required: frozenset[str]
    optional: frozenset[str]
    languages: frozenset[str]
    starts: date | None
    ends: date | None
    open: bool = True
    text_concepts: frozenset[str] = frozenset()
    # Required / optional skills the author wrote that no concept was found for: matched
    # against members' phrases by character n-grams, as weaker evidence.
    required_phrases: tuple[str, ...] = ()
    optional_phrases: tuple[str, ...] = ()
    # True: a candidate needs every language in ``languages``; False: any one of them.
    all_languages: bool = False
    # Translation calls: (source, target) pairs, one of which a candidate must state.
    pairs: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True)
class Reason:
    """One machine-readable reason; the node renders it with labels in the viewer's language.

    ``concepts`` holds IRIs, ``values`` holds codes/numbers as strings, ``weight`` is the
    contribution of the underlying feature to the score (reasons are sorted by it).
    """

    code: str
    concepts: tuple[str, ...] = ()
    values: tuple[str, ...] = ()
    weight: float = 0.0


@dataclass(frozen=True)
class Suggestion:
    key: str
    score: float
    reasons: tuple[Reason, ...]
    features: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class TeamMember:
    key: str
    covers: tuple[str, ...]


@dataclass(frozen=True)
class Team:
    members: tuple[TeamMember, ...]
    uncovered: tuple[str, ...]


def visible(profile: Profile | Call, viewer_node: str) -> bool:
    """May a row be matched for members of ``viewer_node``? Its own node's rows always; other
    nodes' rows unless their owner keeps them home (:data:`HOME_ONLY`: consent to be seen inside
    their own cooperative only). The node's rule, ``profiles.visibility.matchable``, as the
    ranker sees it.
    """
    return profile.node == viewer_node or profile.visibility != HOME_ONLY
