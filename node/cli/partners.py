"""``coopfed partner | block | unblock | deliveries``: this node's relations with other servers.

Partnerships with other coops, blocks of servers and actors, delivery health: administration
from the shell, through the node's federation service (:mod:`node.ap.service`), as the admin
pages do. A command finds the node with :func:`node.cli.node_state`.
"""

from __future__ import annotations

from typing import Any

import click
from sqlalchemy import select

from node.ap.service import ADMIN_ERRORS
from node.cli import node_state
from profiles.models import Partnership


def _run(ctx: click.Context, action: Any) -> Any:
    """Run ``action(session, federation)`` in one transaction; errors become ClickExceptions."""
    state = node_state(ctx)
    fed = state.federation_service()
    with state.session() as session:
        try:
            result = action(session, fed)
        except ADMIN_ERRORS as exc:
            session.rollback()
            raise click.ClickException(str(exc)) from exc
        session.commit()
        return result


@click.group()
def partner() -> None:
    """Partnerships with other coop nodes (mutual follows of the instance actors)."""


@partner.command("request")
@click.argument("target")
@click.pass_context
def partner_request(ctx: click.Context, target: str) -> None:
    """Ask the coop at TARGET (a domain, or its actor/base URL) to partner."""
    p = _run(ctx, lambda s, f: f.coop.request_partnership(s, f.actors(s), target))
    click.echo(f"{p.domain}: {p.state}")


@partner.command("list")
@click.pass_context
def partner_list(ctx: click.Context) -> None:
    """List partnerships and their state."""
    state = node_state(ctx)
    with state.session() as session:
        rows = session.scalars(select(Partnership).order_by(Partnership.domain)).all()
        if not rows:
            click.echo("no partnerships")
        for p in rows:
            click.echo(f"{p.domain}\t{p.state}\t{p.direction}\t{p.name}")


@partner.command("accept")
@click.argument("domain")
@click.pass_context
def partner_accept(ctx: click.Context, domain: str) -> None:
    """Approve DOMAIN's pending partnership request (and follow them back)."""
    p = _run(ctx, lambda s, f: f.coop.accept_partnership(s, domain))
    click.echo(f"{p.domain}: {p.state}")


@partner.command("reject")
@click.argument("domain")
@click.pass_context
def partner_reject(ctx: click.Context, domain: str) -> None:
    """Refuse DOMAIN's partnership request."""
    p = _run(ctx, lambda s, f: f.coop.reject_partnership(s, domain))
    click.echo(f"{p.domain}: {p.state}")


@partner.command("remove")
@click.argument("domain")
@click.pass_context
def partner_remove(ctx: click.Context, domain: str) -> None:
    """End the partnership with DOMAIN and purge every member and call it sent."""
    purged = _run(ctx, lambda s, f: f.coop.remove_partnership(s, domain))
    click.echo(f"{domain}: removed, {purged} members and calls purged")


@click.group()
def block() -> None:
    """Block a domain (and its subdomains) or a single remote actor."""


@click.group()
def unblock() -> None:
    """Lift a block."""


@block.command("domain")
@click.argument("domain")
@click.option("--reason", default=None)
@click.pass_context
def block_domain(ctx: click.Context, domain: str, reason: str | None) -> None:
    _run(ctx, lambda s, f: f.block_host(s, domain, reason))
    click.echo(f"blocked {domain}")


@unblock.command("domain")
@click.argument("domain")
@click.pass_context
def unblock_domain(ctx: click.Context, domain: str) -> None:
    _run(ctx, lambda s, f: f.unblock_host(s, domain))
    click.echo(f"unblocked {domain}")


@block.command("actor")
@click.argument("iri")
@click.option("--reason", default=None)
@click.pass_context
def block_actor(ctx: click.Context, iri: str, reason: str | None) -> None:
    _run(ctx, lambda s, f: f.block_actor(s, iri, reason))
    click.echo(f"blocked {iri}")


@unblock.command("actor")
@click.argument("iri")
@click.pass_context
def unblock_actor(ctx: click.Context, iri: str) -> None:
    _run(ctx, lambda s, f: f.unblock_actor(s, iri))
    click.echo(f"unblocked {iri}")


@click.command()
@click.pass_context
def deliveries(ctx: click.Context) -> None:
    """Delivery health: counts per state, and per remote host; inbox items per state, and the
    refused ones by reason."""
    health = node_state(ctx).federation_service().health()
    states = health["deliveries"]
    click.echo(
        "deliveries: " + (", ".join(f"{k} {v}" for k, v in sorted(states.items())) or "none")
    )
    for host in health["hosts"]:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(host["deliveries"].items()))
        click.echo(f"{host['host']}\t{host.get('state', 'ok')}\t{counts}")
    received = health["inbox"]
    click.echo(
        "inbox: "
        + (", ".join(f"{k} {v}" for k, v in sorted(received["states"].items())) or "empty")
    )
    if received["refused"]:
        click.echo("refused inbox items, by reason:")
        for reason, count in received["refused"]:
            click.echo(f"{count:>8}  {reason}")
