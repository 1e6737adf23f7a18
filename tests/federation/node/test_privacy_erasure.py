"""Issue 10, erasure and export (defects 7-9), on two real nodes.

- "Download my data": the ZIP has the profile, calls, settings (JSON and ActivityStreams) and
  the avatar; an admin gets the same.
- "Delete my account": afterwards no row, body or file on either node contains the member's
  name or email (the whole database and instance folder are searched); the user name survives
  only in the origin's tombstone and its pending Delete activities (the IRI must keep
  answering 410) and in the partner's record of the Delete it received (its id).
- A partner offline past the Delete's retry horizon purges the member at its next partner
  sync (reconciliation).

The measured times are printed (``-s``) for the report.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, inspect, select, text

from federation.db import utcnow
from federation.models import Delivery, OutboxActivity
from profiles import members as member_service
from profiles.models import Member, Partnership

from .conftest import Node, pump
from .test_partnership import add_call, become_partners, cli, skills

NAME = "Zoltan Erasable"
EMAIL = "zoltan@erase.example"
PASSWORD = "correct horse battery"
PNG = b"\x89PNG\r\n\x1a\n"


def _make(node: Node, username: str, name: str, email: str, vis: str = "public") -> None:
    with node.session() as s:
        member = member_service.create_member(
            s,
            node.state.ctx,
            username=username,
            email=email,
            password=PASSWORD,
            profile=member_service.ProfileData(
                name=name, visibility=vis, country="SE", skills=skills(node), summary=name
            ),
            vocab=node.state.vocabulary.get(s),
        )
        avatars = node.state.settings.instance_path / "avatars"
        avatars.mkdir(exist_ok=True)
        (avatars / f"{username}-avatar1.png").write_bytes(PNG + name.encode())
        member.avatar = f"{username}-avatar1.png"
        s.commit()


def _edit(node: Node, username: str) -> None:
    """An edit: an Update(Person) with the name goes to partners (an outbox and inbox body)."""
    with node.session() as s:
        member = member_service.get_local(s, node.state.ctx, username)
        data = member_service.profile_data(member)
        data.city = "Malmö"
        member_service.update_profile(s, member, data, node.state.vocabulary.get(s))
        s.commit()


def _signed_in(node: Node, username: str) -> Any:
    node.app.config["WTF_CSRF_ENABLED"] = False
    client = node.app.test_client()
    response = client.post(
        "/login", data={"username": username, "password": PASSWORD}, base_url=node.base
    )
    assert response.status_code == 302
    return client


def _dump(node: Node) -> list[tuple[str, str]]:
    """(table, row text) of every row of every table, and (path, content) of every file."""
    found: list[tuple[str, str]] = []
    engine = node.state.engine
    with engine.connect() as conn:
        for table in inspect(engine).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                found.append((table, " ".join(str(v) for v in row)))
    folder = Path(node.state.settings.instance_path)
    for path in folder.rglob("*"):
        if path.is_file() and not path.name.startswith("coopfed.db"):
            found.append((str(path), path.read_bytes().decode("utf-8", "replace") + path.name))
    return found


def _traces(node: Node, needle: str) -> list[tuple[str, str]]:
    return [(where, row[:300]) for where, row in _dump(node) if needle in row]


def _remote(node: Node, username: str) -> bool:
    with node.session() as s:
        stmt = select(Member.id).where(Member.username == username, Member.local.is_(False))
        return s.scalar(stmt) is not None


def test_export_then_delete_my_account_leaves_no_trace_on_either_node(nodes: Any) -> None:
    a, b = nodes(2)
    become_partners(a, b)
    _make(a, "zed", NAME, EMAIL)
    _make(a, "ada", "Ada Admin", "ada@erase.example", vis="coop")
    with a.session() as s:
        s.scalar(select(Member).where(Member.username == "ada")).is_admin = True
        s.commit()
    add_call(a, "zed", "Light designer wanted")
    add_call(a, "zed", "Partners-only call", "partners")
    _edit(a, "zed")
    pump(a, b)
    assert _remote(b, "zed")
    assert _traces(b, NAME) and _traces(a, NAME)

    # Download my data.
    client = _signed_in(a, "zed")
    response = client.get("/account/export", base_url=a.base)
    assert response.status_code == 200 and response.content_type == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    names = set(archive.namelist())
    assert {
        "zed/profile.json",
        "zed/calls.json",
        "zed/settings.json",
        "zed/activitystreams/actor.json",
        "zed/activitystreams/calls.json",
        "zed/avatar/zed-avatar1.png",
    } <= names
    profile = json.loads(archive.read("zed/profile.json"))
    assert profile["name"] == NAME and profile["email"] == EMAIL
    calls = json.loads(archive.read("zed/calls.json"))
    assert {c["title"] for c in calls} == {"Light designer wanted", "Partners-only call"}
    actor = json.loads(archive.read("zed/activitystreams/actor.json"))
    assert actor["type"] == "Person" and actor["id"] == f"{a.base}/members/zed"
    assert archive.read("zed/avatar/zed-avatar1.png") == PNG + NAME.encode()
    admin = _signed_in(a, "ada")
    with a.session() as s:
        zed_id = s.scalar(select(Member.id).where(Member.username == "zed"))
    by_admin = admin.get(f"/admin/members/{zed_id}/export", base_url=a.base)
    assert by_admin.status_code == 200
    assert set(zipfile.ZipFile(io.BytesIO(by_admin.data)).namelist()) == names
    assert client.get(f"/admin/members/{zed_id}/export", base_url=a.base).status_code == 403

    # Delete my account: a wrong confirmation does nothing.
    wrong = client.post(
        "/account/delete", data={"confirm": "zed", "password": "nope"}, base_url=a.base
    )
    assert wrong.status_code == 422
    started = time.monotonic()
    response = client.post(
        "/account/delete", data={"confirm": "zed", "password": PASSWORD}, base_url=a.base
    )
    assert response.status_code == 302
    while _remote(b, "zed"):
        assert a.step() + b.step() > 0 or not _remote(b, "zed")
        assert time.monotonic() - started < 60
    latency = time.monotonic() - started
    pump(a, b)
    print(f"\nerasure latency to an online partner: {latency:.2f} s")

    for node in (a, b):
        assert _traces(node, NAME) == [], node.domain
        assert _traces(node, EMAIL) == [], node.domain
    # The user name: only where the IRI must stay (tombstone, pending Deletes, ids of the
    # Deletes the partner received), never in a body with anything else.
    left_a = {where for where, _row in _traces(a, "/members/zed")}
    assert left_a <= {"tombstones", "fed_outbox_activities", "fed_deliveries"}, left_a
    with a.session() as s:
        kinds = set(
            s.scalars(select(OutboxActivity.type).where(OutboxActivity.body.contains("zed")))
        )
    assert kinds <= {"Delete"}, kinds
    left_b = {where for where, _row in _traces(b, "/members/zed")}
    assert left_b <= {"fed_inbox_items"}, left_b
    assert not (a.state.settings.instance_path / "avatars" / "zed-avatar1.png").exists()
    # The copied session is gone with the account.
    assert client.get("/profile/edit", base_url=a.base).status_code == 302

    # Once the Deletes are delivered, the tombstone's key goes too (retention job).
    pump(a, b)
    with a.session() as s:
        key = s.execute(text("SELECT private_key_pem FROM tombstones WHERE kind = 'Person'"))
        assert [r[0] for r in key] == [None]


def test_a_partner_offline_past_the_retry_horizon_is_reconciled(nodes: Any) -> None:
    a, b = nodes(2)
    become_partners(a, b)
    _make(a, "yan", "Yannick Offline", "yan@erase.example")
    add_call(a, "yan", "Call of Yannick")
    pump(a, b)
    assert _remote(b, "yan")

    with a.session() as s:
        member_service.delete_member(s, member_service.get_local(s, a.state.ctx, "yan"))
        # B was offline: every delivery of the Deletes gave up (3 days / 15 attempts).
        s.execute(delete(Delivery))
        s.commit()
    pump(a, b)
    assert _remote(b, "yan")  # B never heard of it

    # B is back: its next partner sync (every partner_sync_hours) reconciles.
    started = time.monotonic()
    with b.session() as s:
        partner = s.scalar(select(Partnership).where(Partnership.domain == a.domain))
        partner.backfilled_at = utcnow() - timedelta(hours=7)
        s.commit()
    pump(a, b)
    elapsed = time.monotonic() - started
    print(f"\nreconciliation after an outage (one partner sync): {elapsed:.2f} s")
    assert not _remote(b, "yan")
    with b.session() as s:
        titles = s.scalars(text("SELECT title FROM calls")).all()
    assert "Call of Yannick" not in titles
    assert _traces(b, "Yannick Offline") == []


def test_ending_a_partnership_clears_the_partners_caches(nodes: Any) -> None:
    from federation.models import InboxItem, RemoteActor

    a, b = nodes(2)
    become_partners(a, b)
    _make(a, "xia", "Xiadora Cached", "xia@erase.example")
    _edit(a, "xia")
    pump(a, b)
    assert _traces(b, "Xiadora Cached")
    cli(b, "remove", a.domain)
    pump(a, b)
    with b.session() as s:
        cached = s.scalars(select(RemoteActor.ap_id)).all()
        assert not [iri for iri in cached if a.domain in iri]
        bodies = s.scalars(select(InboxItem.body).where(InboxItem.actor.contains(a.domain)))
        assert all("Xiadora" not in body for body in bodies)
    assert _traces(b, "Xiadora Cached") == []
