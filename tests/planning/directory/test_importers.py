"""Readers of the RPPS and FINESS files: layouts, rejections, encodings, coordinates."""

from __future__ import annotations

import gzip
import io
import json

import pytest

from planning.directory.importers import (
    RPPS_COLUMNS_2026,
    HeaderError,
    PractitionerRecord,
    Rejected,
    read_finess,
    read_rpps,
    rpps_layout,
)
from tests.conftest import FIXTURES

DATA = FIXTURES / "directory"
RPPS_2021 = DATA / "PS_LibreAcces_Personne_activite_small_2021.txt"


def _rpps(text: str):
    layout, records = read_rpps(io.BytesIO(text.encode("utf-8")))
    return layout, list(records)


def _rows_2021() -> list[str]:
    return RPPS_2021.read_text("utf-8").splitlines()


def test_2021_sample_reads_cleanly():
    with RPPS_2021.open("rb") as handle:
        layout, records = read_rpps(handle)
        records = list(records)
    assert layout == "rpps-2021"
    assert len(records) == 22
    assert not [r for r in records if isinstance(r, Rejected)]
    physician = records[-1]
    assert isinstance(physician, PractitionerRecord)
    assert (physician.rpps, physician.national_id, physician.id_type) == (
        "10106476764",
        "810106476764",
        "8",
    )
    assert physician.exercise_civility == "DR"
    assert physician.activities[0].specialty_code == "SM20"
    adeli = records[0]
    assert adeli.rpps is None and adeli.national_id == "0010001949"


def test_activity_columns_and_address():
    records = _rpps("\n".join(_rows_2021()))[1]
    ergo = next(r for r in records if r.last_name == "LEBRUN-CARPENTIER")
    activity = ergo.activities[0]
    assert activity.finess_site == "010002129"
    assert activity.finess_ej == "750056335"
    assert activity.structure_name == "CLINIQUE DE READAPTATION LES ARBELLES"
    assert activity.postal_code == "01000"
    assert activity.city == "Bourg-en-Bresse"
    assert activity.address == "554 Rue LEOPOLD LE HON"
    assert (activity.department, activity.region) == ("01", "84")
    assert activity.profession_label == "Ergothérapeute"


def test_bureau_cedex_gives_postal_code_and_city():
    optician = next(r for r in _rpps("\n".join(_rows_2021()))[1] if r.last_name == "PETITGUYOT")
    activity = optician.activities[0]
    assert (activity.postal_code, activity.city, activity.department) == ("25300", "DOUBS", "25")


def test_2026_layout_reads_the_four_new_columns():
    header = (DATA / "header_PS_LibreAcces_Personne_activite_2026.txt").read_text("utf-8").strip()
    assert header.split("|") == RPPS_COLUMNS_2026
    line = _rows_2021()[-1].removesuffix("|") + "|FON-01|Médecin traitant|GENR01|Activité standard"
    layout, records = _rpps(f"{header}\n{line}\n")
    assert layout == "rpps-2026"
    activity = records[0].activities[0]
    assert (activity.role_code, activity.genre_code) == ("FON-01", "GENR01")


def test_2026_layout_with_a_trailing_separator():
    header = "|".join(RPPS_COLUMNS_2026) + "|"
    line = _rows_2021()[-1] + "||||"
    layout, records = _rpps(f"{header}\n{line}\n")
    assert layout == "rpps-2026"
    assert records[0].rpps == "10106476764"


def test_unknown_header_is_refused_before_reading_lines():
    with pytest.raises(HeaderError, match="unknown RPPS header"):
        rpps_layout("Type d'identifiant PP|Identifiant PP|Nom\n")
    with pytest.raises(HeaderError, match="UTF-8"):
        read_rpps(
            io.BytesIO("Identifiant PP|Nom d'exercice\n".encode("cp1252").replace(b"'", b"\x92"))
        )


def test_malformed_lines_are_rejected_with_line_numbers():
    rows = _rows_2021()
    physician = rows[-1]
    bad_type = "5" + physician[1:]
    short_rpps = physician.replace("|10106476764|810106476764|", "|1010647676|81010647676|")
    no_name = physician.replace("|BENHOUCHAME|", "||")
    lines = [rows[0], rows[1], "a|b|c", bad_type, short_rpps, no_name]
    records = _rpps("\n".join(lines) + "\n")[1]
    rejected = [r for r in records if isinstance(r, Rejected)]
    assert [r.line for r in rejected] == [3, 4, 5, 6]
    assert "expected 52 fields, found 3" in rejected[0].reason
    assert "identifier type '5'" in rejected[1].reason
    assert "11 digits" in rejected[2].reason
    assert "empty name" in rejected[3].reason
    assert sum(isinstance(r, PractitionerRecord) for r in records) == 1


def test_invalid_utf8_line_is_rejected_not_fatal():
    rows = _rows_2021()
    data = (rows[0] + "\n").encode() + rows[1].encode("cp1252", errors="replace") + b"\xe9\n"
    records = list(read_rpps(io.BytesIO(data))[1])
    assert records == [Rejected(2, "not valid UTF-8")]


def test_contiguous_lines_group_into_one_professional():
    rows = _rows_2021()
    second = rows[-1].replace("|SM20|Gynécologie-obstétrique|", "|SM36|Oncologie médicale|")
    records = _rpps("\n".join([rows[0], rows[-1], second, rows[-1]]))[1]
    assert len(records) == 1
    assert [a.specialty_code for a in records[0].activities] == ["SM20", "SM36"]
    assert records[0].lines == 3


def test_fingerprint_ignores_activity_order():
    rows = _rows_2021()
    second = rows[-1].replace("|SM20|", "|SM36|")
    one = _rpps("\n".join([rows[0], rows[-1], second]))[1][0]
    two = _rpps("\n".join([rows[0], second, rows[-1]]))[1][0]
    assert one.fingerprint == two.fingerprint


# --- FINESS ---------------------------------------------------------------------------------


def test_etalab_excerpt():
    layout, kinds, records = read_finess(DATA / "etalab-cs1100502-stock-20260512-0339_excerpt.csv")
    records = list(records)
    assert (layout, kinds, len(records)) == ("etalab", {"ET"}, 14)
    fleyriat = records[0]
    assert fleyriat.finess == "010000024" and fleyriat.finess_ej == "010780054"
    assert fleyriat.category_code == "355"
    assert (fleyriat.postal_code, fleyriat.city, fleyriat.region) == ("01440", "VIRIAT", "84")
    quoted = next(r for r in records if r.finess == "980501506")
    assert quoted.name == 'LIEU DE VIE "MAVOUNA MEMA 1"'
    assert quoted.department == "976"
    reunion = next(r for r in records if r.finess == "970400024")
    assert (reunion.department, reunion.region, reunion.category_code) == ("974", "04", "101")


def _etalab_with_points(tmp_path, encoding="utf-8"):
    excerpt = (DATA / "etalab-cs1100502-stock-20260512-0339_excerpt.csv").read_text("utf-8")
    lines = excerpt.splitlines()
    lines.append(
        lines[1].replace("010000024;", "010000032;").replace("CH DE FLEYRIAT", "CH CÔTE D'ÉMERAUDE")
    )
    lines += [
        "geolocalisation;010000024;870262.2;6571540.8;1,ATLASANTE,96,BAN,EPSG:2154 RGF93 / "
        "Lambert-93 (Métropole);2026-05-04",
        "geolocalisation;970400024;338300.0;7690000.0;1,ATLASANTE,96,BAN,EPSG:2975;2026-05-04",
        "geolocalisation;980600027;not-a-number;1;x;2026-05-04",
    ]
    path = tmp_path / "etalab.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding, errors="replace"))
    return path


def test_etalab_coordinates_converted_per_territory(tmp_path):
    records = {r.finess: r for r in read_finess(_etalab_with_points(tmp_path))[2]}
    assert (records["010000024"].lat, records["010000024"].lon) == pytest.approx(
        (46.2227, 5.2092), abs=1e-3
    )
    assert records["970400024"].lat == pytest.approx(-20.89, abs=0.05)
    assert records["970400024"].lon == pytest.approx(55.45, abs=0.05)
    assert records["980600027"].lat is None


def test_etalab_windows_1252(tmp_path):
    records = {r.finess: r for r in read_finess(_etalab_with_points(tmp_path, "cp1252"))[2]}
    assert records["010000032"].name == "CH CÔTE D'ÉMERAUDE"
    assert records["010000024"].lat is not None


def test_etalab_rejects_malformed_lines(tmp_path):
    path = tmp_path / "etalab.csv"
    path.write_text(
        "finess;etalab;3;2026-05-12\nstructureet;12345;x\nstructureet;" + ";" * 31 + "\nautre;1\n",
        "utf-8",
    )
    records = list(read_finess(path)[2])
    assert [(r.line, r.reason[:30]) for r in records] == [
        (2, "structureet line with 3 fields"),
        (3, "malformed FINESS ET number ''"),
        (4, "unknown section 'autre'"),
    ]


def test_yearly_stock_with_header():
    layout, _kinds, records = read_finess(
        DATA / "etalab_stock_et_20201231_sample_dept01_DAMAGED-ACCENTS.csv"
    )
    records = list(records)
    assert (layout, len(records)) == ("etalab-stock", 100)
    fleyriat = records[0]
    assert fleyriat.lat == pytest.approx(46.2227, abs=1e-3)
    assert fleyriat.category_label == "Centre hospitalier non dénommé ailleurs (CH)"


def test_finess_plus_json():
    layout, kinds, records = read_finess(DATA / "finess-structures-echantillon-20260813.json.gz")
    records = list(records)
    assert (layout, kinds) == ("finess+", {"ET", "EJ"})
    assert not [r for r in records if isinstance(r, Rejected)]
    assert len(records) == 30 + 1753
    by_finess = {r.finess: r for r in records}
    clcc = by_finess["060000528"]
    assert (clcc.kind, clcc.finess_ej, clcc.category_code) == ("ET", "060780962", "131")
    assert clcc.category_label == "Centre de lutte contre le cancer (CLCC)"
    assert (clcc.lat, clcc.lon) == (43.724159, 7.280808)
    assert (clcc.department, clcc.region) == ("06", "93")
    closed_ej = by_finess["010000016"]
    assert closed_ej.kind == "EJ" and closed_ej.active is False
    assert str(closed_ej.closed_on) == "2019-03-03"


def _json_file(tmp_path, ege):
    document = {
        "schemaVersion": "v1.0.0",
        "gco": [],
        "gcc": [],
        "pmej": [
            {
                "informationsGeneralesPMEJ": {"numFinessPm": "290000017", "denominationPm": "CHU"},
                "adresse": [],
                "etatObjet": "A",
                "ege": [ege],
            }
        ],
    }
    path = tmp_path / "structures.json.gz"
    path.write_bytes(gzip.compress(json.dumps(document).encode()))
    return path


def _ege(**coordinates):
    return {
        "informationsGeneralesEGE": {
            "numFinessEge": "290000025",
            "nomEgeCourt": "HOPITAL\x07 MORVAN",
        },
        "categorieentiteGeographiqueExercice": "101",
        "adresse": [
            {"usageAdresse": "02", "codePostal": "75000", "cogCommune": "75056"},
            {
                "usageAdresse": "03",
                "numeroVoie": "2",
                "typeVoie": "AV",
                "libelleVoie": "FOCH",
                "codePostal": "29200",
                "cogCommune": "29019",
                "ligneAcheminement": "BREST",
                "coordonneesGeographique": coordinates,
            },
        ],
        "contact": [{"telecom": {"telephone": "0298223333/0298223334"}}],
        "etatObjet": "A",
    }


def test_json_takes_the_geographic_address_and_cleans_names(tmp_path):
    path = _json_file(tmp_path, _ege(coordonneeX="-4.486", coordonneeY="48.3905"))
    site = next(r for r in read_finess(path)[2] if r.kind == "ET")
    assert (site.postal_code, site.department, site.region) == ("29200", "29", "53")
    assert site.address == "2 AV FOCH"
    assert site.name == "HOPITAL MORVAN"
    assert site.phone == "0298223333"
    assert (site.lat, site.lon) == (48.3905, -4.486)


def test_json_swapped_coordinate_pairs(tmp_path):
    path = _json_file(
        tmp_path,
        _ege(
            coordonneeX="146641.40",
            coordonneeY="6836272.69",
            directionLatitude="48.3905",
            directionLongitude="-4.486",
        ),
    )
    site = next(r for r in read_finess(path)[2] if r.kind == "ET")
    assert (site.lat, site.lon) == (48.3905, -4.486)


def test_json_projected_only(tmp_path):
    path = _json_file(
        tmp_path, _ege(directionLongitude="146641.40", directionLatitude="6836272.69")
    )
    site = next(r for r in read_finess(path)[2] if r.kind == "ET")
    assert (site.lat, site.lon) == pytest.approx((48.3905, -4.486), abs=1e-5)


def test_unknown_finess_file_refused(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("nofiness;rs\n1;2\n", "utf-8")
    with pytest.raises(HeaderError, match="unknown FINESS file"):
        read_finess(path)
