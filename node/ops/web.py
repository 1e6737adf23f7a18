"""``/healthz``, ``/readyz`` and ``/metrics``; the inbox and HTTP counters' request hooks."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, request

from node.ops import health, metrics
from node.state import NodeState

bp = Blueprint("ops", __name__)

LOOPBACK = metrics.parse_allow("127.0.0.0/8,::1")
INBOX_ENDPOINTS = frozenset(
    {"ap_inbox.inbox", "ap_inbox.actor_inbox", "ap_inbox.calls_inbox", "ap_inbox.member_inbox"}
)


def _state() -> NodeState:
    state: NodeState = current_app.extensions["coopfed"]
    return state


@bp.route("/healthz")
def healthz() -> Any:
    """The process is up and answers (no database touched)."""
    return {"status": "ok"}


@bp.route("/readyz")
def readyz() -> Any:
    """200 when ready to take traffic, else 503 with the reasons."""
    reasons = health.ready(_state())
    if reasons:
        return {"status": "not ready", "reasons": reasons}, 503
    return {"status": "ready"}


def client_address() -> str:
    """The client's address. Behind a proxy on this host (nginx on loopback) every request comes
    from loopback: then the last X-Forwarded-For hop counts — the one nginx appended, which a
    client cannot forge. From anywhere else the header is ignored."""
    remote = request.remote_addr or ""
    forwarded = request.headers.get("X-Forwarded-For", "")
    if forwarded and metrics.allowed(remote, LOOPBACK):
        return forwarded.split(",")[-1].strip()
    return remote


@bp.route("/metrics")
def prometheus() -> Any:
    state = _state()
    if not metrics.allowed(client_address(), metrics.parse_allow(state.settings.metrics_allow)):
        abort(403)
    body, content_type = metrics.render(state)
    return Response(body, content_type=content_type)


def install(app: Flask, state: NodeState) -> None:
    app.register_blueprint(bp)

    @app.after_request
    def _count(response: Response) -> Response:
        metrics.HTTP.labels(f"{response.status_code // 100}xx").inc()
        if request.endpoint in INBOX_ENDPOINTS and request.method == "POST":
            text = response.get_data(as_text=True) if response.status_code == 202 else ""
            metrics.inbox_outcome(response.status_code, text)
        return response

    if state.matching is not None:
        # Instance attributes shadow the methods: every caller (pages, API) is timed.
        service = state.matching
        service.call_matches = metrics.timed("call", service.call_matches)  # type: ignore[method-assign]
        service.member_suggestions = metrics.timed("member", service.member_suggestions)  # type: ignore[method-assign]
