"""Outbox rows stored before issue 8 (bare dates, the old term dict, ``formerType: "Page"``,
FEP-8b32 proofs made without ``@context``) are re-rendered and signed again by
``coopfed db upgrade`` — and by the worker on a node that was only restarted — so that what the
outbox serves and what pending deliveries carry is valid JSON-LD with proofs that verify."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlalchemy import select

from federation import proofs, vocab
from federation.keys import ed25519_public_of
from federation.models import Delivery, Follower, OutboxActivity
from node.cli import cli
from profiles.ap.upgrade import CURSOR_KEY, FORMAT_KEY, OUTBOX_FORMAT
from profiles.models import Member, NodeMeta

from .conftest import add_call, add_member
from .test_jsonld_validation import problems

FOLLOWER = "https://masto.example/users/bob"


def old_format(body: dict[str, Any], private_multibase: str | None) -> dict[str, Any]:
    """``body`` as the node stored it before issue 8."""
    old = copy.deepcopy(body)
    old.pop("proof", None)
    terms = {"coopfed": "https://coopfed.org/ns#", "requiredSkill": "coopfed:requiredSkill"}
    old["@context"] = [vocab.AS_CONTEXT, terms]
    obj = old.get("object")
    if isinstance(obj, dict):
        if "@context" in obj:
            obj["@context"] = [vocab.AS_CONTEXT, terms]
        for term in ("startTime", "endTime", "deadline"):
            if isinstance(obj.get(term), str):
                obj[term] = obj[term][:10]  # "2027-06-01"
        if obj.get("type") == "Tombstone":
            obj["formerType"] = "Page"
    if private_multibase is not None:
        # The old signer: proof configuration hashed without the document's @context.
        signed = proofs.sign_document(old, private_multibase, f"{old['actor']}#ed25519-key")
        del signed["proof"]["@context"]
        old = signed
    return old


def stored(state: Any) -> dict[str, dict[str, Any]]:
    with state.session() as s:
        return {
            row.ap_id: json.loads(row.body)
            for row in s.scalars(select(OutboxActivity).order_by(OutboxActivity.id))
        }


def make_old_rows(state: Any) -> tuple[str, str, str]:
    """A Create and a Delete by alice, and a Create by a member since deleted, all in the old
    format; a delivery of the Create still pending. Returns their ids."""
    fed = state.federation_service()
    alice = add_member(state, "alice")
    with state.session() as s:
        s.add(Follower(local_actor=alice, follower=FOLLOWER, follower_inbox=FOLLOWER + "/inbox"))
        s.execute(Follower.__table__.update().values(accepted=True))
        s.commit()
    add_call(state, "alice", "Sound engineer wanted")
    gone = add_call(state, "alice", "Light designer wanted")
    from profiles import calls as call_service
    from profiles.models import Call

    with state.session() as s:
        call = s.scalar(select(Call).where(Call.ap_id == gone))
        call_service.delete_call(s, call, call.author)
        s.commit()
    with state.session() as s:
        member = s.scalar(select(Member).where(Member.ap_id == alice))
        key = member.ed25519_private_multibase
        rows = {r.type: r for r in s.scalars(select(OutboxActivity))}
        create, delete = rows["Create"], rows["Delete"]
        for row in (create, delete):
            row.body = json.dumps(old_format(json.loads(row.body), key))
        # A Create of a member deleted since: nobody holds its key any more.
        ghost = old_format(json.loads(create.body), None)
        ghost_actor = f"{fed.coop.instance_iri.removesuffix('/actor')}/members/ghost"
        ghost.update(id=f"{ghost_actor}#create/1", actor=ghost_actor)
        ghost["proof"] = copy.deepcopy(json.loads(create.body)["proof"])
        s.add(
            OutboxActivity(
                ap_id=ghost["id"], actor=ghost_actor, type="Create", body=json.dumps(ghost)
            )
        )
        pending = s.scalar(select(Delivery).where(Delivery.activity_id == create.id))
        assert pending is not None and pending.state == "pending"
        s.query(NodeMeta).filter(NodeMeta.key.in_([FORMAT_KEY, CURSOR_KEY])).delete()
        s.commit()
        return create.ap_id, delete.ap_id, ghost["id"]


def check_upgraded(state: Any, create_id: str, delete_id: str, ghost_id: str) -> None:
    bodies = stored(state)
    with state.session() as s:
        alice = s.scalar(select(Member).where(Member.username == "alice"))
        public = ed25519_public_of(alice.ed25519_private_multibase)
        version = s.get(NodeMeta, FORMAT_KEY)
        assert version is not None and version.value == str(OUTBOX_FORMAT)
    for ap_id in (create_id, delete_id):
        body = bodies[ap_id]
        assert problems(body) == [], (body["type"], problems(body))
        proofs.check_proof_value(body, public)  # raises if it does not verify
        assert body["proof"]["@context"] == body["@context"]
    page = bodies[create_id]["object"]
    assert page["startTime"] == "2027-06-01T00:00:00Z" and page["deadline"].endswith("T00:00:00Z")
    assert bodies[delete_id]["object"]["formerType"] == "as:Page"
    ghost = bodies[ghost_id]
    assert "proof" not in ghost and problems(ghost) == []


def test_db_upgrade_re_renders_old_outbox_rows(tmp_path: Path) -> None:
    runner = CliRunner()
    instance = tmp_path / "node"

    def coopfed(*args: str) -> str:
        result = runner.invoke(cli, ["--instance", str(instance), *args])
        assert result.exit_code == 0, result.output + repr(result.exception)
        return result.output

    coopfed("init", "--domain", "smart.test", "--name", "Smart", "--country", "SE", "--dev")
    from node.app import create_app
    from node.settings import Settings

    state = create_app(Settings.load(instance)).extensions["coopfed"]
    ids = make_old_rows(state)
    said = coopfed("db", "upgrade")
    assert "3 stored activities re-rendered" in said, said
    check_upgraded(state, *ids)
    assert "re-rendered" not in coopfed("db", "upgrade")  # done once


def test_the_worker_re_renders_them_on_a_restarted_node(make_node: Any) -> None:
    app = make_node(domain="smart.test")
    state = app.extensions["coopfed"]
    ids = make_old_rows(state)
    (job,) = [job for name, job in state.jobs if name == "federation.outbox_upgrade"]
    rounds = 0
    while job(state) or not stored_format_current(state):
        rounds += 1
        assert rounds < 10
    check_upgraded(state, *ids)
    assert job(state) == 0
    # What the outbox serves is the upgraded row.
    served = app.test_client().get(
        "/members/alice/outbox?page=1", headers={"Accept": "application/activity+json"}
    )
    (item,) = served.get_json(force=True)["orderedItems"]
    assert item["object"]["startTime"] == "2027-06-01T00:00:00Z"


def stored_format_current(state: Any) -> bool:
    with state.session() as s:
        row = s.get(NodeMeta, FORMAT_KEY)
        return row is not None and row.value == str(OUTBOX_FORMAT)
