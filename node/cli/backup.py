"""``coopfed backup PATH`` / ``coopfed restore PATH``: the node's database and instance folder
in one archive (:mod:`node.ops.backup`)."""

from __future__ import annotations

from pathlib import Path

import click

from node.cli import instance_of
from node.settings import Settings


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def backup_command(ctx: click.Context, path: Path) -> None:
    """Write a backup (database, keys, settings, uploads) to PATH (.tar.gz) while the node runs."""
    from node.ops import backup

    if path.exists():
        raise click.ClickException(f"{path} exists: give a new file name")
    try:
        manifest = backup.backup(Settings.load(instance_of(ctx)), path)
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"Backup of {manifest.domain} ({manifest.dialect}, schema "
        f"{', '.join(manifest.revision) or 'none'}) written to {path}"
    )


@click.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--database-url", default=None, help="Restore into this database instead.")
@click.option("--force", is_flag=True, help="Overwrite existing settings and database tables.")
@click.pass_context
def restore_command(ctx: click.Context, path: Path, database_url: str | None, force: bool) -> None:
    """Restore a backup into the instance folder (--instance) and its database, then migrate.
    Stop the node's services first."""
    from node.ops import backup

    try:
        settings = backup.restore(path, instance_of(ctx), database_url=database_url, force=force)
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Restored {settings.domain} into {settings.instance_path}; start its services.")
