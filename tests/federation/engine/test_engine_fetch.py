"""Transport guards, remote actor fetching, WebFinger, NodeInfo, domain policy, retry policy."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from federation import retry
from federation.db import utcnow
from federation.errors import (
    BadRequest,
    Forbidden,
    Gone,
    NotFound,
    PayloadTooLarge,
    SignatureInvalid,
    UnsupportedMediaType,
)
from federation.models import RemoteActor
from federation.nodeinfo import build_nodeinfo, well_known_nodeinfo
from federation.policy import CachedPolicy, DomainPolicy
from federation.transport import Transport
from federation.webfinger import LocalAccount, build_webfinger, webfinger_lookup

from .conftest import fake_resolver

ALICE = "https://remote.test/users/alice"


# -- transport --------------------------------------------------------------------------------


def test_redirect_to_loopback_is_refused_before_the_hop(transport, fedi):
    fedi.gets["https://remote.test/x"] = (302, {"Location": "https://internal.test/admin"}, b"")
    with pytest.raises(Forbidden):
        transport.get_json("https://remote.test/x")
    assert [r.url for r in fedi.requests] == ["https://remote.test/x"]


def test_redirects_are_followed_at_most_three_times(transport, fedi):
    for n in range(5):
        fedi.gets[f"https://remote.test/r{n}"] = (301, {"Location": f"/r{n + 1}"}, b"")
    with pytest.raises(Exception, match="redirects"):
        transport.get_json("https://remote.test/r0")
    assert len(fedi.requests) == 4


def test_plain_http_is_refused_outside_dev_mode(transport, fedi):
    with pytest.raises(Forbidden):
        transport.get_json("http://remote.test/users/alice")
    assert fedi.requests == []


def test_oversize_and_wrong_type_documents_are_refused(transport, fedi):
    fedi.gets["https://remote.test/big"] = (
        200,
        {"Content-Type": "application/activity+json"},
        b"{" + b" " * 1_048_576 + b"}",
    )
    with pytest.raises(PayloadTooLarge):
        transport.get_json("https://remote.test/big")
    fedi.gets["https://remote.test/html"] = (200, {"Content-Type": "text/html"}, b"{}")
    with pytest.raises(UnsupportedMediaType):
        transport.get_json("https://remote.test/html")


def test_blocked_host_is_never_contacted(session, fedi):
    DomainPolicy(session).block_host("remote.test")
    session.commit()
    t = Transport("ua", policy=DomainPolicy(session), resolver=fake_resolver)
    t.session.mount("https://", fedi)
    with pytest.raises(Forbidden):
        t.get_json("https://media.remote.test/x")
    assert fedi.requests == []


def test_410_and_404_map_to_typed_errors(transport, fedi):
    fedi.gets["https://remote.test/gone"] = (410, {}, b"")
    fedi.gets["https://remote.test/missing"] = (404, {}, b"")
    with pytest.raises(Gone):
        transport.get_json("https://remote.test/gone")
    with pytest.raises(NotFound):
        transport.get_json("https://remote.test/missing")


# -- remote actors ----------------------------------------------------------------------------


def test_actor_cache_and_refresh(session, actors, fedi, remote_factory, clock):
    alice = remote_factory(ALICE)
    fedi.serve_actor(alice, name="Alice")
    actors.clock = clock
    assert actors.get(ALICE).name == "Alice"
    assert actors.get(ALICE).name == "Alice"
    assert len(fedi.requests) == 1
    fedi.serve_actor(alice, name="Alice B.")
    clock.advance(days=2)
    assert actors.get(ALICE).name == "Alice B."
    assert session.scalar(select(func.count()).select_from(RemoteActor)) == 1


def test_redirected_actor_must_carry_the_final_url_as_id(actors, fedi, remote_factory):
    alice = remote_factory(ALICE)
    fedi.gets["https://remote.test/@alice"] = (301, {"Location": ALICE}, b"")
    fedi.serve_actor(alice)
    assert actors.get("https://remote.test/@alice").id == ALICE


def test_key_owner_on_another_host_is_refused(actors, fedi, remote_factory):
    alice = remote_factory(ALICE)
    fedi.serve_actor(
        alice,
        publicKey={
            "id": "https://evil.test/k#main-key",
            "owner": ALICE,
            "publicKeyPem": alice.public_pem,
        },
    )
    with pytest.raises((Forbidden, BadRequest)):
        actors.get(ALICE)


def test_key_document_with_owner_gotosocial_style(actors, fedi, remote_factory):
    key_id = f"{ALICE}/main-key"
    alice = remote_factory(ALICE)
    alice.key_id = key_id
    fedi.serve_actor(alice)
    fedi.serve_json(key_id, {"id": key_id, "owner": ALICE, "publicKeyPem": alice.public_pem})
    key = actors.key_lookup(key_id)
    assert (key.key_id, key.owner) == (key_id, ALICE)
    # a key document whose owner does not list that key is refused
    fedi.serve_json(
        "https://remote.test/users/bob/main-key",
        {
            "id": "https://remote.test/users/bob/main-key",
            "owner": ALICE,
            "publicKeyPem": alice.public_pem,
        },
    )
    with pytest.raises(SignatureInvalid):
        actors.key_lookup("https://remote.test/users/bob/main-key")


def test_gone_actor_is_tombstoned(session, actors, fedi, remote_factory):
    fedi.serve_actor(remote_factory(ALICE))
    actors.get(ALICE)
    fedi.gets[ALICE] = (410, {}, b"")
    with pytest.raises(Gone):
        actors.get(ALICE, refresh=True)
    assert session.scalar(select(RemoteActor.gone)) is True
    with pytest.raises(Gone):
        actors.get(ALICE)


def test_resolve_handle_with_round_trip(actors, fedi, remote_factory):
    alice = remote_factory(ALICE)
    fedi.serve_actor(alice)
    wf = "https://remote.test/.well-known/webfinger?resource=acct:alice@remote.test"
    fedi.serve_json(
        wf,
        {
            "subject": "acct:alice@remote.test",
            "links": [{"rel": "self", "type": "application/activity+json", "href": ALICE}],
        },
        ctype="application/jrd+json",
    )
    assert actors.resolve_handle("@alice@Remote.test").id == ALICE
    # a WebFinger on another host claiming alice must round-trip through alice's own host
    fedi.serve_json(
        "https://liar.test/.well-known/webfinger?resource=acct:alice@liar.test",
        {"links": [{"rel": "self", "type": "application/activity+json", "href": ALICE}]},
        ctype="application/jrd+json",
    )
    assert actors.resolve_handle("alice@liar.test").id == ALICE  # round trip succeeded
    fedi.serve_json(
        "https://liar.test/.well-known/webfinger?resource=acct:bob@liar.test",
        {"links": [{"rel": "self", "type": "application/activity+json", "href": ALICE}]},
        ctype="application/jrd+json",
    )
    fedi.serve_json(
        wf,
        {
            "links": [
                {
                    "rel": "self",
                    "type": "application/activity+json",
                    "href": "https://remote.test/users/other",
                }
            ]
        },
        ctype="application/jrd+json",
    )
    with pytest.raises(Forbidden):
        actors.resolve_handle("bob@liar.test")


# -- webfinger / nodeinfo ---------------------------------------------------------------------


def test_build_webfinger():
    acct = LocalAccount("ana", "https://coop.test/members/ana", "https://coop.test/@ana")
    lookup = {"ana": acct}.get
    jrd = build_webfinger("acct:ana@COOP.test", lookup, domain="coop.test")
    assert jrd["subject"] == "acct:ana@coop.test"
    assert {
        "rel": "self",
        "type": "application/activity+json",
        "href": "https://coop.test/members/ana",
    } in jrd["links"]
    assert (
        build_webfinger(
            "https://coop.test/members/ana",
            lookup,
            domain="coop.test",
            resolve_url={acct.actor_iri: acct}.get,
        )["subject"]
        == jrd["subject"]
    )
    with pytest.raises(NotFound):
        build_webfinger("acct:ana@other.test", lookup, domain="coop.test")
    with pytest.raises(NotFound):
        build_webfinger("acct:bob@coop.test", lookup, domain="coop.test")
    with pytest.raises(BadRequest):
        build_webfinger("acct:nobody", lookup, domain="coop.test")


def test_webfinger_lookup_refuses_non_https_actor(transport, fedi):
    fedi.serve_json(
        "https://remote.test/.well-known/webfinger?resource=acct:x@remote.test",
        {
            "links": [
                {
                    "rel": "self",
                    "type": "application/activity+json",
                    "href": "http://remote.test/users/x",
                }
            ]
        },
    )
    with pytest.raises(NotFound):
        webfinger_lookup(transport, "x@remote.test")


def test_nodeinfo_documents():
    assert well_known_nodeinfo("https://coop.test/")["links"][0]["href"] == (
        "https://coop.test/nodeinfo/2.1"
    )
    doc = build_nodeinfo(
        version="0.1.0",
        users_total=5,
        active_month=3,
        active_halfyear=4,
        local_posts=7,
        node_name="Smart Test",
        coop_country="SE",
    )
    assert doc["software"] == {"name": "coopfed", "version": "0.1.0"}
    assert doc["protocols"] == ["activitypub"] and doc["openRegistrations"] is False
    assert doc["usage"]["users"] == {"total": 5, "activeMonth": 3, "activeHalfyear": 4}
    assert doc["metadata"] == {"nodeName": "Smart Test", "coop": {"country": "SE"}}


# -- policy -----------------------------------------------------------------------------------


def test_domain_policy_blocks_subdomains_and_allowlist_mode(session, session_factory):
    policy = DomainPolicy(session)
    policy.block_host("Evil.test")
    policy.block_actor("https://ok.test/users/troll")
    session.commit()
    assert policy.is_blocked_host("evil.test") and policy.is_blocked_host("cdn.evil.test")
    assert not policy.is_blocked_host("notevil.test")
    assert policy.is_blocked_actor("https://ok.test/users/troll")
    assert not policy.is_blocked_actor("https://ok.test/users/friend")
    strict = DomainPolicy(session, allowlist_mode=True)
    assert not strict.is_blocked_host("any.test")  # empty allowlist: not configured yet
    policy.allow_host("partner.test")
    session.commit()
    assert strict.is_blocked_host("any.test") and not strict.is_blocked_host("partner.test")
    cached = CachedPolicy(session_factory, allowlist_mode=True)
    assert cached.is_blocked_host("any.test") and cached.is_blocked_host("a.evil.test")
    assert not cached.is_blocked_host("partner.test")
    policy.unblock_host("evil.test")
    session.commit()
    assert not policy.is_blocked_host("evil.test")


# -- retry policy -----------------------------------------------------------------------------


def test_retry_policy():
    rng = random.Random(1)
    delays = [retry.next_delay(n, rng) for n in range(1, 20)]
    assert timedelta(seconds=22) <= delays[0] <= timedelta(seconds=38)
    assert all(d <= retry.MAX_DELAY for d in delays) and delays[-1] > timedelta(hours=8)
    assert [retry.classify(s) for s in (202, 408, 429, 500, None, 400, 401, 404, 410)] == [
        "sent",
        "retry",
        "retry",
        "retry",
        "retry",
        "permanent",
        "permanent",
        "permanent",
        "permanent",
    ]
    now = utcnow()
    assert retry.retry_after({"retry-after": "120"}, now) == timedelta(seconds=120)
    assert retry.retry_after({"Retry-After": "garbage"}, now) is None
    d = retry.decide(status=500, headers={}, attempts=retry.MAX_ATTEMPTS, created_at=now, now=now)
    assert d.state == "dead"
    d = retry.decide(
        status=503, headers={}, attempts=1, created_at=now - timedelta(days=4), now=now
    )
    assert d.state == "dead"
    assert retry.decide(
        status=410, headers={}, attempts=1, created_at=now, now=now
    ) == retry.Decision("failed", recipient_gone=True)
