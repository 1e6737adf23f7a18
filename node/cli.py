"""The ``coopfed`` command: set up, run and administer one node.

A click group in the spirit of Flask's ``FlaskGroup``: commands that need the node get it from
``create_app(Settings.load(instance))`` through ``flask.cli.ScriptInfo``, so Flask's own
``with_appcontext`` (and the ``shell`` / ``routes`` commands) work. Unlike ``FlaskGroup`` it
never loads the app just to print ``--help`` (there is no app before ``coopfed init``).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
from flask import Flask
from flask.cli import ScriptInfo, routes_command, shell_command
from sqlalchemy import func, inspect, select

from node import cli_federation, cli_mail
from node.demo import demo_command
from node.settings import SETTINGS_FILE, Settings, write_settings_file
from node.state import NodeState

DOMAIN_RE = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)


def _instance(ctx: click.Context) -> Path:
    return Path(ctx.find_root().params["instance"] or "instance")


def _load_app(instance: Path) -> Flask:
    from node.app import create_app

    if not (instance / SETTINGS_FILE).exists() and not os.environ.get("COOPFED_SECRET_KEY"):
        raise click.ClickException(
            f"no node in {instance} (no {SETTINGS_FILE}): run `coopfed init` first, "
            "or pass --instance / set COOPFED_INSTANCE_PATH"
        )
    return create_app(Settings.load(instance))


def _state(ctx: click.Context | None = None) -> NodeState:
    ctx = ctx or click.get_current_context()
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


cli.add_command(shell_command)
cli.add_command(routes_command)
for _command in (*cli_federation.COMMANDS, *cli_mail.COMMANDS):
    cli.add_command(_command)
cli.add_command(demo_command)


def main() -> None:
    cli(prog_name="coopfed")


# --- init ----------------------------------------------------------------------------------


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


@cli.command()
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
    from node import db as node_db
    from profiles import validation
    from profiles.vocabulary import load_curated

    instance = _instance(ctx)
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
    engine = node_db.make_engine(settings.sqlalchemy_url)
    try:
        node_db.upgrade(engine)
        if not inspect(engine).has_table("concepts"):
            raise click.ClickException(
                "the migrations created no schema (no scripts in node/migrations/versions?)"
            )
        click.echo("Database migrated")
    except Exception:
        # No half-made node: without a database, a retry must not need --force.
        if previous is None:
            settings_file.unlink(missing_ok=True)
        else:
            settings_file.write_text(previous, encoding="utf-8")
        raise
    finally:
        engine.dispose()
    state = _state(ctx)
    with state.session() as session:
        report = load_curated(session)
        session.commit()
    click.echo(
        f"Vocabulary: {report.concepts_added} concepts, {report.labels_added} labels "
        f"({', '.join(report.languages)})"
    )
    if admin_username:
        _add_member(state, admin_username, admin_email, None, True, admin_password)
    click.echo(f"Node {name} ready at {settings.base_url} — start it with `coopfed run`.")


# --- run / worker ---------------------------------------------------------------------------


def _interrupt(*_: Any) -> None:
    raise KeyboardInterrupt


@cli.command()
@click.option("--host", help="Address to listen on (default: listen_host setting).")
@click.option("--port", type=int, help="Port (default: listen_port setting; 0 picks a free one).")
@click.option("--threads", type=int, default=8, show_default=True)
@click.pass_context
def run(ctx: click.Context, host: str | None, port: int | None, threads: int) -> None:
    """Serve the node with waitress (and the worker in a thread in embedded mode)."""
    from waitress import create_server

    from node.worker import Worker

    app = ctx.ensure_object(ScriptInfo).load_app()
    state: NodeState = app.extensions["coopfed"]
    settings = state.settings
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


@cli.command()
@click.option("--once", is_flag=True, help="Run every job once and exit.")
@click.pass_context
def worker(ctx: click.Context, once: bool) -> None:
    """Run the delivery/inbox/index worker as its own process."""
    from node.worker import Worker

    w = Worker(_state(ctx))
    if once:
        click.echo(f"{w.run_once()} items handled")
        return
    signal.signal(signal.SIGTERM, lambda *_: w.stop())
    signal.signal(signal.SIGINT, lambda *_: w.stop())
    click.echo("worker running; Ctrl-C to stop")
    w.run_forever()


# --- db -------------------------------------------------------------------------------------


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Apply pending migrations."""
    from node import db as node_db

    node_db.upgrade(_state(ctx).engine)
    click.echo("Database is up to date")


# --- members --------------------------------------------------------------------------------


def _add_member(
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


@cli.group()
def member() -> None:
    """Local member accounts."""


@member.command("add")
@click.argument("username")
@click.option("--email", required=True)
@click.option("--name")
@click.option("--admin", is_flag=True, help="May administer the node.")
@click.option("--password", help="Prompted (hidden) when omitted.")
@click.pass_context
def member_add(
    ctx: click.Context,
    username: str,
    email: str,
    name: str | None,
    admin: bool,
    password: str | None,
) -> None:
    """Create a local member who can sign in."""
    state = _state(ctx)
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    _add_member(state, username, email, name, admin, password)


@member.command("passwd")
@click.argument("username")
@click.option("--password", help="Prompted (hidden) when omitted.")
@click.pass_context
def member_passwd(ctx: click.Context, username: str, password: str | None) -> None:
    """Set a member's password (imported members have none and cannot sign in before)."""
    from profiles.errors import DomainError
    from profiles.members import get_local, set_password

    state = _state(ctx)
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

    state = _state(ctx)
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

    state = _state(ctx)
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


# --- import ---------------------------------------------------------------------------------


@cli.group("import")
def import_() -> None:
    """Bulk import from JSON Lines files (formats: see profiles/importers.py or the README)."""


def _lines_with_progress(fh: Any, size: int, label: str) -> Iterator[bytes]:
    with click.progressbar(length=size, label=label, file=sys.stderr, show_pos=False) as bar:
        for raw in fh:
            bar.update(len(raw))
            yield raw


def _print_result(result: Any, report_file: Path | None) -> None:
    data = result.to_json()
    click.echo(
        f"{result.stored} {result.kind} stored, {len(result.skipped)} lines skipped "
        f"({result.lines} lines in {result.seconds:.1f} s)"
    )
    for number, reason in result.skipped[:200]:
        click.echo(f"  line {number}: {reason}")
    if len(result.skipped) > 200:
        click.echo(f"  … {len(result.skipped) - 200} more (see --report)")
    if data["linked"]:
        click.echo(f"Linked free text ({len(data['linked'])} distinct):")
        for item in data["linked"][:50]:
            click.echo(
                f"  {item['text']!r} [{item['lang'] or '?'}] -> {item['label']} <{item['iri']}>"
                f" ×{item['count']}"
            )
        if len(data["linked"]) > 50:
            click.echo(f"  … {len(data['linked']) - 50} more (see --report)")
    if data["unlinked"]:
        total = sum(item["count"] for item in data["unlinked"])
        click.echo(
            f"Not linked, dropped ({len(data['unlinked'])} distinct, {total} in all) — "
            "add them by hand or import ESCO (`coopfed taxonomy import-esco`):"
        )
        for item in data["unlinked"][:50]:
            click.echo(f"  {item['text']!r} [{item['lang'] or '?'}] ×{item['count']}")
        if len(data["unlinked"]) > 50:
            click.echo(f"  … {len(data['unlinked']) - 50} more (see --report)")
    if result.kind == "members" and result.without_password:
        click.echo(
            f"{result.without_password} imported members have no password and cannot sign in "
            "until you run `coopfed member passwd USERNAME`."
        )
    if report_file:
        report_file.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
        click.echo(f"Full report written to {report_file}")


def _import(ctx: click.Context, kind: str, file: Path, report: Path | None, batch: int) -> None:
    from profiles import importers

    state = _state(ctx)
    try:
        fh = file.open("rb")
        size = file.stat().st_size
    except OSError as exc:
        click.echo(f"Error: cannot read {file}: {exc.strerror}", err=True)
        ctx.exit(1)
    importer = importers.import_members if kind == "members" else importers.import_calls
    with fh, state.session() as session:
        vocab = state.vocabulary.get(session)
        lines = _lines_with_progress(fh, size, f"Importing {kind}")
        try:
            result = importer(session, state.ctx, vocab, lines, batch_size=batch)
        except OSError as exc:  # the file went away mid-way: what was committed stays
            click.echo(f"Error: reading {file} failed: {exc}", err=True)
            ctx.exit(1)
    _print_result(result, report)


@import_.command("members")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--report",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the full report as JSON.",
)
@click.option(
    "--batch",
    type=click.IntRange(1, 100_000),
    default=500,
    show_default=True,
    help="Lines per commit.",
)
@click.pass_context
def import_members(ctx: click.Context, file: Path, report: Path | None, batch: int) -> None:
    """Import members from FILE (one JSON object per line)."""
    _import(ctx, "members", file, report, batch)


@import_.command("calls")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--report",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the full report as JSON.",
)
@click.option(
    "--batch",
    type=click.IntRange(1, 100_000),
    default=500,
    show_default=True,
    help="Lines per commit.",
)
@click.pass_context
def import_calls(ctx: click.Context, file: Path, report: Path | None, batch: int) -> None:
    """Import project calls from FILE (one JSON object per line; authors must exist)."""
    _import(ctx, "calls", file, report, batch)


# --- taxonomy -------------------------------------------------------------------------------


@cli.group()
def taxonomy() -> None:
    """Skills and occupations (ESCO)."""


@taxonomy.command("import-esco")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.pass_context
def taxonomy_import_esco(ctx: click.Context, directory: Path) -> None:
    """Import the official ESCO CSV download (occupations_<lang>.csv, skills_<lang>.csv)."""
    from profiles.vocabulary import import_esco

    state = _state(ctx)
    started = time.perf_counter()

    def progress(name: str, rows: int) -> None:
        if rows < 0:
            click.echo(f"\r  {name}: done{' ' * 20}", err=True)
        else:
            click.echo(f"\r  {name}: {rows} rows", nl=False, err=True)

    with state.session() as session:
        try:
            report = import_esco(session, directory, progress=progress)
        except (FileNotFoundError, ValueError) as exc:
            raise click.ClickException(str(exc)) from None
        session.commit()
    state.vocabulary.invalidate()
    click.echo(
        f"ESCO import: {report.concepts_added} concepts added ({report.concepts_seen} rows read), "
        f"{report.labels_added} labels added, languages {', '.join(report.languages)}, "
        f"{len(report.files)} files in {time.perf_counter() - started:.1f} s"
    )


@taxonomy.command("stats")
@click.pass_context
def taxonomy_stats(ctx: click.Context) -> None:
    """Concepts per kind and source, labels per language."""
    from profiles.models import Concept, ConceptLabel, NodeMeta
    from profiles.vocabulary import ESCO_VERSION_KEY

    state = _state(ctx)
    with state.session() as session:
        kinds = session.execute(
            select(Concept.kind, Concept.source, func.count()).group_by(
                Concept.kind, Concept.source
            )
        ).all()
        langs = session.execute(
            select(ConceptLabel.lang, func.count())
            .group_by(ConceptLabel.lang)
            .order_by(ConceptLabel.lang)
        ).all()
        esco = session.get(NodeMeta, ESCO_VERSION_KEY)
    click.echo("Concepts:")
    for kind, source, count in sorted(kinds):
        click.echo(f"  {kind:<12} {source:<8} {count:>7}")
    click.echo("Labels:")
    for lang, count in langs:
        click.echo(f"  {lang:<4} {count:>8}")
    click.echo(f"ESCO: {esco.value if esco else 'not imported (curated vocabulary only)'}")
