"""The demo year of RCP planning: RCPs of many kinds, sessions, registrations in every status.

Uses the establishments and professionals of the demo directory when it is loaded; otherwise
adds a few synthetic ones (RPPS ``1990…``, FINESS ``99…``), so the planning demo always runs.
Idempotent: RCPs are found again by title, generation creates no duplicates, and sessions that
already hold registrations get no more.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import func, select

from core.auth import Principal, Role
from core.db import db, utcnow
from core.terminology.geo import region_of_department
from planning import kinds, services
from planning.directory import services as directory
from planning.directory.models import (
    Organization,
    Practitioner,
    PractitionerActivity,
)
from planning.directory.normalize import fold, name_key
from planning.models import Rcp, Registration, Session

SYSTEM = Principal("demo", Role.NATIONAL_ADMIN, "local")

#: Kinds a typical establishment runs, with the specialties each RCP requires.
PROGRAMME: list[tuple[str, str, list[str]]] = [
    ("MED-251", "RCP digestive", ["SM01"]),
    ("76752008", "RCP sénologie", ["SM01"]),
    ("MED-255", "RCP thoracique", ["SM44"]),
    ("122489005", "RCP uro-oncologie", []),
    ("53065001", "RCP gynécologie", []),
    ("119253004", "RCP ORL / VADS", []),
    ("57171008", "RCP onco-hématologie", []),
    ("39937001", "RCP dermato-oncologie", []),
    ("POP-GER", "RCP oncogériatrie", ["SM18"]),
    ("POP-MOL", "RCP moléculaire", []),
]
RULES = [
    "FREQ=WEEKLY;BYDAY=TU",
    "FREQ=MONTHLY;BYDAY=2TU,4TU",
    "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH",
    "FREQ=MONTHLY;BYDAY=1MO,3MO",
    "FREQ=WEEKLY;BYDAY=FR",
]
QUESTIONS = [
    "Indication d'une chimiothérapie adjuvante ?",
    "Place de la chirurgie après traitement néoadjuvant ?",
    "Radiothérapie de consolidation ?",
    "Discussion d'un essai thérapeutique.",
    "Stratégie thérapeutique à la rechute.",
]
TUMOURS = ["C18.7", "C20", "C50.9", "C34.1", "C61", "C53.9", "C32.0", "C83.3", "C43.5", "C25.0"]

#: Synthetic fallback when no directory is loaded: (finess, name, department, lat, lon).
FALLBACK_SITES = [
    ("990000011", "CH DEMO BREST", "29", 48.390, -4.486),
    ("990000029", "CHU DEMO RENNES", "35", 48.120, -1.694),
    ("990000037", "CLCC DEMO NANTES", "44", 47.237, -1.637),
    ("990000045", "CHU DEMO TOULOUSE", "31", 43.556, 1.427),
    ("990000052", "CLCC DEMO VILLEJUIF", "94", 48.794, 2.350),
]
FALLBACK_SPECIALTIES = ["SM36", "SM01", "SM44", "SM45", "SM14", "SM18", "SM28", "SM24"]


def load(
    *,
    progress: Callable[[int], None] | None = None,
    days_before: int = 90,
    days_after: int = 275,
) -> dict[str, int]:
    """Plan the demo year; returns what it created (run inside a transaction)."""
    rng = random.Random(2026)  # noqa: S311 - demo data
    sites = _sites_with_teams()
    if len(sites) < 3:
        _fallback_directory()
        sites = _sites_with_teams()
    today = utcnow().date()
    period = (today - dt.timedelta(days=days_before), today + dt.timedelta(days=days_after))
    counts = {"rcps": 0, "sessions": 0, "registrations": 0}
    for finess, team in sorted(sites.items()):
        for kind_code, title, required in PROGRAMME[: 3 + len(team) % 5]:
            rcp = _rcp(finess, team, kind_code, title, required, rng, period[0])
            if rcp is None:
                continue
            counts["rcps"] += 1
            generated = services.generate_sessions(
                principal=SYSTEM, rcp_id=rcp.id, period_start=period[0], period_end=period[1]
            )
            counts["sessions"] += len(generated.created)
            counts["registrations"] += _registrations(rcp, sites, rng)
            if progress:
                progress(1)
    return counts


def _sites_with_teams() -> dict[str, list[tuple[str, str]]]:
    """FINESS -> [(RPPS, specialty)] of active physicians with a specialty working there."""
    rows = db.session.execute(
        select(
            PractitionerActivity.finess_site, Practitioner.rpps, PractitionerActivity.specialty_code
        )
        .join(Practitioner, Practitioner.id == PractitionerActivity.practitioner_id)
        .join(Organization, Organization.finess == PractitionerActivity.finess_site)
        .where(
            Practitioner.active.is_(True),
            Practitioner.rpps.is_not(None),
            PractitionerActivity.active.is_(True),
            PractitionerActivity.specialty_code.like("SM%"),
            Organization.active.is_(True),
        )
    )
    teams: dict[str, dict[str, str]] = defaultdict(dict)
    for finess, rpps, specialty in rows:
        teams[finess].setdefault(rpps, specialty)
    return {
        finess: sorted(team.items())
        for finess, team in teams.items()
        if len({s for _, s in team.items()}) >= 3
    }


def _rcp(
    finess: str,
    team: list[tuple[str, str]],
    kind_code: str,
    title: str,
    required: list[str],
    rng: random.Random,
    start: dt.date,
) -> Rcp | None:
    host = db.session.scalar(select(Organization).where(Organization.finess == finess))
    if host is None or kinds.get(kind_code) is None:
        return None
    full_title = f"{title} – {host.name.title()}"
    existing = db.session.scalar(select(Rcp).where(Rcp.title == full_title))
    if existing is not None:
        return existing
    specialties = {s for _, s in team}
    coordinator = team[rng.randrange(len(team))]
    members = [{"rpps": rpps, "specialty_code": s} for rpps, s in team if rpps != coordinator[0]]
    substitute = members[0]["rpps"] if members else None
    data: dict[str, Any] = {
        "title": full_title,
        "kind_code": kind_code,
        "level": "regional" if host.category_code in ("101", "131") else "local",
        "host_finess": finess,
        "three_c": f"3C {host.city or host.name}".strip(),
        "coordinator_rpps": coordinator[0],
        "substitute_rpps": substitute,
        "members": members[:8],
        "min_physicians": 3,
        "min_distinct_specialties": 3,
        "required_specialties": [s for s in required if s in specialties],
        "geriatrician_over_75": kind_code == "POP-GER" or "SM18" in specialties,
        "room": f"Salle de staff {rng.randint(1, 6)}",
        "visio_url": f"https://visio.demo.dcc.example/{finess}-{kind_code.lower()}"
        if rng.random() < 0.7
        else None,
        "rrule": rng.choice(RULES),
        "recurrence_start": start,
        "start_time": dt.time(rng.choice([8, 12, 13, 14, 17]), rng.choice([0, 30])),
        "duration_minutes": rng.choice([60, 90, 120]),
        "exdates": [],
        "deadline_hours": rng.choice([24, 48, 72]),
        "capacity": rng.choice([8, 12, 15, 20]),
        "open_to_external": rng.random() < 0.8,
    }
    return services.create_rcp(principal=SYSTEM, data=data)


def _registrations(rcp: Rcp, sites: dict[str, list[tuple[str, str]]], rng: random.Random) -> int:
    """A few dossiers per session around today, then decisions in every status."""
    now = utcnow()
    sessions = db.session.scalars(
        select(Session)
        .where(
            Session.rcp_id == rcp.id,
            Session.status == "scheduled",
            Session.starts_at.between(now - dt.timedelta(days=60), now + dt.timedelta(days=45)),
        )
        .order_by(Session.starts_at)
    ).all()
    if not sessions:
        return 0
    already = db.session.scalar(
        select(func.count(Registration.id)).where(
            Registration.session_id.in_([s.id for s in sessions])
        )
    )
    if already:
        return 0
    local = [rpps for rpps, _ in sites.get(rcp.host_finess, [])]
    others = [
        rpps for finess, team in sites.items() if finess != rcp.host_finess for rpps, _ in team
    ]
    created = 0
    three_c = Principal(
        f"3c-{rcp.host_finess}", Role.COORDINATOR_3C, "local", finess=frozenset({rcp.host_finess})
    )
    for index, session in enumerate(sessions):
        for n in range(rng.randint(2, min(6, session.capacity))):
            pool = (
                local if (not rcp.open_to_external or rng.random() < 0.6 or not others) else others
            )
            rpps = rng.choice(pool)
            doctor = Principal(rpps, Role.PHYSICIAN, "local", rpps=rpps)
            registration = services.register_dossier(
                principal=doctor,
                session_id=session.id,
                data={
                    "patient_ref": f"DEMO-{session.id:06d}-{n:02d}",
                    "tumour_code": rng.choice(TUMOURS),
                    "question": rng.choice(QUESTIONS),
                    "phase": "relapse" if rng.random() < 0.25 else "initial",
                    "patient_over_75": rng.random() < 0.2,
                },
                now=session.registration_deadline - dt.timedelta(days=rng.randint(1, 10)),
            )
            created += 1
            _decide(
                registration,
                sessions[index + 1 :],
                three_c,
                doctor,
                rng,
                past=session.starts_at < now,
            )
        if session.starts_at < now:
            items = [
                {"rpps": p.rpps, "attendance": "excused" if rng.random() < 0.15 else "present"}
                for p in session.participants
            ]
            services.record_attendance(principal=SYSTEM, session_id=session.id, items=items)
    upcoming = [s for s in sessions if s.starts_at > now + dt.timedelta(days=50)]
    later = db.session.scalars(
        select(Session)
        .where(Session.rcp_id == rcp.id, Session.starts_at > now + dt.timedelta(days=50))
        .order_by(Session.starts_at)
        .limit(1)
    ).first()
    if later is not None and not upcoming and rng.random() < 0.3:
        services.cancel_session(principal=SYSTEM, session_id=later.id, reason="Congrès national")
    return created


def _decide(
    registration: Registration,
    later: Sequence[Session],
    three_c: Principal,
    doctor: Principal,
    rng: random.Random,
    *,
    past: bool,
) -> None:
    roll = rng.random()
    if not past and roll < 0.08:
        before = registration.session.registration_deadline - dt.timedelta(hours=1)
        services.withdraw_registration(
            principal=doctor, registration_id=registration.id, now=before
        )
    elif not past and roll < 0.45:
        return  # still proposed
    elif roll < 0.16 and later:
        target = later[0]
        if target.registered_count < target.capacity:
            services.decide_registration(
                principal=three_c,
                registration_id=registration.id,
                decision="deferred",
                target_session_id=target.id,
                reason="Bilan d'imagerie à compléter",
            )
    elif roll < 0.22:
        services.decide_registration(
            principal=three_c,
            registration_id=registration.id,
            decision="refused",
            reason="Relève d'une RCP de recours",
        )
    else:
        services.decide_registration(
            principal=three_c, registration_id=registration.id, decision="accepted"
        )


def _fallback_directory() -> None:
    """A minimal synthetic directory (only when the directory demo is absent)."""
    number = 1
    for finess, name, department, lat, lon in FALLBACK_SITES:
        if db.session.scalar(select(Organization.id).where(Organization.finess == finess)):
            continue
        organization = Organization(
            finess=finess,
            kind="ET",
            name=name,
            name_key=fold(name),
            category_code="101",
            department=department,
            region=region_of_department(department),
            lat=lat,
            lon=lon,
            city=name.split()[-1].title(),
            active=True,
            source="etalab",
            fingerprint="demo",
        )
        directory.add_organization(organization)
        for specialty in FALLBACK_SPECIALTIES:
            rpps = f"1990{number:07d}"
            number += 1
            last, first = f"DEMO{number:03d}", "Camille"
            practitioner = Practitioner(
                national_id="8" + rpps,
                id_type="8",
                rpps=rpps,
                last_name=last,
                first_name=first,
                name_key=name_key(last, first),
                active=True,
                fingerprint="demo",
            )
            practitioner.activities.append(
                PractitionerActivity(
                    activity_key=f"demo-{rpps}",
                    profession_code="10",
                    specialty_code=specialty,
                    finess_site=finess,
                    department=department,
                    region=region_of_department(department),
                    active=True,
                )
            )
            directory.add_practitioner(practitioner)
    db.session.flush()
