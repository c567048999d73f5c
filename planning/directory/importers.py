"""Streaming readers of the RPPS extraction and of the FINESS files, into plain records.

No database here: a reader checks the header (refusing an unknown layout before anything is
written), then yields one record per professional or establishment, or a ``Rejected`` line with
its number and reason. Memory stays constant: lines are read one at a time (the FINESS
etalab file is read twice, first for its coordinates section, which comes after the
establishments).
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import gzip
import hashlib
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import IO, Any, NamedTuple, cast

from core.terminology.geo import department_of_postal_code, region_of_department
from planning.directory.nomenclature import category_label, profession_label, specialty_label
from planning.directory.normalize import name_key, tokens
from planning.directory.projection import epsg_for, looks_like_degrees, to_wgs84
from planning.directory.summary import name_mask, person_summary_json


class HeaderError(ValueError):
    """The file's header or layout is not one this importer knows: nothing was written."""


@dataclass(slots=True)
class Rejected:
    """A line that could not be read, reported and skipped."""

    line: int
    reason: str


def _digest(*parts: Any) -> str:
    return hashlib.md5(repr(parts).encode(), usedforsecurity=False).hexdigest()


def _line_digest(fields: list[str]) -> str:
    return hashlib.md5("\x1f".join(fields).encode(), usedforsecurity=False).hexdigest()


def _cut(value: str | None, size: int) -> str | None:
    value = (value or "").strip()
    return value[:size] if value else None


# --- RPPS -------------------------------------------------------------------------------------

#: The header of the 2021 extraction, as published (the 2026 one appends four columns).
_HEADER_2021 = (
    "Type d'identifiant PP|Identifiant PP|Identification nationale PP|Code civilité d'exercice|"
    "Libellé civilité d'exercice|Code civilité|Libellé civilité|Nom d'exercice|Prénom d'exercice|"
    "Code profession|Libellé profession|Code catégorie professionnelle|"
    "Libellé catégorie professionnelle|Code type savoir-faire|Libellé type savoir-faire|"
    "Code savoir-faire|Libellé savoir-faire|Code mode exercice|Libellé mode exercice|"
    "Numéro SIRET site|Numéro SIREN site|Numéro FINESS site|"
    "Numéro FINESS établissement juridique|Identifiant technique de la structure|"
    "Raison sociale site|Enseigne commerciale site|Complément destinataire (coord. structure)|"
    "Complément point géographique (coord. structure)|Numéro Voie (coord. structure)|"
    "Indice répétition voie (coord. structure)|Code type de voie (coord. structure)|"
    "Libellé type de voie (coord. structure)|Libellé Voie (coord. structure)|"
    "Mention distribution (coord. structure)|Bureau cedex (coord. structure)|"
    "Code postal (coord. structure)|Code commune (coord. structure)|"
    "Libellé commune (coord. structure)|Code pays (coord. structure)|"
    "Libellé pays (coord. structure)|Téléphone (coord. structure)|"
    "Téléphone 2 (coord. structure)|Télécopie (coord. structure)|"
    "Adresse e-mail (coord. structure)|Code Département (structure)|"
    "Libellé Département (structure)|Ancien identifiant de la structure|"
    "Autorité d'enregistrement|Code secteur d'activité|Libellé secteur d'activité|"
    "Code section tableau pharmaciens|Libellé section tableau pharmaciens"
)
RPPS_COLUMNS_2021 = _HEADER_2021.split("|")
RPPS_COLUMNS_2026 = [
    *RPPS_COLUMNS_2021,
    "Code rôle",
    "Libellé rôle",
    "Code genre activité",
    "Libellé genre activité",
]
RPPS_LAYOUTS = {"rpps-2021": RPPS_COLUMNS_2021, "rpps-2026": RPPS_COLUMNS_2026}

#: Columns that describe the person (the rest describes one activity).
_PERSON_COLUMNS = 9


class ActivityRecord(NamedTuple):
    """One activity line, in the columns of ``PractitionerActivity``."""

    activity_key: str
    profession_code: str | None
    profession_label: str | None
    category_code: str | None
    specialty_type: str | None
    specialty_code: str | None
    specialty_label: str | None
    mode_exercice: str | None
    siret: str | None
    finess_site: str | None
    finess_ej: str | None
    structure_id: str | None
    structure_name: str | None
    address: str | None
    postal_code: str | None
    city: str | None
    country: str | None
    phone: str | None
    email: str | None
    department: str | None
    region: str | None
    role_code: str | None
    genre_code: str | None


class Derived(NamedTuple):
    """What a loader computes from a record before writing it (``PractitionerRecord.derived``)."""

    fingerprint: str
    name_key: str
    #: The folded words of his name, and their mask (``summary.name_mask``).
    words: list[str]
    mask: int
    #: His summary as stored, for a new active professional (``summary.summary_json``);
    #: None until asked for.
    summary: str | None


@dataclass(slots=True)
class PractitionerRecord:
    """One professional with the activities of all his lines."""

    line: int
    national_id: str
    id_type: str
    rpps: str | None
    civility: str | None
    exercise_civility: str | None
    last_name: str
    first_name: str
    activities: list[ActivityRecord] = field(default_factory=list)
    #: Lines of the file this record was read from.
    lines: int = 1
    #: ``derived()``'s result, kept (the reader process of a parallel import computes all
    #: but the summary). Whoever changes the activities afterwards sets it back to None.
    computed: Derived | None = None

    @property
    def fingerprint(self) -> str:
        return self.derived(summary=False).fingerprint

    def derived(self, *, summary: bool = True) -> Derived:
        """The fingerprint, name key, name words and mask, and (unless ``summary`` is False)
        the summary: each computed once."""
        computed = self.computed
        if computed is None:
            keys = sorted(a.activity_key for a in self.activities)
            words = tokens(self.last_name, self.first_name)
            computed = self.computed = Derived(
                fingerprint=_line_digest(
                    [
                        self.civility or "",
                        self.exercise_civility or "",
                        self.last_name,
                        self.first_name,
                        *keys,
                    ]
                ),
                name_key=name_key(self.last_name, self.first_name),
                words=words,
                mask=name_mask(words),
                summary=None,
            )
        if summary and computed.summary is None:
            computed = self.computed = computed._replace(
                summary=person_summary_json(
                    self,
                    active=True,
                    activities=[
                        (a.profession_code, a.specialty_code, a.department) for a in self.activities
                    ],
                )
            )
        return computed


def rpps_layout(header: str) -> tuple[str, bool]:
    """The layout name of an RPPS header line and whether lines end with an extra ``|``."""
    columns = header.rstrip("\r\n").removeprefix("\ufeff").split("|")
    trailing = columns[-1] == ""
    if trailing:
        columns = columns[:-1]
    for name, expected in RPPS_LAYOUTS.items():
        if columns == list(expected):
            return name, trailing
    known = set(RPPS_COLUMNS_2026)
    unexpected = [c for c in columns if c not in known][:3]
    missing = [c for c in RPPS_COLUMNS_2021 if c not in columns][:3]
    raise HeaderError(
        "unknown RPPS header: expected the 52 columns of the 2021 extraction or the 56 of 2026"
        f" (found {len(columns)} columns; unexpected {unexpected}, missing {missing})"
    )


def read_rpps(stream: IO[bytes]) -> tuple[str, Iterator[PractitionerRecord | Rejected]]:
    """Check the header of a ``PS_LibreAcces_Personne_activite`` file; then its records lazily.

    Consecutive lines of the same professional (the file is sorted by identifier) become one
    record; a professional whose lines are not contiguous comes out as several records, which
    the loader merges.
    """
    header = stream.readline()
    try:
        layout, trailing = rpps_layout(header.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise HeaderError("the RPPS header is not UTF-8") from error
    width = len(RPPS_LAYOUTS[layout])
    return layout, _rpps_records(stream, width, trailing)


def _rpps_records(
    stream: IO[bytes], width: int, trailing: bool
) -> Iterator[PractitionerRecord | Rejected]:
    current: PractitionerRecord | None = None
    for number, raw in enumerate(stream, start=2):
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            yield Rejected(number, "not valid UTF-8")
            continue
        fields = text.rstrip("\r\n").split("|")
        if trailing and len(fields) == width + 1 and fields[-1] == "":
            fields.pop()
        if len(fields) != width:
            yield Rejected(number, f"expected {width} fields, found {len(fields)}")
            continue
        if (
            current is not None
            and fields[2].strip() == current.national_id
            and fields[0].strip() == current.id_type
            and fields[7].strip()
        ):
            # Another line of the professional being read: the identity checks of his first
            # line hold for it (same type and number), no record to build.
            activity = _rpps_activity(fields, width)
            current.lines += 1
            key = activity.activity_key
            for known in current.activities:
                if known.activity_key == key:
                    break
            else:
                current.activities.append(activity)
            continue
        person = _rpps_person(fields, number)
        if isinstance(person, Rejected):
            yield person
            continue
        activity = _rpps_activity(fields, width)
        if current is not None:
            yield current
        person.activities.append(activity)
        current = person
    if current is not None:
        yield current


def _rpps_person(f: list[str], number: int) -> PractitionerRecord | Rejected:
    id_type, identifier, national_id = f[0].strip(), f[1].strip(), f[2].strip()
    if id_type not in ("0", "8"):
        return Rejected(number, f"unknown identifier type {id_type!r} (expected 8 RPPS or 0 ADELI)")
    if national_id != id_type + identifier or not identifier:
        return Rejected(number, "national identifier is not the type digit + identifier")
    if id_type == "8" and (len(identifier) != 11 or not identifier.isdigit()):
        return Rejected(number, f"malformed RPPS number {identifier!r} (11 digits expected)")
    if len(national_id) > 12:
        return Rejected(number, f"identifier {identifier!r} too long")
    last_name = (f[7] or "").strip()
    if not last_name:
        return Rejected(number, "empty name (Nom d'exercice)")
    return PractitionerRecord(
        line=number,
        national_id=national_id,
        id_type=id_type,
        rpps=identifier if id_type == "8" else None,
        civility=_cut(f[5], 8),
        exercise_civility=_cut(f[3], 8),
        last_name=last_name[:100],
        first_name=(f[8] or "").strip()[:100],
    )


def _rpps_activity(f: list[str], width: int) -> ActivityRecord:
    # The hot path of a 2.3-million-line import: plain indexing, no helper per field.
    profession_code = f[9].strip()[:4] or None
    specialty_code = f[15].strip()[:12] or None
    postal_code = f[35].strip()[:10] or None
    city = f[37].strip()[:100] or None
    cedex = f[34].strip()
    if cedex and (not postal_code or not city):
        # "Bureau cedex" holds "CP VILLE" when the commune columns are empty.
        code, _, name = cedex.partition(" ")
        if code.isdigit():
            postal_code = postal_code or code[:10]
            city = city or name.strip()[:100] or None
    country_code = f[38].strip()
    french = country_code in ("", "99000", "99100")
    department = _department(f[44]) if f[44] else None
    if department is None and french:
        department = department_of_postal_code(postal_code)
    street = " ".join(filter(None, (f[28].strip(), f[29].strip(), f[31].strip(), f[32].strip())))
    address = ", ".join(filter(None, (f[27].strip(), street, f[33].strip())))
    extended = width > 52
    return ActivityRecord(
        _line_digest(f[_PERSON_COLUMNS:]),
        profession_code,
        f[10].strip()[:100] or profession_label(profession_code),
        f[11].strip()[:4] or None,
        f[13].strip()[:8] or None,
        specialty_code,
        f[16].strip()[:200] or specialty_label(specialty_code),
        f[17].strip()[:4] or None,
        f[19].strip()[:14] or None,
        f[21].strip()[:9] or None,
        f[22].strip()[:9] or None,
        f[23].strip()[:20] or None,
        (f[24].strip() or f[25].strip())[:200] or None,
        address[:300] or None,
        postal_code,
        city,
        None if french else f[39].strip()[:60] or None,
        f[40].strip()[:30] or None,
        f[43].strip()[:200] or None,
        department,
        region_of_department(department),
        (f[52].strip()[:8] or None) if extended else None,
        (f[54].strip()[:8] or None) if extended else None,
    )


#: etalab writes overseas departments with a letter.
_OVERSEAS = {"9A": "971", "9B": "972", "9C": "973", "9D": "974", "9E": "975", "9F": "976"}
_OVERSEAS["9J"] = "986"


def _department(code: str | None) -> str | None:
    code = (code or "").strip().upper()
    if not code:
        return None
    code = _OVERSEAS.get(code, code)
    if code.isdigit() and len(code) == 1:
        code = "0" + code
    return code[:3]


# --- FINESS -----------------------------------------------------------------------------------


@dataclass(slots=True)
class OrganizationRecord:
    """One establishment (ET) or legal entity (EJ), in the columns of ``Organization``."""

    line: int
    finess: str
    kind: str
    finess_ej: str | None
    name: str
    long_name: str | None
    category_code: str | None
    category_label: str | None
    siret: str | None
    address: str | None
    postal_code: str | None
    city: str | None
    department: str | None
    region: str | None
    phone: str | None
    lat: float | None
    lon: float | None
    opened_on: dt.date | None
    closed_on: dt.date | None
    active: bool

    @property
    def fingerprint(self) -> str:
        # Every field but the line number (astuple() deep-copies: too slow for 100,000 rows).
        return _line_digest([str(getattr(self, name)) for name in _ORGANIZATION_FIELDS])


_ORGANIZATION_FIELDS = [f.name for f in fields(OrganizationRecord)][1:]


def finess_format_of(path: Path) -> str:
    """``etalab`` (flat file with manifest), ``etalab-stock`` (yearly file with a header) or
    ``finess+`` (ANS JSON, possibly gzipped); HeaderError otherwise."""
    with open_binary(path) as stream:
        start = stream.read(200).lstrip(b"\xef\xbb\xbf").lstrip()
    if start.startswith(b"{"):
        return "finess+"
    if start.startswith(b"finess;etalab;"):
        return "etalab"
    if start.startswith(b"nofinesset;nofinessej;"):
        return "etalab-stock"
    raise HeaderError(
        "unknown FINESS file: expected the etalab manifest line 'finess;etalab;...', the header "
        "'nofinesset;nofinessej;...' of a yearly stock file, or a FINESS+ JSON document"
    )


def open_binary(path: Path) -> IO[bytes]:
    with path.open("rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")


def read_finess(path: Path) -> tuple[str, set[str], Iterator[OrganizationRecord | Rejected]]:
    """The format of a FINESS file, the kinds (ET, EJ) it is complete for, and its records."""
    layout = finess_format_of(path)
    if layout == "finess+":
        return layout, {"ET", "EJ"}, _finess_json(path)
    if layout == "etalab-stock":
        return layout, {"ET"}, _etalab_stock(path)
    kinds = _etalab_kinds(path)
    return layout, kinds, _etalab(path)


def _decoded_lines(stream: IO[bytes]) -> Iterator[str]:
    # The historical files are Windows-1252, recent copies UTF-8: decide line by line
    # (a Windows-1252 accent is never a valid UTF-8 sequence in practice).
    for raw in stream:
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError:
            yield raw.decode("cp1252", errors="replace")


def _etalab_kinds(path: Path) -> set[str]:
    kinds: set[str] = set()
    with open_binary(path) as stream:
        for raw in stream:
            if raw.startswith(b"structureet;"):
                kinds.add("ET")
            elif raw.startswith(b"structureej;"):
                kinds.add("EJ")
            if len(kinds) == 2:
                break
    return kinds


def _etalab_coordinates(path: Path) -> dict[str, tuple[float, float, str]]:
    points: dict[str, tuple[float, float, str]] = {}
    with open_binary(path) as stream:
        for raw in stream:
            if not raw.startswith(b"geolocalisation;"):
                continue
            fields = raw.decode("utf-8", errors="replace").rstrip("\r\n").split(";")
            try:
                x, y = float(fields[2]), float(fields[3])
            except (IndexError, ValueError):
                continue
            points[fields[1]] = (x, y, ";".join(fields[4:]))
    return points


def _etalab(path: Path) -> Iterator[OrganizationRecord | Rejected]:
    points = _etalab_coordinates(path)
    with open_binary(path) as stream:
        rows = csv.reader(_decoded_lines(stream), delimiter=";")
        for number, row in enumerate(rows, start=1):
            if number == 1 or not row or row[0] == "geolocalisation":
                continue
            try:
                if row[0] == "structureet":
                    yield _etalab_et(row, number, points)
                elif row[0] == "structureej":
                    yield _etalab_ej(row, number)
                else:
                    yield Rejected(number, f"unknown section {row[0][:20]!r}")
            except _LineError as error:
                yield Rejected(number, str(error))


class _LineError(ValueError):
    pass


def _finess_number(value: str, what: str) -> str:
    value = value.strip().upper()
    if len(value) != 9 or not (value[:2].isdigit() or value[:2] in ("2A", "2B")):
        raise _LineError(f"malformed {what} {value!r}")
    if not value[2:].isdigit():
        raise _LineError(f"malformed {what} {value!r}")
    return value


def _date(value: str | None) -> dt.date | None:
    value = (value or "").strip()[:10]
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def _postal_city(line: str) -> tuple[str | None, str | None]:
    code, _, city = line.strip().partition(" ")
    if code.isdigit() and len(code) == 5:
        return code, _cut(city, 100)
    return None, _cut(line, 100)


def _street(*parts: str) -> str | None:
    return _cut(" ".join(p.strip() for p in parts if p and p.strip()), 300)


def _project(
    x: float, y: float, source: str, department: str | None
) -> tuple[float | None, float | None]:
    if looks_like_degrees(x, y):
        return y, x
    try:
        lat, lon = to_wgs84(x, y, epsg_for(source, department))
    except ValueError:
        return None, None
    return round(lat, 6), round(lon, 6)


def _etalab_et(
    row: list[str], number: int, points: dict[str, tuple[float, float, str]]
) -> OrganizationRecord:
    if len(row) < 31:
        raise _LineError(f"structureet line with {len(row)} fields, 32 expected")
    finess = _finess_number(row[1], "FINESS ET number")
    department = _department(row[13])
    postal_code, city = _postal_city(row[15])
    lat = lon = None
    if finess in points:
        x, y, source = points[finess]
        lat, lon = _project(x, y, source, row[13])
    category = _cut(row[18], 4)
    return OrganizationRecord(
        line=number,
        finess=finess,
        kind="ET",
        finess_ej=_cut(row[2], 9),
        name=(row[3].strip() or row[4].strip())[:300],
        long_name=_cut(row[4], 300),
        category_code=category,
        category_label=_cut(row[19], 200) or category_label(category),
        siret=_cut(row[22], 14),
        address=_street(row[7], row[8], row[9], row[10], row[11]),
        postal_code=postal_code,
        city=city,
        department=department,
        region=region_of_department(department),
        phone=_cut(row[16], 40),
        lat=lat,
        lon=lon,
        opened_on=_date(row[28]),
        closed_on=None,
        active=True,
    )


def _etalab_ej(row: list[str], number: int) -> OrganizationRecord:
    if len(row) < 20:
        raise _LineError(f"structureej line with {len(row)} fields, 23 expected")
    department = _department(row[13])
    postal_code, city = _postal_city(row[12])
    category = _cut(row[18], 4)
    return OrganizationRecord(
        line=number,
        finess=_finess_number(row[1], "FINESS EJ number"),
        kind="EJ",
        finess_ej=None,
        name=(row[2].strip() or row[3].strip())[:300],
        long_name=_cut(row[3], 300),
        category_code=category,
        category_label=_cut(row[19], 200) or category_label(category),
        siret=None,
        address=_street(row[5], row[6], row[7], row[8], row[10]),
        postal_code=postal_code,
        city=city,
        department=department,
        region=region_of_department(department),
        phone=_cut(row[15], 40),
        lat=None,
        lon=None,
        opened_on=_date(row[22] if len(row) > 22 else None),
        closed_on=None,
        active=True,
    )


def _etalab_stock(path: Path) -> Iterator[OrganizationRecord | Rejected]:
    with open_binary(path) as stream:
        rows = csv.DictReader(_decoded_lines(stream), delimiter=";")
        for number, row in enumerate(rows, start=2):
            try:
                yield _etalab_stock_row(row, number)
            except _LineError as error:
                yield Rejected(number, str(error))


def _etalab_stock_row(row: dict[str, str], number: int) -> OrganizationRecord:
    if None in row or any(v is None for v in row.values()):
        raise _LineError("wrong number of fields")
    finess = _finess_number(row["nofinesset"], "FINESS ET number")
    department = _department(row["departement"])
    lat = lon = None
    with contextlib.suppress(ValueError):
        lat, lon = _project(
            float(row["coordx"]), float(row["coordy"]), row["sourcegeocod"], row["departement"]
        )
    category = _cut(row["categetab"], 4)
    return OrganizationRecord(
        line=number,
        finess=finess,
        kind="ET",
        finess_ej=_cut(row["nofinessej"], 9),
        name=(row["rs"].strip() or row["rslongue"].strip())[:300],
        long_name=_cut(row["rslongue"], 300),
        category_code=category,
        category_label=category_label(category) or _cut(row["liblongcategetab"], 200),
        siret=_cut(row["siret"], 14),
        address=_street(row["numvoie"], row["typvoie"], row["voie"], row["compvoie"]),
        postal_code=_cut(row["codepostal"], 10),
        city=_cut(row["libelle_routage"], 100),
        department=department,
        region=region_of_department(department),
        phone=_cut(row["telephone"], 40),
        lat=lat,
        lon=lon,
        opened_on=_date(row["dateouvert"]),
        closed_on=None,
        active=True,
    )


def _finess_json(path: Path) -> Iterator[OrganizationRecord | Rejected]:
    import ijson  # the C backend streams the 500 MB document in constant memory

    with open_binary(path) as stream:
        for number, entity in enumerate(ijson.items(stream, "pmej.item", use_float=True), 1):
            try:
                yield _json_ej(entity, number)
            except (_LineError, KeyError, TypeError, AttributeError) as error:
                yield Rejected(number, f"legal entity #{number}: {error!r}")
                continue
            ej = entity["informationsGeneralesPMEJ"]["numFinessPm"]
            for site in entity.get("ege") or []:
                try:
                    yield _json_ege(site, number, ej)
                except (_LineError, KeyError, TypeError, AttributeError) as error:
                    yield Rejected(number, f"establishment of legal entity #{number}: {error!r}")


def _clean(value: Any) -> str:
    # Control characters occur in FINESS+ names.
    return "".join(c for c in str(value or "") if c.isprintable()).strip()


def _json_address(addresses: Iterable[dict[str, Any]] | None, usage: str) -> dict[str, Any]:
    addresses = list(addresses or [])
    for address in addresses:
        if address.get("usageAdresse") == usage:
            return address
    return addresses[0] if addresses else {}


def _json_point(address: dict[str, Any], department: str | None) -> tuple[float | None, ...]:
    coordinates = address.get("coordonneesGeographique") or {}

    def number(key: str) -> float | None:
        try:
            return float(coordinates.get(key))  # type: ignore[arg-type]  # None -> TypeError
        except (TypeError, ValueError):
            return None

    x, y = number("coordonneeX"), number("coordonneeY")
    east, north = number("directionLongitude"), number("directionLatitude")
    # The WGS84 and the projected pair are swapped in about a fifth of the records.
    for lon, lat in ((x, y), (east, north)):
        if lon is not None and lat is not None and looks_like_degrees(lon, lat):
            return lat, lon
    for easting, northing in ((east, north), (x, y)):
        if easting is not None and northing is not None:
            return _project(easting, northing, "", department)
    return None, None


def _json_phone(contacts: Iterable[dict[str, Any]] | None) -> str | None:
    for contact in contacts or []:
        phone = ((contact or {}).get("telecom") or {}).get("telephone")
        if phone:
            return _cut(_clean(phone).split("/")[0], 40)
    return None


def _json_common(
    number: int,
    finess: str,
    kind: str,
    address: dict[str, Any],
    **values: Any,
) -> OrganizationRecord:
    postal_code = _cut(address.get("codePostal"), 10)
    commune = (address.get("cogCommune") or "").strip()
    department = _department(
        commune[:3] if commune.startswith("97") else commune[:2] if commune else None
    ) or department_of_postal_code(postal_code)
    lat, lon = _json_point(address, department)
    return OrganizationRecord(
        line=number,
        finess=_finess_number(finess or "", f"FINESS {kind} number"),
        kind=kind,
        address=_street(
            address.get("numeroVoie") or "",
            address.get("typeVoie") or "",
            address.get("libelleVoie") or "",
            address.get("lieuDit") or "",
        ),
        postal_code=postal_code,
        city=_cut(address.get("ligneAcheminement"), 100),
        department=department,
        region=region_of_department(department),
        lat=lat,
        lon=lon,
        **values,
    )


def _json_ej(entity: dict[str, Any], number: int) -> OrganizationRecord:
    info = entity["informationsGeneralesPMEJ"]
    closed = _date(info.get("dateFermeture"))
    return _json_common(
        number,
        info.get("numFinessPm"),
        "EJ",
        _json_address(entity.get("adresse"), "02"),
        finess_ej=None,
        name=_clean(info.get("denominationPm") or info.get("denominationLonguePmSmsse"))[:300],
        long_name=_cut(_clean(info.get("denominationLonguePmSmsse")), 300),
        category_code=None,
        category_label=None,
        siret=None,
        phone=_json_phone(entity.get("contact")),
        opened_on=_date(info.get("dateCreation")),
        closed_on=closed,
        active=entity.get("etatObjet") == "A" and closed is None,
    )


def _json_ege(site: dict[str, Any], number: int, ej: str | None) -> OrganizationRecord:
    info = site["informationsGeneralesEGE"]
    category = _cut(
        site.get("categorieentiteGeographiqueExercice")
        or site.get("categorieEntiteGeographiqueExercice"),
        4,
    )
    closed = _date(info.get("dateFermeture"))
    return _json_common(
        number,
        info.get("numFinessEge"),
        "ET",
        _json_address(site.get("adresse"), "03"),
        finess_ej=_cut(ej, 9),
        name=_clean(info.get("nomEgeCourt") or info.get("nomEgeLong"))[:300],
        long_name=_cut(_clean(info.get("nomEgeLong")), 300),
        category_code=category,
        category_label=category_label(category),
        siret=_cut(info.get("siret"), 14),
        phone=_json_phone(site.get("contact")),
        opened_on=_date(info.get("dateOuverture")),
        closed_on=closed,
        active=site.get("etatObjet") == "A" and closed is None,
    )


def open_text_lines(text: str) -> IO[bytes]:
    """A byte stream over ``text`` (tests and the demo feed readers from strings)."""
    return io.BytesIO(text.encode("utf-8"))
