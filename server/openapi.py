"""Print the OpenAPI document the code generates (``make openapi`` commits it)."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from flask import Flask


def spec_of(app: Flask) -> dict[str, Any]:
    """The OpenAPI document of an application (independent of its configuration)."""
    with app.app_context():
        api = app.extensions["flask-smorest"]["apis"][""]["ext_obj"]
        spec: dict[str, Any] = api.spec.to_dict()
    return spec


def generate() -> dict[str, Any]:
    from server.app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            env="testing",
            database_url="sqlite://",
            instance_dir=Path(tmp),
            signing_key_file=Path(tmp) / "key.pem",
            log_level="WARNING",
        )
        return spec_of(app)


def dumps(spec: dict[str, Any]) -> str:
    return json.dumps(spec, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(dumps(generate()))
