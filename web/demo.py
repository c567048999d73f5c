"""Demo identities and data of the web pages: a small Breton directory world and one RCP.

Get-or-create by RPPS / FINESS number, so that `dcc-services demo` may run twice and rows
loaded by the directory's own demo are reused.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import click
from sqlalchemy import select

from core.auth import Principal, Role
from core.db import db
from core.terminology.geo import region_of_department
from planning import services as planning
from planning.directory import demo as directory_demo
from planning.directory import nomenclature
from planning.directory import services as directory
from planning.directory.models import (
    Organization,
    Practitioner,
    PractitionerActivity,
)
from planning.directory.normalize import fold, name_key
from planning.models import Rcp

#: Identities come from the directory's demo (planning.directory.demo): the same RPPS and
#: FINESS numbers, names and specialties, whether or not its files were imported first.
_PEOPLE = {p["last_name"]: p for p in directory_demo.demo_physicians()}
_SITES = {row[0]: row for row in directory_demo.ESTABLISHMENTS}

BREST = "290000017"
RENNES = _PEOPLE["DE LA FONTAINE"]["finess"]
REGION_BRETAGNE = "53"
DEMO_ISSUER = "dcc-web-demo"

COORDINATOR = _PEOPLE["LE GALL-KERBRAT"]["rpps"]  # medical oncologist, CHRU Brest
PATHOLOGIST = _PEOPLE["QUÉMÉNEUR"]["rpps"]
RADIOLOGIST = _PEOPLE["L'HOSTIS"]["rpps"]
SURGEON = _PEOPLE["KERVELLA"]["rpps"]
RADIOTHERAPIST = _PEOPLE["TANGUY"]["rpps"]  # Centre Eugène Marquis
PHYSICIAN = _PEOPLE["DE LA FONTAINE"]["rpps"]  # medical oncologist, CHU Rennes: registers


@dataclass(frozen=True)
class DemoUser:
    """One identity offered by the demo sign-in page."""

    key: str
    label: str
    role: Role
    region: str | None = None
    finess: tuple[str, ...] = ()
    rpps: str | None = None

    def principal(self) -> Principal:
        return Principal(
            subject=f"demo-{self.key}",
            role=self.role,
            issuer=DEMO_ISSUER,
            region=self.region,
            finess=frozenset(self.finess),
            rpps=self.rpps,
        )


USERS = [
    DemoUser(
        "3c",
        "Secrétariat du 3C du Finistère (CHRU de Brest)",
        Role.COORDINATOR_3C,
        finess=(BREST,),
    ),
    DemoUser(
        "medecin",
        "Dr Anne-Sophie De La Fontaine, oncologue médicale (CHU de Rennes)",
        Role.PHYSICIAN,
        rpps=PHYSICIAN,
    ),
    DemoUser(
        "region",
        "Administrateur régional, Bretagne (DSRC)",
        Role.REGIONAL_ADMIN,
        region=REGION_BRETAGNE,
    ),
    DemoUser("national", "Administrateur national (INCa)", Role.NATIONAL_ADMIN),
]

DEMO_USERS = {user.key: user for user in USERS}
NATIONAL = DEMO_USERS["national"].principal()


def _organization(finess: str) -> Organization:
    found = directory.get_organization(finess=finess)
    if found is not None:
        return found
    _, name, long_name, street, postal_code, city, category, lat, lon = _SITES[finess]
    department = postal_code[:2]
    organization = Organization(
        finess=finess,
        kind="ET",
        name=name,
        long_name=long_name,
        name_key=fold(name),
        category_code=category,
        category_label=nomenclature.category_label(category),
        address=street,
        postal_code=postal_code,
        city=city.upper(),
        department=department,
        region=region_of_department(department),
        lat=lat,
        lon=lon,
        active=True,
        source="etalab",
        fingerprint="demo",
    )
    directory.add_organization(organization)
    return organization


def _practitioner(person: dict[str, str]) -> Practitioner:
    found = directory.get_practitioner(rpps=person["rpps"])
    if found is not None:
        return found
    organization = _organization(person["finess"])
    last, first = person["last_name"], person["first_name"]
    practitioner = Practitioner(
        rpps=person["rpps"],
        national_id="8" + person["rpps"],
        id_type="8",
        exercise_civility="DR",
        last_name=last,
        first_name=first,
        name_key=name_key(last, first),
        active=True,
        fingerprint="demo",
    )
    practitioner.activities.append(
        PractitionerActivity(
            activity_key=f"demo-{person['rpps']}",
            profession_code="10",
            profession_label="Médecin",
            specialty_code=person["specialty"],
            specialty_label=nomenclature.specialty_label(person["specialty"]),
            mode_exercice="S",
            finess_site=organization.finess,
            structure_name=organization.name,
            city=organization.city,
            department=organization.department,
            region=organization.region,
            active=True,
        )
    )
    directory.add_practitioner(practitioner)
    return practitioner


def load(today: dt.date | None = None) -> dict[str, int]:
    """The directory demo's physicians (created if missing) and one weekly digestive RCP of the
    CHRU de Brest, planned from two weeks ago to eight weeks ahead."""
    for person in _PEOPLE.values():
        _practitioner(person)
    db.session.flush()
    rcp = db.session.scalars(
        select(Rcp).where(Rcp.host_finess == BREST, Rcp.title == "RCP digestive CHU de Brest")
    ).first()
    today = today or dt.date.today()  # noqa: DTZ011 - a local calendar date is meant
    if rcp is None:
        rcp = planning.create_rcp(
            principal=NATIONAL,
            data={
                "title": "RCP digestive CHU de Brest",
                "kind_code": "MED-251",
                "level": "local",
                "host_finess": BREST,
                "three_c": "3C du Finistère",
                "coordinator_rpps": COORDINATOR,
                "substitute_rpps": RADIOTHERAPIST,
                "members": [
                    {"rpps": PATHOLOGIST},
                    {"rpps": RADIOLOGIST},
                    {"rpps": RADIOTHERAPIST},
                    {"rpps": SURGEON},
                ],
                "min_physicians": 3,
                "min_distinct_specialties": 3,
                "required_specialties": ["SM01"],
                "geriatrician_over_75": False,
                "room": "Salle de staff, bâtiment 2",
                "visio_url": "https://visio.example.org/rcp-digestif",
                "rrule": "FREQ=WEEKLY;BYDAY=TU",
                "recurrence_start": today - dt.timedelta(days=28),
                "start_time": dt.time(14, 0),
                "duration_minutes": 120,
                "exdates": [],
                "deadline_hours": 48,
                "capacity": 12,
                "open_to_external": True,
            },
        )
    generation = planning.generate_sessions(
        principal=NATIONAL,
        rcp_id=rcp.id,
        period_start=today - dt.timedelta(days=14),
        period_end=today + dt.timedelta(days=56),
    )
    return {"rcp": rcp.id, "sessions_created": len(generation.created)}


def demo_loader() -> None:
    """The `dcc-services demo` hook: one transaction."""
    with db.transaction():
        figures = load()
    click.echo(f"web demo: RCP {figures['rcp']}, {figures['sessions_created']} new session(s)")
