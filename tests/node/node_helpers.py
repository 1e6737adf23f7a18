"""What the node's web tests set up again and again: a member, a call, a signed-in client.

Everything goes through the product's own services (create_member, create_call, /login), so a
test sees the rows and events the web forms would have produced."""

from __future__ import annotations

from typing import Any

from profiles.calls import CallData, create_call
from profiles.members import ProfileData, create_member, get_local

PASSWORD = "a long enough password"


def add_member(
    app: Any,
    username: str,
    *,
    is_admin: bool = False,
    email: str | None = None,
    lang: str | None = None,
    **profile: Any,
) -> int:
    """A local member with password :data:`PASSWORD` (and UI language ``lang``); its id."""
    state = app.extensions["coopfed"]
    with state.session() as s:
        member = create_member(
            s,
            state.ctx,
            username=username,
            password=PASSWORD,
            email=email,
            is_admin=is_admin,
            profile=ProfileData(**profile),
            vocab=state.vocabulary.get(s),
        )
        if lang is not None:
            member.ui_language = lang
        s.commit()
        return member.id


def add_call(app: Any, username: str, **fields: Any) -> str:
    """A call by ``username`` (a theatre tour in Sweden unless ``fields`` say otherwise); its
    public id."""
    state = app.extensions["coopfed"]
    with state.session() as s:
        author = get_local(s, state.ctx, username)
        fields.setdefault("title", "Sound for a theatre tour")
        fields.setdefault("country", "SE")
        call = create_call(s, state.ctx, author, CallData(**fields), state.vocabulary.get(s))
        s.commit()
        return call.public_id


def post_login(client: Any, username: str, password: str = PASSWORD) -> Any:
    """The sign-in form's answer, whatever it is (for tests of refusals)."""
    return client.post("/login", data={"username": username, "password": password})


def sign_in(client: Any, username: str) -> None:
    """Sign ``client`` in as ``username``; fails the test if the form refuses."""
    response = post_login(client, username)
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:300]
