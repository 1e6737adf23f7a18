"""The ``coopfed`` command: set up, run and administer one node.

A click group in the spirit of Flask's ``FlaskGroup``: commands that need the node get it from
``create_app(Settings.load(instance))`` through ``flask.cli.ScriptInfo``, so Flask's own
``with_appcontext`` (and the ``shell`` / ``routes`` commands) work. Unlike ``FlaskGroup`` it
never loads the app just to print ``--help`` (there is no app before ``coopfed init``).

The commands, by group: :mod:`~node.cli.node` (init, run, worker, db),
:mod:`~node.cli.members`, :mod:`~node.cli.imports`, :mod:`~node.cli.taxonomy`,
:mod:`~node.cli.partners` (partner, block, unblock, deliveries), :mod:`~node.cli.follows`
(follow, unfollow, following), and ``demo``
(:mod:`node.demo`).
"""

from __future__ import annotations

import os
from pathlib import Path

import click
from flask import Flask
from flask.cli import ScriptInfo, routes_command, shell_command

from node.settings import SETTINGS_FILE, Settings
from node.state import NodeState


def instance_of(ctx: click.Context) -> Path:
    return Path(ctx.find_root().params["instance"] or "instance")


def _load_app(instance: Path) -> Flask:
    from node.app import create_app

    if not (instance / SETTINGS_FILE).exists() and not os.environ.get("COOPFED_SECRET_KEY"):
        raise click.ClickException(
            f"no node in {instance} (no {SETTINGS_FILE}): run `coopfed init` first, "
            "or pass --instance / set COOPFED_INSTANCE_PATH"
        )
    return create_app(Settings.load(instance))


def node_state(ctx: click.Context | None = None) -> NodeState:
    """The node a command works on: ``ctx.obj["state"]`` when the caller gives one (tests,
    embedding), else the app the ``ScriptInfo`` of the main group loads."""
    ctx = ctx or click.get_current_context()
    obj = ctx.find_root().obj
    if isinstance(obj, dict) and "state" in obj:
        found: NodeState = obj["state"]
        return found
    app = ctx.ensure_object(ScriptInfo).load_app()
    state: NodeState = app.extensions["coopfed"]
    return state


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--instance",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="COOPFED_INSTANCE_PATH",
    default="instance",
    show_default=True,
    help="Instance folder (settings, SQLite database, keys). Env: COOPFED_INSTANCE_PATH.",
)
@click.pass_context
def cli(ctx: click.Context, instance: Path) -> None:
    """coopfed: a federated node for a freelancers' cooperative."""
    ctx.obj = ScriptInfo(create_app=lambda: _load_app(instance), set_debug_flag=False)


def main() -> None:
    cli(prog_name="coopfed")


def _add_commands() -> None:
    # Imported here, not at the top: the command modules use the helpers above.
    from node.cli import backup, follows, imports, mail, members, node, partners, taxonomy, tokens
    from node.demo import demo_command

    for command in (
        node.init,
        node.run,
        node.worker,
        node.db,
        members.member,
        imports.import_,
        taxonomy.taxonomy,
        shell_command,
        routes_command,
        partners.partner,
        partners.block,
        partners.unblock,
        partners.deliveries,
        follows.follow,
        follows.unfollow,
        follows.following,
        mail.mail,
        tokens.token,
        backup.backup_command,
        backup.restore_command,
        demo_command,
    ):
        cli.add_command(command)


_add_commands()
