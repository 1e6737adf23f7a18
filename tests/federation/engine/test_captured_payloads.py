"""Payloads captured from Mastodon, GoToSocial and Lemmy, fed through a real node's inbox.

The fixtures (tests/federation/fixtures/captured/<server>/, sources in the README there) are
verbatim. A node built by ``make_node`` receives them over its Flask inbox routes, signed, and its
worker jobs process them with the coop domain's handler registry (the production path). Its one
Transport talks to the fake fediverse of ./conftest.py; DNS is faked so real host names resolve to
a public address. Nothing else is faked.

What the tests change, and why (nothing more):
- actor documents are served with ``publicKey.publicKeyPem`` replaced by a test key: the captured
  private keys are unknown, so we sign the POSTs ourselves;
- the ``object`` of a Follow (and of the Follow inside an Undo) — a Lemmy community in the
  captures — is set to our calls actor, so that the Follow addresses us;
- actors with no captured document get a minimal one (:func:`stub_actor`);
- GoToSocial serves a *minimal* actor at its key URL ``/users/x/main-key`` (``AccountToASMinimal``:
  id, type, preferredUsername, publicKey) — built here from the captured actor;
- the GoToSocial Delete gets an ``id``: GoToSocial's test checks the serialisation before go-fed's
  ``Send`` assigns the id that goes on the wire.
Lemmy's and GoToSocial's captures come from their local test federations, so their IRIs are
``http://``; those tests run the node in dev mode (http allowed), Mastodon's in production mode.
"""

from __future__ import annotations

import copy
import json
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from federation import signatures, vocab
from federation.actors import RemoteActors
from federation.errors import SignatureInvalid
from federation.models import Delivery, Follower, InboxItem, OutboxActivity, RemoteActor
from federation.transport import Transport
from profiles.models import Call, Member

from .conftest import PUBLIC_IP, FakeFediverse

CAPTURED = Path(__file__).resolve().parents[1] / "fixtures" / "captured"


def load(server: str, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CAPTURED / server / f"{name}.json").read_text("utf-8"))
    return data


def public_dns(host: str, port: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
    """getaddrinfo stand-in: every name is public (the fake fediverse still refuses any URL it
    was not told about)."""
    return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC_IP, port))]


def stub_actor(ap_id: str, actor_type: str = "Person") -> dict[str, Any]:
    """A minimal actor document for actors whose own document was not captured."""
    return {
        "@context": [vocab.AS_CONTEXT, vocab.SECURITY_CONTEXT],
        "id": ap_id,
        "type": actor_type,
        "preferredUsername": ap_id.rstrip("/").rsplit("/", 1)[-1],
        "inbox": f"{ap_id}/inbox",
        "publicKey": {"id": f"{ap_id}#main-key", "owner": ap_id, "publicKeyPem": ""},
    }


@dataclass
class Peer:
    """A remote actor we sign for: its served document and its test key."""

    doc: dict[str, Any]
    private_pem: str

    @property
    def id(self) -> str:
        return str(self.doc["id"])

    @property
    def key_id(self) -> str:
        return str(self.doc["publicKey"]["id"])

    @property
    def inbox(self) -> str:
        return str(self.doc["inbox"])


@dataclass
class Harness:
    app: Any
    fedi: FakeFediverse
    keypairs: list[tuple[str, str]]

    @property
    def state(self) -> Any:
        return self.app.extensions["coopfed"]

    @property
    def fed(self) -> Any:
        return self.state.federation_service()

    @property
    def calls(self) -> str:
        return str(self.fed.coop.calls_iri)

    @property
    def instance(self) -> str:
        return str(self.fed.coop.instance_iri)

    def peer(self, doc: dict[str, Any], key: int = 1, key_url: str | None = None) -> Peer:
        """Serve ``doc`` (a copy with our test key) at its id, and at ``key_url`` if the key
        lives at its own URL."""
        public_pem, private_pem = self.keypairs[key]
        served = copy.deepcopy(doc)
        served["publicKey"]["publicKeyPem"] = public_pem
        self.fedi.serve_json(served["id"], served)
        if key_url is not None:
            minimal = {k: served[k] for k in ("@context", "id", "type", "preferredUsername")}
            minimal["publicKey"] = served["publicKey"]
            self.fedi.serve_json(key_url, minimal)
        return Peer(served, private_pem)

    def post(self, peer: Peer, activity: dict[str, Any], path: str = "/inbox") -> tuple[int, str]:
        url = self.state.settings.base_url + path
        body = json.dumps(activity).encode()
        headers = signatures.sign_request(
            "POST", url, {"Content-Type": vocab.ACTIVITY_JSON}, body, peer.key_id, peer.private_pem
        )
        response = self.app.test_client().post(path, data=body, headers=headers)
        return response.status_code, response.get_data(as_text=True)

    def deliver(self, peer: Peer, activity: dict[str, Any], path: str = "/inbox") -> None:
        """POST, expect 202, run the inbox job; the item must end ``done`` without error."""
        status, message = self.post(peer, activity, path)
        assert status == 202, message
        self.fed.job_inbox(self.state)
        with self.state.session() as s:
            item = s.scalar(select(InboxItem).where(InboxItem.activity_id == activity["id"]))
            assert item is not None
            assert (item.state, item.error) == ("done", None)

    def count(self, model: Any, *where: Any) -> int:
        with self.state.session() as s:
            return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


@pytest.fixture
def harness(
    make_node: Any, fedi: FakeFediverse, keypairs: list[tuple[str, str]]
) -> Callable[..., Harness]:
    def build(*, dev_mode: bool) -> Harness:
        app = make_node(domain="coop.test", dev_mode=dev_mode)
        fed = app.extensions["coopfed"].federation_service()
        fed.transport.session.mount("https://", fedi)
        fed.transport.session.mount("http://", fedi)
        fed.transport.resolver = public_dns
        return Harness(app, fedi, keypairs)

    return build


# -- actor documents ----------------------------------------------------------------------------

ACTORS = {
    # fixture: (type, inbox, sharedInbox, key id, name)
    "mastodon/person": (
        "Person",
        "https://mastodon.madrid/users/felix/inbox",
        "https://mastodon.madrid/inbox",
        "https://mastodon.madrid/users/felix#main-key",
        "",
    ),
    "lemmy/person": (
        "Person",
        "https://enterprise.lemmy.ml/u/picard/inbox",
        "https://enterprise.lemmy.ml/inbox",
        "https://enterprise.lemmy.ml/u/picard#main-key",
        "Jean-Luc Picard",
    ),
    "lemmy/group": (
        "Group",
        "https://enterprise.lemmy.ml/c/tenforward/inbox",
        "https://enterprise.lemmy.ml/inbox",
        "https://enterprise.lemmy.ml/c/tenforward#main-key",
        "Ten Forward",
    ),
    "gotosocial/person": (
        "Person",
        "http://localhost:8080/users/the_mighty_zork/inbox",
        None,  # GoToSocial has no shared inbox unless configured
        "http://localhost:8080/users/the_mighty_zork/main-key",  # a path, not a fragment
        "original zork (he/they)",
    ),
    "gotosocial/person_with_fields": (
        "Person",
        "http://localhost:8080/users/1happyturtle/inbox",
        None,
        "http://localhost:8080/users/1happyturtle#main-key",
        "happy little turtle :3",
    ),
}


@pytest.fixture
def fetching_actors(session: Any, fedi: FakeFediverse) -> Iterator[RemoteActors]:
    transport = Transport("coopfed-test/0", dev_mode=True)  # dev: the captures use http too
    transport.session.mount("https://", fedi)
    transport.session.mount("http://", fedi)
    yield RemoteActors(session, transport)
    transport.close()


@pytest.mark.parametrize("fixture", sorted(ACTORS))
def test_captured_actor_documents_are_parsed_and_cached(
    fixture: str, fetching_actors: RemoteActors, fedi: FakeFediverse, session: Any
) -> None:
    server, name = fixture.split("/")
    doc = load(server, name)
    actor_type, inbox, shared, key_id, display_name = ACTORS[fixture]
    actor = vocab.Actor.from_json(doc)
    assert (actor.type, actor.inbox, actor.shared_inbox) == (actor_type, inbox, shared)
    assert actor.public_key is not None
    assert (actor.public_key.key_id, actor.public_key.owner) == (key_id, doc["id"])
    assert actor.public_key.public_pem == doc["publicKey"]["publicKeyPem"]
    assert actor.name == display_name

    fedi.serve_json(doc["id"], doc)  # the real key this time: nothing is signed
    fetched = fetching_actors.fetch(doc["id"])
    assert fetched == actor
    row = session.scalar(select(RemoteActor).where(RemoteActor.ap_id == doc["id"]))
    assert (row.inbox, row.shared_inbox, row.key_id) == (inbox, shared, key_id)
    assert fetching_actors.key_lookup(key_id).owner == doc["id"]  # from the cache


def test_remote_html_is_sanitised_and_fields_kept() -> None:
    felix = vocab.Actor.from_json(load("mastodon", "person"))
    assert felix.summary == (
        '<p><a href="https://mastodon.madrid/tags/Lemmy" rel="nofollow noopener noreferrer">'
        "#<span>Lemmy</span></a> Maintainer</p>"
    )  # Mastodon's class and rel="tag" are dropped, our rel is forced
    assert felix.url == "https://mastodon.madrid/@felix"
    assert felix.icon_url is not None and felix.icon_url.startswith("https://mastodon.madrid/")
    picard = vocab.Actor.from_json(load("lemmy", "person"))
    assert picard.summary == "<p>Captain of the starship <strong>Enterprise</strong>.</p>\n"
    turtle = vocab.Actor.from_json(load("gotosocial", "person_with_fields"))
    assert turtle.attachments == (("should you follow me?", "maybe!"), ("age", "120"))
    assert turtle.manually_approves_followers is True
    zork = vocab.Actor.from_json(load("gotosocial", "person"))
    assert zork.summary == "<p>hey yo this is my profile!</p>" and zork.discoverable is True


# -- Mastodon ---------------------------------------------------------------------------------


def test_mastodon_follow_undo_create_delete(harness: Callable[..., Harness]) -> None:
    h = harness(dev_mode=False)
    asonix = h.peer(stub_actor("https://masto.asonix.dog/users/asonix"), key=1)
    felix = h.peer(load("mastodon", "person"), key=2)

    follow = load("mastodon", "follow")
    follow["object"] = h.calls
    h.deliver(asonix, follow, "/groups/calls/inbox")
    with h.state.session() as s:
        row = s.scalar(select(Follower))
        assert (row.local_actor, row.follower, row.accepted) == (h.calls, asonix.id, True)
        assert row.follow_activity_id == follow["id"]
        [delivery] = s.scalars(select(Delivery)).all()
        accept = json.loads(delivery.activity.body)
    assert delivery.inbox_url == asonix.inbox
    assert accept["type"] == "Accept" and accept["actor"] == h.calls
    assert accept["object"]["id"] == follow["id"] and accept["object"]["actor"] == asonix.id

    h.fedi.inbox(asonix.inbox, (202, {}, b""))
    assert h.fed.job_deliveries(h.state) == 1
    [sent] = h.fedi.posts_to(asonix.inbox)
    assert json.loads(sent.body)["id"] == accept["id"]

    undo = load("mastodon", "undo_follow")
    undo["object"]["object"] = h.calls
    h.deliver(asonix, undo)
    assert h.count(Follower) == 0

    # A status addressed to followers and mentions: not ours to keep; handled, nothing stored.
    h.deliver(felix, load("mastodon", "create_note"))
    h.deliver(felix, load("mastodon", "delete_note"))
    assert h.count(Member, Member.local.is_(False)) == 0
    assert h.count(Call, Call.local.is_(False)) == 0
    assert h.count(OutboxActivity) == 1  # only the Accept

    # A person following the coop itself is refused (only coops partner).
    follow_coop = dict(load("mastodon", "follow"), object=h.instance)
    follow_coop["id"] += "-coop"
    h.deliver(asonix, follow_coop, "/actor/inbox")
    assert h.count(Follower) == 0
    with h.state.session() as s:
        kinds = [json.loads(a.body)["type"] for a in s.scalars(select(OutboxActivity))]
    assert sorted(kinds) == ["Accept", "Reject"]


def test_mastodon_replay_and_foreign_signature_are_refused(
    harness: Callable[..., Harness],
) -> None:
    h = harness(dev_mode=False)
    felix = h.peer(load("mastodon", "person"), key=2)
    asonix = h.peer(stub_actor("https://masto.asonix.dog/users/asonix"), key=1)
    create = load("mastodon", "create_note")
    assert h.post(felix, create)[0] == 202
    assert h.post(felix, create) == (202, "already received")
    # Signed by someone else than its actor: refused, nothing stored.
    other = dict(create, id=create["id"] + "-2")
    assert h.post(asonix, other)[0] in (401, 403)
    assert h.count(InboxItem) == 1


# -- Lemmy ------------------------------------------------------------------------------------

LEMMY_ALPHA = "http://ds9.lemmy.ml/u/lemmy_alpha"


def test_lemmy_follow_undo_post_announce_and_user_delete(harness: Callable[..., Harness]) -> None:
    h = harness(dev_mode=True)
    alpha = h.peer(stub_actor(LEMMY_ALPHA), key=1)
    community = h.peer(stub_actor("http://enterprise.lemmy.ml/c/main", "Group"), key=2)

    follow = load("lemmy", "follow")
    follow["object"] = h.calls
    h.deliver(alpha, follow)
    assert h.count(Follower, Follower.follower == LEMMY_ALPHA, Follower.accepted) == 1
    assert h.count(Delivery, Delivery.inbox_url == alpha.inbox) == 1

    # Lemmy's Undo wraps a *new* Follow (another id than the one it sent): it must still unfollow.
    undo = load("lemmy", "undo_follow")
    assert undo["object"]["id"] != follow["id"]
    undo["object"]["object"] = h.calls
    h.deliver(alpha, undo)
    assert h.count(Follower) == 0

    # A post to a community and the community's Announce of it: not coop calls, ignored cleanly.
    h.deliver(alpha, load("lemmy", "create_page"))
    h.deliver(community, load("lemmy", "announce_create_page"))
    assert h.count(Call) == 0 and h.count(Member, Member.local.is_(False)) == 0

    # Follow again, then the user deletes its account: it is forgotten.
    follow["id"] += "-again"
    h.deliver(alpha, follow)
    assert h.count(Follower) == 1
    h.deliver(alpha, load("lemmy", "delete_user"))
    assert h.count(Follower) == 0
    with h.state.session() as s:
        row = s.scalar(select(RemoteActor).where(RemoteActor.ap_id == LEMMY_ALPHA))
        assert row.gone is True and row.public_pem is None


# -- GoToSocial -------------------------------------------------------------------------------

ZORK = "http://localhost:8080/users/the_mighty_zork"


def test_gotosocial_key_at_its_own_url_and_create_note(harness: Callable[..., Harness]) -> None:
    h = harness(dev_mode=True)
    zork = h.peer(load("gotosocial", "person"), key=1, key_url=f"{ZORK}/main-key")
    assert zork.key_id == f"{ZORK}/main-key"
    create = load("gotosocial", "create_note")  # ``to``/``cc`` are strings, not arrays
    h.deliver(zork, create)
    with h.state.session() as s:
        row = s.scalar(select(RemoteActor).where(RemoteActor.ap_id == ZORK))
        assert (row.key_id, row.shared_inbox) == (zork.key_id, None)
        activity = vocab.Activity.from_json(json.loads(s.scalar(select(InboxItem.body))))
    assert activity.to == (vocab.PUBLIC,) and activity.cc == (f"{ZORK}/followers",)
    assert h.count(Member, Member.local.is_(False)) == 0

    admin = h.peer(stub_actor("http://localhost:8080/users/admin"), key=2)
    delete = load("gotosocial", "delete_status")
    delete["id"] = delete["object"] + "#Delete"
    h.deliver(admin, delete)


def test_minimal_actor_at_a_key_url_is_only_a_pointer(
    fetching_actors: RemoteActors, fedi: FakeFediverse
) -> None:
    """The GoToSocial key stub names its owner; the owner must be on the key's host and its own
    document must publish the key, whatever the stub says."""
    zork = load("gotosocial", "person")
    key_url = f"{ZORK}/main-key"
    stub = {k: zork[k] for k in ("@context", "id", "type", "preferredUsername", "publicKey")}
    other = "http://elsewhere.test/users/the_mighty_zork"
    elsewhere = dict(stub, id=other, publicKey=dict(stub["publicKey"], owner=other))
    fedi.serve_json(key_url, elsewhere)
    with pytest.raises(SignatureInvalid, match="another host"):
        fetching_actors.key_lookup(key_url)
    fedi.serve_json(key_url, stub)
    fedi.serve_json(ZORK, dict(zork, publicKey=dict(zork["publicKey"], id=f"{ZORK}#other")))
    with pytest.raises(SignatureInvalid, match="does not publish"):
        fetching_actors.key_lookup(key_url)
    fedi.serve_json(ZORK, zork)
    assert fetching_actors.key_lookup(key_url).owner == ZORK
