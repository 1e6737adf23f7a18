"""Language rules and own words through the JSON API: a call's "every language" rule and its
translation directions, a translator's pairs, written with an API token and read back; bad
pairs answered with what is wrong; a member's own words shown with what they were taken as."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import select

from node.cli.tokens import token as token_cli
from profiles.members import create_member
from profiles.models import Call, CallPhrase

PASSWORD = "a long enough password"


def new_token(app, username: str, *scopes: str) -> str:
    args = ["create", username, "--name", "CRM"]
    for scope in scopes:
        args += ["--scope", scope]
    out = CliRunner().invoke(token_cli, args, obj={"state": app.extensions["coopfed"]})
    assert out.exit_code == 0, out.output
    return out.output.splitlines()[1]


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_a_call_and_a_translator_keep_their_language_rules_through_the_api(make_node):
    app = make_node(domain="smart.fi", name="Smart Suomi", country="FI")
    state = app.extensions["coopfed"]
    with state.session() as s:
        admin = create_member(s, state.ctx, username="toimisto", email="t@x.fi", password=PASSWORD)
        admin.is_admin = True
        create_member(s, state.ctx, username="aino", email="aino@x.fi", password=PASSWORD)
        s.commit()
    client = app.test_client()
    writer = bearer(new_token(app, "aino", "read", "write:calls"))
    office = bearer(new_token(app, "toimisto", "read", "manage:members"))

    call = {
        "title": "Tulkki messuille Tukholmaan",
        "country": "SE",
        "language": "fi",
        "languages": ["fi", "sv"],
        "languages_all": True,
        "language_pairs": ["FI>sv", {"source": "sv", "target": "fi"}, "fi→sv"],
        "skills_required": ["messutulkkaus ruotsiksi"],
        "visibility": "public",
    }
    made = client.post("/api/v1/calls", json=call, headers=writer)
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    assert body["languages_all"] is True
    # Checked, lower-cased, unique and sorted, whichever way they were written.
    assert body["language_pairs"] == [
        {"source": "fi", "target": "sv"},
        {"source": "sv", "target": "fi"},
    ]
    path = f"/api/v1/calls/{body['public_id']}"
    assert client.get(path).get_json()["language_pairs"] == body["language_pairs"]
    with state.session() as s:  # what the author wrote is kept with the call
        said = s.scalars(
            select(CallPhrase.text).join(Call).where(Call.public_id == body["public_id"])
        )
        assert list(said) == ["messutulkkaus ruotsiksi"]

    # A PATCH of another field keeps the rule; one of the rule changes only the rule.
    kept = client.patch(path, json={"title": "Tulkki messuille"}, headers=writer).get_json()
    assert kept["languages_all"] is True and kept["language_pairs"] == body["language_pairs"]
    anyone = client.patch(path, json={"languages_all": False}, headers=writer).get_json()
    assert anyone["languages_all"] is False and anyone["language_pairs"] == body["language_pairs"]

    for bad, says in [
        (["fi>fi"], "same language"),
        (["fi>xx"], "unknown language code 'xx'"),
        (["suomi"], "not a pair"),
        ([{"from": "fi", "to": "sv"}], '"source"'),
        ([f"fi>{c}" for c in ("sv", "en", "de", "fr", "nl", "it", "es", "da", "no")], "at most"),
    ]:
        refused = client.patch(path, json={"language_pairs": bad}, headers=writer)
        assert refused.status_code == 400, (bad, refused.get_json())
        error = refused.get_json()["error"]
        assert error.startswith("language_pairs: ") and says in error, error
    assert client.get(path).get_json()["language_pairs"] == body["language_pairs"]

    member = {
        "username": "mikael",
        "email": "mikael@x.fi",
        "visibility": "public",
        "languages": [{"code": "fi", "level": "native"}, {"code": "sv", "level": "C2"}],
        "language_pairs": ["sv>fi", {"source": "fi", "target": "sv"}],
        "skills": ["simultaanitulkkaus messuilla"],
    }
    upserted = client.post("/api/v1/members", json=member, headers=office)
    assert upserted.status_code == 201, upserted.get_json()
    shown = client.get("/api/v1/members/mikael").get_json()
    assert shown["language_pairs"] == [
        {"source": "fi", "target": "sv"},
        {"source": "sv", "target": "fi"},
    ]
    words = shown["own_words"]
    # Only his words: none of the call's (the parser is shared between requests).
    assert [w["text"] for w in words] == ["simultaanitulkkaus messuilla"]
    assert words[0]["kind"] == "skill" and words[0]["status"] in ("linked", "proposed", "unlinked")
    # The register's line without pairs leaves them; a bad one changes nothing.
    again = client.post(
        "/api/v1/members", json={"username": "mikael", "city": "Vaasa"}, headers=office
    )
    assert again.status_code == 200
    wrong = client.post(
        "/api/v1/members", json={"username": "mikael", "language_pairs": ["sv>sv"]}, headers=office
    )
    assert wrong.status_code == 400 and "same language" in wrong.get_json()["error"]
    assert (
        client.get("/api/v1/members/mikael").get_json()["language_pairs"] == shown["language_pairs"]
    )

    # The OpenAPI document describes what was sent and what may be written.
    doc = client.get("/api/v1/openapi.json").get_json()
    schemas = doc["components"]["schemas"]
    assert {"languages_all", "language_pairs"} <= set(schemas["Call"]["properties"])
    assert {"language_pairs", "own_words"} <= set(schemas["Member"]["properties"])
    assert "language_pairs" in schemas["InputCallFields"]["properties"]
    assert "languages_all" in schemas["InputCallFields"]["properties"]
    assert "language_pairs" in schemas["InputProfileFields"]["properties"]
