"""Inbox and FEP-8b32 proofs: a proof whose key resolves must verify; no proof, or a key that
cannot be resolved, leaves the HTTP signature as the only authentication (as before)."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from federation.db import utcnow
from federation.keys import ed25519_key_id, generate_ed25519_keypair
from federation.models import InboxItem
from federation.proofs import PROOF_REFETCH_AFTER, multikey, sign_document
from federation.vocab import PUBLIC

from .conftest import FakeFediverse, Remote, actor_doc, post_signed

ALICE = "https://remote.test/users/alice"
ALICE_VM = ed25519_key_id(ALICE)


@pytest.fixture(scope="module")
def ed_keys() -> tuple[str, str]:
    return generate_ed25519_keypair()


@pytest.fixture
def alice(remote_factory: Any, fedi: FakeFediverse, ed_keys: tuple[str, str]) -> Remote:
    r = remote_factory(ALICE, key=1)
    fedi.serve_actor(r, assertionMethod=[multikey(ALICE, ed_keys[0])])
    return r


def create_note(n: int = 1) -> dict[str, Any]:
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"https://remote.test/activities/{n}",
        "type": "Create",
        "actor": ALICE,
        "object": {
            "id": f"https://remote.test/notes/{n}",
            "type": "Note",
            "attributedTo": ALICE,
            "content": "<p>hello</p>",
            "to": [PUBLIC],
        },
        "to": [PUBLIC],
    }


def stored(session: Session) -> list[dict[str, Any]]:
    return [json.loads(b) for b in session.scalars(select(InboxItem.body))]


def test_good_proof_is_accepted_and_kept(session, actors, policy, alice, ed_keys):
    signed = sign_document(create_note(), ed_keys[1], ALICE_VM)
    assert post_signed(session, actors, policy, alice, signed) == (202, "accepted")
    assert stored(session)[0]["proof"] == signed["proof"]


@pytest.mark.parametrize(
    "tamper",
    [
        lambda d: d["object"].__setitem__("content", "<p>hello!</p>"),
        lambda d: d.__setitem__("to", []),
        lambda d: d["proof"].__setitem__("proofValue", "z" + "1" * 86),
    ],
)
def test_proof_that_does_not_verify_is_refused(session, actors, policy, alice, ed_keys, tamper):
    # The HTTP signature covers the tampered body: only the proof can catch it.
    signed = copy.deepcopy(sign_document(create_note(), ed_keys[1], ALICE_VM))
    tamper(signed)
    status, message = post_signed(session, actors, policy, alice, signed)
    assert (status, message) == (401, "the proof does not verify")
    assert session.scalar(select(func.count()).select_from(InboxItem)) == 0


def test_proof_by_another_actors_key_is_refused(session, actors, policy, alice, ed_keys):
    signed = sign_document(create_note(), ed_keys[1], "https://evil.test/users/m#ed25519-key")
    status, message = post_signed(session, actors, policy, alice, signed)
    assert (status, message) == (401, "the proof is made with another actor's key")


def test_proof_with_another_key_of_the_same_actor_is_refused(
    session, actors, policy, remote_factory, fedi
):
    public, _ = generate_ed25519_keypair()
    _, other_private = generate_ed25519_keypair()
    remote = remote_factory(ALICE, key=1)
    fedi.serve_actor(remote, assertionMethod=[multikey(ALICE, public)])
    signed = sign_document(create_note(), other_private, ALICE_VM)
    assert post_signed(session, actors, policy, remote, signed)[0] == 401


def test_activity_without_proof_still_works(session, actors, policy, alice):
    assert post_signed(session, actors, policy, alice, create_note()) == (202, "accepted")


def test_key_not_published_is_refetched_once_then_not_checked(
    session, actors, policy, remote_factory, fedi, ed_keys
):
    """An actor that does not list the key (even after a refetch): the proof cannot be checked,
    the HTTP signature authenticates the activity."""
    remote = remote_factory(ALICE, key=1)
    fedi.serve_actor(remote)  # no assertionMethod
    signed = sign_document(create_note(), ed_keys[1], ALICE_VM)
    assert post_signed(session, actors, policy, remote, signed) == (202, "accepted")
    gets = [r.url for r in fedi.requests if r.method == "GET"]
    assert gets == [ALICE]  # just fetched for the HTTP signature: no second look
    # More activities naming that key: no fetch per activity ...
    for n in (2, 3):
        signed = sign_document(create_note(n), ed_keys[1], ALICE_VM)
        assert post_signed(session, actors, policy, remote, signed) == (202, "accepted")
    assert [r.url for r in fedi.requests if r.method == "GET"] == [ALICE]
    # ... but one look again once the cached document is older than the refetch interval.
    later = utcnow() + PROOF_REFETCH_AFTER + timedelta(seconds=1)
    actors.clock = lambda: later
    signed = sign_document(create_note(4), ed_keys[1], ALICE_VM)
    assert post_signed(session, actors, policy, remote, signed) == (202, "accepted")
    assert [r.url for r in fedi.requests if r.method == "GET"] == [ALICE, ALICE]


def test_key_added_after_caching_is_found_by_refetch(
    session, actors, policy, remote_factory, fedi, ed_keys
):
    remote = remote_factory(ALICE, key=1)
    fedi.serve_actor(remote)
    assert post_signed(session, actors, policy, remote, create_note(1))[0] == 202  # cached, no key
    fedi.serve_json(ALICE, actor_doc(remote, assertionMethod=[multikey(ALICE, ed_keys[0])]))
    later = utcnow() + PROOF_REFETCH_AFTER + timedelta(seconds=1)
    actors.clock = lambda: later
    bad = copy.deepcopy(sign_document(create_note(2), ed_keys[1], ALICE_VM))
    bad["object"]["content"] = "<p>changed</p>"
    assert post_signed(session, actors, policy, remote, bad)[0] == 401  # proves the refetch checked
    good = sign_document(create_note(3), ed_keys[1], ALICE_VM)
    assert post_signed(session, actors, policy, remote, good) == (202, "accepted")


def test_other_cryptosuites_and_proof_sets_are_not_checked(session, actors, policy, alice):
    rdfc = create_note(1)
    rdfc["proof"] = {"type": "DataIntegrityProof", "cryptosuite": "eddsa-rdfc-2022"}
    assert post_signed(session, actors, policy, alice, rdfc)[0] == 202
    proof_set = create_note(2)
    proof_set["proof"] = [{"type": "DataIntegrityProof", "cryptosuite": "eddsa-jcs-2022"}]
    assert post_signed(session, actors, policy, alice, proof_set)[0] == 202
