"""``dcc-services directory``: import the RPPS and FINESS extractions, load the demo directory."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import click
from flask.cli import AppGroup

from core.errors import DomainError
from planning.directory import importers, reader, sync


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
@click.option(
    "--parallel/--no-parallel",
    default=None,
    help="Read the file in a second process while this one writes (default: for files over"
    f" {reader.PARALLEL_THRESHOLD_BYTES // 2**20} MB)",
)
def import_rpps(
    file: Path,
    batch_size: int,
    max_deactivation: float,
    keep_missing: bool,
    parallel: bool | None,
) -> None:
    """Import FILE, an Annuaire Santé PS_LibreAcces_Personne_activite extraction (2021 or 2026).

    Professionals missing from FILE are marked inactive; nothing is deleted.
    """
    if parallel is None:
        parallel = file.stat().st_size >= reader.PARALLEL_THRESHOLD_BYTES
    with file.open("rb") as handle:
        try:
            layout, records = importers.read_rpps(handle)
        except importers.HeaderError as error:
            raise click.ClickException(f"{file}: {error}; nothing imported") from error
        with (
            click.progressbar(
                length=file.stat().st_size, label=f"importing {file.name} ({layout})"
            ) as bar,
            _records(file, handle, records, parallel) as (items, position),
        ):
            report = _import_rpps(
                items, position, layout, file, bar, batch_size, max_deactivation, keep_missing
            )
    _summary(report)


@contextmanager
def _records(
    file: Path, handle: IO[bytes], records: Iterable[Any], parallel: bool
) -> Iterator[tuple[Iterable[Any], Callable[[], int]]]:
    """The records to import and how many bytes of the file were read so far."""
    if not parallel:
        yield records, handle.tell
        return
    with reader.rpps_records_in_background(file) as background:
        yield background, lambda: background.position


def _import_rpps(
    records: Iterable[Any],
    position: Callable[[], int],
    layout: str,
    file: Path,
    bar: Any,
    batch_size: int,
    max_deactivation: float,
    keep_missing: bool,
) -> sync.ImportReport:
    def progress(_lines: int) -> None:
        bar.update(position() - bar.pos)

    try:
        return sync.import_practitioners(
            records,
            layout=layout,
            file_name=str(file),
            batch_size=batch_size,
            progress=progress,
            max_deactivation_ratio=max_deactivation,
            deactivate_missing=not keep_missing,
        )
    except DomainError as error:
        raise click.ClickException(error.detail) from error
    except reader.ReaderFailed as error:
        raise click.ClickException(f"{file}: {error}") from error


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


@directory.command("replica")
def replica_command() -> None:
    """Build this node's copy of the professionals' search tables (PostgreSQL).

    The name search reads it while it is current; a node builds one on its own in the
    background when it sees the directory change. Run this at a node's start, or after an
    import, to have it at once.
    """
    from flask import current_app

    from core.db import db
    from planning.directory import replica

    settings = current_app.extensions["dcc"].settings
    if db.engine is None or db.engine.dialect.name != "postgresql":
        raise click.ClickException("the copy is for PostgreSQL: on SQLite the search is local")
    if settings.directory_replica_dir is None:
        raise click.ClickException("DCC_DIRECTORY_REPLICA_DIR is off: no copy to build")
    click.echo("copying the professionals' search tables...")
    report = replica.build(db.engine, settings.directory_replica_dir)
    if report.path is None:
        raise click.ClickException("another process of this node is building the copy")
    if not report.built:
        click.echo(f"up to date: {report.path}")
        return
    rows = ", ".join(f"{name} {count:,}" for name, count in report.rows.items())
    size = report.path.stat().st_size / 1e6
    click.echo(f"built in {report.seconds:.0f} s: {report.path} ({size:,.0f} MB; {rows})")
