"""Lambert-93 and overseas UTM to WGS84, checked against pairs published by FINESS+ and PROJ."""

from __future__ import annotations

import pytest

from planning.directory.projection import epsg_for, looks_like_degrees, to_lambert93, to_wgs84


def test_lambert93_against_finess_plus_pairs():
    # Both pairs of the same address in the FINESS+ JSON sample (Divonne-les-Bains, Nice).
    lat, lon = to_wgs84(941342.52, 6589480.53, 2154)
    assert lat == pytest.approx(46.362063, abs=1e-6)
    assert lon == pytest.approx(6.139885, abs=1e-6)
    lat, lon = to_wgs84(1044840.07, 6301031.03, 2154)
    assert (lat, lon) == pytest.approx((43.724159, 7.280808), abs=1e-6)


def test_lambert93_origin_and_round_trip():
    assert to_wgs84(700000, 6600000, 2154) == pytest.approx((46.5, 3.0))
    x, y = to_lambert93(48.3905, -4.4860)
    assert to_wgs84(x, y, 2154) == pytest.approx((48.3905, -4.4860), abs=1e-9)


@pytest.mark.parametrize(
    ("epsg", "x", "y", "expected"),
    [
        # Reference values computed with PROJ 9 (pyproj 3.7, EPSG:xxxx -> EPSG:4326).
        (5490, 650000, 1780000, (16.0954263, -61.5974721)),
        (2972, 350000, 550000, (4.9745076, -52.35295)),
        (2975, 340000, 7670000, (-21.0639667, 55.459966)),
        (4471, 520000, 8590000, (-12.7545528, 45.1842518)),
        (32621, 560000, 5180000, (46.7708515, -56.2141439)),
    ],
)
def test_overseas_utm(epsg, x, y, expected):
    assert to_wgs84(x, y, epsg) == pytest.approx(expected, abs=1e-6)


def test_projection_named_in_source_wins_over_department():
    assert epsg_for("1,ATLASANTE,96,BAN,EPSG:2975 RGR92 / UTM zone 40S", "01") == 2975
    assert epsg_for("1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,LAMBERT_93", "9D") == 2975
    assert epsg_for("", "29") == 2154
    assert epsg_for(None, "9F") == 4471


def test_unknown_projection_refused():
    with pytest.raises(ValueError, match="EPSG:3857"):
        to_wgs84(0, 0, 3857)


def test_degrees_detection():
    assert looks_like_degrees(7.28, 43.72)
    assert not looks_like_degrees(1044840.07, 6301031.03)
