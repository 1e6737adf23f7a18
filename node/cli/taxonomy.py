"""``coopfed taxonomy import-esco | stats``: skills and occupations (ESCO)."""

from __future__ import annotations

import time
from pathlib import Path

import click
from sqlalchemy import func, select

from node.cli import node_state


@click.group()
def taxonomy() -> None:
    """Skills and occupations (ESCO)."""


@taxonomy.command("import-esco")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.pass_context
def taxonomy_import_esco(ctx: click.Context, directory: Path) -> None:
    """Import the official ESCO CSV download (occupations_<lang>.csv, skills_<lang>.csv)."""
    from profiles.vocabulary import import_esco

    state = node_state(ctx)
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

    state = node_state(ctx)
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
