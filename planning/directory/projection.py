"""Projected FINESS coordinates (Lambert-93, UTM of the overseas territories) to WGS84 degrees.

The French datums used (RGF93, RGAF09, RGFG95, RGR92, RGM04) coincide with WGS84 to within
a metre, so only the projection is inverted (Snyder, "Map Projections: A Working Manual",
formulas 15-9 to 15-11 for Lambert conformal conic, 8-17 to 8-25 for transverse Mercator).
"""

from __future__ import annotations

import math
import re

# GRS80, the ellipsoid of every datum listed above (WGS84 differs by 0.1 mm on the minor axis).
_A = 6378137.0
_F = 1 / 298.257222101
_E2 = 2 * _F - _F * _F
_E = math.sqrt(_E2)

#: UTM zones (zone, southern hemisphere) of the EPSG codes FINESS uses overseas.
UTM_ZONES: dict[int, tuple[int, bool]] = {
    5490: (20, False),  # RGAF09 / UTM 20N: Guadeloupe, Martinique, Saint-Martin, Saint-Barthélemy
    2972: (22, False),  # RGFG95 / UTM 22N: Guyane
    2975: (40, True),  # RGR92 / UTM 40S: La Réunion
    4471: (38, True),  # RGM04 / UTM 38S: Mayotte
    32621: (21, False),  # WGS 84 / UTM 21N: Saint-Pierre-et-Miquelon
    32701: (1, True),  # WGS 84 / UTM 1S: Wallis-et-Futuna
}
LAMBERT_93 = 2154

#: The projection FINESS uses per department code (the etalab files write 9A..9J overseas).
EPSG_OF_DEPARTMENT: dict[str, int] = {
    "971": 5490,
    "972": 5490,
    "977": 5490,
    "978": 5490,
    "9A": 5490,
    "9B": 5490,
    "973": 2972,
    "9C": 2972,
    "974": 2975,
    "9D": 2975,
    "976": 4471,
    "9F": 4471,
    "975": 32621,
    "9E": 32621,
    "986": 32701,
    "9J": 32701,
}

_EPSG_IN_TEXT = re.compile(r"EPSG:(\d{4,5})")


def epsg_for(source: str | None, department: str | None) -> int:
    """The projection of a coordinate pair: named in ``sourcecoordet``, else by department."""
    if source:
        match = _EPSG_IN_TEXT.search(source)
        if match:
            return int(match.group(1))
    return EPSG_OF_DEPARTMENT.get((department or "").upper(), LAMBERT_93)


def to_wgs84(x: float, y: float, epsg: int) -> tuple[float, float]:
    """(latitude, longitude) in degrees of projected ``x`` (easting), ``y`` (northing)."""
    if epsg == LAMBERT_93:
        return _lambert_conformal_conic_inverse(x, y)
    if epsg in UTM_ZONES:
        zone, south = UTM_ZONES[epsg]
        return _utm_inverse(x, y, zone=zone, south=south)
    if epsg == 4326:
        return y, x
    raise ValueError(f"unsupported projection EPSG:{epsg}")


def _t(phi: float) -> float:
    sin = _E * math.sin(phi)
    return math.tan(math.pi / 4 - phi / 2) / ((1 - sin) / (1 + sin)) ** (_E / 2)


def _m(phi: float) -> float:
    return math.cos(phi) / math.sqrt(1 - _E2 * math.sin(phi) ** 2)


# Lambert-93: standard parallels 49° and 44°, origin 46°30'N 3°E, false origin (700 km, 6600 km).
_PHI1, _PHI2, _PHI0, _LAMBDA0 = (math.radians(v) for v in (49.0, 44.0, 46.5, 3.0))
_X0, _Y0 = 700000.0, 6600000.0
_N = (math.log(_m(_PHI1)) - math.log(_m(_PHI2))) / (math.log(_t(_PHI1)) - math.log(_t(_PHI2)))
_BIG_F = _m(_PHI1) / (_N * _t(_PHI1) ** _N)
_RHO0 = _A * _BIG_F * _t(_PHI0) ** _N


def _lambert_conformal_conic_inverse(x: float, y: float) -> tuple[float, float]:
    dx, dy = x - _X0, _RHO0 - (y - _Y0)
    rho = math.copysign(math.hypot(dx, dy), _N)
    theta = math.atan2(dx, dy)
    t = (rho / (_A * _BIG_F)) ** (1 / _N)
    lon = theta / _N + _LAMBDA0
    phi = math.pi / 2 - 2 * math.atan(t)
    for _ in range(10):
        sin = _E * math.sin(phi)
        following = math.pi / 2 - 2 * math.atan(t * ((1 - sin) / (1 + sin)) ** (_E / 2))
        if abs(following - phi) < 1e-12:
            phi = following
            break
        phi = following
    return math.degrees(phi), math.degrees(lon)


def _utm_inverse(x: float, y: float, *, zone: int, south: bool) -> tuple[float, float]:
    k0 = 0.9996
    ep2 = _E2 / (1 - _E2)
    lon0 = math.radians(zone * 6 - 183)
    m = (y - (10_000_000.0 if south else 0.0)) / k0
    mu = m / (_A * (1 - _E2 / 4 - 3 * _E2**2 / 64 - 5 * _E2**3 / 256))
    e1 = (1 - math.sqrt(1 - _E2)) / (1 + math.sqrt(1 - _E2))
    phi1 = (
        mu
        + (3 * e1 / 2 - 27 * e1**3 / 32) * math.sin(2 * mu)
        + (21 * e1**2 / 16 - 55 * e1**4 / 32) * math.sin(4 * mu)
        + (151 * e1**3 / 96) * math.sin(6 * mu)
        + (1097 * e1**4 / 512) * math.sin(8 * mu)
    )
    sin1, cos1, tan1 = math.sin(phi1), math.cos(phi1), math.tan(phi1)
    c1 = ep2 * cos1**2
    t1 = tan1**2
    n1 = _A / math.sqrt(1 - _E2 * sin1**2)
    r1 = _A * (1 - _E2) / (1 - _E2 * sin1**2) ** 1.5
    d = (x - 500000.0) / (n1 * k0)
    lat = phi1 - (n1 * tan1 / r1) * (
        d**2 / 2
        - (5 + 3 * t1 + 10 * c1 - 4 * c1**2 - 9 * ep2) * d**4 / 24
        + (61 + 90 * t1 + 298 * c1 + 45 * t1**2 - 252 * ep2 - 3 * c1**2) * d**6 / 720
    )
    lon = (
        lon0
        + (
            d
            - (1 + 2 * t1 + c1) * d**3 / 6
            + (5 - 2 * c1 + 28 * t1 - 3 * c1**2 + 8 * ep2 + 24 * t1**2) * d**5 / 120
        )
        / cos1
    )
    return math.degrees(lat), math.degrees(lon)


def looks_like_degrees(x: float, y: float) -> bool:
    """Whether (x, y) = (longitude, latitude) in degrees rather than projected metres."""
    return -180.0 <= x <= 180.0 and -90.0 <= y <= 90.0


def to_lambert93(lat: float, lon: float) -> tuple[float, float]:
    """(easting, northing) in Lambert-93 of a WGS84 point (the inverse of ``to_wgs84``)."""
    rho = _A * _BIG_F * _t(math.radians(lat)) ** _N
    theta = _N * (math.radians(lon) - _LAMBDA0)
    return _X0 + rho * math.sin(theta), _Y0 + _RHO0 - rho * math.cos(theta)
