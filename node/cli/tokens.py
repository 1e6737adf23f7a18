"""``coopfed token create | list | revoke``: API tokens for the coop's other systems
(:mod:`profiles.api_tokens`; used as ``Authorization: Bearer …`` on /api/v1)."""

from __future__ import annotations

import click

from node.cli import node_state
from profiles.api_tokens import SCOPES


@click.group()
def token() -> None:
    """API tokens (scopes: read, write:calls, manage:members)."""


@token.command("create")
@click.argument("username")
@click.option("--name", required=True, help="What it is for (e.g. 'ERP sync').")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    type=click.Choice(SCOPES),
    help="Repeat for several; manage:members needs an admin owner.",
)
@click.pass_context
def token_create(ctx: click.Context, username: str, name: str, scopes: tuple[str, ...]) -> None:
    """Create a token acting as USERNAME and print its secret (shown this once only)."""
    from profiles.api_tokens import create_token
    from profiles.errors import DomainError, ValidationError
    from profiles.members import get_local

    state = node_state(ctx)
    with state.session() as session:
        try:
            owner = get_local(session, state.ctx, username)
            row, secret = create_token(session, owner, name, scopes)
        except ValidationError as exc:
            reasons = "; ".join(f"{k}: {v}" for k, v in exc.errors.items())
            raise click.ClickException(reasons) from None
        except DomainError as exc:
            raise click.ClickException(str(exc)) from None
        session.commit()
        token_id = row.id
    click.echo(f"token {token_id} for {username} ({' '.join(sorted(scopes))}):")
    click.echo(secret)
    click.echo("Store it now: the node keeps only its hash and cannot show it again.")


@token.command("list")
@click.argument("username", required=False)
@click.pass_context
def token_list(ctx: click.Context, username: str | None) -> None:
    """List tokens (of USERNAME, or all): never their secrets."""
    from profiles.api_tokens import tokens_of
    from profiles.errors import DomainError
    from profiles.members import get_local

    state = node_state(ctx)
    with state.session() as session:
        member_id = None
        if username:
            try:
                member_id = get_local(session, state.ctx, username).id
            except DomainError as exc:
                raise click.ClickException(str(exc)) from None
        rows = tokens_of(session, member_id)
        for t, owner in rows:
            used = t.last_used_at.strftime("%Y-%m-%d %H:%M") if t.last_used_at else "never"
            state_ = "REVOKED" if t.revoked_at else "active"
            click.echo(
                f"{t.id:>5} {owner:<24} {t.hint}… {t.scopes:<34} {state_:<8} used {used}  {t.name}"
            )
    click.echo(f"{len(rows)} tokens")


@token.command("revoke")
@click.argument("token_id", type=int)
@click.pass_context
def token_revoke(ctx: click.Context, token_id: int) -> None:
    """Revoke a token: it stops working at once."""
    from profiles.api_tokens import revoke

    state = node_state(ctx)
    with state.session() as session:
        if not revoke(session, token_id):
            raise click.ClickException(f"no active token {token_id}")
        session.commit()
    click.echo(f"token {token_id} revoked")
