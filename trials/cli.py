"""``dcc-services trials``: import registry files, rebuild the index, demo data."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from core.db import db
from trials import services

DEMO_DATA = Path(__file__).resolve().parent / "demo_data"


@click.group("trials", cls=AppGroup)
def trials() -> None:
    """Clinical-trial registry: import, index."""


def _index_dir() -> Path:
    return Path(current_app.extensions["dcc"].settings.index_dir)


def run_import(paths: list[Path], *, echo: bool = True) -> services.ImportReport:
    """Import files (one transaction), then update the index once the data is committed."""
    files = services.importers.iter_files(paths)
    with click.progressbar(length=len(files), label="importing") as bar, db.transaction():
        report = services.import_files(paths=paths, progress=lambda _p: bar.update(1))
    indexed = services.refresh_index(registry_ids=report.changed, index_dir=_index_dir())
    if echo:
        click.echo(
            f"{report.files} files: {report.loaded} loaded, {report.updated} updated, "
            f"{report.unchanged} unchanged, {len(report.rejected)} rejected; "
            f"{indexed} index documents written"
        )
        for rejected in report.rejected:
            click.echo(f"  rejected {rejected['where']}: {rejected['reason']}", err=True)
    return report


@trials.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
def import_command(paths: tuple[Path, ...]) -> None:
    """Load ClinicalTrials.gov JSON (v2) / XML (legacy) and CTML (JSON/YAML) files or folders."""
    run_import(list(paths))


@trials.command("reindex")
@click.option("--procs", default=1, show_default=True, help="Writer processes")
def reindex_command(procs: int) -> None:
    """Rebuild the search index from the database (atomic swap; searches go on meanwhile)."""
    total = services.count_trials()
    with click.progressbar(length=total, label="indexing") as bar:
        count = services.rebuild_index(index_dir=_index_dir(), progress=bar.update, procs=procs)
    click.echo(f"{count} trials indexed")


def load_demo() -> None:
    """The real sample records shipped in ``trials/demo_data`` (idempotent)."""
    report = run_import([DEMO_DATA], echo=False)
    if not services.index_store(_index_dir()).exists():
        services.rebuild_index(index_dir=_index_dir())
    click.echo(
        f"  trials: {report.loaded} loaded, {report.updated} updated, {report.unchanged} unchanged"
    )
