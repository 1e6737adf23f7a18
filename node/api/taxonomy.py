"""GET /api/v1/taxonomy/search (free text -> concepts) and /api/v1/taxonomy/concepts/<iri>."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, request
from sqlalchemy import select

from node.api import PREFIX, Param, int_arg, lang_arg, operation, path_param, text_arg
from node.api import schemas as s
from node.api.members import LANG
from node.web import db, vocab
from profiles.models import CONCEPT_KINDS, Concept, ConceptLabel

bp = Blueprint("api_taxonomy", __name__, url_prefix=PREFIX)

MAX_TAXONOMY_LIMIT = 50


@operation(
    bp,
    "/taxonomy/search",
    operation_id="searchTaxonomy",
    summary="Concepts matching free text typed in any of the seven languages.",
    params=(
        Param("q", "The text, e.g. 'ljusdesign'.", required=True),
        LANG,
        Param(
            "kind",
            "Only skills or only occupations.",
            {"type": "string", "enum": list(CONCEPT_KINDS)},
        ),
        Param(
            "limit",
            "Most results.",
            {"type": "integer", "minimum": 1, "maximum": MAX_TAXONOMY_LIMIT, "default": 8},
        ),
    ),
    response=s.TaxonomyResults,
    response_description="Best matches first",
)
def taxonomy_search() -> s.TaxonomyResults:
    text = text_arg("q", 200)
    if not text:
        abort(400, "q: required")
    lang = lang_arg()
    kind = request.args.get("kind") or None
    if kind is not None and kind not in CONCEPT_KINDS:
        abort(400, "kind: skill or occupation")
    limit = int_arg("limit", 8, 1, MAX_TAXONOMY_LIMIT)
    v = vocab()
    return s.TaxonomyResults(
        results=[
            s.TaxonomyMatch(
                iri=found.iri,
                label=v.label(found.iri, lang),
                matched=found.label,
                lang=found.lang,
                score=round(found.score, 4),
                kind=v.kinds.get(found.iri, ""),  # type: ignore[arg-type]  # validated
            )
            for found in v.linker.link(text, lang, kind=kind, limit=limit)
        ]
    )


def _labels(iri: str) -> dict[str, s.ConceptLabels]:
    """Per language: the preferred label (else the first alternative) and the others."""
    labels: dict[str, dict[str, Any]] = {}
    for code, text, preferred in db().execute(
        select(ConceptLabel.lang, ConceptLabel.label, ConceptLabel.preferred)
        .where(ConceptLabel.concept_iri == iri)
        .order_by(ConceptLabel.lang, ConceptLabel.id)
    ):
        entry = labels.setdefault(code, {"preferred": None, "alt": []})
        if preferred and entry["preferred"] is None:
            entry["preferred"] = text
        else:
            entry["alt"].append(text)
    for entry in labels.values():
        if entry["preferred"] is None and entry["alt"]:
            entry["preferred"] = entry["alt"].pop(0)
    return {code: s.ConceptLabels(**entry) for code, entry in labels.items()}


@operation(
    bp,
    "/taxonomy/concepts/<path:iri>",
    operation_id="getConcept",
    summary="One concept with its labels in every language.",
    params=(
        path_param(
            "iri",
            "The full ESCO IRI, slashes included "
            "(e.g. http://data.europa.eu/esco/skill/…), may be URL-encoded",
        ),
        LANG,
    ),
    response=s.Concept,
    response_description="The concept",
    errors=(400, 404),
)
def taxonomy_concept(iri: str) -> s.Concept:
    lang = lang_arg()
    concept = db().get(Concept, iri)
    if concept is None:
        abort(404, f"no concept {iri!r} in this node's vocabulary")
    return s.Concept(
        iri=concept.iri,
        kind=concept.kind,  # type: ignore[arg-type]  # validated by the model
        source=concept.source,  # type: ignore[arg-type]  # validated by the model
        group=concept.group,
        codes=concept.codes.split() if concept.codes else [],
        label=vocab().label(iri, lang),
        labels=_labels(iri),
    )
