"""The coop's JSON-LD terms: what ``requiredSkill``, ``callStatus``, ``coop``… mean on the wire.

Our documents are compacted JSON with an inline context (we never expand JSON-LD ourselves);
strict processors (Fedify) need every term defined, so each term a Person or call Page carries
beyond ActivityStreams, security and Mastodon's vocabulary is listed here. The generic terms
(``PropertyValue``, ``discoverable``, ``Hashtag``…) stay in :mod:`federation.vocab`.
"""

from __future__ import annotations

from typing import Any

from federation import vocab

COOPFED_NS = "https://coopfed.org/ns#"

COOP_TERMS: dict[str, Any] = {
    "coopfed": COOPFED_NS,
    # schema.org terms of a member's profile (``schema`` is defined by the generic terms)
    "knowsAbout": {"@id": "schema:knowsAbout", "@type": "@id"},
    "knowsLanguage": "schema:knowsLanguage",
    "inLanguage": "schema:inLanguage",
    "occupation": {"@id": "coopfed:occupation", "@type": "@id"},
    # Maps and lists of records whose keys are data (language codes, start/end): JSON literals,
    # so a JSON-LD processor keeps them whole instead of dropping keys it has no term for.
    "languageLevels": {"@id": "coopfed:languageLevels", "@type": "@json"},
    "availability": {"@id": "coopfed:availability", "@type": "@json"},
    # a project call
    "requiredSkill": {"@id": "coopfed:requiredSkill", "@type": "@id"},
    "optionalSkill": {"@id": "coopfed:optionalSkill", "@type": "@id"},
    "workingLanguage": "coopfed:workingLanguage",
    "deadline": {"@id": "coopfed:deadline", "@type": "xsd:dateTime"},
    "compensation": "coopfed:compensation",
    "callStatus": "coopfed:callStatus",
    "allWorkingLanguages": {"@id": "coopfed:allWorkingLanguages", "@type": "xsd:boolean"},
    # both
    "remote": {"@id": "coopfed:remote", "@type": "xsd:boolean"},
    "coop": {"@id": "coopfed:coop", "@type": "@id"},
    "country": "coopfed:country",
    "visibility": "coopfed:visibility",
    # Translation directions ([{"source": "de", "target": "sv"}]) of a translator or a call,
    # and a member's own words ([{"text", "lang", "kind", "status", "concept"?}]): records,
    # kept whole as JSON literals like languageLevels.
    "languagePair": {"@id": "coopfed:languagePair", "@type": "@json"},
    "ownWords": {"@id": "coopfed:ownWords", "@type": "@json"},
}

# The whole inline term dict of our documents (generic + coop terms), as published.
COOPFED_CONTEXT: dict[str, Any] = {**vocab.EXTENSION_CONTEXT, **COOP_TERMS}


def context_for(kind: str) -> list[Any]:
    """The ``@context`` of a coop document: ``"actor"`` (AS + security + terms) or anything
    else (AS + terms); see :func:`federation.vocab.context_for`."""
    return vocab.context_for(kind, COOP_TERMS)


__all__ = ["COOPFED_CONTEXT", "COOPFED_NS", "COOP_TERMS", "context_for"]
