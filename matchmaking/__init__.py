"""Pure matchmaking: plain data in, ranked suggestions with structured reasons out.

Imports only the standard library, numpy and scipy (enforced by import-linter): the node
builds :class:`Profile`/:class:`Call` objects from its database and renders the
:class:`Reason` codes in the viewer's language.
"""

from .concepts import ConceptGraph, code_path
from .index import MatchIndex
from .model import (
    Availability,
    Call,
    Profile,
    Reason,
    Suggestion,
    Team,
    TeamMember,
    visible,
)
from .ranking import Weights

__all__ = [
    "Availability",
    "Call",
    "ConceptGraph",
    "MatchIndex",
    "Profile",
    "Reason",
    "Suggestion",
    "Team",
    "TeamMember",
    "Weights",
    "code_path",
    "visible",
]
