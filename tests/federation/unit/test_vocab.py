"""Parsing remote ActivityStreams at the boundary."""

from __future__ import annotations

import json

import pytest

from federation import vocab
from federation.errors import BadRequest, PayloadTooLarge
from federation.vocab import (
    AS_CONTEXT,
    PUBLIC,
    SECURITY_CONTEXT,
    Activity,
    Actor,
    as_list,
    first_iri,
    host_of,
    is_activitypub_content_type,
    load_context,
    parse_json,
    same_host,
)
from profiles.ap.context import COOPFED_CONTEXT, context_for  # the coop's terms on top

MASTODON_ACTOR = {
    "@context": [
        AS_CONTEXT,
        SECURITY_CONTEXT,
        {"toot": "http://joinmastodon.org/ns#", "discoverable": "toot:discoverable"},
    ],
    "id": "https://mastodon.example/users/alice",
    "type": "Person",
    "preferredUsername": "alice",
    "name": "Alice <script>alert(1)</script>&amp; co",
    "summary": '<p>Designer <img src=x onerror="alert(1)"></p>',
    "inbox": "https://mastodon.example/users/alice/inbox",
    "outbox": "https://mastodon.example/users/alice/outbox",
    "followers": "https://mastodon.example/users/alice/followers",
    "endpoints": {"sharedInbox": "https://mastodon.example/inbox"},
    "url": "https://mastodon.example/@alice",
    "icon": {"type": "Image", "url": "https://files.mastodon.example/a.png"},
    "discoverable": True,
    "manuallyApprovesFollowers": False,
    "attachment": [
        {"type": "PropertyValue", "name": "Skills", "value": "<b>UX</b><script>x()</script>"},
        {"type": "Note", "name": "ignored", "value": "x"},
    ],
    "publicKey": {
        "id": "https://mastodon.example/users/alice#main-key",
        "owner": "https://mastodon.example/users/alice",
        "publicKeyPem": "-----BEGIN PUBLIC KEY-----\n...\n-----END PUBLIC KEY-----\n",
    },
}


def test_parse_json_ok():
    assert parse_json(b'{"a": [1, {"b": 2}]}') == {"a": [1, {"b": 2}]}


def test_oversize_refused():
    with pytest.raises(PayloadTooLarge):
        parse_json(b'{"a": "' + b"x" * 2000 + b'"}', max_bytes=1000)


@pytest.mark.parametrize("depth", [33, 100_000])
def test_deep_json_refused(depth):
    body = ('{"a":' * depth + "1" + "}" * depth).encode()
    with pytest.raises(BadRequest, match="nested"):
        parse_json(body, max_bytes=10_000_000)


@pytest.mark.parametrize("keyword", ["@graph", "@included", "@reverse"])
def test_jsonld_keywords_refused_anywhere(keyword):
    doc = {"type": "Create", "object": {"type": "Note", "tag": [{keyword: []}]}}
    with pytest.raises(BadRequest, match=keyword):
        parse_json(json.dumps(doc).encode())


@pytest.mark.parametrize("body", [b"[1]", b"not json", b'{"a": NaN}', b"\xff\xfe"])
def test_bad_json_refused(body):
    with pytest.raises(BadRequest):
        parse_json(body)


@pytest.mark.parametrize(
    ("ct", "ok"),
    [
        ("application/activity+json", True),
        ("application/activity+json; charset=utf-8", True),
        ('application/ld+json; profile="https://www.w3.org/ns/activitystreams"', True),
        ("application/ld+json", False),
        ("application/json", False),
        ("text/html", False),
        (None, False),
    ],
)
def test_content_types(ct, ok):
    assert is_activitypub_content_type(ct) is ok


def test_helpers():
    assert as_list(None) == [] and as_list("a") == ["a"] and as_list([1]) == [1]
    assert first_iri([{"type": "Link", "href": "https://x.example/a"}]) == "https://x.example/a"
    assert first_iri("javascript:alert(1)") is None
    assert host_of("https://X.Example:443/a") == "x.example"
    assert host_of("http://127.0.0.1:8001/a") == "127.0.0.1:8001"
    assert same_host("https://a.example/x", "https://a.example/y")
    assert not same_host("https://a.example/x", "https://a.example.evil.example/y")
    assert not same_host("https://a.example/x", "not an iri")


def test_mastodon_actor_parses_and_is_sanitised():
    actor = Actor.from_json(MASTODON_ACTOR)
    assert actor.type == "Person" and actor.preferred_username == "alice"
    assert actor.name == "Alice & co"
    assert "onerror" not in actor.summary and actor.summary.startswith("<p>Designer")
    assert actor.shared_inbox == "https://mastodon.example/inbox"
    assert actor.icon_url == "https://files.mastodon.example/a.png"
    assert actor.attachments == (("Skills", "<b>UX</b>"),)
    assert actor.discoverable and not actor.indexable and not actor.manually_approves_followers
    assert actor.public_key is not None
    assert actor.public_key.owner == actor.id
    assert actor.url == "https://mastodon.example/@alice"


def test_actor_url_on_other_host_dropped():
    actor = Actor.from_json({**MASTODON_ACTOR, "url": "https://phish.example/@alice"})
    assert actor.url is None


@pytest.mark.parametrize(
    "change",
    [
        {"id": "/users/alice"},
        {"id": "ftp://mastodon.example/alice"},
        {"type": "Note"},
        {"preferredUsername": None},
        {"preferredUsername": "a b"},
        {"inbox": None},
        {"inbox": "javascript:alert(1)"},
        {"publicKey": {**MASTODON_ACTOR["publicKey"], "owner": "https://evil.example/u"}},
        {"publicKey": {**MASTODON_ACTOR["publicKey"], "id": "https://evil.example/k"}},
    ],
)
def test_invalid_actor_refused(change):
    with pytest.raises(BadRequest):
        Actor.from_json({**MASTODON_ACTOR, **change})


def test_name_capped():
    actor = Actor.from_json({**MASTODON_ACTOR, "name": "x" * 5000})
    assert len(actor.name) == 200


def test_activity_parses():
    activity = Activity.from_json(
        {
            "id": "https://a.example/activities/1",
            "type": "Create",
            "actor": {"id": "https://a.example/members/alice", "type": "Person"},
            "object": {"id": "https://a.example/calls/1", "type": "Page"},
            "to": ["as:Public"],
            "cc": "https://a.example/members/alice/followers",
            "published": "2025-03-01T12:00:00Z",
        }
    )
    assert activity.actor == "https://a.example/members/alice"
    assert activity.to == (PUBLIC,) and activity.is_public
    assert activity.cc == ("https://a.example/members/alice/followers",)
    assert activity.object_id == "https://a.example/calls/1"
    assert activity.published is not None and activity.published.year == 2025


@pytest.mark.parametrize(
    "doc",
    [
        {"type": "Follow", "actor": "https://a.example/u", "object": "https://b.example/u"},
        {
            "id": "urn:x",
            "type": "Follow",
            "actor": "https://a.example/u",
            "object": "https://b.example/u",
        },
        {"id": "https://a.example/1", "type": "Follow", "object": "https://b.example/u"},
        {"id": "https://a.example/1", "type": "Follow", "actor": "https://a.example/u"},
        {
            "id": "https://a.example/1",
            "type": "Follow",
            "actor": "https://a.example/u",
            "object": 3,
        },
        {
            "id": "https://a.example/1",
            "actor": "https://a.example/u",
            "object": "https://b.example/u",
        },
        {
            "id": "https://a.example/1",
            "type": "Create",
            "actor": "https://a.example/u",
            "object": {"type": "Note", "id": "javascript:x"},
        },
    ],
)
def test_invalid_activity_refused(doc):
    with pytest.raises(BadRequest):
        Activity.from_json(doc)


def test_contexts():
    actor_ctx = context_for("actor")
    assert actor_ctx[:2] == [AS_CONTEXT, SECURITY_CONTEXT]
    assert actor_ctx[2]["knowsAbout"]["@type"] == "@id"
    assert context_for("object") == [AS_CONTEXT, COOPFED_CONTEXT]
    assert load_context(AS_CONTEXT)["document"]["@context"]["inbox"]["@id"] == "ldp:inbox"
    sec = load_context("https://w3id.org/security/v1")["document"]["@context"]
    assert sec["publicKeyPem"] == "sec:publicKeyPem"
    with pytest.raises(BadRequest, match="not bundled"):
        load_context("https://evil.example/context.jsonld")


def test_generic_context_takes_a_domain_extension():
    assert vocab.context_for("object") == [AS_CONTEXT, vocab.EXTENSION_CONTEXT]
    actor = vocab.context_for("actor", {"coop": "https://x.example/ns#coop"})
    assert actor[:2] == [AS_CONTEXT, SECURITY_CONTEXT]
    assert actor[2] == {**vocab.EXTENSION_CONTEXT, "coop": "https://x.example/ns#coop"}
    assert "coop" not in vocab.EXTENSION_CONTEXT and "requiredSkill" not in vocab.EXTENSION_CONTEXT


def test_bundled_contexts_expand_with_pyld_offline():
    """Our actor context gives every term we use a definition, with no network (strict peers)."""
    from pyld import jsonld

    doc = {
        "@context": context_for("actor"),
        "id": "https://a.example/members/alice",
        "type": "Person",
        "inbox": "https://a.example/members/alice/inbox",
        "publicKey": {"id": "https://a.example/members/alice#main-key", "publicKeyPem": "PEM"},
        "knowsAbout": ["http://data.europa.eu/esco/skill/abc"],
        "discoverable": True,
    }
    expanded = jsonld.expand(doc, {"documentLoader": load_context})
    text = json.dumps(expanded)
    for iri in (
        "https://w3id.org/security#publicKeyPem",
        "http://schema.org#knowsAbout",
        "http://joinmastodon.org/ns#discoverable",
        "http://www.w3.org/ns/ldp#inbox",
    ):
        assert iri in text
