"""Issue 10, defect 9: the member's account page, "delete my account" with the operator's grace
period (cancellable by signing in, erased by the worker when due)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from federation.db import utcnow
from node.worker import Worker
from profiles import members as member_service
from profiles.models import Member

PASSWORD = "correct horse battery"


def _node(make_node: Any, grace: int) -> Any:
    app = make_node(account_deletion_grace_days=grace)
    app.config["WTF_CSRF_ENABLED"] = False
    state = app.extensions["coopfed"]
    with state.session() as s:
        member_service.create_member(
            s,
            state.ctx,
            username="alice",
            password=PASSWORD,
            profile=member_service.ProfileData(name="Alice Liddell", visibility="public"),
            vocab=state.vocabulary.get(s),
        )
        s.commit()
    return app


def _signed_in(app: Any) -> Any:
    client = app.test_client()
    assert client.post("/login", data={"username": "alice", "password": PASSWORD}).status_code
    return client


def _alice(app: Any) -> Member | None:
    with app.extensions["coopfed"].session() as s:
        return s.scalar(select(Member).where(Member.username == "alice"))


def test_account_page_in_every_language(make_node: Any) -> None:
    app = _node(make_node, 0)
    client = _signed_in(app)
    assert "Download my data" in client.get("/account").get_data(as_text=True)
    assert "Meine Daten herunterladen" in client.get("/account?lang=de").get_data(as_text=True)
    assert client.get("/profile/edit").get_data(as_text=True).count('href="/account"') == 1


def test_deletion_waits_for_the_grace_period_and_can_be_cancelled(make_node: Any) -> None:
    app = _node(make_node, 7)
    client = _signed_in(app)
    response = client.post("/account/delete", data={"confirm": "alice", "password": PASSWORD})
    assert response.status_code == 302
    alice = _alice(app)
    assert alice is not None and alice.deletion_due_at is not None
    assert client.get("/profile/edit").status_code == 302  # signed out everywhere

    client = _signed_in(app)  # signing in again: the page offers to cancel
    assert "btn-cancel-deletion" in client.get("/account").get_data(as_text=True)
    assert client.post("/account/cancel-deletion").status_code == 302
    alice = _alice(app)
    assert alice is not None and alice.deletion_due_at is None

    client.post("/account/delete", data={"confirm": "alice", "password": PASSWORD})
    state = app.extensions["coopfed"]
    Worker(state).run_once()
    assert _alice(app) is not None  # not due yet
    with state.session() as s:
        member = s.scalar(select(Member).where(Member.username == "alice"))
        member.deletion_due_at = utcnow() - timedelta(seconds=1)
        s.commit()
    Worker(state).run_once()
    assert _alice(app) is None
