"""The web forms' language rules go through the one definition (profiles.fields): a bad pair
is named in the reader's language and nothing is saved; good ones are stored normalised, and
the call's rule is part of what partners are sent when the call is saved."""

from __future__ import annotations

import json

from sqlalchemy import select

from federation.models import Follower, OutboxActivity
from profiles.members import ProfileData, create_member
from profiles.models import Call, Member

PASSWORD = "a long enough password"


def test_forms_check_and_store_language_rules(make_node):
    app = make_node(domain="smart.nl", name="Smart Nederland", country="NL")
    app.config["WTF_CSRF_ENABLED"] = False
    state = app.extensions["coopfed"]
    with state.session() as s:
        create_member(
            s,
            state.ctx,
            username="daan",
            email="daan@example.nl",
            password=PASSWORD,
            profile=ProfileData(name="Daan", country="NL", languages=[("nl", "native")]),
            vocab=state.vocabulary.get(s),
        )
        # A partner coop follows ours: saving a call queues its Create for them.
        partner = "https://smart.example/actor"
        coop = state.federation_service().coop.instance_iri
        s.add(
            Follower(
                local_actor=coop,
                follower=partner,
                follower_inbox=partner + "/inbox",
                accepted=True,
            )
        )
        s.commit()
    client = app.test_client()
    client.post("/login", data={"username": "daan", "password": PASSWORD})
    profile = {
        "name": "Daan",
        "country": "NL",
        "visibility": "partners",
        "language_code": ["nl", "de"],
        "language_level": ["native", "C1"],
        "action": "save",
    }
    refused = client.post("/profile/edit?lang=nl", data=profile | {"language_pairs": "nl>nl"})
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "nl&gt;nl: de twee talen van een paar moeten verschillen." in page
    assert (
        client.post("/profile/edit?lang=de", data=profile | {"language_pairs": "NL-de"}).status_code
        == 422
    )

    saved = client.post("/profile/edit", data=profile | {"language_pairs": "DE>nl, nl→de"})
    assert saved.status_code in (302, 303)
    with state.session() as s:
        assert s.scalar(select(Member.language_pairs).where(Member.username == "daan")) == (
            "de>nl nl>de"
        )
    # Shown as stored when the form is opened again.
    assert 'value="de&gt;nl nl&gt;de"' in client.get("/profile/edit").get_data(as_text=True)

    call = {
        "title": "Tolk voor een beurs in Keulen",
        "country": "DE",
        "language": "nl",
        "languages": ["nl", "de"],
        "visibility": "partners",
        "status": "open",
        "action": "save",
    }
    too_many = " ".join(f"nl>{c}" for c in ("de", "en", "fr", "sv", "it", "es", "da", "fi", "pl"))
    refused = client.post("/calls/new?lang=sv", data=call | {"language_pairs": too_many})
    assert refused.status_code == 422
    assert "Högst 8 språkpar." in refused.get_data(as_text=True)
    with state.session() as s:
        assert s.scalar(select(Call.id)) is None

    made = client.post("/calls/new", data=call | {"languages_all": "1", "language_pairs": "nl>de"})
    assert made.status_code in (302, 303)
    with state.session() as s:
        row = s.scalar(select(Call))
        assert row.languages_all is True and row.language_pairs == "nl>de"
        # What partners are sent: the rule is in the Create, not added after it was queued.
        sent = [json.loads(a.body) for a in s.scalars(select(OutboxActivity))]
    page = next(a["object"] for a in sent if a["type"] == "Create")
    assert page["allWorkingLanguages"] is True
    assert page["languagePair"] == [{"source": "nl", "target": "de"}]
