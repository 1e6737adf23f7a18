"""``coopfed init | run | worker | db``: create, serve and migrate a node."""

from __future__ import annotations

import re
import secrets
import signal
import sys
from pathlib import Path
from typing import Any

import click
from flask.cli import ScriptInfo
from sqlalchemy import inspect

from node.cli import instance_of, node_state
from node.cli.members import add_member
from node.settings import SETTINGS_FILE, Settings, write_settings_file
from node.state import NodeState

DOMAIN_RE = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)


def check_domain(domain: str, dev: bool) -> str:
    domain = domain.strip().lower()
    if "/" in domain:
        raise click.BadParameter(
            f"{domain!r} is not a domain such as smart.se (no scheme, no path)",
            param_hint="--domain",
        )
    host, _, port = domain.partition(":")
    if port and not (dev and port.isdigit() and 0 < int(port) < 65536):
        raise click.BadParameter("a port is allowed only with --dev", param_hint="--domain")
    if not DOMAIN_RE.match(host) or (not dev and "." not in host):
        raise click.BadParameter(
            f"{domain!r} is not a domain such as smart.se", param_hint="--domain"
        )
    return domain


@click.command()
@click.option(
    "--domain", required=True, help="The coop's domain, e.g. smart.se. Never change it later."
)
@click.option("--name", required=True, help='Public name, e.g. "Smart Sweden".')
@click.option("--country", required=True, help="ISO 3166 alpha-2 country code, e.g. SE.")
@click.option(
    "--dev", is_flag=True, help="Dev mode: http, ports, loopback partners. Never in production."
)
@click.option(
    "--database-url", default="", help="SQLAlchemy URL (default: SQLite in the instance)."
)
@click.option("--admin", "admin_username", help="Also create this administrator account.")
@click.option("--admin-email", help="The administrator's e-mail address.")
@click.option("--admin-password", help="The administrator's password (prompted when omitted).")
@click.option("--force", is_flag=True, help="Overwrite the settings of an existing instance.")
@click.pass_context
def init(
    ctx: click.Context,
    domain: str,
    name: str,
    country: str,
    dev: bool,
    database_url: str,
    admin_username: str | None,
    admin_email: str | None,
    admin_password: str | None,
    force: bool,
) -> None:
    """Create a node: instance folder, settings, database, vocabulary (and an admin)."""
    from profiles import validation
    from profiles.vocabulary import load_curated

    instance = instance_of(ctx)
    domain = check_domain(domain, dev)
    try:
        country = validation.country(country, required=True)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--country") from None
    settings_file = instance / SETTINGS_FILE
    if settings_file.exists() and not force:
        raise click.ClickException(
            f"{settings_file} exists: this folder holds a node already (use --force to overwrite "
            "its settings; the database is kept)"
        )
    if admin_username and admin_password is None:
        admin_password = click.prompt(
            f"Password for {admin_username}", hide_input=True, confirmation_prompt=True
        )
    instance.mkdir(parents=True, exist_ok=True)
    (instance / "keys").mkdir(exist_ok=True)
    (instance / "keys").chmod(0o700)
    values: dict[str, Any] = {"domain": domain, "name": name, "country": country, "dev_mode": dev}
    if database_url:
        values["database_url"] = database_url
    values["secret_key"] = secrets.token_hex(32)
    previous = settings_file.read_text(encoding="utf-8") if settings_file.exists() else None
    write_settings_file(settings_file, values)
    settings = Settings.load(instance)
    click.echo(f"Wrote {settings_file}")
    _migrate(settings, settings_file, previous)
    state = node_state(ctx)
    with state.session() as session:
        report = load_curated(session)
        session.commit()
    click.echo(
        f"Vocabulary: {report.concepts_added} concepts, {report.labels_added} labels "
        f"({', '.join(report.languages)})"
    )
    if admin_username:
        add_member(state, admin_username, admin_email, None, True, admin_password)
    click.echo(f"Node {name} ready at {settings.base_url} — start it with `coopfed run`.")


def _migrate(settings: Settings, settings_file: Path, previous: str | None) -> None:
    """Create the schema; on failure put the settings file back as it was (no half-made node:
    without a database, a retry must not need --force)."""
    from node import db as node_db

    engine = node_db.make_engine(settings.sqlalchemy_url)
    try:
        node_db.upgrade(engine)
        if not inspect(engine).has_table("concepts"):
            raise click.ClickException(
                "the migrations created no schema (no scripts in node/migrations/versions?)"
            )
        click.echo("Database migrated")
    except Exception:
        if previous is None:
            settings_file.unlink(missing_ok=True)
        else:
            settings_file.write_text(previous, encoding="utf-8")
        raise
    finally:
        engine.dispose()


def _interrupt(*_: Any) -> None:
    raise KeyboardInterrupt


@click.command()
@click.option("--host", help="Address to listen on (default: listen_host setting).")
@click.option("--port", type=int, help="Port (default: listen_port setting; 0 picks a free one).")
@click.option("--threads", type=int, default=8, show_default=True)
@click.pass_context
def run(ctx: click.Context, host: str | None, port: int | None, threads: int) -> None:
    """Serve the node with waitress (and the worker in a thread in embedded mode)."""
    from waitress import create_server

    from node.ops import health, logs
    from node.worker import Worker

    app = ctx.ensure_object(ScriptInfo).load_app()
    state: NodeState = app.extensions["coopfed"]
    settings = state.settings
    logs.configure_logging(settings)
    health.warm_up(state)  # the index before the first request, not during it
    server: Any = create_server(
        app,
        host=host or settings.listen_host,
        port=settings.listen_port if port is None else port,
        threads=threads,
        clear_untrusted_proxy_headers=True,
    )
    worker = Worker(state) if settings.worker_in_process else None
    if worker is not None:
        worker.start_thread()
    # SIGTERM (systemd, docker stop) ends the loop the same way as Ctrl-C.
    signal.signal(signal.SIGTERM, _interrupt)
    bound = f"http://{server.effective_host}:{server.effective_port}"
    click.echo(f"{settings.name} ({settings.base_url}) serving on {bound}", err=False)
    if worker is not None:
        click.echo("worker running in this process (worker_in_process = true)")
    sys.stdout.flush()
    try:
        server.run()  # returns on KeyboardInterrupt after shutting its threads down
    finally:
        server.close()
        if worker is not None:
            worker.stop()
    click.echo("stopped")


@click.command()
@click.option("--once", is_flag=True, help="Run every job once and exit.")
@click.pass_context
def worker(ctx: click.Context, once: bool) -> None:
    """Run the delivery/inbox/index worker as its own process."""
    from node.ops import logs
    from node.worker import Worker

    w = Worker(node_state(ctx))
    logs.configure_logging(w.state.settings)
    if once:
        click.echo(f"{w.run_once()} items handled")
        return
    signal.signal(signal.SIGTERM, lambda *_: w.stop())
    signal.signal(signal.SIGINT, lambda *_: w.stop())
    from profiles import text_model

    # Remote profiles and calls are linked here too: load the text model now, not mid-job.
    text_model.warm_in_background()
    click.echo("worker running; Ctrl-C to stop")
    w.run_forever()


@click.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Apply pending migrations, make the keys of members who have none, then bring stored
    outbox activities up to what the node sends today (dates, JSON-LD terms, proofs signed
    again)."""
    from node import db as node_db

    state = node_state(ctx)
    node_db.upgrade(state.engine)
    # Members from before keys were made with the member (the worker would do it too, slowly).
    keys = state.federation_service().make_member_keys()
    if keys:
        click.echo(f"Keys: made for {keys} members")
    rewritten = state.federation_service().upgrade_outbox()
    if rewritten:
        click.echo(f"Outbox: {rewritten} stored activities re-rendered and signed again")
    click.echo("Database is up to date")
