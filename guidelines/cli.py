"""The ``dcc-services guidelines`` commands: import, export, reindex, and the demo loader."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import marshmallow as ma
from flask import current_app
from sqlalchemy import func, select

from core.auth import Principal, Role
from core.db import db
from core.errors import DomainError
from guidelines import services
from guidelines.index import GuidelineIndex
from guidelines.models import Referential
from guidelines.schemas import ImportSchema

DEMO_DIR = Path(__file__).resolve().parent / "demo_data"
#: The CLI acts as the national administration; demo versions need an author and a validator.
CLI_AUTHOR = Principal(subject="cli:guidelines", role=Role.NATIONAL_ADMIN, issuer="local")
DEMO_VALIDATOR = Principal(subject="cli:demo-validator", role=Role.NATIONAL_ADMIN, issuer="local")


@click.group("guidelines")
def guidelines() -> None:
    """Guideline referentials: import, export and search index."""


def _index() -> GuidelineIndex:
    return GuidelineIndex(current_app.extensions["dcc"].settings.index_dir / "guidelines")


def _read(path: Path) -> dict[str, Any]:
    try:
        document: dict[str, Any] = ImportSchema().load(json.loads(path.read_text()))
    except (ValueError, ma.ValidationError) as error:
        raise click.ClickException(f"{path}: {error}") from error
    return document


@guidelines.command("import")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_files(files: tuple[Path, ...]) -> None:
    """Import exported referential versions (one JSON file each) as drafts."""
    created = 0
    with click.progressbar(files, label="importing") as bar:
        for path in bar:
            try:
                with db.transaction():
                    services.import_referential(principal=CLI_AUTHOR, document=_read(path))
            except DomainError as error:
                raise click.ClickException(f"{path}: {error.detail}") from error
            created += 1
    reindex_all()
    click.echo(f"{created} draft versions imported")


@guidelines.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def export_all(directory: Path) -> None:
    """Write every version to DIRECTORY, one JSON file per version."""
    directory.mkdir(parents=True, exist_ok=True)
    ids = list(db.session.scalars(select(Referential.id).order_by(Referential.id)))
    with click.progressbar(ids, label="exporting") as bar:
        for referential_id in bar:
            document = services.export_referential(
                principal=CLI_AUTHOR, referential_id=referential_id
            )
            content = document["referential"]
            target = directory / f"{content['key']}-{content['version']}.json"
            target.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n")
    click.echo(f"{len(ids)} versions exported to {directory}")


@guidelines.command("reindex")
def reindex() -> None:
    """Rebuild the full-text index of referentials from the database."""
    count = reindex_all(progress=True)
    click.echo(f"{count} versions indexed")


def reindex_all(*, progress: bool = False) -> int:
    if not progress:
        return services.rebuild_index(_index())
    total = db.session.scalar(select(func.count(Referential.id))) or 0
    with click.progressbar(length=total, label="indexing") as bar:
        return services.rebuild_index(_index(), progress=bar.update)


def load_demo() -> None:
    """Load the demo referentials as active versions (idempotent)."""
    loaded = 0
    for path in sorted(DEMO_DIR.glob("*.json")):
        document = _read(path)
        content = document["referential"]
        exists = db.session.scalar(
            select(Referential.id).where(
                Referential.key == content["key"], Referential.version == content["version"]
            )
        )
        if exists:
            continue
        with db.transaction():
            referential = services.import_referential(principal=CLI_AUTHOR, document=document)
            services.submit_referential(principal=CLI_AUTHOR, referential_id=referential.id)
            services.approve_referential(principal=DEMO_VALIDATOR, referential_id=referential.id)
        loaded += 1
    count = reindex_all()
    click.echo(f"guidelines: {loaded} demo referentials loaded, {count} versions indexed")
