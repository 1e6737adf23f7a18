"""``coopfed member add | passwd | list | delete``: local member accounts."""

from __future__ import annotations

import click
from sqlalchemy import select

from node.cli import node_state
from node.state import NodeState


def add_member(
    state: NodeState,
    username: str,
    email: str | None,
    name: str | None,
    admin: bool,
    password: str | None,
) -> None:
    from profiles.errors import DomainError
    from profiles.members import create_member

    with state.session() as session:
        try:
            member = create_member(
                session,
                state.ctx,
                username=username,
                email=email,
                password=password,
                is_admin=admin,
            )
            if name:
                member.name = name
            session.commit()
        except DomainError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"{'Administrator' if admin else 'Member'} {member.handle} created")


@click.group()
def member() -> None:
    """Local member accounts."""


@member.command("add")
@click.argument("username")
@click.option("--email", required=True)
@click.option("--name")
@click.option("--admin", is_flag=True, help="May administer the node.")
@click.option("--password", help="Prompted (hidden) when omitted.")
@click.option(
    "--invite", is_flag=True, help="No password: email an invitation to choose one instead."
)
@click.pass_context
def member_add(
    ctx: click.Context,
    username: str,
    email: str,
    name: str | None,
    admin: bool,
    password: str | None,
    invite: bool,
) -> None:
    """Create a local member who can sign in (or is invited to, with --invite)."""
    state = node_state(ctx)
    if invite:
        if password is not None:
            raise click.UsageError("--invite and --password exclude each other")
        add_member(state, username, email, name, admin, None)
        ctx.invoke(member_invite, usernames=(username,), all_pending=False)
        return
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    add_member(state, username, email, name, admin, password)


@member.command("passwd")
@click.argument("username")
@click.option("--password", help="Prompted (hidden) when omitted.")
@click.pass_context
def member_passwd(ctx: click.Context, username: str, password: str | None) -> None:
    """Set a member's password (imported members have none and cannot sign in before)."""
    from profiles.errors import DomainError
    from profiles.members import get_local, set_password

    state = node_state(ctx)
    with state.session() as session:
        try:
            m = get_local(session, state.ctx, username)
            if password is None:
                password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
            set_password(m, password)
            session.commit()
        except DomainError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"Password of {username} changed; their other sessions are signed out")


@member.command("list")
@click.pass_context
def member_list(ctx: click.Context) -> None:
    """List local members."""
    from profiles.models import Member

    state = node_state(ctx)
    with state.session() as session:
        rows = session.execute(
            select(
                Member.username, Member.email, Member.is_admin, Member.password_hash, Member.name
            )
            .where(Member.local, Member.node == state.ctx.domain)
            .order_by(Member.username)
        ).all()
    click.echo(f"{'username':<30} {'e-mail':<36} flags   name")
    for username, email, admin, pw, name in rows:
        flags = ("A" if admin else "-") + ("" if pw else " no-pw")
        click.echo(f"{username:<30} {email or '':<36} {flags:<7} {name}")
    click.echo(f"{len(rows)} members")


@member.command("delete")
@click.argument("username")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def member_delete(ctx: click.Context, username: str, yes: bool) -> None:
    """Delete a member, their calls and everything of theirs (partners are told)."""
    from profiles.errors import DomainError
    from profiles.members import delete_member, get_local

    state = node_state(ctx)
    with state.session() as session:
        try:
            m = get_local(session, state.ctx, username)
        except DomainError as exc:
            raise click.ClickException(str(exc)) from None
        if not yes:
            click.confirm(f"Delete {m.handle} and all their data?", abort=True)
        delete_member(session, m)
        session.commit()
    click.echo(f"{username} deleted")


@member.command("invite")
@click.argument("usernames", nargs=-1)
@click.option(
    "--all-pending", is_flag=True, help="Every member without a password never invited yet."
)
@click.pass_context
def member_invite(ctx: click.Context, usernames: tuple[str, ...], all_pending: bool) -> None:
    """Email members a link to choose their password (14 days, usable once).

    Naming a member who was invited before sends a new link; the older ones stop working.
    The worker sends the queued messages (`coopfed mail test` checks the settings)."""
    import time

    from node.onboarding import invite
    from profiles import invitations

    if not usernames and not all_pending:
        raise click.UsageError("name members (USERNAME…) or pass --all-pending")
    state = node_state(ctx)
    started = time.perf_counter()
    with state.session() as session:
        ids, unknown = invitations.ids_for_usernames(session, state.ctx, usernames)
        if all_pending:
            ids = sorted(set(ids) | set(invitations.pending_ids(session, state.ctx)))
        result = invite(state, session, ids)
        session.commit()
    seconds = time.perf_counter() - started
    click.echo(f"{len(result.ready)} invitations queued in {seconds:.1f} s")
    for label, names in (
        ("not members of this node", unknown),
        ("have a password already (not invited)", result.active),
        ("have no e-mail address (not invited)", result.no_email),
    ):
        if names:
            more = f" … ({len(names) - 20} more)" if len(names) > 20 else ""
            shown = ", ".join(names[:20]) + more
            click.echo(f"{len(names)} {label}: {shown}")
