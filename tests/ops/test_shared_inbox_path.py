"""POSTs to the shared inbox skip Flask's request pipeline (node.ap.inbox.SharedInboxPath) and
still get what every request gets: the request id (echoed, and on the log records written while
it runs), the access log, the security headers, /metrics' counters, an oversized body refused
unread, a failure answered 500 with its traceback logged. Everything else still goes to Flask."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from node.ops import logs

ACTIVITY = json.dumps(
    {
        "type": "Follow",
        "id": "https://x.test/1",
        "actor": "https://x.test/a",
        "object": "https://smart.test/actor",
    }
)
AP = {"Content-Type": "application/activity+json"}


@contextmanager
def _json_log(app: Any) -> Iterator[list[dict[str, Any]]]:
    stream = io.StringIO()
    handler = logs.configure_logging(app.extensions["coopfed"].settings, stream)
    records: list[dict[str, Any]] = []
    try:
        yield records
    finally:
        logging.getLogger().removeHandler(handler)
        records.extend(json.loads(line) for line in stream.getvalue().splitlines())


def test_an_inbox_post_gets_the_request_id_headers_and_access_log(make_node) -> None:
    app = make_node(log_json=True)
    client = app.test_client()
    with _json_log(app) as records:
        r = client.post("/inbox", data=ACTIVITY, headers={**AP, "X-Request-Id": "req-7"})
    assert r.status_code == 401  # unsigned: refused by the checks, as through the route
    assert r.headers["X-Request-Id"] == "req-7"
    assert r.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert r.get_data(as_text=True) == "the request is not signed"
    access = [e for e in records if e["logger"] == "coopfed.access"]
    assert [(e["path"], e["status"], e["request_id"]) for e in access] == [("/inbox", 401, "req-7")]
    fresh = client.post("/actor/inbox", data=ACTIVITY, headers={**AP, "X-Request-Id": "a b"})
    assert fresh.status_code == 401 and len(fresh.headers["X-Request-Id"]) == 32


def test_a_failure_is_a_500_logged_with_its_request_id(make_node, monkeypatch) -> None:
    app = make_node(log_json=True)
    fed = app.extensions["coopfed"].federation_service()

    def broken(**_kw: Any) -> tuple[int, str]:
        logging.getLogger("coopfed.federation").info("checking")
        raise RuntimeError("the database said no")

    monkeypatch.setattr(fed, "receive", broken)
    with _json_log(app) as records:
        r = app.test_client().post(
            "/groups/calls/inbox", data=ACTIVITY, headers={**AP, "X-Request-Id": "req-9"}
        )
    assert r.status_code == 500 and r.get_data(as_text=True) == "internal error"
    mine = [e for e in records if e["request_id"] == "req-9"]
    expected = ["checking", "inbox POST failed", "POST /groups/calls/inbox 500"]
    assert [e["msg"] for e in mine] == expected
    assert "the database said no" in mine[1]["exc"]
    # Outside the request, records carry no request id any more.
    logging.getLogger("coopfed").info("after")
    assert logs.request_id() is None


def test_an_oversized_body_is_refused_unread(make_node, monkeypatch) -> None:
    app = make_node(max_request_bytes=1000)
    fed = app.extensions["coopfed"].federation_service()
    seen: list[int] = []
    monkeypatch.setattr(fed, "receive", lambda **kw: seen.append(1) or (202, "accepted"))
    r = app.test_client().post("/inbox", data=b"x" * 1001, headers=AP)
    assert (r.status_code, seen) == (413, [])
    assert "larger than 1000 bytes" in r.get_data(as_text=True)
    assert app.test_client().post("/inbox", data=b"x" * 1000, headers=AP).status_code == 202


def test_other_requests_still_go_to_flask(make_node, monkeypatch) -> None:
    app = make_node()
    fed = app.extensions["coopfed"].federation_service()
    seen: list[str] = []
    monkeypatch.setattr(fed, "receive", lambda **kw: seen.append(kw["url"]) or (202, "accepted"))
    client = app.test_client()
    assert client.get("/inbox").status_code == 405  # Flask's route: POST only
    assert client.post("/members/nobody/inbox", data=ACTIVITY, headers=AP).status_code == 404
    assert client.post("/inbox?x=1", data=ACTIVITY, headers=AP).status_code == 202
    # The URL checked is the public one the sender signed, query included.
    assert seen == ["http://smart.test/inbox?x=1"]
