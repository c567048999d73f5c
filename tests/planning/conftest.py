"""Factories of planning rows: a small directory world, RCPs and their sessions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from core.auth import Principal, Role
from core.db import db
from planning import services
from planning.directory.models import Organization, Practitioner
from planning.models import Rcp, Session
from tests.planning.directory import conftest as directory_fixtures

# the directory's factories, shared with the planning tests
create_organization = directory_fixtures.create_organization
create_practitioner = directory_fixtures.create_practitioner

NATIONAL = Principal("national", Role.NATIONAL_ADMIN, "tests")

BREST = "290000017"
RENNES = "350005179"


@dataclass
class World:
    brest: Organization
    rennes: Organization
    coordinator: Practitioner  # medical oncologist at Brest
    pathologist: Practitioner
    radiologist: Practitioner
    radiotherapist: Practitioner
    geriatrician: Practitioner
    physician: Practitioner  # gastro-enterologist at Rennes, registers dossiers
    local_physician: Practitioner  # surgeon at Brest

    def coordinator_3c(self, finess: str = BREST) -> Principal:
        return Principal(f"3c-{finess}", Role.COORDINATOR_3C, "tests", finess=frozenset({finess}))

    def doctor(self, practitioner: Practitioner | None = None) -> Principal:
        rpps = (practitioner or self.physician).rpps
        return Principal(str(rpps), Role.PHYSICIAN, "tests", rpps=rpps)


@pytest.fixture
def world(create_organization, create_practitioner) -> World:
    brest = create_organization(
        finess=BREST,
        name="CHU DE BREST SITE MORVAN",
        department="29",
        address="2 AVENUE FOCH",
        postal_code="29200",
        city="BREST",
        lat=48.390,
        lon=-4.486,
    )
    rennes = create_organization(
        finess=RENNES,
        name="CHU DE RENNES PONTCHAILLOU",
        department="35",
        city="RENNES",
        lat=48.119,
        lon=-1.694,
    )

    def doctor(last: str, specialty: str, label: str, finess: str, department: str) -> Any:
        return create_practitioner(
            last_name=last,
            first_name="Anne",
            activities=[
                {
                    "specialty_code": specialty,
                    "specialty_label": label,
                    "finess_site": finess,
                    "department": department,
                    "email": f"{last.lower()}@example.org",
                }
            ],
        )

    return World(
        brest=brest,
        rennes=rennes,
        coordinator=doctor("KERBRAT", "SM36", "Oncologie option médicale", BREST, "29"),
        pathologist=doctor("LE GALL", "SM01", "Anatomie et cytologie pathologiques", BREST, "29"),
        radiologist=doctor("MORVAN", "SM44", "Radio-diagnostic", BREST, "29"),
        radiotherapist=doctor("TANGUY", "SM45", "Radio-thérapie", BREST, "29"),
        geriatrician=doctor("QUEMENER", "SM18", "Gériatrie", BREST, "29"),
        physician=doctor("LEROUX", "SM24", "Gastro-entérologie et hépatologie", RENNES, "35"),
        local_physician=doctor("CORRE", "SM14", "Chirurgie viscérale et digestive", BREST, "29"),
    )


@pytest.fixture
def rcp_data(world: World) -> Callable[..., dict[str, Any]]:
    """The body of a typical RCP: 2nd and 4th Tuesday, 14:00-16:00 Europe/Paris."""

    def data(**overrides: Any) -> dict[str, Any]:
        values: dict[str, Any] = {
            "title": "RCP digestive CHU de Brest",
            "kind_code": "MED-251",
            "level": "local",
            "host_finess": BREST,
            "three_c": "3C du Finistère",
            "coordinator_rpps": world.coordinator.rpps,
            "substitute_rpps": world.radiotherapist.rpps,
            "members": [
                {"rpps": world.pathologist.rpps},
                {"rpps": world.radiologist.rpps},
                {"rpps": world.radiotherapist.rpps},
            ],
            "min_physicians": 3,
            "min_distinct_specialties": 3,
            "required_specialties": ["SM01"],
            "geriatrician_over_75": False,
            "room": "Salle de staff, bâtiment 2",
            "visio_url": "https://visio.example.org/rcp-digestif",
            "rrule": "FREQ=MONTHLY;BYDAY=2TU,4TU",
            "recurrence_start": dt.date(2026, 1, 1),
            "start_time": dt.time(14, 0),
            "duration_minutes": 120,
            "exdates": [],
            "deadline_hours": 48,
            "capacity": 10,
            "open_to_external": True,
        }
        values.update(overrides)
        return values

    return data


@pytest.fixture
def create_rcp(rcp_data) -> Callable[..., Rcp]:
    """``create_rcp(**overrides)``: an RCP created through the service, as a national admin."""

    def create(**overrides: Any) -> Rcp:
        rcp = services.create_rcp(principal=NATIONAL, data=rcp_data(**overrides))
        db.session.commit()  # to the test's savepoint: a refused request's rollback keeps it
        return rcp

    return create


@pytest.fixture
def create_session(create_rcp) -> Callable[..., Session]:
    """``create_session(starts_at=..., rcp=...)``: an ad hoc session (default in 10 days)."""

    def create(*, rcp: Rcp | None = None, **overrides: Any) -> Session:
        rcp = rcp or create_rcp()
        starts_at = overrides.pop(
            "starts_at",
            (dt.datetime.now(dt.UTC) + dt.timedelta(days=10)).replace(
                minute=0, second=0, microsecond=0
            ),
        )
        session = services.add_session(
            principal=NATIONAL, data={"rcp_id": rcp.id, "starts_at": starts_at, **overrides}
        )
        db.session.commit()
        return session

    return create
