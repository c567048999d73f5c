"""Every operation x every caller of tests/authz_matrix.py, with real signed tokens.

allowed -> neither 401 nor 403 (nor 5xx); denied -> 403 problem+json; hidden -> 404; no token
-> 401 on every secured operation. The matrix must name exactly the operations of the
application and agree with the roles its ``blp.auth`` decorators document (``x-dcc-roles``).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from core.auth import Principal, Role
from core.db import db
from planning import services as planning_services
from planning.models import Notification, Registration, Session
from server.openapi import spec_of
from tests.authz_matrix import CALLERS, MATRIX
from tests.guidelines import conftest as guidelines_fixtures
from tests.planning import conftest as planning_fixtures
from tests.planning.conftest import BREST, RENNES

# the domains' factory fixtures, used across domains here
create_organization = planning_fixtures.create_organization
create_practitioner = planning_fixtures.create_practitioner
world = planning_fixtures.world
rcp_data = planning_fixtures.rcp_data
create_rcp = planning_fixtures.create_rcp
create_session = planning_fixtures.create_session
referential_data = guidelines_fixtures.referential_data
create_referential = guidelines_fixtures.create_referential
demo_document = guidelines_fixtures.demo_document

COMMITTED = Path(__file__).resolve().parent.parent / "openapi" / "openapi.json"
METHODS = ("get", "post", "put", "patch", "delete")
NATIONAL = Principal("national", Role.NATIONAL_ADMIN, "tests")

DOSSIER = {
    "patient_ref": "DXC-AUTHZ1",
    "tumour_code": "C20",
    "question": "Radiochimiothérapie néoadjuvante ?",
    "phase": "initial",
}
FICHE = {
    "age": 64,
    "sex": "female",
    "performance_status": 1,
    "diagnosis": {"oncotree_code": "LUAD", "cim10": "C34.1", "text": "lung adenocarcinoma"},
    "biomarkers": [{"name": "EGFR", "alteration": "exon 19 deletion"}],
}


def _operations(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        f"{method.upper()} {path}": operation
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if method in METHODS
    }


@functools.cache
def _committed_operations() -> dict[str, dict[str, Any]]:
    return _operations(json.loads(COMMITTED.read_text()))


# --- the table agrees with the application -----------------------------------------------------


def test_every_operation_of_the_application_has_a_row(app: Flask) -> None:
    live = set(_operations(spec_of(app)))
    assert sorted(live - set(MATRIX)) == [], "operations without a row in tests/authz_matrix.py"
    assert sorted(set(MATRIX) - live) == [], "rows naming operations the app no longer has"
    assert live == set(_committed_operations()), "openapi/openapi.json is stale: make openapi"


#: Routes that are not API operations: files, the OpenAPI document and its viewer, the root
#: redirect; the web pages (``web.*``) use the session cookie and have their own tests.
NOT_API = {"static", "swagger_asset", "_root"}


def test_every_api_route_is_documented(app: Flask) -> None:
    """A route outside OpenAPI would escape the matrix (web pages and static files apart)."""
    documented = {
        (method, path.replace("{", "<").replace("}", ">"))
        for method, path in (key.split(" ", 1) for key in _committed_operations())
    }
    undocumented = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in NOT_API or rule.endpoint.startswith(("web.", "api-docs.")):
            continue
        path = rule.rule
        path = re.sub(r"<[^:>]+:", "<", path)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if (method, path) not in documented:
                undocumented.append(f"{method} {rule.rule}")
    assert undocumented == []


@pytest.mark.parametrize("operation", sorted(MATRIX))
def test_rows_agree_with_the_documented_roles(operation: str) -> None:
    spec = _committed_operations()[operation]
    row = MATRIX[operation]
    public = spec.get("security") == []
    assert row.public == public, "public in the table iff documented without security"
    if public:
        return
    documented = set(spec["x-dcc-roles"])
    for caller in CALLERS:
        role = _role_of(caller)
        if role is not None and role not in documented:
            assert row.expected(caller) == "denied", f"{caller}: role {role} not documented"
    allowed_roles = {_role_of(c) for c in row.allowed}
    assert allowed_roles <= documented


def _role_of(caller: str) -> str | None:
    return {
        "national": "national_admin",
        "regional": "regional_admin",
        "3c": "coordinator_3c",
        "physician": "physician",
        "software": "rcp_software",
    }.get(caller.split("_")[0])


# --- the objects the operations act on ----------------------------------------------------------


class Scene:
    """The objects, built on demand: RCP of BREST (region 53), its session, P's registration..."""

    def __init__(self, *, client, world, create_rcp, create_session, create_referential, tokens):
        self.client, self.world, self.tokens = client, world, tokens
        self._create_rcp, self._create_session = create_rcp, create_session
        self._create_referential = create_referential

    @functools.cached_property
    def rcp(self):
        return self._create_rcp()

    @functools.cached_property
    def session(self) -> Session:
        return self._create_session(rcp=self.rcp)

    @functools.cached_property
    def other_session(self) -> Session:
        starts = self.session.starts_at + dt.timedelta(days=7)
        return self._create_session(rcp=self.rcp, starts_at=starts)

    def _register(self, patient_ref: str) -> Registration:
        principal = Principal(
            self.world.physician.rpps, Role.PHYSICIAN, "tests", rpps=self.world.physician.rpps
        )
        registration = planning_services.register_dossier(
            principal=principal,
            session_id=self.session.id,
            data={**DOSSIER, "patient_ref": patient_ref},
        )
        db.session.commit()
        return registration

    @functools.cached_property
    def registration(self) -> Registration:
        return self._register("DXC-AUTHZ2")

    @functools.cached_property
    def notification(self) -> Notification:
        registration = self._register("DXC-AUTHZ3")
        planning_services.decide_registration(
            principal=NATIONAL,
            registration_id=registration.id,
            decision="deferred",
            target_session_id=self.other_session.id,
            reason="bilan",
        )
        db.session.commit()
        return db.session.scalars(
            select(Notification).where(Notification.registration_id == registration.id)
        ).first()

    def _created(self, path: str, caller: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.client.post(path, json=body, headers=self.tokens(caller))
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    @functools.cached_property
    def feed(self) -> dict[str, Any]:
        return self._created(
            "/planning/feeds", "physician_own", {"scope": "rcp", "rcp_id": self.rcp.id}
        )

    @functools.cached_property
    def webhook(self) -> dict[str, Any]:
        return self._created("/planning/webhooks", "software_own", {"url": "https://s.example/h"})

    def referential(self, status: str = "active"):
        return self._create_referential("bretagne-sein", status=status)

    @functools.cached_property
    def second_version(self):
        """An active version superseding another (what a diff compares)."""
        self.referential()
        return self._create_referential("bretagne-sein", status="active", version="2026.9")

    @functools.cached_property
    def past_session(self) -> Session:
        starts = dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)
        return self._create_session(rcp=self.rcp, starts_at=starts)

    @functools.cached_property
    def trial_id(self) -> str:
        from trials import importers
        from trials import services as trial_services
        from trials.cli import DEMO_DATA

        records = [
            r
            for path in importers.iter_files([DEMO_DATA])
            for r in importers.parse_file(path).records
        ]
        trial_services.import_records(records[:3], report=trial_services.ImportReport())
        db.session.commit()
        index_dir = Path(self.client.application.extensions["dcc"].settings.index_dir)
        trial_services.rebuild_index(index_dir=index_dir)
        return records[0].registry_id


def _period(days: int = 60) -> dict[str, str]:
    today = dt.date.today()
    return {"from": today.isoformat(), "to": (today + dt.timedelta(days=days)).isoformat()}


def _rcp_body(scene: Scene) -> dict[str, Any]:
    w = scene.world
    return {
        "title": "RCP thoracique CHU de Brest",
        "kind_code": "MED-251",
        "level": "local",
        "host_finess": BREST,
        "coordinator_rpps": w.coordinator.rpps,
        "members": [{"rpps": w.pathologist.rpps}, {"rpps": w.radiologist.rpps}],
        "start_time": "14:00:00",
        "duration_minutes": 120,
        "deadline_hours": 48,
        "capacity": 10,
    }


def _new_referential_body(version: str = "2027.1") -> dict[str, Any]:
    return demo_document("bretagne-sein")["referential"] | {"key": "authz-bzh-sein"}


def _cds_call() -> dict[str, Any]:
    return {
        "hook": "patient-view",
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": {"fiche": FICHE, "region": "53", "patientId": "ignored"},
    }


#: How each operation is called: path, and json body, form data or query string.
Request = Callable[[Scene], dict[str, Any]]
REQUESTS: dict[str, Request] = {
    "GET /.well-known/jwks.json": lambda s: {},
    "GET /.well-known/oauth-authorization-server": lambda s: {},
    "POST /oauth/token": lambda s: {"oauth_client": True},
    "GET /health/live": lambda s: {},
    "GET /health/ready": lambda s: {},
    "GET /version": lambda s: {},
    "GET /audit/events": lambda s: {},
    "GET /directory/organizations": lambda s: {"query": {"name": "brest"}},
    "GET /directory/organizations/{finess}": lambda s: {"finess": s.world.brest.finess},
    "GET /directory/practitioners": lambda s: {"query": {"name": "kerbrat"}},
    "GET /directory/practitioners/{rpps}": lambda s: {"rpps": s.world.physician.rpps},
    "GET /fhir/Organization": lambda s: {"query": {"name": "brest"}},
    "GET /fhir/Organization/{finess}": lambda s: {"finess": s.world.brest.finess},
    "GET /fhir/Practitioner": lambda s: {"query": {"name": "kerbrat"}},
    "GET /fhir/Practitioner/{resource_id}": lambda s: {"resource_id": s.world.physician.rpps},
    "GET /fhir/PractitionerRole": lambda s: {"query": {"practitioner": s.world.physician.rpps}},
    "GET /planning/kinds": lambda s: {},
    "GET /planning/rcps": lambda s: {},
    "POST /planning/rcps": lambda s: {"json": _rcp_body(s)},
    "GET /planning/rcps/{rcp_id}": lambda s: {"rcp_id": s.rcp.id},
    "PATCH /planning/rcps/{rcp_id}": lambda s: {"rcp_id": s.rcp.id, "json": {"room": "Salle 4"}},
    "POST /planning/rcps/{rcp_id}/sessions/generate": lambda s: {
        "rcp_id": s.rcp.id,
        "json": _period(),
    },
    "GET /planning/sessions": lambda s: {},
    "POST /planning/sessions": lambda s: {
        "json": {
            "rcp_id": s.rcp.id,
            "starts_at": (dt.datetime.now(dt.UTC) + dt.timedelta(days=20))
            .replace(minute=0, second=0, microsecond=0)
            .isoformat(),
        }
    },
    "GET /planning/sessions/next": lambda s: {
        "touch": s.session,
        "query": {"kind": s.rcp.kind_code, "department": "29"},
    },
    "GET /planning/sessions/{session_id}": lambda s: {"session_id": s.session.id},
    "PATCH /planning/sessions/{session_id}": lambda s: {
        "session_id": s.session.id,
        "json": {"capacity": 12},
    },
    "GET /planning/sessions/{session_id}.ics": lambda s: {"session_id": s.session.id},
    "PUT /planning/sessions/{session_id}/attendance": lambda s: {
        "session_id": s.past_session.id,
        "json": {"items": [{"rpps": s.world.coordinator.rpps, "attendance": "present"}]},
    },
    "POST /planning/sessions/{session_id}/cancel": lambda s: {
        "session_id": s.session.id,
        "json": {"reason": "grève"},
    },
    "PUT /planning/sessions/{session_id}/participants": lambda s: {
        "session_id": s.session.id,
        "json": {"participants": [{"rpps": s.world.coordinator.rpps}]},
    },
    "GET /planning/registrations": lambda s: {"touch": s.registration},
    "GET /planning/sessions/{session_id}/registrations": lambda s: {
        "session_id": s.registration.session_id
    },
    "POST /planning/sessions/{session_id}/registrations": lambda s: {
        "session_id": s.session.id,
        "json": DOSSIER,
    },
    "GET /planning/registrations/{registration_id}": lambda s: {
        "registration_id": s.registration.id
    },
    "POST /planning/registrations/{registration_id}/decision": lambda s: {
        "registration_id": s.registration.id,
        "json": {"decision": "accepted"},
    },
    "POST /planning/registrations/{registration_id}/withdraw": lambda s: {
        "registration_id": s.registration.id
    },
    "GET /planning/notifications": lambda s: {"touch": s.notification},
    "POST /planning/notifications/{notification_id}/read": lambda s: {
        "notification_id": s.notification.id
    },
    "GET /planning/webhooks": lambda s: {"touch": s.webhook},
    "POST /planning/webhooks": lambda s: {"json": {"url": "https://x.example/h"}},
    "DELETE /planning/webhooks/{webhook_id}": lambda s: {"webhook_id": s.webhook["id"]},
    "GET /planning/webhooks/{webhook_id}/deliveries": lambda s: {"webhook_id": s.webhook["id"]},
    "GET /planning/feeds": lambda s: {"touch": s.feed},
    "POST /planning/feeds": lambda s: {"json": {"scope": "rcp", "rcp_id": s.rcp.id}},
    "GET /planning/feeds/sessions.ics": lambda s: {"query": {"region": "53"}},
    "GET /planning/feeds/{scope}/{value}.ics": lambda s: {"scope": "rcp", "value": s.rcp.id},
    "DELETE /planning/feeds/{feed_id}": lambda s: {"feed_id": s.feed["id"]},
    "GET /feeds/{token}.ics": lambda s: {"token": s.feed["url"].rsplit("/", 1)[1][:-4]},
    "GET /trials": lambda s: {"touch": s.trial_id, "query": {"q": "cancer"}},
    "POST /trials/search": lambda s: {"touch": s.trial_id, "json": {"fiche": FICHE}},
    "GET /trials/{trial_id}": lambda s: {"trial_id": s.trial_id},
    "POST /guidelines/evaluate": lambda s: {"touch": s.referential(), "json": {"fiche": FICHE}},
    "GET /guidelines/referentials": lambda s: {"touch": s.referential()},
    "POST /guidelines/referentials": lambda s: {"json": _new_referential_body()},
    "POST /guidelines/referentials/import": lambda s: {
        "json": demo_document("bretagne-sein") | {"referential": _new_referential_body()}
    },
    "GET /guidelines/referentials/{referential_id}": lambda s: {
        "referential_id": s.referential().id
    },
    "PATCH /guidelines/referentials/{referential_id}": lambda s: {
        "referential_id": s.referential("draft").id,
        "json": {"summary": "changé"},
    },
    "POST /guidelines/referentials/{referential_id}/approve": lambda s: {
        "referential_id": s.referential("in_review").id
    },
    "GET /guidelines/referentials/{referential_id}/diff": lambda s: {
        "referential_id": s.second_version.id
    },
    "POST /guidelines/referentials/{referential_id}/drafts": lambda s: {
        "referential_id": s.referential().id,
        "json": {"version": "2027.1"},
    },
    "GET /guidelines/referentials/{referential_id}/export": lambda s: {
        "referential_id": s.referential().id
    },
    "GET /guidelines/referentials/{referential_id}/fhir": lambda s: {
        "referential_id": s.referential().id
    },
    "POST /guidelines/referentials/{referential_id}/retire": lambda s: {
        "referential_id": s.referential().id
    },
    "POST /guidelines/referentials/{referential_id}/submit": lambda s: {
        "referential_id": s.referential("draft").id
    },
    "GET /guidelines/referentials/{referential_id}/versions": lambda s: {
        "referential_id": s.referential().id
    },
    "GET /cds-services": lambda s: {},
    "POST /cds-services/{service_id}": lambda s: {
        "touch": s.referential(),
        "service_id": "dcc-guidelines-v1",
        "json": _cds_call(),
    },
    "POST /cds-services/{service_id}/feedback": lambda s: {
        "service_id": "dcc-guidelines-v1",
        "json": {
            "feedback": [
                {
                    "card": "0b6f8a3e-4f1c-4a57-9e4e-2f9d2b8c1a11",
                    "outcome": "accepted",
                    "outcomeTimestamp": "2026-11-20T10:00:00Z",
                }
            ]
        },
    },
}


@pytest.fixture
def tokens(token_for, world) -> Callable[[str], dict[str, str]]:
    p, q = world.physician.rpps, world.local_physician.rpps
    claims: dict[str, dict[str, Any] | None] = {
        "anonymous": None,
        "national": {"role": "national_admin"},
        "regional_own": {"role": "regional_admin", "region": "53", "subject": "admin-53"},
        "regional_other": {"role": "regional_admin", "region": "11", "subject": "admin-11"},
        "3c_own": {"role": "coordinator_3c", "finess": [BREST], "subject": "3c-brest"},
        "3c_other": {"role": "coordinator_3c", "finess": [RENNES], "subject": "3c-rennes"},
        "physician_own": {"role": "physician", "rpps": p},
        "physician_other": {"role": "physician", "rpps": q},
        "software_own": {
            "role": "rcp_software",
            "finess": [BREST],
            "subject": "software-s",
            "on_behalf_of": p,
        },
        "software_other": {
            "role": "rcp_software",
            "region": "11",
            "subject": "software-t",
            "on_behalf_of": q,
        },
    }
    assert set(claims) == set(CALLERS)

    def headers(caller: str) -> dict[str, str]:
        kwargs = claims[caller]
        return {} if kwargs is None else {"Authorization": f"Bearer {token_for(**kwargs)}"}

    return headers


def test_every_row_has_a_request() -> None:
    assert set(REQUESTS) == set(MATRIX)


@pytest.mark.parametrize("caller", sorted(CALLERS))
@pytest.mark.parametrize("operation", sorted(MATRIX))
def test_authorisation(
    operation: str,
    caller: str,
    client: FlaskClient,
    world,
    create_rcp,
    create_session,
    create_referential,
    tokens,
) -> None:
    expected = MATRIX[operation].expected(caller)
    scene = Scene(
        client=client,
        world=world,
        create_rcp=create_rcp,
        create_session=create_session,
        create_referential=create_referential,
        tokens=tokens,
    )
    spec = dict(REQUESTS[operation](scene))
    spec.pop("touch", None)
    method, template = operation.split(" ", 1)
    kwargs: dict[str, Any] = {"headers": tokens(caller)}
    if spec.pop("oauth_client", False):
        kwargs["data"] = _client_credentials()
    if "json" in spec:
        kwargs["json"] = spec.pop("json")
    if "query" in spec:
        kwargs["query_string"] = spec.pop("query")
    path = template.format(**spec)
    response = client.open(path, method=method, **kwargs)
    status = response.status_code
    detail = f"{operation} as {caller}: {status} {response.get_data(as_text=True)[:300]}"
    if expected == "allowed":
        # every request is built to succeed: an allowed caller gets a 2xx (or a redirect)
        assert status < 400, detail
    elif expected == "unauthenticated":
        assert status == 401, detail
        assert response.mimetype == "application/problem+json"
    elif expected == "denied":
        assert status == 403, detail
        assert response.mimetype == "application/problem+json"
    else:
        assert status == 404, detail


def _client_credentials() -> dict[str, str]:
    from core import oauth

    created = oauth.create_client(name="Matrix client", region="53")
    db.session.commit()
    return {
        "grant_type": "client_credentials",
        "client_id": created.client.client_id,
        "client_secret": created.secret,
    }
