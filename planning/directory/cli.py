"""``dcc-services directory``: import the RPPS and FINESS extractions, load the demo directory."""

from __future__ import annotations

from pathlib import Path
from typing import IO

import click
from flask.cli import AppGroup

from core.errors import DomainError
from planning.directory import importers, sync


@click.group("directory", cls=AppGroup)
def directory() -> None:
    """National directories: RPPS professionals and FINESS establishments."""


_max_deactivation = click.option(
    "--max-deactivation",
    default=0.25,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Refuse to deactivate more than this share of the active rows (truncated file guard)",
)
_keep_missing = click.option(
    "--keep-missing",
    is_flag=True,
    help="Partial file (a region...): do not deactivate what it lacks",
)
_batch_size = click.option("--batch-size", default=2000, show_default=True, type=click.IntRange(1))


def _summary(report: sync.ImportReport) -> None:
    click.echo(
        f"{report.kind} ({report.layout}): read {report.read}, inserted {report.inserted}, "
        f"updated {report.updated}, unchanged {report.unchanged}, "
        f"deactivated {report.deactivated}, rejected {report.rejected}"
    )
    for rejection in report.rejections:
        click.echo(f"  line {rejection.line}: {rejection.reason}", err=True)
    if report.rejected > len(report.rejections):
        click.echo(f"  ... and {report.rejected - len(report.rejections)} more", err=True)


@directory.command("import-rpps")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_batch_size
@_max_deactivation
@_keep_missing
def import_rpps(file: Path, batch_size: int, max_deactivation: float, keep_missing: bool) -> None:
    """Import FILE, an Annuaire Santé PS_LibreAcces_Personne_activite extraction (2021 or 2026).

    Professionals missing from FILE are marked inactive; nothing is deleted.
    """
    with file.open("rb") as handle:
        try:
            layout, records = importers.read_rpps(handle)
        except importers.HeaderError as error:
            raise click.ClickException(f"{file}: {error}; nothing imported") from error
        with click.progressbar(
            length=file.stat().st_size, label=f"importing {file.name} ({layout})"
        ) as bar:
            report = _import_rpps(
                handle, records, layout, file, bar, batch_size, max_deactivation, keep_missing
            )
    _summary(report)


def _import_rpps(
    handle: IO[bytes],
    records: object,
    layout: str,
    file: Path,
    bar: object,
    batch_size: int,
    max_deactivation: float,
    keep_missing: bool,
) -> sync.ImportReport:
    def progress(_lines: int) -> None:
        position = handle.tell()
        bar.update(position - bar.pos)  # type: ignore[attr-defined]

    try:
        return sync.import_practitioners(
            records,  # type: ignore[arg-type]
            layout=layout,
            file_name=str(file),
            batch_size=batch_size,
            progress=progress,
            max_deactivation_ratio=max_deactivation,
            deactivate_missing=not keep_missing,
        )
    except DomainError as error:
        raise click.ClickException(error.detail) from error


@directory.command("import-finess")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_batch_size
@_max_deactivation
@_keep_missing
def import_finess(file: Path, batch_size: int, max_deactivation: float, keep_missing: bool) -> None:
    """Import FILE: a FINESS etalab CSV (ET/EJ, with or without coordinates, Windows-1252 or
    UTF-8), a yearly etalab stock file, or a FINESS+ JSON file (finess-structures, .json.gz).

    Establishments missing from FILE are marked inactive; nothing is deleted.
    """
    try:
        layout, kinds, records = importers.read_finess(file)
    except importers.HeaderError as error:
        raise click.ClickException(f"{file}: {error}; nothing imported") from error
    with click.progressbar(
        length=_count_entries(file, layout), label=f"importing {file.name} ({layout})"
    ) as bar:
        try:
            report = sync.import_organizations(
                records,
                layout=layout,
                kinds=kinds,
                file_name=str(file),
                batch_size=batch_size,
                progress=bar.update,
                max_deactivation_ratio=max_deactivation,
                deactivate_missing=not keep_missing,
            )
        except DomainError as error:
            raise click.ClickException(error.detail) from error
    _summary(report)


def _count_entries(file: Path, layout: str) -> int:
    """Entries of a FINESS file, for the progress bar (a quick byte scan)."""
    with importers.open_binary(file) as stream:
        if layout == "finess+":
            return sum(
                chunk.count(b'"numFinessPm"') + chunk.count(b'"numFinessEge"')
                for chunk in iter(lambda: stream.read(1 << 20), b"")
            )
        return sum(1 for line in stream if not line.startswith(b"geolocalisation;"))


@directory.command("demo")
def demo_command() -> None:
    """Load the demo directory alone (``dcc-services demo`` loads it with the rest)."""
    load_demo_directory()


def load_demo_directory() -> None:
    """The demo loader of ``dcc-services demo``: imports and prints a summary per file."""
    from planning.directory.demo import load_demo

    for report in load_demo().values():
        _summary(report)
