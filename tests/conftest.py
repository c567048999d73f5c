"""Test fixtures: one migrated database per run, one rolled-back transaction per test.

The database is SQLite in a temporary directory, or the PostgreSQL named by DCC_DATABASE_URL
(its name must contain "test": it is wiped). Each test runs inside an outer transaction and the
application's session joins it with savepoints (SQLAlchemy 2 recipe "Joining a Session into an
External Transaction"), so code under test may commit freely and everything is rolled back.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from flask import Flask
from flask.testing import FlaskClient

from core.auth import claims_for, mint_token
from core.db import Base, db
from server.app import create_app
from server.dbcheck import reset_database
from server.migrations_state import alembic_config

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def pytest_report_header() -> str:
    return f"database: {_database_url_label()}"


def _database_url_label() -> str:
    url = os.environ.get("DCC_DATABASE_URL", "")
    return url.split("@")[-1] if url else "SQLite (temporary file)"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("DCC_DATABASE_URL") or (
        f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    )
    reset_database(url)
    command.upgrade(alembic_config(url), "head")
    return url


@pytest.fixture(scope="session")
def instance_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("instance")


@pytest.fixture(scope="session")
def app(database_url: str, instance_dir: Path) -> Flask:
    return create_app(
        env="testing",
        database_url=database_url,
        instance_dir=instance_dir,
        index_dir=instance_dir / "index",
        signing_key_file=instance_dir / "signing-key.pem",
        log_format="text",
        log_level="WARNING",
        # the tests that want the node's copy of the directory say so (test_replica.py)
        directory_replica_dir=None,
    )


@pytest.fixture(scope="session")
def is_postgresql(database_url: str) -> bool:
    return database_url.startswith("postgresql")


@pytest.fixture(autouse=True)
def db_session(request: pytest.FixtureRequest, app: Flask) -> Iterator[Any]:
    if "committed_db" in request.fixturenames:
        yield db.session
        return
    assert db.engine is not None
    connection = db.engine.connect()
    transaction = connection.begin()
    db.session.remove()
    db.session_factory.configure(bind=connection, join_transaction_mode="create_savepoint")
    try:
        with app.app_context():
            yield db.session
    finally:
        db.session.remove()
        transaction.rollback()
        connection.close()
        db.session_factory.configure(bind=db.engine, join_transaction_mode="conditional_savepoint")


@pytest.fixture
def committed_db(app: Flask) -> Iterator[Any]:
    """Real commits on real connections (concurrency tests); every table is emptied after."""
    assert db.engine is not None
    db.session.remove()
    try:
        with app.app_context():
            yield db.session
    finally:
        db.session.remove()
        with db.engine.begin() as conn:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def token_for(app: Flask) -> Callable[..., str]:
    """Mint a real signed token: ``token_for(role="physician", rpps="10001234567")``."""
    platform = app.extensions["dcc"]

    def mint(*, role: str, subject: str | None = None, ttl: int = 600, **perimeter: Any) -> str:
        subject = subject or perimeter.get("rpps") or role
        return mint_token(
            platform.signing_key,
            issuer=platform.settings.issuer,
            audience=platform.settings.audience,
            ttl=ttl,
            client_id="tests",
            extra=claims_for(role=role, subject=subject, **perimeter),
        )

    return mint


@pytest.fixture
def auth_header(token_for: Callable[..., str]) -> Callable[..., dict[str, str]]:
    """``auth_header(role="coordinator_3c", finess=["290000017"])`` -> Authorization header."""

    def header(**kwargs: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {token_for(**kwargs)}"}

    return header


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("DCC_DATABASE_URL", "").startswith("postgresql"):
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DCC_DATABASE_URL)")
    for item in items:
        if "postgresql_only" in item.keywords:
            item.add_marker(skip)
