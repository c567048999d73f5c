"""Fixtures of the web pages: the demo world, and a test client signed in as a demo user."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from core.auth import Principal
from core.db import utcnow
from planning import services as planning
from planning.models import Session
from web import auth, demo

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def demo_world() -> dict[str, int]:
    return demo.load()


@pytest.fixture
def open_sessions(demo_world: dict[str, int]) -> list[Session]:
    """Demo sessions still taking dossiers, soonest first."""
    sessions, _ = planning.list_sessions(
        filters=planning.SessionFilters(rcp_id=demo_world["rcp"], date_from=utcnow()), limit=50
    )
    return [s for s in sessions if s.registration_deadline > utcnow()]


class WebClient:
    """A browser-like client: signs in as a demo user and posts forms with their CSRF token."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def token(self, path: str = "/web/connexion") -> str:
        match = CSRF.search(self.client.get(path).get_data(as_text=True))
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    def sign_in(self, user: str) -> Any:
        return self.client.post(
            "/web/connexion/demo", data={"user": user, "csrf_token": self.token()}
        )

    def sign_in_as(self, principal: Principal, label: str) -> None:
        """Sign in as any identity (the demo offers one user per role): what the OIDC
        callback stores for a real one."""
        with self.client.session_transaction() as session:
            session[auth.SESSION_KEY] = auth.principal_to_session(principal, label)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, **kwargs)

    def post(self, path: str, data: dict[str, Any], *, page: str = "/web/calendrier") -> Any:
        return self.client.post(path, data={**data, "csrf_token": self.token(page)})


@pytest.fixture
def web_client(app: Flask) -> Callable[[str | None], WebClient]:
    """``web_client("3c")``: a fresh client signed in as that demo user (None: anonymous)."""

    def make(user: str | None = None) -> WebClient:
        client = WebClient(app.test_client())
        if user:
            assert client.sign_in(user).status_code == 302
        return client

    return make


# the trials tests' fixtures: demo trial records imported and indexed on demand
from tests.trials import conftest as trials_fixtures  # noqa: E402

demo_records = trials_fixtures.demo_records
index_dir = trials_fixtures.index_dir
load_demo = trials_fixtures.load_demo

from tests.guidelines import conftest as guidelines_fixtures  # noqa: E402

referential_data = guidelines_fixtures.referential_data
create_referential = guidelines_fixtures.create_referential
