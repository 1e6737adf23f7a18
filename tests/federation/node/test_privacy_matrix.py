"""Issue 10: path x visibility x viewer, for every route of the app.

Node A (partnered with B) has a member of each visibility, each with a public call, and a
partners-only and a coop-only call. Seven viewers ask every route that serves a member or a
call: anonymous, a GET signed by a non-partner server, by a blocked server, by partner B's
instance actor, by a member of B, a member signed in on A, an admin of A. What each may see is
computed from :mod:`profiles.visibility` (never restated here); the routes come from the app's
URL map, so a new route without a row (or a reason in ``ELSEWHERE``) fails
:func:`test_every_route_has_a_row`.

The invariants checked on every response:
- a member's name and handle appear only where the rules let that viewer see the member (for a
  call: its author);
- a detail route answers 200 exactly when the viewer may see the subject, else the same status
  as for a nonexistent member ("ghost");
- a blocked server's signed GETs get 403, whatever they ask for.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from federation import signatures, vocab
from federation.keys import generate_rsa_keypair
from profiles import members as member_service
from profiles import visibility
from profiles.models import Call, Member
from profiles.visibility import Audience, Visibility

from .conftest import Node, free_port, pump
from .test_partnership import add_call, become_partners, skills

PASSWORD = "correct horse battery"
AP = "application/activity+json"
HTML = "text/html"
JSON = "application/json"

# name, visibility
MEMBERS = {
    "pubm": ("Piadora Publica", Visibility.PUBLIC),
    "parm": ("Pavonia Partneria", Visibility.PARTNERS),
    "coom": ("Corvina Cooperia", Visibility.COOP),
}
GHOST = "ghostm"  # no such member
# title -> (author, call visibility)
CALLS = {
    "Call by Piadora": ("pubm", Visibility.PUBLIC),
    "Call by Pavonia": ("parm", Visibility.PUBLIC),
    "Call by Corvina": ("coom", Visibility.PUBLIC),
    "Partners call of Piadora": ("pubm", Visibility.PARTNERS),
    "Coop call of Piadora": ("pubm", Visibility.COOP),
}

VIEWERS = ("anonymous", "non_partner", "blocked", "partner", "partner_member", "own", "admin")


class FakeServer:
    """A fediverse server with one actor and its key (signs GETs and POSTs)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.actor_id = f"{self.base}/users/eve"
        self.public_pem, self.private_pem = generate_rsa_keypair()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                body = json.dumps(fake.actor()).encode()
                self.send_response(200 if self.path == "/users/eve" else 404)
                self.send_header("Content-Type", vocab.ACTIVITY_JSON)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def actor(self) -> dict[str, Any]:
        return {
            "@context": [vocab.AS_CONTEXT, vocab.SECURITY_CONTEXT],
            "id": self.actor_id,
            "type": "Person",
            "preferredUsername": "eve",
            "inbox": f"{self.actor_id}/inbox",
            "publicKey": {
                "id": f"{self.actor_id}#main-key",
                "owner": self.actor_id,
                "publicKeyPem": self.public_pem,
            },
        }

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- the rows -------------------------------------------------------------------------------------
# kind: "member" (subject: a user name), "call" (a call title) or "list" (no subject: every
# member and call is checked by the name invariant and, for lists, by presence).
# audience: how the route learns who asks — "web" (the signed-in session), "ap" (an HTTP
# signature by a partner's instance actor), "public" (always the public).


@dataclass(frozen=True)
class Row:
    endpoint: str
    kind: str
    audience: str
    path: Callable[[Any], str]
    accept: str = HTML
    method: str = "GET"
    lists: str = ""  # for "list" rows: "members" or "calls" whose presence is checked
    open_only: bool = False  # feeds list open calls only (all ours are open)


def _m(template: str) -> Callable[[Any], str]:
    return lambda env: template.format(u=env["subject"], d=env["domain"], id=env["subject_id"])


ROWS = [
    Row("members.member", "member", "web", _m("/members/{u}")),
    Row("members.member#ap", "member", "ap", _m("/members/{u}"), accept=AP),
    Row("members.avatar", "member", "web+ap", _m("/avatars/{u}-avatar.png")),
    Row("ap_collections.member_outbox", "member", "ap", _m("/members/{u}/outbox"), accept=AP),
    Row("ap_collections.member_followers", "member", "ap", _m("/members/{u}/followers"), AP),
    Row("ap_collections.member_following", "member", "ap", _m("/members/{u}/following"), AP),
    Row(
        "ap_discovery.webfinger_view",
        "member",
        "ap",
        _m("/.well-known/webfinger?resource=acct:{u}@{d}"),
    ),
    Row("ap_inbox.member_inbox", "member", "inbox", _m("/members/{u}/inbox"), AP, "POST"),
    Row("api_members.member", "member", "web", _m("/api/v1/members/{u}"), "application/json"),
    Row(
        "api_matches.api_member_suggestions",
        "member",
        "self",
        _m("/api/v1/members/{u}/suggestions"),
        "application/json",
    ),
    Row("calls.call", "call", "web", _m("/calls/{id}")),
    Row("calls.call#ap", "call", "ap", _m("/calls/{id}"), accept=AP),
    Row("calls.edit_call", "call", "owner", _m("/calls/{id}/edit")),
    Row("calls.delete_call", "call", "owner", _m("/calls/{id}/delete")),
    Row("api_calls.call", "call", "web", _m("/api/v1/calls/{id}"), "application/json"),
    Row(
        "api_matches.api_call_matches",
        "call",
        "owner",
        _m("/api/v1/calls/{id}/matches"),
        "application/json",
    ),
    Row("directory.directory", "list", "web", _m("/directory"), lists="members"),
    Row(
        "api_members.members",
        "list",
        "web",
        _m("/api/v1/members"),
        "application/json",
        lists="members",
    ),
    Row(
        "ap_collections.partner_members",
        "list",
        "ap",
        _m("/actor/members?page=1"),
        AP,
        lists="members",
    ),
    Row("calls.calls", "list", "web", _m("/calls"), lists="calls"),
    Row("home.home", "list", "web", _m("/"), lists=""),
    Row("api_calls.calls", "list", "web", _m("/api/v1/calls"), "application/json", lists="calls"),
    Row("ap_collections.partner_calls", "list", "ap", _m("/actor/calls?page=1"), AP, lists="calls"),
    Row(
        "ap_collections.calls_outbox",
        "list",
        "public",
        _m("/groups/calls/outbox?page=1"),
        AP,
        lists="calls",
    ),
    Row("ap_feeds.calls_atom", "list", "public", _m("/calls.atom"), lists="calls", open_only=True),
    Row("ap_feeds.calls_rss", "list", "public", _m("/calls.rss"), lists="calls", open_only=True),
]

# Routes that serve neither a member nor a call, with why.
ELSEWHERE = {
    "account.account": "the signed-in member's own account page",
    "account.export": "the signed-in member's own data (test_privacy_erasure)",
    "account.delete": "POST, the signed-in member's own account",
    "account.cancel_deletion": "POST, the signed-in member's own account",
    "account.admin_export": "admin only (test_privacy_erasure)",
    "admin.delete_member": "POST, admin only (admin tests)",
    "admin.index": "admin only: lists every local member by design",
    "admin.set_admin": "POST, admin only",
    "admin_federation.blocks": "POST, admin only",
    "admin_federation.index": "admin only: partners and blocks",
    "admin_federation.partner": "POST, admin only",
    "ap_actors.calls_actor": "the coop's Group: no member",
    "ap_actors.instance_actor": "the coop itself",
    "ap_collections.calls_followers": "counted, never listed",
    "ap_collections.calls_following": "accounts the Group follows, not members",
    "ap_collections.instance_followers": "partner coops (public knowledge)",
    "ap_collections.instance_following": "partner coops (public knowledge)",
    "ap_collections.instance_outbox": "always empty",
    "ap_discovery.host_meta": "a template, no data",
    "ap_discovery.nodeinfo_doc": "counts only",
    "ap_discovery.nodeinfo_links": "links only",
    "ap_inbox.actor_inbox": "POST, the shared inbox (no member in the path)",
    "ap_inbox.calls_inbox": "POST, the shared inbox",
    "ap_inbox.inbox": "POST, the shared inbox",
    "api_openapi.openapi": "the API description",
    "api_taxonomy.taxonomy_concept": "vocabulary",
    "api_taxonomy.taxonomy_search": "vocabulary",
    "auth.login": "sign-in form",
    "auth.logout": "POST",
    "calls.close_call": "POST, owner-checked (may_edit_call)",
    "calls.reopen_call": "POST, owner-checked (may_edit_call)",
    "calls.new_call": "a form for the signed-in member",
    "following.follow": "POST, the signed-in member's own follows",
    "following.following": "the signed-in member's own follows",
    "following.unfollow": "POST",
    "home.about": "the coop's page",
    "home.favicon": "an icon",
    "mail.admin_eml": "admin only",
    "mail.admin_log": "admin only",
    "mail.unsubscribe": "a token of the member's own",
    "profile.edit_profile": "the signed-in member's own profile",
    # Admin pages of onboarding (issue 12): admin only (tests/node/test_admin_roster.py).
    "admin.export_members": "admin only: the member list as CSV (test_admin_roster)",
    "admin_tokens.create": "POST, the signed-in member's own API tokens",
    "admin_tokens.index": "the signed-in member's own API tokens",
    "admin_tokens.revoke": "POST, the signed-in member's own API tokens",
    "onboarding.accept": "a one-time token of the member's own (test_onboarding_invitations)",
    "onboarding.admin_list": "admin only: invitations",
    "onboarding.admin_revoke": "POST, admin only",
    "onboarding.admin_send": "POST, admin only",
    "onboarding.forgot": "the same answer for every address (test_onboarding_invitations)",
    "onboarding.reset": "a one-time token of the member's own",
    "oidc.callback": "the identity provider's answer (test_oidc_signin)",
    "oidc.start": "a redirect to the coop's identity provider",
    # The write API (tests/node/test_api_write.py): bearer tokens with scopes, owner-checked.
    "api_write.close_call": "POST, token scope write:calls, owner-checked",
    "api_write.create_call": "POST, token scope write:calls",
    "api_write.update_call": "PATCH, token scope write:calls, owner-checked",
    "api_write.upsert_member": "POST, token scope manage:members (admins)",
    # Collaboration (issue 9): only the two parties of a response, invitation or thread; every
    # GET route is fetched as a non-party, anonymously and by the third node in
    # tests/federation/node/test_collab_three_nodes.py and tests/node/test_web_collab.py.
    "api_collab.call_responses": "the call's author only (test_collab_three_nodes)",
    "api_collab.my_notifications": "the signed-in member's own notifications",
    "api_collab.my_responses": "the signed-in member's own responses",
    "collab.call_responses": "the call's author only (test_web_collab)",
    "collab.decide": "POST, the call's author only",
    "collab.invitation_thread": "the invitation's two parties only (test_web_collab)",
    "collab.my_responses": "the signed-in member's own responses",
    "collab.respond": "a form for a member who may see the call (visibility-checked)",
    "collab.team_settings": "POST, the call's author only",
    "collab.thread": "the response's two parties only (test_web_collab)",
    "collab.withdraw": "POST, the responder only",
    "collab_notify.decline_invitation": "POST, the invitee only",
    "collab_notify.email_settings": "the signed-in member's own settings",
    "collab_notify.invitations": "the signed-in member's own invitations",
    "collab_notify.invite": "POST, the call's author only",
    "collab_notify.notifications": "the signed-in member's own notifications",
    "collab_notify.open_notification": "the signed-in member's own notification",
    "collab_notify.read_all": "POST, the signed-in member's own notifications",
    "follow.follow": "remote follow of the calls Group: a form, no member",
    "ops.healthz": "process up: no data",
    "ops.readyz": "readiness reasons: no member data",
    "ops.prometheus": "counts only, allowed addresses only (test_ops_health_metrics)",
    "ops_admin.index": "admin only: operations figures",
    "static": "files",
}


def test_every_route_has_a_row(make_node: Any) -> None:
    app = make_node()
    endpoints = {r.endpoint for r in app.url_map.iter_rules()}
    covered = {row.endpoint.split("#")[0] for row in ROWS}
    missing = endpoints - covered - set(ELSEWHERE)
    assert not missing, f"routes without a privacy-matrix row or a reason: {sorted(missing)}"
    assert not (covered | set(ELSEWHERE)) - endpoints, "rows for routes that are gone"


# -- the world ------------------------------------------------------------------------------------


def _make_member(node: Node, username: str, name: str, vis: str, admin: bool = False) -> None:
    with node.session() as s:
        v = node.state.vocabulary.get(s)
        member = member_service.create_member(
            s,
            node.state.ctx,
            username=username,
            password=PASSWORD,
            is_admin=admin,
            profile=member_service.ProfileData(
                name=name, visibility=vis, country="SE", skills=skills(node), summary=name
            ),
            vocab=v,
        )
        s.flush()
        avatars = node.state.settings.instance_path / "avatars"
        avatars.mkdir(exist_ok=True)
        (avatars / f"{username}-avatar.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 20)
        member.avatar = f"{username}-avatar.png"
        s.commit()


@pytest.fixture
def world(nodes: Any) -> Any:
    a, b = nodes(2)
    for username, (name, vis) in MEMBERS.items():
        _make_member(a, username, name, vis.value)
    _make_member(a, "ownm", "Otto Own", "coop")
    _make_member(a, "adm", "Ada Admin", "coop", admin=True)
    _make_member(b, "bmem", "Bea Bee", "public")
    become_partners(a, b)
    ids = {title: add_call(a, author, title, vis.value) for title, (author, vis) in CALLS.items()}
    pump(a, b)
    non_partner, blocked = FakeServer(), FakeServer()
    with a.session() as s:
        a.state.federation_service().block_host(s, f"127.0.0.1:{blocked.port}")
        s.commit()
    with b.session() as s:
        coop = b.state.federation_service().coop
        partner_key = coop.signer(s)
        bmem = s.scalar(select(Member).where(Member.username == "bmem", Member.local))
        member_key = coop.keys.key_for(s, bmem.ap_id)
        s.commit()
    keys = {
        "non_partner": (f"{non_partner.actor_id}#main-key", non_partner.private_pem),
        "blocked": (f"{blocked.actor_id}#main-key", blocked.private_pem),
        "partner": partner_key,
        "partner_member": member_key,
    }
    a.app.config["WTF_CSRF_ENABLED"] = False
    sessions = {}
    for viewer, username in (("own", "ownm"), ("admin", "adm")):
        client = a.app.test_client()
        assert (
            client.post(
                "/login", data={"username": username, "password": PASSWORD}, base_url=a.base
            ).status_code
            == 302
        )
        sessions[viewer] = client
    yield {"a": a, "b": b, "ids": ids, "keys": keys, "sessions": sessions}
    non_partner.close()
    blocked.close()


def _ask(world: Any, viewer: str, row: Row, env: dict[str, Any]) -> tuple[int, str]:
    a: Node = world["a"]
    path = row.path(env)
    headers = {"Accept": row.accept}
    body = None
    if row.method == "POST":
        signer = world["keys"].get(viewer)
        actor = signer[0].split("#")[0] if signer else "https://nobody.example/actor"
        body = json.dumps(
            {
                "@context": vocab.AS_CONTEXT,
                "id": f"{actor}#like/{path}",
                "type": "Like",
                "actor": actor,
                "object": f"{a.base}{path}",
            }
        ).encode()
        headers["Content-Type"] = vocab.ACTIVITY_JSON
    if viewer in world["keys"]:
        key_id, pem = world["keys"][viewer]
        headers = signatures.sign_request(row.method, a.base + path, headers, body, key_id, pem)
    client = world["sessions"].get(viewer) or a.app.test_client()
    response = client.open(path, method=row.method, headers=headers, data=body, base_url=a.base)
    text = response.get_data().decode("utf-8", "replace")
    response.close()
    return response.status_code, text


def _audience(row: Row, viewer: str) -> Audience:
    if row.audience == "web":
        return Audience.COOP if viewer in ("own", "admin") else Audience.PUBLIC
    if row.audience == "ap":
        return Audience.PARTNER if viewer == "partner" else Audience.PUBLIC
    if row.audience == "web+ap":  # pages' viewers, and partner servers copying the picture
        if viewer in ("own", "admin"):
            return Audience.COOP
        return Audience.PARTNER if viewer == "partner" else Audience.PUBLIC
    if row.audience == "inbox":  # partners' servers reach the shared inbox by any member path
        return Audience.COOP if viewer in ("partner", "partner_member") else Audience.PUBLIC
    return Audience.PUBLIC


def _may_see(vis: Visibility, row: Row, viewer: str) -> bool:
    if row.audience == "self":  # a member's own suggestions: only that member (none here)
        return False
    if row.audience == "owner":  # a call's owner or an admin of this node
        return viewer == "admin"
    return visibility.may_view(vis, local=True, audience=_audience(row, viewer))


def _check_names(row: Row, viewer: str, body: str, subject: str | None) -> None:
    """A member's name and handle appear only where the rules let this viewer see them."""
    for username, (name, vis) in MEMBERS.items():
        if row.audience in ("self", "owner"):
            allowed = viewer == "admin" and row.kind == "call"
        else:
            audience = _audience(row, viewer)
            allowed = visibility.author_shown(vis, local=True, audience=audience)
        if row.kind == "member" and subject != username:
            allowed = False  # a member's routes name nobody else
        if not allowed:
            assert name not in body, (row.endpoint, viewer, username)
            assert f'/members/{username}"' not in body, (row.endpoint, viewer, username)


def test_privacy_matrix(world: Any) -> None:
    """Every viewer, one world (two nodes take seconds to build)."""
    for viewer in VIEWERS:
        _check_viewer(world, viewer)


def _check_viewer(world: Any, viewer: str) -> None:
    a: Node = world["a"]
    ids = world["ids"]
    for row in ROWS:
        signed = viewer in world["keys"] and row.method == "GET"
        env: dict[str, Any] = {"domain": a.domain, "subject": "", "subject_id": ""}
        if row.kind == "member":
            env["subject"] = GHOST
            ghost_status, _ = _ask(world, viewer, row, env)
            for username, (_name, vis) in MEMBERS.items():
                env["subject"] = username
                status, body = _ask(world, viewer, row, env)
                where = (row.endpoint, viewer, username, status)
                if signed and viewer == "blocked":
                    assert status == 403, where
                    continue
                if _may_see(vis, row, viewer):
                    # An inbox that exists may still refuse an unsigned or blocked POST.
                    refused = (404,) if row.method == "POST" else (401, 403, 404)
                    assert status not in refused, where
                else:
                    assert status == ghost_status, where  # hidden == nonexistent
                    assert status in (401, 403, 404), where
                _check_names(row, viewer, body, username)
        elif row.kind == "call":
            for title, (_author, vis) in CALLS.items():
                env["subject_id"] = ids[title]
                status, body = _ask(world, viewer, row, env)
                where = (row.endpoint, viewer, title, status)
                if signed and viewer == "blocked":
                    assert status == 403, where
                    continue
                assert (status == 200) == _may_see(vis, row, viewer), where
                _check_names(row, viewer, body, None)
        else:
            status, body = _ask(world, viewer, row, env)
            where = (row.endpoint, viewer, status)
            if signed and viewer == "blocked":
                assert status == 403, where
                continue
            assert status == 200, where
            _check_names(row, viewer, body, None)
            if row.lists == "members":
                for username, (name, vis) in MEMBERS.items():
                    assert (name in body) == _may_see(vis, row, viewer), (*where, username)
            elif row.lists == "calls":
                for title, (_author, vis) in CALLS.items():
                    assert (title in body) == _may_see(vis, row, viewer), (*where, title)


def test_partner_keeps_no_name_a_hidden_author_did_not_share(world: Any) -> None:
    """B received the public calls of A's partners-only and coop-only members: it shows them
    as "a member of Coop A" to the public, and never stored the coop-only author's name."""
    b: Node = world["b"]
    with b.session() as s:
        calls = {c.title: c for c in s.scalars(select(Call).where(Call.local.is_(False)))}
        assert {"Call by Piadora", "Call by Pavonia", "Call by Corvina"} <= set(calls)
        stored = json.dumps([(m.name, m.username, m.summary) for m in s.scalars(select(Member))])
    assert "Corvina Cooperia" not in stored and "coom" not in stored
    client = b.app.test_client()
    for title in ("Call by Pavonia", "Call by Corvina"):
        page = client.get(f"/calls/{calls[title].public_id}").get_data(as_text=True)
        assert "a member of Coop A" in page
        assert "Pavonia Partneria" not in page and "Corvina Cooperia" not in page
    page = client.get(f"/calls/{calls['Call by Piadora'].public_id}").get_data(as_text=True)
    assert "Piadora Publica" in page
