"""``coopfed backup`` / ``coopfed restore``: a node restored from its backup federates on with
the same keys. Two real nodes on loopback ports (dev mode), real signed HTTP between them.

The database is the run's kind: SQLite files, or (COOPFED_TEST_DATABASE_URL) fresh PostgreSQL
databases — pg_dump/pg_restore dump whole databases, so not the usual per-test schemas.
"""

from __future__ import annotations

import secrets
import socket
import tarfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from werkzeug.serving import make_server

from federation.models import RemoteActor
from node import db as node_db
from node.app import create_app
from node.cli import cli
from node.cli.partners import partner
from node.settings import Settings, write_settings_file
from node.worker import Worker
from profiles import calls as call_service
from profiles import members as member_service
from profiles.models import Call, Member
from profiles.vocabulary import load_curated
from tests.conftest import PG_URL

PASSWORD = "correct horse battery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def databases() -> Iterator[Callable[[], str]]:
    """Factory of empty databases: "" (SQLite in the instance folder) or a PostgreSQL URL."""
    made: list[str] = []

    def make() -> str:
        if not PG_URL:
            return ""
        name = f"t_backup_{secrets.token_hex(5)}"
        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
        admin.dispose()
        made.append(name)
        return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)

    yield make
    if made:
        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for name in made:
                conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


class Served:
    """A node of an instance folder, served on a loopback port until ``stop``."""

    def __init__(self, instance: Path, port: int) -> None:
        self.app = create_app(Settings.load(instance))
        self.state = self.app.extensions["coopfed"]
        self.server = make_server("127.0.0.1", port, self.app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
        self.state.engine.dispose()


def new_instance(folder: Path, port: int, name: str, database_url: str) -> Path:
    values: dict[str, Any] = {
        "domain": f"127.0.0.1:{port}",
        "name": name,
        "country": "SE",
        "dev_mode": True,
        "secret_key": secrets.token_hex(16),
        "worker_in_process": False,
    }
    if database_url:
        values["database_url"] = database_url
    folder.mkdir()
    write_settings_file(folder / "coopfed.toml", values)
    settings = Settings.load(folder)
    engine = node_db.make_engine(settings.sqlalchemy_url)
    node_db.upgrade(engine)
    engine.dispose()
    return folder


def pump(*nodes: Served, rounds: int = 12) -> None:
    for _ in range(rounds):
        if sum(Worker(n.state).run_once() for n in nodes) == 0:
            return
    raise AssertionError("workers still busy")


def add_call(node: Served, author: str, title: str) -> None:
    with node.state.session() as s:
        vocab = node.state.vocabulary.get(s)
        skill = sorted(i for i, k in vocab.kinds.items() if k == "skill")[0]
        member = member_service.get_local(s, node.state.ctx, author)
        data = call_service.CallData(
            title=title, description="<p>Help</p>", country="SE", city="Malmö",
            skills_required=[skill], languages=["en"], visibility="public",
        )  # fmt: skip
        call_service.create_call(s, node.state.ctx, member, data, vocab)
        s.commit()


def partner_cli(node: Served, *args: str) -> None:
    result = CliRunner().invoke(partner, list(args), obj={"state": node.state})
    assert result.exit_code == 0, result.output + repr(result.exception)


def keys_b_holds_for(b: Served, domain: str) -> dict[str, str | None]:
    with b.state.session() as s:
        rows = s.scalars(select(RemoteActor).where(RemoteActor.ap_id.contains(domain)))
        return {r.ap_id: r.public_pem for r in rows}


def member_key(node: Served, username: str) -> str | None:
    with node.state.session() as s:
        return s.scalar(
            select(Member.public_key_pem).where(Member.username == username, Member.local)
        )


def calls_at(node: Served, domain: str) -> set[str]:
    with node.state.session() as s:
        return set(s.scalars(select(Call.title).where(Call.node == domain)))


def test_restored_node_federates_on_with_the_same_keys(tmp_path, databases) -> None:
    port_a, port_b = free_port(), free_port()
    inst_a = new_instance(tmp_path / "a", port_a, "Coop A", databases())
    inst_b = new_instance(tmp_path / "b", port_b, "Coop B", databases())
    a, b = Served(inst_a, port_a), Served(inst_b, port_b)
    for node in (a, b):
        with node.state.session() as s:
            load_curated(s)
            s.commit()
    with a.state.session() as s:
        member_service.create_member(s, a.state.ctx, username="alice", password=PASSWORD)
        s.commit()
    (inst_a / "avatars").mkdir(exist_ok=True)
    (inst_a / "avatars" / "alice.png").write_bytes(b"\x89PNG fake")
    partner_cli(a, "request", b.state.ctx.domain)
    pump(a, b)
    partner_cli(b, "accept", a.state.ctx.domain)
    pump(a, b)
    add_call(a, "alice", "Before the backup")
    pump(a, b)
    assert "Before the backup" in calls_at(b, a.state.ctx.domain)
    keys_before = keys_b_holds_for(b, a.state.ctx.domain)
    assert keys_before and all(keys_before.values())
    alice_key = member_key(a, "alice")

    archive = tmp_path / "node-a.tar.gz"
    result = CliRunner().invoke(cli, ["--instance", str(inst_a), "backup", str(archive)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    assert {"manifest.json", "instance/coopfed.toml", "instance/avatars/alice.png"} <= names
    assert "instance/coopfed.db" not in names  # the database travels as a consistent copy
    a.stop()  # the machine is gone

    inst_a2 = tmp_path / "a-restored"
    args = ["--instance", str(inst_a2), "restore", str(archive)]
    target_db = databases()
    if target_db:
        args += ["--database-url", target_db]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert (inst_a2 / "avatars" / "alice.png").read_bytes() == b"\x89PNG fake"
    again = CliRunner().invoke(cli, args)  # never over a restored node by accident
    assert again.exit_code != 0 and "exists" in again.output

    a2 = Served(inst_a2, port_a)
    try:
        add_call(a2, "alice", "After the restore")
        pump(a2, b)
        # B took the restored node's signed delivery with the key it already held for A.
        assert "After the restore" in calls_at(b, a2.state.ctx.domain)
        assert keys_b_holds_for(b, a2.state.ctx.domain) == keys_before
        # The restored database holds the same member key (Alice's actor itself is served to
        # signed partner fetches only: partners-only visibility).
        assert member_key(a2, "alice") == alice_key
    finally:
        a2.stop()
        b.stop()


def test_restore_refuses_another_kind_of_database(tmp_path) -> None:
    port = free_port()
    inst = new_instance(tmp_path / "a", port, "Coop A", "")
    archive = tmp_path / "a.tar.gz"
    assert CliRunner().invoke(cli, ["--instance", str(inst), "backup", str(archive)]).exit_code == 0
    result = CliRunner().invoke(
        cli,
        ["--instance", str(tmp_path / "b"), "restore", str(archive), "--database-url",
         "postgresql+psycopg://nobody@127.0.0.1:9/none"],
    )  # fmt: skip
    assert result.exit_code != 0 and "same kind of database" in result.output
