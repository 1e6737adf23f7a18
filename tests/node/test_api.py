"""The read-only JSON API under /api/v1: every endpoint, ?ref=, visibility, the OpenAPI document."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest
from jsonschema import Draft202012Validator

from profiles import importers
from profiles.members import create_member
from profiles.vocabulary import load_curated_file

PASSWORD = "a long enough password"


def _concept(kind: str, lang: str = "sv") -> tuple[str, str, str]:
    """(iri, English label, label in lang) of a curated concept of that kind."""
    for c in load_curated_file()["concepts"]:
        if c["kind"] == kind and lang in c["labels"] and "en" in c["labels"]:
            return c["iri"], c["labels"]["en"]["preferred"], c["labels"][lang]["preferred"]
    raise AssertionError(f"no curated {kind} with {lang} labels")


SKILL, SKILL_EN, SKILL_SV = _concept("skill")
OCCUPATION, OCCUPATION_EN, _ = _concept("occupation")


def _import(app, kind, records):
    state = app.extensions["coopfed"]
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    with state.session() as s:
        run = importers.import_members if kind == "members" else importers.import_calls
        result = run(s, state.ctx, state.vocabulary.get(s), lines)
    assert not result.skipped, result.skipped
    return result


@pytest.fixture
def app(make_node):
    app = make_node(domain="smart.test")
    app.config["WTF_CSRF_ENABLED"] = False
    state = app.extensions["coopfed"]
    with state.session() as s:
        create_member(
            s, state.ctx, username="insider", email="insider@example.se", password=PASSWORD
        )
        s.commit()
    _import(
        app,
        "members",
        [
            {
                "username": "pia",
                "name": "Pia Public",
                "email": "pia@example.se",
                "country": "SE",
                "city": "Malmö",
                "languages": [{"code": "sv", "level": "native"}],
                "skills": [SKILL],
                "occupations": [OCCUPATION],
                "visibility": "public",
                "available_from": "2025-03-01",
                "available_until": "2025-05-31",
            },
            {
                "username": "paul",
                "name": "Paul Partners",
                "email": "paul@example.de",
                "country": "DE",
                "languages": [{"code": "de", "level": "native"}],
                "skills": [SKILL],
                "visibility": "partners",
            },
            {"username": "cora", "name": "Cora Coop", "country": "SE", "visibility": "coop"},
        ],
    )
    _import(
        app,
        "calls",
        [
            {
                "ref": "crm-1",
                "author": "pia",
                "title": "Public call",
                "country": "SE",
                "language": "en",
                "skills_required": [SKILL],
                "visibility": "public",
                "starts": "2025-06-01",
                "ends": "2025-06-30",
            },
            {
                "ref": "crm-2",
                "author": "pia",
                "title": "Coop call",
                "country": "SE",
                "visibility": "coop",
            },
        ],
    )
    return app


def sign_in(client):
    response = client.post("/login", data={"username": "insider", "password": PASSWORD})
    assert response.status_code in (302, 303)


# --- a small JSON Schema check against the served OpenAPI document --------------------------


def validate(doc, name, instance):
    schema = {"$ref": f"#/components/schemas/{name}", "components": doc["components"]}
    errors = list(Draft202012Validator(schema).iter_errors(instance))
    assert not errors, [e.message for e in errors[:5]]


@pytest.fixture
def spec(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    doc = response.get_json()
    Draft202012Validator.check_schema({"components": doc["components"]})
    return doc


def test_every_api_route_is_described(app, spec):
    routes = {
        re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/")
    }
    assert routes, "no API routes registered"
    assert routes <= set(spec["paths"]), routes - set(spec["paths"])
    for path, item in spec["paths"].items():
        for method, op in item.items():
            params = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert params == set(re.findall(r"{(\w+)}", path)), (path, method)
    assert spec["openapi"].startswith("3.1")


def test_member_directory_is_public_only_for_anonymous_callers(client, spec):
    response = client.get("/api/v1/members?lang=sv")
    assert response.status_code == 200
    body = response.get_json()
    validate(spec, "MemberPage", body)
    assert [m["username"] for m in body["results"]] == ["pia"]
    pia = body["results"][0]
    assert pia["ap_id"] == "http://smart.test/members/pia"
    assert pia["coop"] == "Smart Test" and pia["node"] == "smart.test"
    assert pia["skills"] == [{"iri": SKILL, "label": SKILL_SV}]
    assert pia["availability"] == [{"start": "2025-03-01", "end": "2025-05-31"}]
    assert "email" not in json.dumps(body) and "password" not in json.dumps(body)
    assert "@example" not in response.get_data(as_text=True)


def test_signed_in_members_see_more(client, spec):
    sign_in(client)
    body = client.get("/api/v1/members?per_page=100").get_json()
    validate(spec, "MemberPage", body)
    assert {m["username"] for m in body["results"]} == {"pia", "paul", "cora", "insider"}
    assert "@example" not in json.dumps(body)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (f"skill={quote(SKILL)}", {"pia", "paul"}),
        (f"occupation={quote(OCCUPATION)}", {"pia"}),
        ("country=de", {"paul"}),
        ("language=sv", {"pia"}),
        ("available_from=2025-05-01&available_until=2025-07-01", {"pia"}),
        ("available_from=2025-07-01", set()),
        ("node=smart.test&q=paul", {"paul"}),
        ("node=other.example", set()),
    ],
)
def test_member_filters(client, query, expected):
    sign_in(client)
    body = client.get(f"/api/v1/members?{query}").get_json()
    assert {m["username"] for m in body["results"]} == expected
    assert body["total"] == len(expected)


def test_member_pagination(client):
    sign_in(client)
    first = client.get("/api/v1/members?per_page=3&page=1").get_json()
    second = client.get("/api/v1/members?per_page=3&page=2").get_json()
    assert first["total"] == second["total"] == 4
    assert len(first["results"]) == 3 and len(second["results"]) == 1
    names = {m["username"] for m in first["results"] + second["results"]}
    assert len(names) == 4


@pytest.mark.parametrize(
    "query",
    [
        "per_page=0",
        "per_page=101",
        "page=x",
        "available_from=tomorrow",
        "lang=xx",
        "available_from=2025-05-01&available_until=2025-04-01",
    ],
)
def test_bad_parameters_are_400_json(client, query):
    response = client.get(f"/api/v1/members?{query}")
    assert response.status_code == 400
    assert response.is_json and response.get_json()["error"]


def test_one_member(client, spec):
    response = client.get("/api/v1/members/pia?lang=en")
    assert response.status_code == 200
    body = response.get_json()
    validate(spec, "Member", body)
    assert body["occupations"] == [{"iri": OCCUPATION, "label": OCCUPATION_EN}]
    assert client.get("/api/v1/members/pia@smart.test").status_code == 200
    for hidden in ("paul", "cora", "nobody"):
        response = client.get(f"/api/v1/members/{hidden}")
        assert response.status_code == 404 and "error" in response.get_json()
    sign_in(client)
    body = client.get("/api/v1/members/cora").get_json()
    validate(spec, "Member", body)
    assert "email" not in body and "password_hash" not in body


def test_calls_list_and_visibility(client, spec):
    body = client.get("/api/v1/calls").get_json()
    validate(spec, "CallPage", body)
    assert [c["ref"] for c in body["results"]] == ["crm-1"]
    call = body["results"][0]
    assert call["author"]["ap_id"] == "http://smart.test/members/pia"
    assert call["skills_required"] == [{"iri": SKILL, "label": SKILL_EN}]
    assert call["starts"] == "2025-06-01"
    sign_in(client)
    body = client.get("/api/v1/calls").get_json()
    assert {c["ref"] for c in body["results"]} == {"crm-1", "crm-2"}
    assert client.get("/api/v1/calls?country=DE").get_json()["total"] == 0
    assert client.get(f"/api/v1/calls?skill={quote(SKILL)}").get_json()["total"] == 1
    assert client.get("/api/v1/calls?status=closed").get_json()["total"] == 0
    assert client.get("/api/v1/calls?remote=true").get_json()["total"] == 0
    assert client.get("/api/v1/calls?status=nope").status_code == 400


def test_call_by_ref_and_by_public_id(client, spec):
    response = client.get("/api/v1/calls?ref=crm-1")
    assert response.status_code == 200
    call = response.get_json()
    validate(spec, "Call", call)
    assert call["title"] == "Public call"
    again = client.get(f"/api/v1/calls/{call['public_id']}")
    assert again.status_code == 200 and again.get_json() == call
    assert client.get("/api/v1/calls?ref=crm-404").status_code == 404
    # A coop-only call is not found by anonymous callers, by ref or by id.
    assert client.get("/api/v1/calls?ref=crm-2").status_code == 404
    sign_in(client)
    coop_call = client.get("/api/v1/calls?ref=crm-2").get_json()
    assert coop_call["visibility"] == "coop"
    client.post("/logout")
    assert client.get(f"/api/v1/calls/{coop_call['public_id']}").status_code == 404
    assert client.get("/api/v1/calls/nosuchcall").status_code == 404


def test_taxonomy_search_across_languages(client, spec):
    response = client.get(f"/api/v1/taxonomy/search?q={quote(SKILL_SV)}&lang=en&kind=skill")
    assert response.status_code == 200
    body = response.get_json()
    validate(spec, "TaxonomyResults", body)
    best = body["results"][0]
    assert best["iri"] == SKILL and best["label"] == SKILL_EN
    assert best["matched"] == SKILL_SV and best["lang"] == "sv" and best["kind"] == "skill"
    assert len(body["results"]) <= 8
    limited = client.get(f"/api/v1/taxonomy/search?q={quote(SKILL_EN)}&limit=2").get_json()
    assert 1 <= len(limited["results"]) <= 2
    occupations = client.get(
        f"/api/v1/taxonomy/search?q={quote(SKILL_EN)}&kind=occupation"
    ).get_json()["results"]
    assert all(r["kind"] == "occupation" for r in occupations)
    assert client.get("/api/v1/taxonomy/search").status_code == 400
    assert client.get("/api/v1/taxonomy/search?q=x&kind=tool").status_code == 400
    assert client.get("/api/v1/taxonomy/search?q=x&limit=500").status_code == 400


@pytest.mark.parametrize("encode", [False, True])
def test_taxonomy_concept_with_all_labels(client, spec, encode):
    path = quote(SKILL, safe="") if encode else SKILL
    response = client.get(f"/api/v1/taxonomy/concepts/{path}?lang=sv")
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    validate(spec, "Concept", body)
    assert body["iri"] == SKILL and body["label"] == SKILL_SV and body["kind"] == "skill"
    assert body["labels"]["en"]["preferred"] == SKILL_EN
    assert len(body["labels"]) >= 5
    missing = client.get("/api/v1/taxonomy/concepts/http://data.europa.eu/esco/skill/nope")
    assert missing.status_code == 404 and "error" in missing.get_json()


def test_api_errors_are_json(client):
    response = client.get("/api/v1/no-such-endpoint")
    assert response.status_code == 404 and response.get_json()["error"]
    response = client.post("/api/v1/members")  # a write route: a token is needed
    assert response.status_code == 401 and "error" in response.get_json()
