"""The demo directory: loads through the importers, twice without change."""

from __future__ import annotations

from sqlalchemy import func, select

from core.db import db
from planning.directory import services
from planning.directory.demo import demo_physicians, load_demo, regions_covered
from planning.directory.models import Organization, Practitioner


def test_demo_loads_and_reloads_without_change():
    first = load_demo()
    assert all(report.rejected == 0 for report in first.values())
    assert first["rpps"].inserted > 100
    again = load_demo()
    assert all(
        (report.inserted, report.updated, report.deactivated) == (0, 0, 0)
        for report in again.values()
    )


def test_demo_content_serves_the_other_modules():
    load_demo()
    assert {"53", "52", "11", "76"} <= regions_covered()
    brest = services.require_organization(finess="290000017")
    assert (brest.region, brest.category_code, brest.active) == ("53", "101", True)
    assert brest.lat is not None
    for physician in demo_physicians():
        practitioner = services.require_practitioner(rpps=physician["rpps"])
        assert physician["specialty"] in services.practitioner_specialties(practitioner)
        assert practitioner.activities[0].finess_site == physician["finess"]
    oncologists = services.search_practitioners(specialty="SM36", page_size=200)
    assert len({a.region for p in oncologists.items for a in p.activities}) >= 4
    # Real sample rows are there too.
    assert services.require_practitioner(rpps="10106476764").last_name == "BENHOUCHAME"
    assert db.session.scalar(select(func.count()).select_from(Organization)) > 1800
    assert db.session.scalar(select(func.count()).select_from(Practitioner)) > 100


def test_demo_search_examples():
    load_demo()
    found = services.search_practitioners(name="benedicte kerbrat")
    assert [p.last_name for p in found.items] == ["LE GALL-KERBRAT"]


def test_synthetic_numbers_stay_valid_at_national_scale():
    from planning.directory.normalize import finess_format_error, luhn_valid, rpps_format_error
    from planning.directory.synthetic import finess_number, rpps_number

    for index in (0, 999_999, 1_000_000, 2_500_000):
        number = rpps_number(index)
        assert rpps_format_error(number) is None and luhn_valid(number), number
    assert rpps_number(5) == "19800000051"
    assert finess_format_error(finess_number("29", 99_999)) is None
