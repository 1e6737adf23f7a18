"""Inboxes: one shared path in effect (the activity says whom it is for); members' inboxes
check the member exists. The signature checks and the queue are ``federation.inbox``'s,
reached through :meth:`node.ap.service.NodeFederation.receive`. No CSRF here: servers POST.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from flask import Blueprint, Response, abort, request
from sqlalchemy import select
from werkzeug.datastructures import EnvironHeaders
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wsgi import get_input_stream

from federation import signatures
from federation.iri import host_of, is_http_iri
from federation.models import Following
from node.ap import fed, local_member, public_url
from node.ops import logs, metrics
from node.state import NodeState
from node.web import SECURITY_HEADERS, db
from profiles import visibility
from profiles.models import Member, Partnership
from profiles.visibility import Audience

bp = Blueprint("ap_inbox", __name__)
log = logging.getLogger("coopfed.federation")

# The shared inbox's paths (the instance actor's and the calls Group's inboxes are it too).
SHARED_PATHS = frozenset({"/inbox", "/actor/inbox", "/groups/calls/inbox"})
_TEXT = "text/plain; charset=utf-8"


def shared_inbox() -> Response:
    status, message = fed().receive(
        url=public_url(), headers=dict(request.headers), body=request.get_data(cache=False)
    )
    return Response(message, status=status, content_type="text/plain; charset=utf-8")


def member_inbox(username: str) -> Response:
    """A member's inbox. A hidden member (partners-only, coop-only) answers exactly like a
    nonexistent one: a POST that claims a partner coop's key goes on to the shared inbox (which
    verifies it) whether or not the member exists; anyone else gets 404 for both."""
    member = local_member(username)
    hidden = member is None or not visibility.actor_served(member.visibility, Audience.PUBLIC)
    if hidden and not _known_sender(member):
        abort(404)
    return shared_inbox()


def _known_sender(member: Member | None) -> bool:
    """Does the POST claim the key of a partner coop's server, or of an account the member
    follows (a member who followed someone revealed themselves to that account)? Unverified:
    the shared inbox verifies; a forger only reaches the same verification."""
    key_id = signatures.claimed_key_id(dict(request.headers))
    if not key_id or not is_http_iri(key_id):
        return False
    host = host_of(key_id)
    stmt = select(Partnership.id).where(Partnership.domain == host, Partnership.state == "active")
    if db().scalar(stmt) is not None:
        return True
    if member is None:
        return False
    followed = select(Following.id).where(
        Following.local_actor == member.ap_id,
        Following.remote_actor == key_id.split("#", 1)[0],
    )
    return db().scalar(followed) is not None


bp.add_url_rule("/inbox", "inbox", shared_inbox, methods=["POST"])
bp.add_url_rule("/actor/inbox", "actor_inbox", shared_inbox, methods=["POST"])
bp.add_url_rule("/groups/calls/inbox", "calls_inbox", shared_inbox, methods=["POST"])
bp.add_url_rule("/members/<username>/inbox", "member_inbox", member_inbox, methods=["POST"])


WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class SharedInboxPath:
    """WSGI, in front of the Flask app: a POST to a shared inbox path goes straight to
    :meth:`~node.ap.service.NodeFederation.receive`; every other request to the app.

    Other servers POST here more often than anyone asks for anything else, and such a POST
    needs only its path, headers and body: no session cookie, CSRF, locale, URL map, template
    or response object. Flask's request context and hooks cost about as much CPU as the checks
    and the INSERT together (bench/bench_federation.py's docstring). What the hooks do for
    every request is done here too: the request id (echoed, and on the log records written
    meanwhile), the access log, the counters of /metrics, the security headers, a body over
    ``max_request_bytes`` refused (413) unread, a failure answered 500 and logged with its
    traceback. Members' inboxes stay routes: they look the member up first. The routes of the
    shared paths stay too (``url_for``, and an app without this in front).
    """

    def __init__(self, app: WSGIApp, state: NodeState) -> None:
        self.app = app
        self.state = state

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") != "POST" or path not in SHARED_PATHS:
            return self.app(environ, start_response)
        started = time.perf_counter()
        rid = logs.new_request_id(environ.get("HTTP_X_REQUEST_ID", ""))
        with logs.request_scope(rid):
            status, message = self._receive(environ, path)
            metrics.HTTP.labels(f"{status // 100}xx").inc()
            metrics.inbox_outcome(status, message)
            if self.state.settings.log_json:
                logs.log_access("POST", path, status, started)
        body = message.encode()
        start_response(
            f"{status} {HTTPStatus(status).phrase}",
            [
                ("Content-Type", _TEXT),
                ("Content-Length", str(len(body))),
                (logs.HEADER, rid),
                *SECURITY_HEADERS,
            ],
        )
        return [body]

    def _receive(self, environ: dict[str, Any], path: str) -> tuple[int, str]:
        settings = self.state.settings
        limit = settings.max_request_bytes
        try:
            body = get_input_stream(environ, max_content_length=limit).read()
        except RequestEntityTooLarge:
            return 413, f"request larger than {limit} bytes"
        # The URL the sender signed, as public_url() builds it: our base URL, never the proxy's.
        query = environ.get("QUERY_STRING", "").encode("latin-1").decode("utf-8", "replace")
        url = settings.base_url + path + (f"?{query}" if query else "")
        try:
            return self.state.federation_service().receive(
                url=url, headers=dict(EnvironHeaders(environ)), body=body
            )
        except Exception:
            log.exception("inbox POST failed")
            return 500, "internal error"
