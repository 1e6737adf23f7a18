"""The hand-written OpenAPI 3.1 description of /api/v1 (served at /api/v1/openapi.json).

Written by hand rather than generated so that it states the contract, not the code; a test
checks that every registered /api/v1 route appears here and that real responses validate
against these schemas.
"""

from __future__ import annotations

from typing import Any

LANGS = ["en", "de", "sv", "fr", "nl", "it", "es"]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _q(
    name: str, description: str, schema: dict[str, Any] | None = None, **kw: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": kw.pop("required", False),
        "description": description,
        "schema": schema or {"type": "string"},
        **kw,
    }


def _path(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string"},
    }


LANG = _q("lang", "Language of concept labels (default en).", {"type": "string", "enum": LANGS})
PAGE = _q("page", "Page number, from 1.", {"type": "integer", "minimum": 1, "default": 1})
PER_PAGE = _q(
    "per_page",
    "Results per page.",
    {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
)
DATE = {"type": "string", "format": "date"}
NULLABLE_DATE = {"type": ["string", "null"], "format": "date"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERRORS = {
    "400": {"$ref": "#/components/responses/BadRequest"},
}
NOT_FOUND = {"404": {"$ref": "#/components/responses/NotFound"}}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string"}},
    },
    "ConceptRef": {
        "type": "object",
        "required": ["iri", "label"],
        "additionalProperties": False,
        "properties": {
            "iri": {"type": "string", "format": "uri", "description": "ESCO concept IRI"},
            "label": {"type": "string", "description": "Preferred label in ?lang (else English)"},
        },
    },
    "Member": {
        "type": "object",
        "additionalProperties": False,
        "required": [
            "ap_id",
            "username",
            "handle",
            "node",
            "local",
            "coop",
            "name",
            "summary",
            "country",
            "city",
            "remote",
            "visibility",
            "languages",
            "occupations",
            "skills",
            "availability",
            "url",
        ],
        "properties": {
            "ap_id": {"type": "string", "format": "uri", "description": "ActivityPub actor IRI"},
            "username": {"type": "string"},
            "handle": {"type": "string", "description": "username@node"},
            "node": {"type": "string", "description": "Domain of the member's coop node"},
            "local": {"type": "boolean", "description": "A member of this node"},
            "coop": {"type": "string", "description": "Name of the member's coop"},
            "name": {"type": "string"},
            "summary": {"type": "string", "description": "Sanitised HTML"},
            "country": {"type": "string", "description": "ISO 3166 alpha-2 or empty"},
            "city": {"type": "string"},
            "remote": {"type": "boolean"},
            "visibility": {"type": "string", "enum": ["public", "partners", "coop"]},
            "languages": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["code", "level"],
                    "additionalProperties": False,
                    "properties": {
                        "code": {"type": "string", "description": "ISO 639-1"},
                        "level": {
                            "type": "string",
                            "enum": ["A1", "A2", "B1", "B2", "C1", "C2", "native"],
                        },
                    },
                },
            },
            "occupations": {"type": "array", "items": _ref("ConceptRef")},
            "skills": {"type": "array", "items": _ref("ConceptRef")},
            "availability": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["start", "end"],
                    "additionalProperties": False,
                    "properties": {"start": DATE, "end": DATE},
                },
            },
            "url": {"type": "string", "format": "uri", "description": "Profile page"},
        },
    },
    "Call": {
        "type": "object",
        "additionalProperties": False,
        "required": [
            "ap_id",
            "public_id",
            "ref",
            "node",
            "local",
            "author",
            "title",
            "description",
            "language",
            "skills_required",
            "skills_optional",
            "languages",
            "country",
            "city",
            "remote",
            "starts",
            "ends",
            "deadline",
            "compensation",
            "status",
            "visibility",
            "created_at",
            "url",
        ],
        "properties": {
            "ap_id": {"type": "string", "format": "uri"},
            "public_id": {"type": "string"},
            "ref": {"type": ["string", "null"], "description": "External id given at import"},
            "node": {"type": "string"},
            "local": {"type": "boolean"},
            "author": {
                "type": "object",
                "required": ["ap_id", "username", "node", "name"],
                "additionalProperties": False,
                "properties": {
                    "ap_id": {"type": "string", "format": "uri"},
                    "username": {"type": "string"},
                    "node": {"type": "string"},
                    "name": {"type": "string"},
                },
            },
            "title": {"type": "string"},
            "description": {"type": "string", "description": "Sanitised HTML"},
            "language": {"type": "string", "description": "Language of the text (ISO 639-1)"},
            "skills_required": {"type": "array", "items": _ref("ConceptRef")},
            "skills_optional": {"type": "array", "items": _ref("ConceptRef")},
            "languages": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Working languages",
            },
            "country": {"type": "string"},
            "city": {"type": "string"},
            "remote": {"type": "boolean"},
            "starts": NULLABLE_DATE,
            "ends": NULLABLE_DATE,
            "deadline": NULLABLE_DATE,
            "compensation": {"type": "string"},
            "status": {"type": "string", "enum": ["open", "closed"]},
            "visibility": {"type": "string", "enum": ["public", "partners", "coop"]},
            "created_at": {"type": "string", "format": "date-time"},
            "url": {"type": "string", "format": "uri"},
        },
    },
    "MemberPage": {
        "type": "object",
        "additionalProperties": False,
        "required": ["total", "page", "per_page", "results"],
        "properties": {
            "total": {"type": "integer", "minimum": 0},
            "page": {"type": "integer", "minimum": 1},
            "per_page": {"type": "integer", "minimum": 1},
            "results": {"type": "array", "items": _ref("Member")},
        },
    },
    "CallPage": {
        "type": "object",
        "additionalProperties": False,
        "required": ["total", "page", "per_page", "results"],
        "properties": {
            "total": {"type": "integer", "minimum": 0},
            "page": {"type": "integer", "minimum": 1},
            "per_page": {"type": "integer", "minimum": 1},
            "results": {"type": "array", "items": _ref("Call")},
        },
    },
    "TaxonomyResults": {
        "type": "object",
        "additionalProperties": False,
        "required": ["results"],
        "properties": {
            "results": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["iri", "label", "matched", "lang", "score", "kind"],
                    "properties": {
                        "iri": {"type": "string", "format": "uri"},
                        "label": {"type": "string", "description": "Preferred label in ?lang"},
                        "matched": {"type": "string", "description": "The label that matched"},
                        "lang": {"type": "string", "description": "Language of that label"},
                        "score": {"type": "number", "minimum": 0, "maximum": 1},
                        "kind": {"type": "string", "enum": ["skill", "occupation"]},
                    },
                },
            }
        },
    },
    "Concept": {
        "type": "object",
        "additionalProperties": False,
        "required": ["iri", "kind", "source", "group", "codes", "label", "labels"],
        "properties": {
            "iri": {"type": "string", "format": "uri"},
            "kind": {"type": "string", "enum": ["skill", "occupation"]},
            "source": {"type": "string", "enum": ["curated", "esco"]},
            "group": {"type": ["string", "null"]},
            "codes": {
                "type": "array",
                "items": {"type": "string"},
                "description": "ISCO code / ESCO skill hierarchy codes",
            },
            "label": {"type": "string", "description": "Preferred label in ?lang"},
            "labels": {
                "type": "object",
                "description": "Per language code: preferred label and alternatives",
                "additionalProperties": {
                    "type": "object",
                    "required": ["preferred", "alt"],
                    "additionalProperties": False,
                    "properties": {
                        "preferred": {"type": "string"},
                        "alt": {"type": "array", "items": {"type": "string"}},
                    },
                },
            },
        },
    },
}


# Matchmaking (node/views/matching.py): suggestions with reasons rendered in ?lang.
SCHEMAS.update(
    {
        "Reason": {
            "type": "object",
            "additionalProperties": False,
            "required": ["code", "text", "concepts", "values"],
            "properties": {
                "code": {
                    "type": "string",
                    "description": "covers_required, covers_optional, related_skill, "
                    "adds_to_team, occupation_match, text_match, shared_languages, "
                    "availability_overlap, cross_border, same_country, remote_ok, reciprocal",
                },
                "text": {"type": "string", "description": "The reason as a sentence in ?lang"},
                "concepts": {"type": "array", "items": _ref("ConceptRef")},
                "values": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "Codes and numbers: languages, countries, days and dates",
                },
            },
        },
        "Match": {
            "type": "object",
            "additionalProperties": False,
            "required": ["actor", "username", "node", "country", "score", "reasons"],
            "properties": {
                "actor": {"type": "string", "format": "uri", "description": "Actor IRI"},
                "username": {"type": "string"},
                "node": {"type": "string"},
                "country": {"type": "string"},
                "score": {"type": "number", "minimum": 0},
                "reasons": {"type": "array", "items": _ref("Reason")},
            },
        },
        "CallMatches": {
            "type": "object",
            "additionalProperties": False,
            "required": ["matches", "team", "uncovered"],
            "properties": {
                "matches": {"type": "array", "items": _ref("Match")},
                "team": {
                    "type": "array",
                    "description": "A small team covering the required skills: who covers what",
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["actor", "username", "covers"],
                        "properties": {
                            "actor": {"type": "string", "format": "uri"},
                            "username": {"type": "string"},
                            "covers": {"type": "array", "items": _ref("ConceptRef")},
                        },
                    },
                },
                "uncovered": {
                    "type": "array",
                    "items": _ref("ConceptRef"),
                    "description": "Required skills nobody suggested covers",
                },
            },
        },
        "Suggestions": {
            "type": "object",
            "additionalProperties": False,
            "required": ["calls", "people"],
            "properties": {
                "calls": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["call", "title", "score", "reasons"],
                        "properties": {
                            "call": {"type": "string", "format": "uri", "description": "ap_id"},
                            "title": {"type": "string"},
                            "score": {"type": "number", "minimum": 0},
                            "reasons": {"type": "array", "items": _ref("Reason")},
                        },
                    },
                },
                "people": {"type": "array", "items": _ref("Match")},
            },
        },
    }
)
MATCH_LIMIT = _q(
    "limit", "Most results.", {"type": "integer", "minimum": 1, "maximum": 50, "default": 20}
)
FORBIDDEN = {"403": _json(_ref("Error"), "Not the call's author (or an admin) / not you")}


def openapi_document(base_url: str = "", node_name: str = "") -> dict[str, Any]:
    """The OpenAPI 3.1 document; ``base_url`` becomes the server entry."""
    visibility_note = (
        " Anonymous callers see public entries only; a signed-in member's session cookie "
        "shows what that member sees in the web UI."
    )
    member_filters = [
        _q("skill", "Only members with this skill (ESCO IRI)."),
        _q("occupation", "Only members with this occupation (ESCO IRI)."),
        _q("country", "ISO 3166 alpha-2 country code."),
        _q("language", "Only members speaking this language (ISO 639-1)."),
        _q("available_from", "Available at some time in [available_from, available_until].", DATE),
        _q("available_until", "See available_from.", DATE),
        _q("node", "Only members of this coop node (domain)."),
        _q("q", "Name, user name or city contains this text."),
        PAGE,
        PER_PAGE,
        LANG,
    ]
    call_filters = [
        _q(
            "ref",
            "Exact lookup by the external id given at import: answers that one Call "
            "(not a page), 404 when there is none. Other filters are ignored.",
        ),
        _q(
            "status",
            "open (default), closed or all.",
            {"type": "string", "enum": ["open", "closed", "all"], "default": "open"},
        ),
        _q("skill", "Only calls asking for this concept (ESCO IRI)."),
        _q("country", "ISO 3166 alpha-2 country code."),
        _q("language", "Only calls with this working language (ISO 639-1)."),
        _q("node", "Only calls of this coop node (domain)."),
        _q("remote", "Only remote (true) or on-site (false) calls.", {"type": "boolean"}),
        PAGE,
        PER_PAGE,
        LANG,
    ]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"coopfed API{' — ' + node_name if node_name else ''}",
            "version": "1",
            "description": "Read-only JSON API of a coopfed node: the member directory, project "
            "calls and the skills/occupations taxonomy (ESCO)."
            + visibility_note
            + ' Errors are {"error": "..."} with the HTTP status.',
        },
        "servers": [{"url": f"{base_url}/api/v1"}] if base_url else [{"url": "/api/v1"}],
        "paths": {
            "/members": {
                "get": {
                    "operationId": "listMembers",
                    "summary": "Search the member directory (paginated).",
                    "description": "Members of this node and of partner coops." + visibility_note,
                    "parameters": member_filters,
                    "responses": {"200": _json(_ref("MemberPage"), "A page of members"), **ERRORS},
                }
            },
            "/members/{username}": {
                "get": {
                    "operationId": "getMember",
                    "summary": "One member: `username` on this node or `username@node`.",
                    "parameters": [_path("username", "username or username@node"), LANG],
                    "responses": {
                        "200": _json(_ref("Member"), "The member"),
                        **ERRORS,
                        **NOT_FOUND,
                    },
                }
            },
            "/calls": {
                "get": {
                    "operationId": "listCalls",
                    "summary": "List project calls (paginated), or find one by ?ref=.",
                    "description": "Newest first." + visibility_note,
                    "parameters": call_filters,
                    "responses": {
                        "200": _json(
                            {"oneOf": [_ref("CallPage"), _ref("Call")]},
                            "A page of calls; with ?ref= the one matching Call",
                        ),
                        **ERRORS,
                        **NOT_FOUND,
                    },
                }
            },
            "/calls/{public_id}": {
                "get": {
                    "operationId": "getCall",
                    "summary": "One project call by its public id.",
                    "parameters": [_path("public_id", "The id in the call's URL"), LANG],
                    "responses": {"200": _json(_ref("Call"), "The call"), **ERRORS, **NOT_FOUND},
                }
            },
            "/calls/{public_id}/matches": {
                "get": {
                    "operationId": "getCallMatches",
                    "summary": "Suggested collaborators for a call, with reasons and a team.",
                    "description": "Only for the call's author (or an admin of this node), "
                    "signed in with a session cookie. Reasons are rendered in ?lang "
                    "(default: the UI language).",
                    "parameters": [
                        _path("public_id", "The id in the call's URL"),
                        MATCH_LIMIT,
                        _q("cross_border", "1: only people in other countries."),
                        _q("own_coop", "1: only members of this node."),
                        _q("remote", "1: only people who can work remotely."),
                        LANG,
                    ],
                    "responses": {
                        "200": _json(_ref("CallMatches"), "Best first"),
                        **ERRORS,
                        **FORBIDDEN,
                        **NOT_FOUND,
                    },
                }
            },
            "/members/{username}/suggestions": {
                "get": {
                    "operationId": "getMemberSuggestions",
                    "summary": "Open calls that fit a member and people to meet (reciprocal).",
                    "description": "Only for that member, signed in with a session cookie.",
                    "parameters": [
                        _path("username", "The signed-in member's username"),
                        MATCH_LIMIT,
                        LANG,
                    ],
                    "responses": {
                        "200": _json(_ref("Suggestions"), "Best first"),
                        **ERRORS,
                        **FORBIDDEN,
                    },
                }
            },
            "/taxonomy/search": {
                "get": {
                    "operationId": "searchTaxonomy",
                    "summary": "Concepts matching free text typed in any of the seven languages.",
                    "parameters": [
                        _q("q", "The text, e.g. 'ljusdesign'.", required=True),
                        LANG,
                        _q(
                            "kind",
                            "Only skills or only occupations.",
                            {"type": "string", "enum": ["skill", "occupation"]},
                        ),
                        _q(
                            "limit",
                            "Most results.",
                            {"type": "integer", "minimum": 1, "maximum": 50, "default": 8},
                        ),
                    ],
                    "responses": {
                        "200": _json(_ref("TaxonomyResults"), "Best matches first"),
                        **ERRORS,
                    },
                }
            },
            "/taxonomy/concepts/{iri}": {
                "get": {
                    "operationId": "getConcept",
                    "summary": "One concept with its labels in every language.",
                    "parameters": [
                        _path(
                            "iri",
                            "The full ESCO IRI, slashes included "
                            "(e.g. http://data.europa.eu/esco/skill/…), may be URL-encoded",
                        ),
                        LANG,
                    ],
                    "responses": {
                        "200": _json(_ref("Concept"), "The concept"),
                        **ERRORS,
                        **NOT_FOUND,
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "operationId": "getOpenAPI",
                    "summary": "This document.",
                    "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1 document")},
                }
            },
        },
        "components": {
            "schemas": SCHEMAS,
            "responses": {
                "BadRequest": _json(_ref("Error"), "A parameter is invalid"),
                "NotFound": _json(_ref("Error"), "Not found, or not visible to the caller"),
            },
        },
    }
