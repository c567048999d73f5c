import json

from sqlalchemy import func, select

from core.db import db
from guidelines.models import Referential


def test_demo_loader_is_idempotent_and_indexes(app):
    from guidelines.cli import guidelines, load_demo

    with app.app_context():
        first = app.test_cli_runner().invoke(guidelines, ["reindex"])
        assert first.exit_code == 0, first.output
        assert "0 versions indexed" in first.output
        load_demo()
        load_demo()
        rows = db.session.scalars(select(Referential)).all()
        assert len(rows) == 6
        assert {r.status for r in rows} == {"active"}
        assert all("ne pas utiliser en clinique" in r.title for r in rows)
        assert all(r.approved_by != r.created_by for r in rows)
        assert app.extensions["guidelines_index"].search("bronchique")


def test_export_then_import_files(app, tmp_path, create_referential):
    from guidelines.cli import guidelines

    with app.app_context():
        create_referential()
        runner = app.test_cli_runner()
        exported = runner.invoke(guidelines, ["export", str(tmp_path)])
        assert exported.exit_code == 0, exported.output
        (path,) = tmp_path.glob("*.json")
        document = json.loads(path.read_text())
        document["referential"]["version"] = "2026.1"
        path.write_text(json.dumps(document))
        imported = runner.invoke(guidelines, ["import", str(path)])
        assert imported.exit_code == 0, imported.output
        assert "1 draft versions imported" in imported.output
        assert db.session.scalar(select(func.count()).select_from(Referential)) == 2
        again = runner.invoke(guidelines, ["import", str(path)])
        assert again.exit_code != 0 and "already has a version" in again.output
