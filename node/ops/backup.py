"""Backups of a whole node: its database and its instance folder, in one ``.tar.gz``.

What a node is: the database (members, calls, every actor's private keys, the outbox, the
queues) and the instance folder (``coopfed.toml`` with the secret key and settings, uploaded
avatars, ``keys/``, the embedded mode's mail folder). A backup holds both, so a node restored
from it signs with the same keys and its peers keep trusting it.

The archive: ``manifest.json`` (format, database kind, schema revision, domain, time),
``database.sqlite`` (SQLite's online backup API: a consistent copy while the node runs) or
``database.pgdump`` (``pg_dump --format=custom``, restored with ``pg_restore``), and
``instance/…``. A restore goes to the same kind of database (SQLite to SQLite, PostgreSQL to
PostgreSQL), then migrates it to the running code's schema.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from federation.db import utcnow
from node import db as node_db
from node.settings import SETTINGS_FILE, Settings, write_settings_file

FORMAT = 1
# Never copied from the instance folder: the live SQLite files (the backup API copies the
# database) and the metrics of processes that are gone.
SKIP = {"coopfed.db", "coopfed.db-wal", "coopfed.db-shm", "coopfed.db-journal", "prometheus"}


class BackupError(RuntimeError):
    """The backup or restore cannot be done (message for the operator)."""


@dataclass(frozen=True)
class Manifest:
    format: int
    dialect: str
    revision: list[str]
    domain: str
    created_at: str


def _pg_env(url: str) -> dict[str, str]:
    """libpq's environment for a SQLAlchemy PostgreSQL URL (the password never on a command
    line, where ``ps`` would show it)."""
    u = make_url(url)
    env = dict(os.environ)
    for var, value in (
        ("PGHOST", u.host),
        ("PGPORT", u.port),
        ("PGUSER", u.username),
        ("PGPASSWORD", u.password),
        ("PGDATABASE", u.database),
    ):
        if value is not None:
            env[var] = str(value)
    return env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} not found: install the PostgreSQL client tools")
    return found


def _run(args: list[str], env: dict[str, str]) -> None:
    # Our own argument list (tool path, options, file names), no shell.
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise BackupError(f"{Path(args[0]).name} failed: {done.stderr.strip()[:2000]}")


def _revision(settings: Settings) -> list[str]:
    engine = node_db.make_engine(settings.sqlalchemy_url)
    try:
        with engine.connect() as conn:
            return sorted(MigrationContext.configure(conn).get_current_heads())
    finally:
        engine.dispose()


def backup(settings: Settings, target: Path) -> Manifest:
    """Write the node's backup to ``target`` (a new ``.tar.gz``); the node may keep running."""
    url = settings.sqlalchemy_url
    dialect = make_url(url).get_backend_name()
    if dialect not in ("sqlite", "postgresql"):
        raise BackupError(f"cannot back up a {dialect} database")
    manifest = Manifest(FORMAT, dialect, _revision(settings), settings.domain, utcnow().isoformat())
    with tempfile.TemporaryDirectory(prefix="coopfed-backup-") as tmp:
        work = Path(tmp)
        if dialect == "sqlite":
            dump = work / "database.sqlite"
            source = sqlite3.connect(make_url(url).database or "")
            copy = sqlite3.connect(dump)
            try:
                source.backup(copy)  # page by page, consistent, other connections keep writing
            finally:
                copy.close()
                source.close()
        else:
            dump = work / "database.pgdump"
            _run(
                [_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges",
                 f"--file={dump}"],
                _pg_env(url),
            )  # fmt: skip
        (work / "manifest.json").write_text(json.dumps(manifest.__dict__, indent=2))
        partial = target.with_name(target.name + ".partial")
        with tarfile.open(partial, "w:gz") as tar:
            tar.add(work / "manifest.json", "manifest.json")
            tar.add(dump, dump.name)
            instance = settings.instance_path.resolve()
            tar.add(instance, "instance", filter=_skip_live(instance))
        partial.chmod(0o600)  # secret key, private keys: as private as the instance folder
        partial.replace(target)  # never a half-written backup under the final name
    return manifest


def _skip_live(instance: Path) -> Callable[[tarfile.TarInfo], tarfile.TarInfo | None]:
    def keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        parts = Path(info.name).parts
        if len(parts) >= 2 and parts[1] in SKIP:
            return None
        return info

    return keep


def read_manifest(archive: Path) -> Manifest:
    with tarfile.open(archive, "r:gz") as tar:
        member = tar.extractfile("manifest.json")
        if member is None:
            raise BackupError(f"{archive} is not a coopfed backup (no manifest.json)")
        data: dict[str, Any] = json.loads(member.read())
    if data.get("format") != FORMAT:
        raise BackupError(f"unknown backup format {data.get('format')!r}")
    return Manifest(**data)


def restore(
    archive: Path, instance: Path, *, database_url: str | None = None, force: bool = False
) -> Settings:
    """Restore ``archive`` into the ``instance`` folder and its database, then migrate.

    ``database_url`` replaces the one in the restored settings (another server, another
    database name); the environment's ``COOPFED_DATABASE_URL`` wins over both, as always.
    Refuses to overwrite an instance folder with settings, or a database with tables, unless
    ``force``. Returns the restored node's settings.
    """
    manifest = read_manifest(archive)
    if (instance / SETTINGS_FILE).exists() and not force:
        raise BackupError(f"{instance / SETTINGS_FILE} exists: restore into an empty folder")
    with tempfile.TemporaryDirectory(prefix="coopfed-restore-") as tmp:
        work = Path(tmp)
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(work, filter="data")  # no absolute paths, no links out
        instance.mkdir(parents=True, exist_ok=True)
        shutil.copytree(work / "instance", instance, dirs_exist_ok=True)
        if database_url is not None:
            _set_database_url(instance, database_url)
        settings = Settings.load(instance)
        _restore_database(manifest, work, settings, force)
    engine = node_db.make_engine(settings.sqlalchemy_url)
    try:
        node_db.upgrade(engine)  # a backup of older code comes up to this code's schema
    finally:
        engine.dispose()
    return settings


def _set_database_url(instance: Path, url: str) -> None:
    import tomllib

    file = instance / SETTINGS_FILE
    values = tomllib.loads(file.read_text(encoding="utf-8"))
    values["database_url"] = url
    if not url:
        values.pop("database_url")
    write_settings_file(file, values)


def _restore_database(manifest: Manifest, work: Path, settings: Settings, force: bool) -> None:
    url = settings.sqlalchemy_url
    dialect = make_url(url).get_backend_name()
    if dialect != manifest.dialect:
        raise BackupError(
            f"the backup holds a {manifest.dialect} database, this node uses {dialect}: "
            "restore to the same kind of database"
        )
    engine = node_db.make_engine(url)
    try:
        tables = inspect(engine).get_table_names()
    finally:
        engine.dispose()
    if tables and not force:
        raise BackupError(f"the database at {make_url(url)!r} is not empty: use an empty one")
    if dialect == "sqlite":
        target = Path(make_url(url).database or "")
        for suffix in ("-wal", "-shm"):
            Path(str(target) + suffix).unlink(missing_ok=True)
        shutil.copyfile(work / "database.sqlite", target)
        target.chmod(0o600)
        return
    args = [_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error"]
    if tables:
        args += ["--clean", "--if-exists"]
    _run([*args, f"--dbname={_pg_env(url)['PGDATABASE']}", str(work / "database.pgdump")],
         _pg_env(url))  # fmt: skip
