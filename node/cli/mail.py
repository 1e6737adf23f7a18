"""``coopfed mail test --to ADDRESS``: the operator's check of the email settings.

Added to the main ``coopfed`` group by :mod:`node.cli`. The node is found as ``ctx.obj["state"]``
(tests, embedding) or through the ``ScriptInfo`` the main group sets.
"""

from __future__ import annotations

import click
from sqlalchemy import select

from node.cli import node_state
from node.mail import mailer
from profiles.languages import UI_LANGUAGES
from profiles.mail import MailMessage


@click.group()
def mail() -> None:
    """Outgoing email."""


@mail.command("test")
@click.option("--to", "address", required=True, help="Send the test message to this address.")
@click.option("--lang", type=click.Choice(UI_LANGUAGES), help="Its language (default: the node's).")
@click.option(
    "--queue-only", is_flag=True, help="Only queue it; the worker sends it (default: send now)."
)
@click.pass_context
def mail_test(ctx: click.Context, address: str, lang: str | None, queue_only: bool) -> None:
    """Send a test message through the node's mail settings and say what happened."""
    state = node_state(ctx)
    service = mailer(state)
    with state.session() as session:
        try:
            message = service.send(session, address, "test", lang, kind="test")
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--to") from exc
        assert message is not None  # transactional: never skipped
        session.commit()
        message_id = message.id
    click.echo(f"queued message {message_id} to {address} via {service.describe()}")
    if queue_only:
        return
    # Send now: this batch holds the test message unless older mail is due before it.
    for _ in range(100):
        service.sender.run_once()
        with state.session() as session:
            row = session.scalar(select(MailMessage).where(MailMessage.id == message_id))
        assert row is not None
        if row.state != "pending" or row.attempts:
            break
    if row.state == "sent":
        where = f" ({service.folder / row.stored_as})" if service.folder and row.stored_as else ""
        click.echo(f"sent{where}")
        return
    raise click.ClickException(
        f"not sent ({row.state}, attempt {row.attempts}): {row.last_error or 'still queued'}"
        + (" — it stays queued and will be retried" if row.state == "pending" else "")
    )


COMMANDS = (mail,)
