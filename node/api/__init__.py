"""The read-only JSON API under /api/v1, one module per resource, described by the OpenAPI
document at /api/v1/openapi.json, which :mod:`node.api.openapi` generates from the response
models (:mod:`node.api.schemas`) and the operations registered here.

Anonymous callers see what a signed-out web visitor sees (public profiles and calls); a request
carrying a signed-in member's session sees what that member sees in the web UI (the rules:
:mod:`profiles.visibility`, applied by the ``profiles`` queries). Errors are
``{"error": "..."}`` with the matching status (the app's error handlers do that for /api/).

A route is declared with :func:`operation`: it registers the Flask view and the OpenAPI
operation together, and serialises whatever the view returns through its response model.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import wraps
from typing import Any

from flask import Blueprint, Flask, abort, request
from pydantic import BaseModel

from profiles import validation
from profiles.languages import DEFAULT_UI_LANGUAGE, UI_LANGUAGES

PREFIX = "/api/v1"
MAX_PER_PAGE = 100


# --- parameters ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """One documented parameter (OpenAPI Parameter Object)."""

    name: str
    description: str
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string"})
    where: str = "query"
    required: bool = False

    def openapi(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "in": self.where,
            "required": self.required or self.where == "path",
            "description": self.description,
            "schema": self.schema,
        }


def path_param(name: str, description: str) -> Param:
    return Param(name, description, where="path", required=True)


def lang_arg(default: Callable[[], str] | None = None) -> str:
    """``?lang=``: one of the UI languages (concept labels and reasons exist in those).

    Without it: ``default()`` if given (called only then: asking for the UI language may
    remember it in the session), else English.
    """
    raw = request.args.get("lang")
    if raw is None:
        raw = default() if default is not None else DEFAULT_UI_LANGUAGE
    lang = raw.strip().lower()
    if lang not in UI_LANGUAGES:
        abort(400, f"lang: one of {', '.join(UI_LANGUAGES)}")
    return lang


def int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        abort(400, f"{name}: a whole number expected")
    if not low <= value <= high:
        abort(400, f"{name}: between {low} and {high}")
    return value


def date_arg(name: str) -> date | None:
    try:
        return validation.iso_date(request.args.get(name))
    except ValueError as exc:
        abort(400, f"{name}: {exc}")


def text_arg(name: str, limit: int = 255) -> str | None:
    value = (request.args.get(name) or "").strip()
    if len(value) > limit:
        abort(400, f"{name}: at most {limit} characters")
    return value or None


def bool_arg(name: str) -> bool | None:
    raw = request.args.get(name)
    if raw in (None, ""):
        return None
    try:
        return validation.boolean(raw)
    except ValueError as exc:
        abort(400, f"{name}: {exc}")


# --- operations ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    """One GET route of the API as the OpenAPI document describes it."""

    path: str  # under PREFIX, OpenAPI style: /members/{username}
    operation_id: str
    summary: str
    description: str | None
    params: tuple[Param, ...]
    response: tuple[type[BaseModel], ...]  # the 200 body: one of these models
    response_description: str
    errors: tuple[int, ...]  # documented error statuses (bodies: Error)


# Every operation of the API, in the order the modules declare them (node.api.openapi reads it).
OPERATIONS: list[Operation] = []


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def operation(
    bp: Blueprint,
    rule: str,
    *,
    operation_id: str,
    summary: str,
    response: type[BaseModel] | tuple[type[BaseModel], ...],
    response_description: str,
    params: tuple[Param, ...] = (),
    description: str | None = None,
    errors: tuple[int, ...] = (400,),
) -> Callable[[Callable[..., BaseModel]], Callable[..., dict[str, Any]]]:
    """Register a GET route on ``bp`` (under /api/v1) and its OpenAPI operation.

    The view returns an instance of (one of) ``response``; the client gets its JSON dump, so
    the document and the bodies cannot drift apart.
    """
    models = response if isinstance(response, tuple) else (response,)

    def decorate(view: Callable[..., BaseModel]) -> Callable[..., dict[str, Any]]:
        OPERATIONS.append(
            Operation(
                _openapi_path(rule),
                operation_id,
                summary,
                description,
                params,
                models,
                response_description,
                errors,
            )
        )

        @wraps(view)
        def serialised(**kwargs: Any) -> dict[str, Any]:
            body = view(**kwargs)
            if not isinstance(body, models):
                raise TypeError(f"{view.__name__} returned {type(body).__name__}")
            return body.model_dump(mode="json")

        bp.add_url_rule(rule, view.__name__, serialised, methods=["GET"])
        return serialised

    return decorate


def blueprints() -> tuple[Blueprint, ...]:
    from node.api import calls, collab, matches, members, openapi, taxonomy

    return (members.bp, calls.bp, matches.bp, collab.bp, taxonomy.bp, openapi.bp)


def install(app: Flask) -> None:
    from node.api import write

    for blueprint in blueprints():
        app.register_blueprint(blueprint)
    write.install(app)
