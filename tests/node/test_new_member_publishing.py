"""What partners hear of a member just created one at a time (the sign-up form, the admin's
"add member", `coopfed member create`, the API's upsert of a new line): a profile they may see
comes as an ``Update``; one kept in the coop is never mentioned, not even as a ``Delete`` (which
would tell every partner that the username exists)."""

from __future__ import annotations

from sqlalchemy import select

from federation.models import Delivery, Follower, OutboxActivity
from profiles import members as member_service
from profiles.ap.addressing import instance_actor_iri
from profiles.fields import ProfileData
from profiles.visibility import Visibility

PARTNER_INBOX = "https://smart.partner.test/inbox"


def _sent(state) -> list[tuple[str, str, str]]:
    with state.session() as s:
        rows = s.execute(
            select(OutboxActivity.actor, OutboxActivity.type, Delivery.inbox_url).join(
                Delivery, Delivery.activity_id == OutboxActivity.id
            )
        ).all()
    return [tuple(row) for row in rows]


def test_a_new_member_is_told_to_partners_only_if_they_may_see_them(make_node) -> None:
    app = make_node()
    state = app.extensions["coopfed"]
    with state.session() as s:
        # A partner coop follows our instance actor: it gets every profile it may see.
        s.add(
            Follower(
                local_actor=instance_actor_iri(state.ctx),
                follower="https://smart.partner.test/actor",
                follower_inbox=PARTNER_INBOX,
                shared_inbox=PARTNER_INBOX,
                accepted=True,
            )
        )
        s.commit()
    vocab = state.vocabulary.get
    for username, visibility in (("quiet", Visibility.COOP), ("open", Visibility.PARTNERS)):
        with state.session() as s:
            member_service.create_member(
                s,
                state.ctx,
                username=username,
                email=f"{username}@example.se",
                profile=ProfileData(name=username.title(), visibility=visibility.value),
                vocab=vocab(s),
            )
            s.commit()
    assert _sent(state) == [(state.ctx.member_iri("open"), "Update", PARTNER_INBOX)]
