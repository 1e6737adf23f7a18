"""`coopfed demo`: three federated coop nodes on loopback with realistic members and calls.

Smart Austria, Smart Germany and Smart Sweden run on 127.0.0.1:8001–8003 in dev mode (http),
each with its own SQLite database under ``demo-data/``. The demo seeds each node through the
same importers operators use, partners the coops through the same partnership flow an admin
uses (request → accept), serves all three with their workers, and prints URLs and logins.
"""

from __future__ import annotations

import json
import secrets
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from flask import Flask

from node import db as node_db
from node.app import create_app
from node.demo_data import CALLS, DEMO_PASSWORD, MEMBERS, NODES
from node.settings import SETTINGS_FILE, Settings, write_settings_file
from node.state import NodeState
from node.worker import Worker
from profiles import members as member_service
from profiles.importers import import_calls, import_members
from profiles.languages import UI_LANGUAGES
from profiles.vocabulary import load_curated


@dataclass
class DemoNode:
    key: str
    app: Flask
    state: NodeState
    server: Any
    worker: Worker


def build_node(base: Path, spec: dict[str, Any], host: str) -> tuple[Flask, NodeState]:
    domain = f"{host}:{spec['port']}"
    instance = base / spec["key"]
    instance.mkdir(parents=True, exist_ok=True)
    settings = Settings(
        instance_path=instance,
        domain=domain,
        name=spec["name"],
        country=spec["country"],
        secret_key=secrets.token_hex(32),
        dev_mode=True,
        default_language=spec["ui"],
        worker_in_process=True,
        worker_idle_seconds=0.5,
        listen_host=host,
        listen_port=spec["port"],
    )
    # The settings as `coopfed init` writes them, so the CLI can be pointed at a demo node
    # (`.venv/bin/coopfed --instance demo-data/se partner list`) while the demo runs.
    write_settings_file(
        instance / SETTINGS_FILE,
        {
            "domain": domain,
            "name": spec["name"],
            "country": spec["country"],
            "dev_mode": True,
            "secret_key": settings.secret_key,
            "default_language": spec["ui"],
            "listen_host": host,
            "listen_port": spec["port"],
        },
    )
    engine = node_db.make_engine(settings.sqlalchemy_url)
    node_db.upgrade(engine)
    app = create_app(settings, engine=engine)
    state: NodeState = app.extensions["coopfed"]
    return app, state


def seed(state: NodeState, key: str) -> list[str]:
    """Import the node's members and calls; give every member the demo password."""
    notes: list[str] = []
    with state.session() as session:
        load_curated(session)
        session.commit()
        vocab = state.vocabulary.get(session)
        admin = member_service.create_member(
            session,
            state.ctx,
            username="admin",
            email=f"admin@{key}.demo.example",
            password=DEMO_PASSWORD,
            is_admin=True,
        )
        admin.name = f"{state.ctx.name} admin"
        session.commit()
        result = import_members(
            session, state.ctx, vocab, [json.dumps(m) for m in MEMBERS.get(key, [])]
        )
        notes += [f"members: {result.stored} stored"] + [
            f"  unlinked {t!r} ({lang})" for (t, lang, _k), _n in result.unlinked.items()
        ]
        for row in MEMBERS.get(key, []):
            member = member_service.get_local(session, state.ctx, row["username"])
            member_service.set_password(member, DEMO_PASSWORD)
            member.ui_language = (
                row["languages"][0]["code"] if row["languages"][0]["code"] in UI_LANGUAGES else None
            )
        session.commit()
        result = import_calls(
            session, state.ctx, vocab, [json.dumps(c) for c in CALLS.get(key, [])]
        )
        notes.append(f"calls: {result.stored} stored")
        session.commit()
    return notes


def _retry(fn: Any, attempts: int = 20) -> Any:
    """SQLite (embedded mode) refuses a read-then-write transaction when a worker thread wrote in
    between ("database is locked", no busy wait): run the unit again."""
    from sqlalchemy.exc import OperationalError

    for attempt in range(attempts):
        try:
            return fn()
        except OperationalError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.2)
    return None


def partner_all(nodes: list[DemoNode]) -> None:
    """Every coop requests a partnership with every other; each admin accepts. Uses the same
    service functions as `coopfed partner request/accept`."""
    from sqlalchemy import select

    from profiles.models import Partnership

    for i, a in enumerate(nodes):
        fed = a.state.federation_service()
        for b in nodes[i + 1 :]:

            def request(a: DemoNode = a, b: DemoNode = b, fed: Any = fed) -> None:
                with a.state.session() as session:
                    fed.coop.request_partnership(session, fed.actors(session), b.state.ctx.base_url)
                    session.commit()

            _retry(request)
    # Each admin accepts what arrived (the workers deliver the Follows in the background).
    wanted = len(nodes) - 1
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done = 0
        for n in nodes:
            fed = n.state.federation_service()

            def accept(n: DemoNode = n, fed: Any = fed) -> int:
                with n.state.session() as session:
                    pending = select(Partnership).where(Partnership.state == "pending")
                    for p in session.scalars(pending).all():
                        fed.coop.accept_partnership(session, p.domain)
                    session.commit()
                    active = select(Partnership).where(Partnership.state == "active")
                    return len(session.scalars(active).all())

            done += _retry(accept) == wanted
        if done == len(nodes):
            return
        time.sleep(0.5)
    click.echo("warning: not every partnership became active within a minute", err=True)


def run_demo(base: Path, host: str = "127.0.0.1", *, serve: bool = True) -> list[DemoNode]:
    from waitress import create_server

    if base.exists():
        shutil.rmtree(base)
    nodes: list[DemoNode] = []
    for spec in NODES:
        app, state = build_node(base, spec, host)
        notes = seed(state, spec["key"])
        server = create_server(app, host=host, port=spec["port"], threads=6)
        worker = Worker(state)
        threading.Thread(target=server.run, name=f"demo-{spec['key']}", daemon=True).start()
        worker.start_thread()
        nodes.append(DemoNode(spec["key"], app, state, server, worker))
        click.echo(f"{spec['name']}: {'; '.join(n for n in notes if not n.startswith('  '))}")
    partner_all(nodes)
    from node import demo_collab

    demo_collab.seed(nodes)  # responses and a conversation (issue 9)
    if serve:
        from node.ops import health

        for n in nodes:  # the match index now, as `coopfed run` does (so /readyz says ready)
            health.warm_up(n.state)
    return nodes


def print_welcome(nodes: list[DemoNode]) -> None:
    click.echo("")
    click.echo("coopfed demo — three federated coop nodes (dev mode, SQLite in demo-data/)")
    for n in nodes:
        ctx = n.state.ctx
        members = ", ".join(m["username"] for m in MEMBERS.get(n.key, [])[:3])
        click.echo(f"  {ctx.name:<15} {ctx.base_url}/   members: admin, {members}, …")
    click.echo(f"  password for every demo account: {DEMO_PASSWORD}")
    mail = nodes[0].state.settings.instance_path.parent / "*" / "mail"
    click.echo(f"  email is not sent: each node writes .eml files to {mail} (Admin → Email log)")
    click.echo("  try: sign in on Smart Sweden as karin_lind and open her call")
    click.echo(
        "       'Ljus, ljud och tyska övertexter för dansturné' for suggested collaborators."
    )
    click.echo("  collaboration: sign in on Smart Sweden as karin_lind → Notifications, the call's")
    click.echo("       Responses; on Smart Austria as lena_huber → My responses (accepted).")
    click.echo("Ctrl-C stops all three nodes.")


@click.command("demo")
@click.option(
    "--dir",
    "base",
    type=click.Path(file_okay=False, path_type=Path),
    default="demo-data",
    show_default=True,
    help="Where the demo nodes keep their data.",
)
@click.option("--host", default="127.0.0.1", show_default=True)
def demo_command(base: Path, host: str) -> None:
    """Start three federated demo coop nodes on loopback (ports 8001–8003)."""
    nodes = run_demo(base, host)
    print_welcome(nodes)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        for n in nodes:
            n.worker.stop()
            n.server.close()
        click.echo("demo stopped")
