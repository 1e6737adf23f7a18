"""``coopfed follow | unfollow | following``: a member or the calls Group and fediverse accounts.

``--as USERNAME`` acts for a member of this node, ``--as calls`` for the project-calls Group.
The account is ``@user@host``, ``user@host``, ``acct:user@host`` (looked up with WebFinger over
https; http only in dev mode) or a profile / actor URL. The Follow and the Undo are queued in the
outbox and delivered by the worker (``coopfed worker`` or the one inside ``coopfed run``); the
follow stays ``pending`` until the account's server accepts or rejects it.
"""

from __future__ import annotations

import click

from node.ap.service import ADMIN_ERRORS
from node.cli import node_state
from profiles.ap.following import FollowedAccount

AS_HELP = "A member's user name, or `calls` for the project-calls Group."


def _line(account: FollowedAccount) -> str:
    name = f" ({account.name})" if account.name else ""
    return f"{account.state}\t{account.handle}{name}\t{account.actor}"


@click.command()
@click.option("--as", "who", required=True, help=AS_HELP)
@click.argument("account")
def follow(who: str, account: str) -> None:
    """Follow ACCOUNT (@user@host, acct:user@host or a profile URL)."""
    state = node_state()
    fed = state.federation_service()
    with state.session() as session:
        try:
            followed = fed.follow(session, who, account)
        except ADMIN_ERRORS as exc:
            session.rollback()
            raise click.ClickException(str(exc)) from exc
        session.commit()
    if followed.state == "accepted":
        click.echo(f"{who} already follows {followed.handle}")
    else:
        click.echo(
            f"{who} asked to follow {followed.handle} ({followed.actor_type or 'actor'}): "
            "pending until its server accepts"
        )


@click.command()
@click.option("--as", "who", required=True, help=AS_HELP)
@click.argument("account")
def unfollow(who: str, account: str) -> None:
    """Stop following ACCOUNT (also withdraws a pending follow)."""
    state = node_state()
    fed = state.federation_service()
    with state.session() as session:
        try:
            gone = fed.unfollow(session, who, account)
        except ADMIN_ERRORS as exc:
            session.rollback()
            raise click.ClickException(str(exc)) from exc
        session.commit()
    click.echo(f"{who} no longer follows {gone.handle}")


@click.command()
@click.option("--as", "who", required=True, help=AS_HELP)
def following(who: str) -> None:
    """List the accounts followed (state, handle, actor IRI), newest first."""
    state = node_state()
    fed = state.federation_service()
    with state.session() as session:
        try:
            accounts = fed.following(session, who)
        except ADMIN_ERRORS as exc:
            raise click.ClickException(str(exc)) from exc
    if not accounts:
        click.echo(f"{who} follows nobody")
    for account in accounts:
        click.echo(_line(account))
