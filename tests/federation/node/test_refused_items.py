"""Operators see refused inbox items by reason (issue 14): ``coopfed deliveries`` and the admin
federation page, in the admin's language."""

from __future__ import annotations

from click.testing import CliRunner

from federation.db import utcnow
from federation.models import InboxItem
from node.cli.partners import deliveries

from .test_admin_federation import sign_in_admin

NO_AUTHOR = "Forbidden: a call is created or updated by its author only"
NO_NAME = "BadRequest: a call needs a name"


def _items(state) -> None:
    rows = [("refused", NO_AUTHOR)] * 3 + [("refused", NO_NAME), ("done", None)]
    with state.write_session() as s:
        for n, (st, error) in enumerate(rows):
            s.add(
                InboxItem(
                    activity_id=f"https://peer.example/activities/{n}",
                    actor="https://peer.example/users/x",
                    type="Create",
                    body="{}",
                    received_at=utcnow(),
                    state=st,
                    attempts=0 if st == "refused" else 1,
                    error=error,
                )
            )


def test_cli_lists_refused_items_by_reason(make_node) -> None:
    state = make_node().extensions["coopfed"]
    _items(state)
    out = CliRunner().invoke(deliveries, [], obj={"state": state})
    assert out.exit_code == 0, out.output
    assert "inbox: done 1, refused 4" in out.output
    lines = out.output.splitlines()
    at = lines.index("refused inbox items, by reason:")
    assert lines[at + 1].split(None, 1) == ["3", NO_AUTHOR]
    assert lines[at + 2].split(None, 1) == ["1", NO_NAME]


def test_admin_page_lists_refused_items_by_reason(make_node) -> None:
    app = make_node()
    _items(app.extensions["coopfed"])
    client = app.test_client()
    sign_in_admin(app, client)
    html = client.get("/admin/federation/").get_data(as_text=True)
    assert "Refused activities, by reason (never retried)" in html
    assert f"<td>{NO_AUTHOR}</td><td>3</td>" in html
    german = client.get("/admin/federation/", headers={"Accept-Language": "de"})
    assert "Abgelehnte Aktivitäten nach Grund" in german.get_data(as_text=True)
