from core.terminology import geo


def test_every_department_has_a_known_region():
    assert len(geo.DEPARTMENTS) == 101
    assert {d.region for d in geo.DEPARTMENTS.values()} == set(geo.REGIONS)


def test_normalisation_and_regions():
    assert geo.region_of_department("29") == "53"
    assert geo.region_of_department("1") == "84"
    assert geo.region_of_department("2a") == "94"
    assert geo.region_of_department("974") == "04"
    assert geo.region_of_department("99") is None
    assert geo.region_of_department(None) is None
    assert set(geo.departments_of_region("53")) == {"22", "29", "35", "56"}


def test_postal_codes():
    assert geo.department_of_postal_code("29200") == "29"
    assert geo.department_of_postal_code("20000") == "2A"
    assert geo.department_of_postal_code("20200") == "2B"
    assert geo.department_of_postal_code("97400") == "974"
    assert geo.department_of_postal_code("2920") is None


def test_haversine_brest_rennes():
    # Brest (48.390, -4.486) to Rennes (48.117, -1.678): about 210 km as the crow flies
    assert 200 < geo.haversine_km(48.390, -4.486, 48.117, -1.678) < 220
