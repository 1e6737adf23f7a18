"""``coopfed partner|block|unblock|deliveries``: federation administration from the shell.

The groups are added to the main ``coopfed`` group by ``node.cli``. A command finds the node as
``ctx.obj["state"]`` (tests, embedding) or through the ``ScriptInfo`` the main group sets.
"""

from __future__ import annotations

from typing import Any

import click
from sqlalchemy import select

from federation.errors import FederationError
from federation.policy import DomainPolicy
from node.state import NodeState
from profiles.errors import DomainError
from profiles.models import Partnership


def _state(ctx: click.Context) -> NodeState:
    obj = ctx.find_root().obj
    if isinstance(obj, dict) and "state" in obj:
        found: NodeState = obj["state"]
        return found
    from flask.cli import ScriptInfo

    app = ctx.ensure_object(ScriptInfo).load_app()
    state: NodeState = app.extensions["coopfed"]
    return state


def _federation(state: NodeState) -> Any:
    return state.services["federation"]


def _run(ctx: click.Context, action: Any) -> Any:
    """Run ``action(session, federation)`` in one transaction; errors become ClickExceptions."""
    state = _state(ctx)
    fed = _federation(state)
    with state.session() as session:
        try:
            result = action(session, fed)
        except (FederationError, DomainError) as exc:
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
    p = _run(ctx, lambda s, f: f.domain.request_partnership(s, f.actors(s), target))
    click.echo(f"{p.domain}: {p.state}")


@partner.command("list")
@click.pass_context
def partner_list(ctx: click.Context) -> None:
    """List partnerships and their state."""
    state = _state(ctx)
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
    p = _run(ctx, lambda s, f: f.domain.accept_partnership(s, domain))
    click.echo(f"{p.domain}: {p.state}")


@partner.command("reject")
@click.argument("domain")
@click.pass_context
def partner_reject(ctx: click.Context, domain: str) -> None:
    """Refuse DOMAIN's partnership request."""
    p = _run(ctx, lambda s, f: f.domain.reject_partnership(s, domain))
    click.echo(f"{p.domain}: {p.state}")


@partner.command("remove")
@click.argument("domain")
@click.pass_context
def partner_remove(ctx: click.Context, domain: str) -> None:
    """End the partnership with DOMAIN and purge every member and call it sent."""
    purged = _run(ctx, lambda s, f: f.domain.remove_partnership(s, domain))
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
    _run(ctx, lambda s, f: DomainPolicy(s).block_host(domain, reason))
    click.echo(f"blocked {domain}")


@unblock.command("domain")
@click.argument("domain")
@click.pass_context
def unblock_domain(ctx: click.Context, domain: str) -> None:
    _run(ctx, lambda s, f: DomainPolicy(s).unblock_host(domain))
    click.echo(f"unblocked {domain}")


@block.command("actor")
@click.argument("iri")
@click.option("--reason", default=None)
@click.pass_context
def block_actor(ctx: click.Context, iri: str, reason: str | None) -> None:
    _run(ctx, lambda s, f: DomainPolicy(s).block_actor(iri, reason))
    click.echo(f"blocked {iri}")


@unblock.command("actor")
@click.argument("iri")
@click.pass_context
def unblock_actor(ctx: click.Context, iri: str) -> None:
    _run(ctx, lambda s, f: DomainPolicy(s).unblock_actor(iri))
    click.echo(f"unblocked {iri}")


@click.command()
@click.pass_context
def deliveries(ctx: click.Context) -> None:
    """Delivery health: counts per state, and per remote host."""
    health = _federation(_state(ctx)).health()
    states = health["deliveries"]
    click.echo(
        "deliveries: " + (", ".join(f"{k} {v}" for k, v in sorted(states.items())) or "none")
    )
    for host in health["hosts"]:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(host["deliveries"].items()))
        click.echo(f"{host['host']}\t{host.get('state', 'ok')}\t{counts}")


COMMANDS = (partner, block, unblock, deliveries)
