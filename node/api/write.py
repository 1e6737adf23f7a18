"""The write side of /api/v1, for the coop's other systems: API tokens only
(``Authorization: Bearer cf_…``, :mod:`profiles.api_tokens`), never the session cookie, so a
page on another site cannot make a signed-in member's browser write (these routes are exempt
from CSRF tokens for that reason only).

- ``POST /calls`` (write:calls): a call, written as one line of ``calls.jsonl``; ``author``
  defaults to the token's owner; only an admin's token may post for someone else.
- ``PATCH /calls/{public_id}`` (write:calls): the fields given replace the call's.
- ``POST /calls/{public_id}/close`` (write:calls).
- ``POST /members`` (manage:members): one line of the member register — created or updated
  by ``ref``/user name exactly as ``coopfed import members --update`` does.

Bodies are checked by the importer's code (:mod:`profiles.importers`, :mod:`profiles.register`),
so the API, the importer and the web forms accept the same values. Errors:
``{"error": "..."}`` with 400 (a bad field), 401 (no or bad token), 403 (scope), 404, 409, 422.

Any /api/v1 request with a token carrying ``read`` sees what the owner sees (the GET routes).
"""

from __future__ import annotations

import threading
from datetime import date
from typing import Any

from flask import Blueprint, Flask, Response, abort, g, jsonify, request
from flask.typing import ResponseReturnValue

from node.api import PREFIX, lang_arg
from node.api.calls import call_schema
from node.web import ctx, db, vocab
from profiles import api_tokens, register
from profiles import calls as call_service
from profiles.errors import DomainError
from profiles.importers import (
    CALL_FIELDS,
    ImportResult,
    LineError,
    _call_data,
    _Parser,
    call_phrases,
)
from profiles.models import Call, CallPhrase, Member
from profiles.vocabulary import Vocabulary

bp = Blueprint("api_write", __name__, url_prefix=PREFIX)

_parsers: dict[int, tuple[Vocabulary, _Parser]] = {}
_lock = threading.Lock()  # the parser's link cache and report are not thread-safe


def _parser(v: Vocabulary) -> _Parser:
    """One parser per vocabulary snapshot: building it reads every concept label."""
    found = _parsers.get(id(v))
    if found is None or found[0] is not v:
        _parsers.clear()
        found = _parsers[id(v)] = (v, _Parser(v, ImportResult("api"), db()))
    return found[1]


def _error(status: int, message: str) -> Response:
    response = jsonify(error=message)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="coopfed"'
    return response


def bearer_token() -> ResponseReturnValue | None:
    """Before every /api/v1 request: a bearer token signs its owner in for this request (read
    scope), or the request is refused (401). No token: the session, as before."""
    if not request.path.startswith(PREFIX + "/"):
        return None
    header = request.headers.get("Authorization", "")
    if not header:
        return None
    kind, _, secret = header.partition(" ")
    found = api_tokens.authenticate(db(), secret.strip()) if kind.lower() == "bearer" else None
    if found is None:
        return _error(401, "invalid or revoked API token")
    db().commit()  # last_used_at
    token, owner = found
    g.api_token, g.api_owner = token, owner
    # The GET routes read current_member(): the owner, if the token may read.
    g.member = owner if api_tokens.allows(token, owner, "read") else None
    return None


def _require(scope: str) -> Member:
    token = g.get("api_token")
    owner = g.get("api_owner")
    if token is None or owner is None:
        abort(_error(401, "this route needs an API token (Authorization: Bearer …)"))
    if not api_tokens.allows(token, owner, scope):
        abort(403, f"this token lacks the {scope} scope")
    # The answer (the call or member written) is shown as its writer, a member of this coop,
    # may see it, e.g. with its author's name (node.web.pages.author_visible).
    g.member = owner
    return owner  # type: ignore[no-any-return]


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(400, "a JSON object expected")
    return data


def _call_line(call: Call, author: str) -> dict[str, Any]:
    """The call as a ``calls.jsonl`` line (the base a PATCH overlays)."""

    def day(value: date | None) -> str | None:
        return value.isoformat() if value else None

    data = call_service.call_data(call)
    return {
        "author": author,
        "title": data.title,
        "description": data.description,
        "language": data.language,
        "skills_required": data.skills_required,
        "skills_optional": data.skills_optional,
        "languages": data.languages,
        "languages_all": data.languages_all,
        "language_pairs": [{"source": a, "target": b} for a, b in data.language_pairs],
        "country": data.country,
        "city": data.city,
        "remote": data.remote,
        "starts": day(data.starts),
        "ends": day(data.ends),
        "deadline": day(data.deadline),
        "compensation": data.compensation,
        "visibility": data.visibility,
        "status": data.status,
        "ref": data.ref,
    }


def _checked_call(
    line: dict[str, Any],
) -> tuple[str, call_service.CallData, list[CallPhrase]]:
    """(author, the call's data, what the author wrote for its skills as phrase rows)."""
    unknown = sorted(set(line) - CALL_FIELDS)
    if unknown:
        raise LineError(f"unknown field {unknown[0]!r}")
    with _lock:
        parser = _parser(vocab())
        parser.take_phrases()
        try:
            author, data = _call_data(parser, line)
        finally:
            said = parser.take_phrases()  # never left for the next request
        return author, data, call_phrases(said)


@bp.post("/calls")
def create_call() -> ResponseReturnValue:
    owner = _require("write:calls")
    line = _body()
    line.setdefault("author", owner.username)
    try:
        author_name, data, said = _checked_call(line)
    except LineError as exc:
        return _error(400, str(exc))
    author = owner
    if author_name != owner.username:
        if not owner.is_admin:
            abort(403, "only an admin's token posts calls for another member")
        author = _local_member(author_name)
    call = call_service.create_call(db(), ctx(), author, data, vocab(), said)
    db().commit()
    return call_schema(call, vocab(), lang_arg()).model_dump(mode="json"), 201


def _local_member(username: str) -> Member:
    from profiles.members import get_local

    member = get_local(db(), ctx(), username)
    if not member.local or member.deactivated_at is not None:
        abort(404, f"no member {username!r}")
    return member


def _own_call(public_id: str) -> Call:
    call = db().scalar(
        call_service.visible_calls(g.api_owner).where(Call.public_id == public_id, Call.local)
    )
    if call is None:
        abort(404, "no such call (or not visible to you)")
    return call


@bp.patch("/calls/<public_id>")
def update_call(public_id: str) -> ResponseReturnValue:
    owner = _require("write:calls")
    call = _own_call(public_id)
    changes = _body()
    if "author" in changes or ("ref" in changes and changes["ref"] != call.ref):
        return _error(400, "author and ref do not change")
    line = _call_line(call, call.author.username) | changes
    try:
        _author, data, said = _checked_call(line)
    except LineError as exc:
        return _error(400, str(exc))
    status = data.status
    # New skills replace what the author wrote for the old ones; other changes keep it.
    wrote = said if {"skills_required", "skills_optional"} & set(changes) else None
    call_service.update_call(db(), call, owner, data, vocab(), wrote)
    if status != call.status:
        call_service.set_status(db(), call, owner, status)
    db().commit()
    return call_schema(call, vocab(), lang_arg()).model_dump(mode="json")


@bp.post("/calls/<public_id>/close")
def close_call(public_id: str) -> ResponseReturnValue:
    owner = _require("write:calls")
    call = call_service.set_status(db(), _own_call(public_id), owner, "closed")
    db().commit()
    return call_schema(call, vocab(), lang_arg()).model_dump(mode="json")


@bp.post("/members")
def upsert_member() -> ResponseReturnValue:
    _require("manage:members")
    line = _body()
    try:
        with _lock:
            outcome, username, ignored = register.upsert_member(
                db(), ctx(), vocab(), line, parser=_parser(vocab())
            )
    except LineError as exc:
        db().rollback()
        return _error(400, str(exc))
    except DomainError:
        db().rollback()
        raise
    db().commit()
    body = {"result": outcome, "username": username, "ignored_fields": ignored}
    return body, 201 if outcome == "created" else 200


def install(app: Flask) -> None:
    app.before_request(bearer_token)
    app.register_blueprint(bp)
    # Token-only routes: a cookie never authorises them, so there is nothing to forge.
    app.extensions["csrf"].exempt(bp)


# -- OpenAPI ------------------------------------------------------------------------------------

SECURITY_SCHEMES = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token (`coopfed token create`, or the admin's API tokens page). "
        "Scopes: read (GET as the token's owner), write:calls, manage:members (admins).",
    }
}
READ_SECURITY = [{}, {"bearerAuth": ["read"]}]  # GET routes: anonymous, or a read token


ERRORS = (
    (400, "BadRequest"),
    (401, "Unauthorized"),
    (403, "Forbidden"),
    (404, "NotFound"),
    (409, "Conflict"),
    (422, "Unprocessable"),
)
PUBLIC_ID = {"name": "public_id", "in": "path", "required": True, "schema": {"type": "string"}}


def _op(
    op_id: str, summary: str, scope: str, body: dict[str, Any] | None, ok: dict[str, Any]
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "operationId": op_id,
        "summary": summary,
        "parameters": [PUBLIC_ID] if op_id in ("updateCall", "closeCall") else [],
        "security": [{"bearerAuth": [scope]}],
        "responses": ok
        | {str(code): {"$ref": f"#/components/responses/{name}"} for code, name in ERRORS},
    }
    if body is not None:
        out["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return out


MEMBER_OK: dict[str, Any] = {
    "description": "created (201), changed or unchanged (200)",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    "result": {"enum": ["created", "changed", "unchanged"]},
                    "username": {"type": "string"},
                    "ignored_fields": {"type": "array", "items": {"type": "string"}},
                },
            }
        }
    },
}


def openapi_paths(ref: Any) -> dict[str, dict[str, Any]]:
    """The write operations for the OpenAPI document (``ref(model)``: a component $ref)."""
    call_ok = {"description": "The call", "content": {"application/json": {"schema": ref("Call")}}}
    call_body = {
        "allOf": [{"$ref": "#/components/schemas/InputCallFields"}],
        "description": "A call as one line of calls.jsonl: `author` (a user name; default: the "
        "token's owner) plus the call's fields; free-text skills are linked to ESCO.",
    }
    member_body = {
        "type": "object",
        "required": ["username"],
        "description": "One line of the member register (as `coopfed import members --update`): "
        "username, email, ref (member number), the profile fields (InputProfileFields), "
        "available_from/available_until. Unknown fields are ignored and reported.",
        "properties": {
            "username": {"type": "string"},
            "email": {"type": "string", "format": "email"},
            "ref": {"type": "string", "maxLength": 128},
        },
    }
    return {
        "/calls": {
            "post": _op("createCall", "Post a call.", "write:calls", call_body, {"201": call_ok})
        },
        "/calls/{public_id}": {
            "patch": _op(
                "updateCall",
                "Change a call: the fields given replace the call's.",
                "write:calls",
                {"$ref": "#/components/schemas/InputCallFields"},
                {"200": call_ok},
            )
        },
        "/calls/{public_id}/close": {
            "post": _op("closeCall", "Close a call.", "write:calls", None, {"200": call_ok})
        },
        "/members": {
            "post": _op(
                "upsertMember",
                "Create or update a member from one line of the register.",
                "manage:members",
                member_body,
                {"200": MEMBER_OK, "201": MEMBER_OK},
            )
        },
    }
