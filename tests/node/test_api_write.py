"""The write API: tokens (created by the CLI, hashed at rest, shown once, revocable), scopes,
calls created/updated/closed and members upserted with the importer's rules; a session
cookie never authorises a write; the OpenAPI document carries the security scheme."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import select

from node.cli.tokens import token as token_cli
from profiles.api_tokens import ApiToken
from profiles.members import create_member
from profiles.models import Member

PASSWORD = "a long enough password"


def setup(app):
    state = app.extensions["coopfed"]
    with state.session() as s:
        boss = create_member(s, state.ctx, username="boss", email="b@x.se", password=PASSWORD)
        boss.is_admin = True
        create_member(s, state.ctx, username="anna", email="a@x.se", password=PASSWORD)
        create_member(s, state.ctx, username="bo", email="bo@x.se", password=PASSWORD)
        s.commit()


def new_token(app, username: str, *scopes: str) -> str:
    args = ["create", username, "--name", "ERP"]
    for scope in scopes:
        args += ["--scope", scope]
    out = CliRunner().invoke(token_cli, args, obj={"state": app.extensions["coopfed"]})
    assert out.exit_code == 0, out.output
    return out.output.splitlines()[1]


def auth(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


CALL = {"title": "Sound engineer for a tour", "country": "SE", "description": "Two weeks."}


def test_tokens_scopes_and_calls(make_node):
    app = make_node()
    setup(app)
    state = app.extensions["coopfed"]
    client = app.test_client()
    reader = new_token(app, "anna", "read")
    writer = new_token(app, "anna", "read", "write:calls")
    with state.session() as s:  # hashed at rest: the secret is nowhere in the table
        rows = s.scalars(select(ApiToken)).all()
        assert len(rows) == 2 and all(writer not in (r.token_hash, r.hint) for r in rows)
    listing = CliRunner().invoke(token_cli, ["list"], obj={"state": state}).output
    assert writer not in listing and writer[:10] in listing

    assert client.post("/api/v1/calls", json=CALL).status_code == 401
    bad = client.post("/api/v1/calls", json=CALL, headers=auth("cf_nope"))
    assert bad.status_code == 401 and bad.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.post("/api/v1/calls", json=CALL, headers=auth(reader)).status_code == 403

    made = client.post("/api/v1/calls", json=CALL, headers=auth(writer))
    assert made.status_code == 201, made.get_json()
    call = made.get_json()
    assert call["author"]["username"] == "anna" and call["title"] == CALL["title"]
    # The importer's checks: unknown fields, missing country.
    typo = client.post("/api/v1/calls", json=CALL | {"titel": "x"}, headers=auth(writer))
    assert typo.status_code == 400 and "unknown field 'titel'" in typo.get_json()["error"]
    nowhere = client.post("/api/v1/calls", json={"title": "x"}, headers=auth(writer))
    assert nowhere.status_code in (400, 422) and "country" in nowhere.get_json()["error"]
    # Only an admin's token posts for someone else.
    other = client.post("/api/v1/calls", json=CALL | {"author": "bo"}, headers=auth(writer))
    assert other.status_code == 403
    service = new_token(app, "boss", "write:calls")
    as_bo = client.post("/api/v1/calls", json=CALL | {"author": "bo"}, headers=auth(service))
    assert as_bo.status_code == 201 and as_bo.get_json()["author"]["username"] == "bo"

    path = f"/api/v1/calls/{call['public_id']}"
    changed = client.patch(path, json={"title": "Sound engineer"}, headers=auth(writer))
    assert changed.status_code == 200 and changed.get_json()["title"] == "Sound engineer"
    assert changed.get_json()["description"] == "Two weeks."  # the rest kept
    bo_writer = new_token(app, "bo", "write:calls")
    assert client.patch(path, json={"title": "Mine"}, headers=auth(bo_writer)).status_code in (
        403,
        404,
    )
    closed = client.post(f"{path}/close", headers=auth(writer))
    assert closed.status_code == 200 and closed.get_json()["status"] == "closed"

    # Revoked: at once.
    with state.session() as s:
        writer_id = max(t.id for t in s.scalars(select(ApiToken)) if t.member_id == 2)
    revoke = CliRunner().invoke(token_cli, ["revoke", str(writer_id)], obj={"state": state})
    assert revoke.exit_code == 0, revoke.output
    assert client.post("/api/v1/calls", json=CALL, headers=auth(writer)).status_code == 401


def test_a_session_cookie_never_writes(make_node):
    app = make_node()
    setup(app)
    app.config["WTF_CSRF_ENABLED"] = False
    client = app.test_client()
    assert client.post("/login", data={"username": "anna", "password": PASSWORD}).status_code
    assert client.post("/api/v1/calls", json=CALL).status_code == 401


def test_members_upsert_needs_an_admin_token(make_node):
    app = make_node()
    setup(app)
    client = app.test_client()
    refused = CliRunner().invoke(
        token_cli,
        ["create", "anna", "--name", "x", "--scope", "manage:members"],
        obj={"state": app.extensions["coopfed"]},
    )
    assert refused.exit_code != 0 and "admins" in refused.output
    admin = new_token(app, "boss", "manage:members")
    line = {"ref": "M-9", "username": "dee", "email": "dee@x.se", "country": "SE", "shoe": 42}
    made = client.post("/api/v1/members", json=line, headers=auth(admin))
    assert made.status_code == 201
    assert made.get_json() == {"result": "created", "username": "dee", "ignored_fields": ["shoe"]}
    again = client.post("/api/v1/members", json=line | {"city": "Lund"}, headers=auth(admin))
    assert again.status_code == 200 and again.get_json()["result"] == "changed"
    same = client.post("/api/v1/members", json=line | {"city": "Lund"}, headers=auth(admin))
    assert same.get_json()["result"] == "unchanged"
    bad = client.post("/api/v1/members", json={"username": "Dee Dee!"}, headers=auth(admin))
    assert bad.status_code == 400 and "try 'dee_dee'" in bad.get_json()["error"]
    state = app.extensions["coopfed"]
    with state.session() as s:
        dee = s.scalar(select(Member).where(Member.username == "dee"))
        assert dee.city == "Lund" and dee.ref == "M-9" and dee.password_hash is None
        s.scalar(select(Member).where(Member.username == "boss")).is_admin = False
        s.commit()
    # No longer an admin: the scope no longer works.
    assert client.post("/api/v1/members", json=line, headers=auth(admin)).status_code == 403


def test_openapi_documents_the_write_side(make_node):
    app = make_node()
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    create = spec["paths"]["/calls"]["post"]
    assert create["security"] == [{"bearerAuth": ["write:calls"]}]
    assert spec["paths"]["/members"]["post"]["security"] == [{"bearerAuth": ["manage:members"]}]
    assert {} in spec["paths"]["/members"]["get"]["security"]  # reading: anonymous too
    assert "InputCallFields" in spec["components"]["schemas"]


def test_admin_tokens_page(make_node):
    import re

    app = make_node()
    setup(app)
    app.config["WTF_CSRF_ENABLED"] = False
    plain = app.test_client()
    plain.post("/login", data={"username": "anna", "password": PASSWORD})
    assert plain.get("/admin/tokens/").status_code == 403
    client = app.test_client()
    client.post("/login", data={"username": "boss", "password": PASSWORD})
    page = client.get("/admin/tokens/").get_data(as_text=True)
    assert 'id="admin-nav"' in page and "No tokens yet." in page
    refused = client.post(
        "/admin/tokens/", data={"owner": "anna", "name": "x", "scope": "manage:members"}
    )
    assert refused.status_code == 422
    made = client.post(
        "/admin/tokens/", data={"owner": "anna", "name": "Portal", "scope": ["write:calls"]}
    )
    assert made.status_code == 200 and made.headers["Cache-Control"] == "no-store"
    secret = re.search(r'<code id="token-secret">([^<]+)</code>', made.get_data(as_text=True))[1]
    assert "token-secret" not in client.get("/admin/tokens/").get_data(as_text=True)  # once
    anon = app.test_client()
    assert anon.post("/api/v1/calls", json=CALL, headers=auth(secret)).status_code == 201
    token_id = re.search(r'id="btn-revoke-token-(\d+)"', made.get_data(as_text=True))[1]
    client.post(f"/admin/tokens/{token_id}/revoke")
    assert anon.post("/api/v1/calls", json=CALL, headers=auth(secret)).status_code == 401
