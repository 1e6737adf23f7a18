"""The admin's operations page: current figures and charts of the snapshots over time."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, render_template, request
from flask_babel import lazy_gettext as _l

from federation.db import utcnow
from node.ops import charts, figures, snapshots
from node.web import admin_required, db

bp = Blueprint("ops_admin", __name__, url_prefix="/admin/ops")

# (figure, label) in the order shown.
CHARTS = (
    ("delivery_queue_depth", _l("Deliveries waiting")),
    ("delivery_oldest_seconds", _l("Oldest waiting delivery (seconds)")),
    ("deliveries_sent", _l("Deliveries sent")),
    ("deliveries_failed", _l("Deliveries failed")),
    ("deliveries_dead", _l("Deliveries given up")),
    ("hosts_failing", _l("Failing hosts")),
    ("hosts_dead", _l("Unreachable hosts")),
    ("worker_lag_seconds", _l("Worker lag (seconds)")),
    ("inbox_done", _l("Activities processed")),
    ("inbox_failed", _l("Activities that failed")),
    ("emails_queued", _l("Emails queued")),
    ("emails_failed", _l("Emails failed")),
)
PERIODS = {1: _l("Last hour"), 24: _l("Last 24 hours"), 168: _l("Last 7 days")}


@bp.route("/")
@admin_required
def index() -> Any:
    hours = request.args.get("hours", 24, type=int)
    if hours not in PERIODS:
        hours = 24
    session = db()
    now = utcnow()
    current = figures.collect(session, now)
    times, values = snapshots.series(
        session, now - timedelta(hours=hours), [name for name, _ in CHARTS]
    )
    rows = [
        {
            "name": name,
            "label": label,
            "value": current.get(name, 0.0),
            "chart": charts.line_chart(str(label), times, values[name]),
        }
        for name, label in CHARTS
    ]
    return render_template(
        "admin_ops.html", rows=rows, periods=PERIODS, hours=hours, snapshots=len(times)
    )
