"""The example documents of FEDERATION.md, made by a real node (production mode, https IRIs on
``coop.example``) through the domain writers and the engine, then normalised: keys, proof
values, random ids and instants are replaced by fixed placeholders so that the examples change
only when what the node sends changes. Used by test_federation_md.py (which compares them with
FEDERATION.md and rewrites them on request)."""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

from sqlalchemy import select

from federation.inbox import accept_follower
from federation.models import Follower, OutboxActivity
from federation.outbox import follow_remote, unfollow_remote
from profiles.ap.context import COOPFED_CONTEXT

DOMAIN = "coop.example"
PARTNER = "https://coop-partner.example/actor"
FAN = "https://social.example/users/kim"
FOLLOWED = "https://social.example/users/lee"
AP = {"Accept": "application/activity+json"}

INSTANT = "2027-01-15T09:30:00Z"  # every instant the node stamps (published, proofs…)
_INSTANT_TERMS = ("published", "updated", "created", "deleted")
_HEX = re.compile(r"[0-9a-f]{32}")


def _member(
    state: Any, username: str, name: str, words: tuple[Any, ...] = (), **profile: Any
) -> Any:
    from profiles import members as member_service
    from profiles.models import MemberPhrase

    with state.session() as s:
        v = state.vocabulary.get(s)
        skills = sorted(i for i, k in v.kinds.items() if k == "skill")[:2]
        occupations = sorted(i for i, k in v.kinds.items() if k == "occupation")[:1]
        data = member_service.ProfileData(
            name=name,
            summary="Sound engineer for festivals and theatre tours.",
            visibility="public",
            country="SE",
            city="Malmö",
            skills=skills,
            occupations=occupations,
            languages=[("sv", "native"), ("en", "C1")],
            availability=[(date(2027, 6, 1), date(2027, 8, 31))],
            **profile,
        )
        member = member_service.create_member(
            s, state.ctx, username=username, password="correct horse battery", profile=data, vocab=v
        )
        # Their own words as the importer keeps them: one not understood, one proposed.
        member.phrases = [
            MemberPhrase(position=n, kind="skill", text=text, lang=lang, concept_iri=iri, status=st)
            for n, (text, lang, iri, st) in enumerate(words)
        ]
        s.commit()
        return member.ap_id


def _call(state: Any, title: str) -> tuple[str, str]:
    from profiles import calls as call_service
    from profiles import members as member_service
    from profiles.models import CallPhrase

    with state.session() as s:
        v = state.vocabulary.get(s)
        author = member_service.get_local(s, state.ctx, "alice")
        skills = sorted(i for i, k in v.kinds.items() if k == "skill")
        data = call_service.CallData(
            title=title,
            description="<p>A summer festival needs a sound engineer for three weeks.</p>",
            country="SE",
            city="Malmö",
            skills_required=skills[:1],
            skills_optional=skills[1:2],
            languages=["en", "sv"],
            languages_all=True,
            visibility="public",
            starts=date(2027, 6, 1),
            ends=date(2027, 6, 21),
            deadline=date(2027, 5, 1),
            compensation="EUR 400 a day",
        )
        wrote = [CallPhrase(text="festival sound", lang="en", status="unlinked")]
        call = call_service.create_call(s, state.ctx, author, data, v, wrote)
        s.commit()
        return call.ap_id, call.public_id


def _edit_and_delete(state: Any, ap_id: str) -> None:
    from profiles import calls as call_service
    from profiles.models import Call

    with state.session() as s:
        call = s.scalar(select(Call).where(Call.ap_id == ap_id))
        data = call_service.call_data(call)
        data.compensation = "EUR 450 a day"
        call_service.update_call(s, call, call.author, data, state.vocabulary.get(s))
        s.commit()
    with state.session() as s:
        call = s.scalar(select(Call).where(Call.ap_id == ap_id))
        call_service.delete_call(s, call, call.author)
        s.commit()


def _delete_member(state: Any, username: str) -> None:
    from profiles import members as member_service

    with state.session() as s:
        member = member_service.get_local(s, state.ctx, username)
        state.federation_service().coop.ensure_member_key(s, member)
        member_service.delete_member(s, member)
        s.commit()


def _edit_profile(state: Any, username: str) -> None:
    from profiles import members as member_service

    with state.session() as s:
        member = member_service.get_local(s, state.ctx, username)
        data = member_service.profile_data(member)
        data.summary = "Sound engineer for festivals, theatre tours and podcasts."
        member_service.update_profile(s, member, data, state.vocabulary.get(s))
        s.commit()


def _followers(state: Any, alice: str) -> None:
    """A partner coop, a fediverse account following alice and the Group, one asking to."""
    fed = state.federation_service().coop
    with state.session() as s:
        for local, follower in [
            (fed.instance_iri, PARTNER),
            (alice, FAN),
            (fed.calls_iri, FAN),
        ]:
            s.add(
                Follower(
                    local_actor=local,
                    follower=follower,
                    follower_inbox=follower + "/inbox",
                    accepted=True,
                )
            )
        s.add(
            Follower(
                local_actor=alice,
                follower=FOLLOWED,
                follower_inbox=FOLLOWED + "/inbox",
                accepted=False,
                follow_activity_id=f"{FOLLOWED}#follows/17",
            )
        )
        s.commit()


def _follow_and_undo(state: Any, alice: str) -> None:
    with state.session() as s:
        accept_follower(s, alice, FOLLOWED, FOLLOWED + "/inbox")
        s.commit()
    with state.session() as s:
        # the CLI's and the web page's path: Follows.follow -> federation.outbox.follow_remote
        follow_remote(
            s,
            local_actor=alice,
            remote_actor=FOLLOWED,
            remote_inbox=FOLLOWED + "/inbox",
            follow_id=f"{alice}#follows/{'0' * 31}1",
        )
        s.commit()
    with state.session() as s:
        unfollow_remote(
            s,
            local_actor=alice,
            remote_actor=FOLLOWED,
            remote_inbox=FOLLOWED + "/inbox",
            undo_id=f"{alice}#undos/{'0' * 31}2",
        )
        s.commit()


# Stands for the inline term dict (shown once, as the example "terms") in every @context.
TERMS = {"…": "the coop's inline terms: see The @context"}


def normalise(doc: Any, names: dict[str, str]) -> Any:
    """Placeholders for what differs between runs: keys, proof values, instants, random ids
    (each distinct one numbered in order of appearance) and call ids (``names``); and
    :data:`TERMS` for the long inline term dict."""

    def walk(value: Any, key: str | None = None) -> Any:
        if isinstance(value, dict):
            if value == COOPFED_CONTEXT:
                return TERMS
            return {k: walk(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if not isinstance(value, str):
            return value
        if key == "publicKeyPem":
            return "-----BEGIN PUBLIC KEY-----\n…\n-----END PUBLIC KEY-----\n"
        if key == "publicKeyMultibase":
            return "z6Mk…"
        if key == "proofValue":
            return "z…"
        if key in _INSTANT_TERMS and not value.endswith("T00:00:00Z"):
            return INSTANT
        for real, placeholder in names.items():
            value = value.replace(real, placeholder)
        return _HEX.sub(lambda m: hexes.setdefault(m.group(0), f"{len(hexes) + 1:032x}"), value)

    hexes: dict[str, str] = {}
    return walk(doc)


def make_examples(make_node: Any) -> dict[str, dict[str, Any]]:
    """Every example of FEDERATION.md by name, normalised."""
    app = make_node(domain=DOMAIN, dev_mode=False)
    state = app.extensions["coopfed"]
    fed = state.federation_service().coop
    mixing = "http://data.europa.eu/esco/skill/84bbad5b-6560-440a-89f0-0e61729e80a0"  # live sound
    words = (
        ("ljudteknik för festivaler", "sv", None, "unlinked"),
        ("live mixing", "en", mixing, "proposed"),
    )
    alice = _member(
        state, "alice", "Alice Andersson", words, language_pairs=[("sv", "en"), ("en", "sv")]
    )
    _member(state, "bea", "Bea Berg")
    _followers(state, alice)
    _edit_profile(state, "alice")
    call, call_id = _call(state, "Sound engineer for a summer festival")
    gone, gone_id = _call(state, "Light designer for a theatre tour")
    _edit_and_delete(state, gone)
    _delete_member(state, "bea")
    _follow_and_undo(state, alice)

    client = app.test_client()

    def get(iri: str, status: int = 200) -> dict[str, Any]:
        response = client.get(iri.removeprefix(state.ctx.base_url), headers=AP)
        assert response.status_code == status, (iri, response.status_code)
        return dict(response.get_json(force=True))

    found: dict[str, dict[str, Any]] = {
        "Person": get(alice),
        "Organization": get(fed.instance_iri),
        "Group": get(fed.calls_iri),
        "Page": get(call),
        "Tombstone": get(gone, status=410),
        "following": get(f"{alice}/following"),
    }
    with state.session() as s:
        rows = s.scalars(select(OutboxActivity).order_by(OutboxActivity.id)).all()
        for row in rows:
            body = json.loads(row.body)
            obj = body.get("object")
            kind = body["type"]
            if isinstance(obj, dict) and kind in ("Create", "Update", "Announce", "Delete"):
                if kind == "Delete" and row.actor == fed.instance_iri:
                    kind = "Delete (a member, from the coop)"
                else:
                    kind = f"{kind}({obj.get('type')})"
            elif kind == "Delete":
                kind = "Delete (a member, by the member)"
            found.setdefault(kind, body)
    from .collab_examples import make_collab_examples  # issue 9: responses, messages…

    found.update(make_collab_examples(state, call))
    # The page ids are random: name them after their role.
    names = {call_id: "4fQx7Lb2Zm9K", gone_id: "8tRw1Nc5Yp3D"}
    examples = {name: normalise(doc, names) for name, doc in found.items()}
    examples["terms"] = COOPFED_CONTEXT
    return examples
