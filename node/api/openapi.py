"""The OpenAPI 3.1 document of /api/v1, generated from the response models
(:mod:`node.api.schemas`) and the registered operations (:data:`node.api.OPERATIONS`), served
at /api/v1/openapi.json. Nothing here restates a field: change a model or an operation and the
document follows.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from pydantic.json_schema import models_json_schema

from node.api import OPERATIONS, PREFIX, Operation
from node.api import schemas as s
from node.web import ctx
from profiles.fields import CallFields, ProfileFields

bp = Blueprint("api_openapi", __name__, url_prefix=PREFIX)

REF = "#/components/schemas/{model}"
ERROR_RESPONSES = {
    400: ("BadRequest", "A parameter is invalid"),
    403: ("Forbidden", "Not the call's author (or an admin) / not you"),
    404: ("NotFound", "Not found, or not visible to the caller"),
    401: ("Unauthorized", "No API token, or an invalid or revoked one"),
    409: ("Conflict", "Exists already (a call's ref)"),
    422: ("Unprocessable", "A value is invalid (the field and the reason)"),
}
SELF = {
    "operationId": "getOpenAPI",
    "summary": "This document.",
    "responses": {
        "200": {
            "description": "OpenAPI 3.1 document",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
}


def _ref(model: type) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


@cache
def component_schemas() -> dict[str, Any]:
    """The JSON Schema of every response model, as they are serialised (``mode="json"``)."""
    _refs, defs = models_json_schema(
        [(model, "serialization") for model in s.COMPONENTS], ref_template=REF
    )
    return dict(defs.get("$defs", {}))


@cache
def input_schemas() -> dict[str, Any]:
    """What the write operations take: the call's and the profile's fields (profiles.fields)."""
    # Prefixed: the input models' nested types (Period, …) differ from the response models'.
    _refs, defs = models_json_schema(
        [(CallFields, "validation"), (ProfileFields, "validation")],
        ref_template=REF.replace("{model}", "Input{model}"),
    )
    return {f"Input{name}": schema for name, schema in defs.get("$defs", {}).items()}


def _operation(op: Operation) -> dict[str, Any]:
    body = (
        _ref(op.response[0]) if len(op.response) == 1 else {"oneOf": list(map(_ref, op.response))}
    )
    out: dict[str, Any] = {"operationId": op.operation_id, "summary": op.summary}
    if op.description:
        out["description"] = op.description
    out["parameters"] = [p.openapi() for p in op.params]
    out["responses"] = {"200": _json(body, op.response_description)} | {
        str(code): {"$ref": f"#/components/responses/{ERROR_RESPONSES[code][0]}"}
        for code in op.errors
    }
    return out


def openapi_document(base_url: str = "", node_name: str = "") -> dict[str, Any]:
    """The OpenAPI 3.1 document; ``base_url`` becomes the server entry."""
    from node.api import write

    paths: dict[str, Any] = {op.path: {"get": _operation(op)} for op in OPERATIONS}
    for path_item in paths.values():
        path_item["get"]["security"] = write.READ_SECURITY
    paths["/openapi.json"] = {"get": SELF}
    for path, item in write.openapi_paths(lambda name: {"$ref": REF.format(model=name)}).items():
        paths.setdefault(path, {}).update(item)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"coopfed API{' — ' + node_name if node_name else ''}",
            "version": "1",
            "description": "Read-only JSON API of a coopfed node: the member directory, project "
            "calls and the skills/occupations taxonomy (ESCO). Anonymous callers see public "
            "entries only; a signed-in member's session cookie shows what that member sees in "
            'the web UI. Errors are {"error": "..."} with the HTTP status.',
        },
        "servers": [{"url": f"{base_url}{PREFIX}" if base_url else PREFIX}],
        "paths": paths,
        "components": {
            "schemas": component_schemas() | input_schemas(),
            "responses": {
                name: _json(_ref(s.Error), text) for name, text in ERROR_RESPONSES.values()
            },
            "securitySchemes": write.SECURITY_SCHEMES,
        },
    }


@bp.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    return jsonify(openapi_document(ctx().base_url, ctx().name))
