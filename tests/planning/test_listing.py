"""Session list items (built from rows) equal the schema's dump of the same sessions."""

from __future__ import annotations

import datetime as dt

from core.db import db
from planning import listing, services
from planning.schemas import SessionSchema, SessionSummarySchema
from tests.planning.conftest import NATIONAL, RENNES

DOSSIER = {
    "patient_ref": "DXC-000777",
    "tumour_code": "C18.7",
    "question": "Chimiothérapie adjuvante ?",
    "phase": "initial",
}


def _at(days: float) -> dt.datetime:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(days=days)).replace(second=0, microsecond=0)


def _varied_sessions(world, create_rcp, create_session) -> list[int]:
    """Sessions covering every branch of the representation."""
    plain = create_session(starts_at=_at(3))
    # only a video link: no site; no substitute; geriatric quorum with a dossier over 75
    geriatric = create_rcp(
        title="RCP oncogériatrie",
        kind_code="POP-GER",
        geriatrician_over_75=True,
        room=None,
        substitute_rpps=None,
        members=[{"rpps": world.pathologist.rpps}, {"rpps": world.radiologist.rpps}],
    )
    geriatric.place_finess = None
    db.session.commit()
    old_patient = create_session(rcp=geriatric, starts_at=_at(4))
    services.register_dossier(
        principal=world.doctor(),
        session_id=old_patient.id,
        data={**DOSSIER, "patient_over_75": True},
    )
    no_old_patient = create_session(rcp=geriatric, starts_at=_at(5))
    # a past session with attendance: present, replaced (by a guest's specialty), excused
    past = create_session(starts_at=_at(-1), place_finess=RENNES)
    services.record_attendance(
        principal=NATIONAL,
        session_id=past.id,
        items=[
            {"rpps": world.coordinator.rpps, "attendance": "present"},
            {
                "rpps": world.radiologist.rpps,
                "attendance": "replaced",
                "replaced_by_rpps": world.local_physician.rpps,
            },
            {"rpps": world.pathologist.rpps, "attendance": "excused"},
            {"rpps": world.geriatrician.rpps, "attendance": "present"},
        ],
    )
    cancelled = create_session(starts_at=_at(6))
    services.cancel_session(principal=NATIONAL, session_id=cancelled.id, reason="Férié")
    full = create_session(starts_at=_at(7), capacity=1)
    services.register_dossier(principal=world.doctor(), session_id=full.id, data=DOSSIER)
    db.session.commit()
    return [plain.id, old_patient.id, no_old_patient.id, past.id, cancelled.id, full.id]


def test_list_items_equal_the_schema_dump(world, create_rcp, create_session):
    ids = _varied_sessions(world, create_rcp, create_session)
    db.session.expire_all()
    items, total = services.list_session_summaries(limit=50)
    assert total == len(ids) and [i["id"] for i in items] == sorted(
        ids, key=lambda i: services.get_session(session_id=i).starts_at
    )
    for item in items:
        assert isinstance(item, listing.Serialized)
        expected = SessionSummarySchema().dump(services.read_session(session_id=item["id"]))
        assert item == expected, item["id"]


def test_over_75_and_attendance_show_in_the_list(world, create_rcp, create_session):
    ids = _varied_sessions(world, create_rcp, create_session)
    items = {i["id"]: i for i in services.list_session_summaries(limit=50)[0]}
    plain, old_patient, no_old_patient, past, cancelled, full = ids
    assert items[old_patient]["place"] is None and items[old_patient]["substitute"] is None
    assert items[old_patient]["quorum"]["missing_specialties"] == ["SM18"]
    assert items[no_old_patient]["quorum"]["met"] is True
    assert items[past]["quorum"]["basis"] == "attendance"
    assert items[past]["place"]["finess"] == RENNES
    assert items[cancelled]["status"] == "cancelled"
    assert items[full]["places_left"] == 0 and items[full]["registered_count"] == 1
    assert items[plain]["coordinator"]["last_name"] == "KERBRAT"


def test_schemas_pass_built_items_through():
    item = listing.Serialized(id=1, starts_at="2027-01-05T13:00:00+00:00")
    assert SessionSummarySchema().dump(item) is item
    assert SessionSchema(many=True).dump([item]) == [item]
    assert SessionSummarySchema(many=True).dump([]) == []


def test_person_shows_the_first_specialty_or_the_asked_one():
    specialties = [(None, None), ("SM36", "Oncologie"), ("SM01", "Anatomie")]
    assert listing.person("1", ("A", "B"), specialties) == {
        "rpps": "1",
        "last_name": "A",
        "first_name": "B",
        "specialty_code": "SM36",
        "specialty_label": "Oncologie",
    }
    assert listing.person("1", ("A", "B"), specialties, "SM01")["specialty_label"] == "Anatomie"
    assert listing.person("1", None, (), "SM99") == {
        "rpps": "1",
        "last_name": None,
        "first_name": None,
        "specialty_code": "SM99",
        "specialty_label": None,
    }
    assert listing.person(None, None, ()) is None
    assert listing.place(None, None) is None and listing.place("X", None) == {"finess": "X"}
