"""``coopfed import members | calls``: bulk import from JSON Lines (members also CSV) files;
``import members --update`` keeps the node in step with the coop's register."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from node.cli import node_state


@click.group("import")
def import_() -> None:
    """Bulk import from JSON Lines files (formats: see profiles/importers.py or the README)."""


def _lines_with_progress(fh: Any, size: int, label: str) -> Iterator[bytes]:
    with click.progressbar(length=size, label=label, file=sys.stderr, show_pos=False) as bar:
        for raw in fh:
            bar.update(len(raw))
            yield raw


def _print_result(result: Any, report_file: Path | None) -> None:
    click.echo(
        f"{result.stored} {result.kind} stored, {len(result.skipped)} lines skipped "
        f"({result.lines} lines in {result.seconds:.1f} s)"
    )
    _print_details(result, report_file)


def _print_details(result: Any, report_file: Path | None) -> None:
    """The per-line report, linked/unlinked free text, the next step; the JSON report."""
    data = result.to_json()
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
            f"Not linked ({len(data['unlinked'])} distinct, {total} in all; kept as written and "
            "matched as text) — add concepts by hand or import ESCO "
            "(`coopfed taxonomy import-esco`):"
        )
        for item in data["unlinked"][:50]:
            click.echo(f"  {item['text']!r} [{item['lang'] or '?'}] ×{item['count']}")
        if len(data["unlinked"]) > 50:
            click.echo(f"  … {len(data['unlinked']) - 50} more (see --report)")
    if result.kind == "members" and result.without_password:
        click.echo(
            f"{result.without_password} imported members have no password and cannot sign in "
            "yet: invite them with `coopfed member invite --all-pending`."
        )
    if report_file:
        report_file.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
        click.echo(f"Full report written to {report_file}")


def _import(ctx: click.Context, kind: str, file: Path, report: Path | None, batch: int) -> None:
    from profiles import importers

    state = node_state(ctx)
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


def _sync(ctx: click.Context, file: Path, fmt: str, options: dict[str, Any]) -> None:
    from profiles.register import sync_members

    state = node_state(ctx)
    try:
        fh = file.open("rb")
        size = file.stat().st_size
    except OSError as exc:
        click.echo(f"Error: cannot read {file}: {exc.strerror}", err=True)
        ctx.exit(1)
    with fh, state.session() as session:
        vocab = state.vocabulary.get(session)
        lines = _lines_with_progress(fh, size, "Reading the register")
        result = sync_members(
            session,
            state.ctx,
            vocab,
            lines,
            fmt=fmt,
            dry_run=options["dry_run"],
            deactivate_missing=options["deactivate_missing"],
            batch_size=options["batch"],
        )
    would = "would be " if result.dry_run else ""
    click.echo(
        f"{len(result.created)} {would}created, {len(result.changed)} {would}changed, "
        f"{result.unchanged} unchanged, {len(result.deactivated)} {would}deactivated, "
        f"{len(result.skipped)} lines skipped ({result.lines} lines in {result.seconds:.1f} s)"
        + (" — dry run, nothing written" if result.dry_run else "")
    )
    if result.unknown_fields:
        names = ", ".join(sorted(result.unknown_fields))
        click.echo(f"Unknown fields, ignored: {names}")
    for label, names in (
        ("created", result.created),
        ("changed", result.changed),
        ("deactivated", result.deactivated),
    ):
        if names and (result.dry_run or label == "deactivated"):
            more = f" … {len(names) - 200} more (see --report)" if len(names) > 200 else ""
            click.echo(f"{would}{label}: {', '.join(names[:200])}{more}")
    _print_details(result, options["report"])


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
@click.option(
    "--update",
    is_flag=True,
    help="Sync from the register: update members found by ref or user name, create the rest.",
)
@click.option("--dry-run", is_flag=True, help="Only say what would be created/changed/deactivated.")
@click.option(
    "--deactivate-missing",
    is_flag=True,
    help="Deactivate (never delete) local members missing from FILE; admins are kept.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "jsonl", "csv"]),
    default="auto",
    show_default=True,
    help="auto: CSV for a .csv file, else JSON Lines.",
)
@click.pass_context
def import_members(
    ctx: click.Context,
    file: Path,
    report: Path | None,
    batch: int,
    update: bool,
    dry_run: bool,
    deactivate_missing: bool,
    fmt: str,
) -> None:
    """Import members from FILE (JSON Lines, or CSV with a header row).

    With --update (implied by --dry-run, --deactivate-missing and CSV files) the file is the
    coop's register: members are matched by `ref` (member number) or user name and updated;
    unknown fields are reported once and ignored."""
    if fmt == "auto":
        fmt = "csv" if file.suffix.lower() == ".csv" else "jsonl"
    if update or dry_run or deactivate_missing or fmt == "csv":
        options = {
            "dry_run": dry_run,
            "deactivate_missing": deactivate_missing,
            "batch": batch,
            "report": report,
        }
        _sync(ctx, file, fmt, options)
        return
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
