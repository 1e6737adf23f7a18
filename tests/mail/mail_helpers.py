"""Helpers shared by the mail tests."""

from __future__ import annotations

from typing import Any

PASSWORD = "a long enough password"


def add_member(app: Any, username: str, *, lang: str | None = None, is_admin: bool = False) -> int:
    """A local member with an address and a UI language; returns its id."""
    from profiles.members import create_member

    state = app.extensions["coopfed"]
    with state.session() as s:
        member = create_member(
            s,
            state.ctx,
            username=username,
            email=f"{username}@example.org",
            password=PASSWORD,
            is_admin=is_admin,
        )
        member.ui_language = lang
        s.commit()
        return int(member.id)
