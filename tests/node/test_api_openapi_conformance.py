"""Every route of /api/v1 called, every response checked against the served OpenAPI document.

The document is generated from the models the API serialises with (node/api/schemas.py); this
test is what holds the two together from the outside: each status a route answers must be
documented for that operation, and each body must validate against the documented schema —
successes and errors, anonymous and signed in.
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest
from jsonschema import Draft202012Validator

from profiles import importers
from profiles.members import ProfileData, create_member
from profiles.vocabulary import load_curated_file

PASSWORD = "a long enough password"


def _skills(count: int) -> list[str]:
    found = [
        c["iri"]
        for c in load_curated_file()["concepts"]
        if c["kind"] == "skill" and {"en", "de"} <= set(c["labels"])
    ]
    assert len(found) >= count
    return found[:count]


def _occupation() -> str:
    return next(c["iri"] for c in load_curated_file()["concepts"] if c["kind"] == "occupation")


SKILLS = _skills(3)
OCCUPATION = _occupation()


@pytest.fixture
def app(make_node):
    app = make_node(domain="smart.test")
    app.config["WTF_CSRF_ENABLED"] = False
    state = app.extensions["coopfed"]
    with state.session() as s:
        vocab = state.vocabulary.get(s)
        create_member(
            s,
            state.ctx,
            username="author",
            email="author@example.se",
            password=PASSWORD,
            profile=ProfileData(
                name="Ann Author",
                country="SE",
                languages=[("sv", "native"), ("en", "C1")],
                skills=SKILLS[:1],
                visibility="public",
            ),
            vocab=vocab,
        )
        s.commit()
        members = [
            {
                "username": f"m{i}",
                "name": f"Member {i}",
                "country": country,
                "languages": [{"code": "en", "level": "C1"}],
                "skills": SKILLS[i % 3 :],
                "occupations": [OCCUPATION],
                "visibility": visibility,
                "available_from": "2027-01-01",
                "available_until": "2027-12-31",
            }
            for i, (country, visibility) in enumerate(
                [("SE", "public"), ("DE", "partners"), ("AT", "coop"), ("SE", "public")]
            )
        ]
        calls = [
            {
                "ref": "crm-1",
                "author": "author",
                "title": "Public call",
                "country": "SE",
                "language": "en",
                "skills_required": SKILLS[:2],
                "skills_optional": SKILLS[2:],
                "languages": ["en"],
                "visibility": "public",
                "starts": "2027-03-01",
                "ends": "2027-04-30",
                "deadline": "2027-02-01",
            },
            {"author": "author", "title": "Coop call", "country": "SE", "visibility": "coop"},
        ]
        for run, rows in ((importers.import_members, members), (importers.import_calls, calls)):
            result = run(s, state.ctx, vocab, [json.dumps(r) for r in rows])
            assert not result.skipped, result.skipped
    return app


def _respond(app) -> None:
    """m0 responds to the public call (the author gets a notification)."""
    from profiles import calls as call_service
    from profiles import collab
    from profiles.members import get_local
    from profiles.models import Call

    state = app.extensions["coopfed"]
    with state.session() as s:
        call = s.query(Call).filter_by(ref="crm-1").one()
        call = call_service.get_by_public_id(s, call.public_id)
        data = collab.ResponseData(message="Count me in", skills=SKILLS[:1])
        collab.respond(s, call, get_local(s, state.ctx, "m0"), data)
        s.commit()


def _public_id(client) -> str:
    return client.get("/api/v1/calls?ref=crm-1").get_json()["public_id"]


def _validate(doc, schema, instance, where):
    resolvable = {**schema, "components": doc["components"]}
    errors = list(Draft202012Validator(resolvable).iter_errors(instance))
    assert not errors, (where, [e.message for e in errors[:5]])


def _documented_schema(doc, path, status, method="get"):
    """The schema of ``status``'s JSON body for ``method`` ``path``; fails if undocumented."""
    responses = doc["paths"][path][method]["responses"]
    assert str(status) in responses, f"{method} {path} answered {status}, not documented"
    response = responses[str(status)]
    if "$ref" in response:
        response = doc["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    return response["content"]["application/json"]["schema"]


def _url(path, values):
    return "/api/v1" + re.sub(r"{(\w+)}", lambda m: quote(values[m.group(1)], safe=""), path)


def test_every_route_answers_as_the_openapi_document_says(app):
    anonymous, author = app.test_client(), app.test_client()
    _respond(app)
    response = author.post("/login", data={"username": "author", "password": PASSWORD})
    assert response.status_code in (302, 303)
    doc = anonymous.get("/api/v1/openapi.json").get_json()
    Draft202012Validator.check_schema({"components": doc["components"]})
    values = {"username": "m0", "public_id": _public_id(anonymous), "iri": SKILLS[0]}
    # Per path: (client, path values, query) cases; every path must answer 200 at least once.
    own = {**values, "username": "author"}
    cases = {
        "/members": [
            (anonymous, values, "lang=de"),
            (author, values, "per_page=2&page=2"),
            (anonymous, values, "available_from=someday"),
        ],
        "/members/{username}": [(anonymous, values, ""), (anonymous, {"username": "m2"}, "")],
        "/calls": [
            (anonymous, values, ""),
            (anonymous, values, "ref=crm-1&lang=sv"),
            (author, values, "status=all"),
            (anonymous, values, "ref=nope"),
            (anonymous, values, "status=bad"),
        ],
        "/calls/{public_id}": [(anonymous, values, "lang=fr"), (anonymous, {"public_id": "x"}, "")],
        "/calls/{public_id}/matches": [
            (author, values, "lang=de"),
            (author, values, "cross_border=1&limit=3"),
            (anonymous, values, ""),
            (author, values, "limit=0"),
        ],
        "/members/{username}/suggestions": [
            (author, own, ""),
            (author, own, "lang=xx"),
            (anonymous, own, ""),
        ],
        "/taxonomy/search": [
            (anonymous, values, "q=design&kind=skill"),
            (anonymous, values, ""),
        ],
        "/taxonomy/concepts/{iri}": [
            (anonymous, values, "lang=nl"),
            (anonymous, {"iri": "http://example.org/none"}, ""),
        ],
        "/me/responses": [(author, values, ""), (anonymous, values, "")],
        "/me/notifications": [
            (author, values, "unread=1&limit=5"),
            (anonymous, values, ""),
            (author, values, "limit=0"),
        ],
        "/calls/{public_id}/responses": [
            (author, values, ""),
            (anonymous, values, ""),
            (author, {"public_id": "x"}, ""),
        ],
        "/openapi.json": [(anonymous, values, "")],
    }
    readable = {path for path, item in doc["paths"].items() if "get" in item}
    assert set(cases) == readable, "a documented route is not exercised here"
    for path, calls in cases.items():
        statuses = []
        for client, path_values, query in calls:
            url = _url(path, path_values) + (f"?{query}" if query else "")
            response = client.get(url)
            assert response.is_json, url
            schema = _documented_schema(doc, path, response.status_code)
            _validate(doc, schema, response.get_json(), url)
            statuses.append(response.status_code)
        assert 200 in statuses, (path, statuses)
        assert path == "/openapi.json" or set(statuses) - {200}, (path, "no error case tried")


def test_non_empty_bodies_are_checked(app):
    """The conformance test above is only as good as its data: the lists it validates must
    hold items (an empty list validates against anything)."""
    author = app.test_client()
    _respond(app)
    author.post("/login", data={"username": "author", "password": PASSWORD})
    public_id = _public_id(author)
    (response,) = author.get(f"/api/v1/calls/{public_id}/responses").get_json()["results"]
    assert response["message"] == "Count me in" and response["state"] == "sent"
    notes = author.get("/api/v1/me/notifications").get_json()
    assert notes["unread"] == 1 and notes["results"][0]["kind"] == "response_received"
    body = author.get(f"/api/v1/calls/{public_id}/matches").get_json()
    assert body["matches"] and body["matches"][0]["reasons"]
    assert author.get("/api/v1/members/author/suggestions").get_json()["people"]
    page = author.get("/api/v1/members").get_json()
    assert {m["visibility"] for m in page["results"]} == {"public", "partners", "coop"}
    assert author.get("/api/v1/taxonomy/search?q=design").get_json()["results"]


def test_write_routes_answer_as_the_openapi_document_says(app):
    """The write operations (API tokens): every documented one called, successes and errors
    checked against the document."""
    from profiles.api_tokens import create_token
    from profiles.members import get_local

    state = app.extensions["coopfed"]
    with state.session() as s:
        boss = create_member(s, state.ctx, username="boss", email="b@example.se", password=PASSWORD)
        boss.is_admin = True
        s.flush()
        _t, writer = create_token(s, get_local(s, state.ctx, "author"), "w", ["write:calls"])
        _t, reader = create_token(s, get_local(s, state.ctx, "author"), "r", ["read"])
        _t, admin = create_token(s, boss, "a", ["manage:members"])
        s.commit()
    client = app.test_client()
    doc = client.get("/api/v1/openapi.json").get_json()
    public_id = _public_id(client)
    call = {"title": "Mixer", "country": "SE"}
    cases = {
        ("post", "/calls"): [
            (writer, call, {}),
            (writer, {"title": "x", "nope": 1}, {}),
            (reader, call, {}),
            (None, call, {}),
            (writer, {"title": "", "country": "SE"}, {}),
        ],
        ("patch", "/calls/{public_id}"): [
            (writer, {"title": "Mixer 2"}, {"public_id": public_id}),
            (writer, {"title": "x"}, {"public_id": "missing"}),
        ],
        ("post", "/calls/{public_id}/close"): [
            (writer, None, {"public_id": public_id}),
            (reader, None, {"public_id": public_id}),
        ],
        ("post", "/members"): [
            (admin, {"username": "newbie", "country": "SE"}, {}),
            (admin, {"username": "newbie", "country": "SE", "city": "Lund"}, {}),
            (admin, {"username": "Bad Name!"}, {}),
            (writer, {"username": "x2"}, {}),
        ],
    }
    documented = {
        (method, path) for path, item in doc["paths"].items() for method in item if method != "get"
    }
    assert set(cases) == documented
    for (method, path), calls in cases.items():
        statuses = []
        for token, body, path_values in calls:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            url = _url(path, path_values)
            response = client.open(url, method=method.upper(), json=body, headers=headers)
            assert response.is_json, url
            schema = _documented_schema(doc, path, response.status_code, method)
            _validate(doc, schema, response.get_json(), url)
            statuses.append(response.status_code)
        assert {200, 201} & set(statuses) and set(statuses) - {200, 201}, (path, statuses)
