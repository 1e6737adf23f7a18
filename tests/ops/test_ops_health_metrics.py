"""Health, readiness, Prometheus metrics, request ids, JSON logs, snapshots and the dashboard."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from datetime import timedelta

from alembic import command

from federation.db import utcnow
from federation.models import Delivery, InboxItem, OutboxActivity
from node import db as node_db
from node.ops import charts, figures, logs, snapshots
from profiles import members as member_service

PASSWORD = "correct horse battery"


def _stamp_head(app) -> None:
    # make_node builds the schema from the models; tests/node/test_migrations.py proves the
    # migrations build the same, so marking it as migrated is honest.
    command.stamp(node_db.alembic_config(app.extensions["coopfed"].engine), "head")


def test_healthz_and_readyz_reasons(make_node) -> None:
    app = make_node()
    client = app.test_client()
    assert client.get("/healthz").get_json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 503
    reasons = r.get_json()["reasons"]
    assert any("migrations not current" in x for x in reasons), reasons
    assert "match index not loaded" in reasons
    _stamp_head(app)
    assert client.get("/readyz").get_json()["reasons"] == ["match index not loaded"]
    from node.ops.health import warm_up

    warm_up(app.extensions["coopfed"])
    r = client.get("/readyz")
    assert (r.status_code, r.get_json()) == (200, {"status": "ready"})


def test_readyz_without_database(make_node) -> None:
    app = make_node()
    state = app.extensions["coopfed"]
    from sqlalchemy import create_engine

    # A server nobody listens on: the driver's connection error, whatever the database kind.
    state.engine = create_engine("postgresql+psycopg://nobody@127.0.0.1:9/none")
    r = app.test_client().get("/readyz")
    assert r.status_code == 503
    assert r.get_json()["reasons"][0].startswith("database unreachable")


def _metric(text: str, name: str, **labels: str) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = re.escape(name) + (r"\{" + re.escape(want) + r"\}" if labels else "") + r" (\S+)"
    found = re.search(r"^" + pattern + "$", text, re.M)
    return float(found.group(1)) if found else 0.0


def test_metrics_access_is_limited(make_node) -> None:
    app = make_node()
    client = app.test_client()
    assert client.get("/metrics").status_code == 200  # the test client is 127.0.0.1
    outside = {"REMOTE_ADDR": "203.0.113.5"}
    assert client.get("/metrics", environ_base=outside).status_code == 403
    # Through nginx on loopback: the hop nginx appended counts, a forged first hop does not.
    forged = {"X-Forwarded-For": "127.0.0.1, 203.0.113.5"}
    assert client.get("/metrics", headers=forged).status_code == 403
    # From elsewhere, the header is not believed at all.
    claimed = {"X-Forwarded-For": "127.0.0.1"}
    assert client.get("/metrics", headers=claimed, environ_base=outside).status_code == 403
    allowed = make_node("other.test", metrics_allow="203.0.113.0/24").test_client()
    assert allowed.get("/metrics", environ_base=outside).status_code == 200


def test_metrics_count_inbox_and_read_queues(make_node) -> None:
    app = make_node()
    client = app.test_client()
    before = client.get("/metrics").get_data(as_text=True)
    body = json.dumps(
        {
            "type": "Follow",
            "id": "https://x.test/1",
            "actor": "https://x.test/a",
            "object": "https://smart.test/actor",
        }
    )
    r = client.post("/inbox", data=body, headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    r = client.post("/inbox", data=body, headers={"Content-Type": "application/activity+json"})
    assert r.status_code == 401  # unsigned
    state = app.extensions["coopfed"]
    old = utcnow() - timedelta(minutes=5)
    with state.session() as s:
        act = OutboxActivity(
            ap_id="https://smart.test/a/1",
            actor="https://smart.test/actor",
            type="Create",
            body="{}",
        )
        s.add(act)
        s.flush()
        s.add(
            Delivery(
                activity_id=act.id, inbox_url="https://x.test/inbox", host="x.test", created_at=old
            )
        )
        s.add(
            InboxItem(
                activity_id="https://x.test/2",
                actor="https://x.test/a",
                type="Like",
                body="{}",
                received_at=old,
            )
        )
        s.commit()
    text = client.get("/metrics").get_data(as_text=True)
    for reason in ("media_type", "signature"):
        labels = {"outcome": "refused", "reason": reason}
        delta = _metric(text, "coopfed_inbox_requests_total", **labels) - _metric(
            before, "coopfed_inbox_requests_total", **labels
        )
        assert delta == 1, reason
    assert _metric(text, "coopfed_delivery_queue_depth") == 1
    assert 290 < _metric(text, "coopfed_delivery_queue_oldest_seconds") < 400
    assert _metric(text, "coopfed_deliveries", state="pending") == 1
    assert 290 < _metric(text, "coopfed_worker_lag_seconds") < 400
    assert _metric(text, "coopfed_emails_queued") == 0
    assert "coopfed_match_seconds_bucket" in text
    assert _metric(text, "coopfed_http_responses_total", status="4xx") >= 2


def test_match_latency_is_observed(make_node) -> None:
    app = make_node()
    state = app.extensions["coopfed"]
    client = app.test_client()
    before = _metric(
        client.get("/metrics").get_data(as_text=True), "coopfed_match_seconds_count", kind="member"
    )
    with state.session() as s:
        member = member_service.create_member(s, state.ctx, username="ann", password=PASSWORD)
        s.commit()
        state.match_service().member_suggestions(s, member)
    after = _metric(
        client.get("/metrics").get_data(as_text=True), "coopfed_match_seconds_count", kind="member"
    )
    assert after == before + 1


def test_multiprocess_counters_are_summed(tmp_path) -> None:
    """Two processes count, a third (the one answering the scrape) sees the sum."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    bump = "from node.ops import metrics; metrics.inbox_outcome(202, 'accepted')"
    for _ in range(2):
        subprocess.run([sys.executable, "-c", bump], env=env, check=True)
    read = (
        "from prometheus_client import CollectorRegistry, generate_latest, multiprocess\n"
        "r = CollectorRegistry(); multiprocess.MultiProcessCollector(r)\n"
        "print(generate_latest(r).decode())"
    )
    out = subprocess.run(
        [sys.executable, "-c", read], env=env, check=True, capture_output=True, text=True
    ).stdout
    assert _metric(out, "coopfed_inbox_requests_total", outcome="accepted", reason="new") == 2


def test_request_id_echoed_and_json_logs(make_node) -> None:
    app = make_node(log_json=True)
    client = app.test_client()
    assert (
        client.get("/healthz", headers={"X-Request-Id": "abc-123"}).headers["X-Request-Id"]
        == "abc-123"
    )
    fresh = client.get("/healthz", headers={"X-Request-Id": "bad id with spaces"})
    assert re.fullmatch(r"[0-9a-f]{32}", fresh.headers["X-Request-Id"])
    stream = io.StringIO()
    handler = logs.configure_logging(app.extensions["coopfed"].settings, stream)
    try:
        client.get("/healthz", headers={"X-Request-Id": "req-42"})
    finally:
        import logging

        logging.getLogger().removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    access = [e for e in lines if e["logger"] == "coopfed.access"]
    assert access and access[-1]["request_id"] == "req-42"
    assert access[-1]["path"] == "/healthz" and access[-1]["status"] == 200


def test_snapshots_and_dashboard(make_node) -> None:
    app = make_node()
    state = app.extensions["coopfed"]
    now = utcnow()
    with state.session() as s:
        assert snapshots.take(s, 60, 14, now - timedelta(minutes=2)) == 1
        assert snapshots.take(s, 60, 14, now - timedelta(minutes=2, seconds=-10)) == 0  # too soon
        assert snapshots.take(s, 60, 14, now - timedelta(days=20)) == 0  # older than the latest
        assert snapshots.take(s, 60, 14, now) == 1
        times, values = snapshots.series(s, now - timedelta(hours=1), ["delivery_queue_depth"])
        assert len(times) == 2 and values["delivery_queue_depth"] == [0.0, 0.0]
        assert figures.collect(s, now)["hosts_dead"] == 0
        member_service.create_member(
            s, state.ctx, username="root", password=PASSWORD, is_admin=True
        )
        member_service.create_member(s, state.ctx, username="joe", password=PASSWORD)
        s.commit()
    client = app.test_client()
    assert client.get("/admin/ops/").status_code in (302, 303)
    app.config["WTF_CSRF_ENABLED"] = False
    client.post("/login", data={"username": "joe", "password": PASSWORD})
    assert client.get("/admin/ops/").status_code == 403
    client.post("/logout")
    client.post("/login", data={"username": "root", "password": PASSWORD})
    assert 'id="link-ops"' in client.get("/admin/").get_data(as_text=True)
    html = client.get("/admin/ops/?hours=1").get_data(as_text=True)
    assert html.count("<svg") == 12 and "<polyline" in html
    assert 'aria-current="page"' in html
    de = client.get("/admin/ops/", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert "Wartende Zustellungen" in de


def test_chart_scales_points_into_the_box() -> None:
    now = utcnow()
    svg = str(charts.line_chart("x", [now, now + timedelta(minutes=1)], [0.0, 5.0]))
    points = re.search(r'points="([^"]+)"', svg).group(1).split()
    xs = [float(p.split(",")[0]) for p in points]
    ys = [float(p.split(",")[1]) for p in points]
    assert xs[0] < xs[1] and ys[0] > ys[1]  # later to the right, bigger higher
    assert all(0 <= v <= charts.WIDTH for v in xs) and all(0 <= v <= charts.HEIGHT for v in ys)
    assert "<polyline" not in str(charts.line_chart("x", [now], [1.0]))
