"""FEP-521a Multikeys in actor documents: how we list ours and find a peer's."""

from __future__ import annotations

from federation.proofs import MULTIKEY_CONTEXT, actor_context, find_multikey, multikey
from federation.vocab import AS_CONTEXT, SECURITY_CONTEXT
from profiles.ap.context import context_for

ACTOR = "https://a.example/users/alice"
KEY = f"{ACTOR}#ed25519-key"
PUBLIC = "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"


def test_actor_context_adds_multikey_before_the_extension_terms():
    ctx = actor_context(context_for("actor"))
    assert ctx[:3] == [AS_CONTEXT, SECURITY_CONTEXT, MULTIKEY_CONTEXT]
    assert ctx[3]["assertionMethod"]["@id"] == "https://w3id.org/security#assertionMethod"
    assert "coopfed" in ctx[-1]  # the extension context stays last
    assert actor_context(ctx).count(MULTIKEY_CONTEXT) == 1


def test_multikey_shape():
    assert multikey(ACTOR, PUBLIC) == {
        "id": KEY,
        "type": "Multikey",
        "controller": ACTOR,
        "publicKeyMultibase": PUBLIC,
    }


def test_find_multikey_in_a_list_or_a_single_object():
    listed = {"id": ACTOR, "assertionMethod": ["https://x.example/k", multikey(ACTOR, PUBLIC)]}
    found = find_multikey(listed, KEY)
    assert found is not None and (found.controller, found.public_multibase) == (ACTOR, PUBLIC)
    assert find_multikey({"id": ACTOR, "assertionMethod": multikey(ACTOR, PUBLIC)}, KEY) == found


def test_find_multikey_refuses_keys_the_actor_does_not_control():
    other = {**multikey(ACTOR, PUBLIC), "controller": "https://a.example/users/mallory"}
    assert find_multikey({"id": ACTOR, "assertionMethod": [other]}, KEY) is None
    wrong_type = {**multikey(ACTOR, PUBLIC), "type": "Ed25519VerificationKey2020"}
    assert find_multikey({"id": ACTOR, "assertionMethod": [wrong_type]}, KEY) is None
    assert find_multikey({"id": ACTOR}, KEY) is None
    assert find_multikey({"id": ACTOR, "assertionMethod": [multikey(ACTOR, PUBLIC)]}, "x") is None
