"""The demo directory: real sample rows plus generated ones, in the formats of the real files.

Loaded by ``dcc-services demo`` through the same importers as the national files, so a second
run changes nothing. Real rows: the RPPS 2021 sample, the FINESS etalab excerpt and the
FINESS+ JSON sample (provenance in ``demo/SOURCES.md``). Generated rows: establishments in
Bretagne and three other regions, and oncology professionals working there. The generated
FINESS numbers (except 290000017, the CHRU de Brest) and every ``1980…`` RPPS number are
synthetic.
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

from core.terminology.geo import region_of_department
from planning.directory import importers, sync
from planning.directory.nomenclature import category_label
from planning.directory.projection import to_lambert93
from planning.directory.synthetic import (
    NameGenerator,
    Site,
    etalab_lines,
    finess_number,
    practitioner_lines,
    rpps_header,
    rpps_number,
)

DEMO_DIR = Path(__file__).resolve().parent / "demo"

#: Generated establishments: (finess, name, long name, street, postal code, city, category,
#: latitude, longitude).
ESTABLISHMENTS = [
    (
        "290000017",
        "CHRU BREST",
        "CHRU DE BREST - HOPITAL MORVAN",
        "2 AV FOCH",
        "29200",
        "Brest",
        "101",
        48.3905,
        -4.4860,
    ),
    (
        finess_number("29", 2),
        "CH CORNOUAILLE",
        "CH DE CORNOUAILLE QUIMPER",
        "14 AV YVES THEPOT",
        "29000",
        "Quimper",
        "355",
        47.9960,
        -4.1020,
    ),
    (
        finess_number("35", 1),
        "CHU RENNES",
        "CHU DE RENNES - PONTCHAILLOU",
        "2 RUE HENRI LE GUILLOUX",
        "35000",
        "Rennes",
        "101",
        48.1207,
        -1.6936,
    ),
    (
        finess_number("35", 2),
        "CENTRE EUGENE MARQUIS",
        "CENTRE EUGENE MARQUIS",
        "1 AV DE LA BATAILLE FLANDRES DUNKERQUE",
        "35042",
        "Rennes",
        "131",
        48.1189,
        -1.6963,
    ),
    (
        finess_number("56", 1),
        "CH BRETAGNE ATLANTIQUE",
        "CENTRE HOSPITALIER BRETAGNE ATLANTIQUE VANNES",
        "20 BD GENERAL GUILLAUDOT",
        "56000",
        "Vannes",
        "355",
        47.6650,
        -2.7550,
    ),
    (
        finess_number("22", 1),
        "CH SAINT-BRIEUC",
        "CENTRE HOSPITALIER YVES LE FOLL SAINT-BRIEUC",
        "10 RUE MARCEL PROUST",
        "22000",
        "Saint-Brieuc",
        "355",
        48.5190,
        -2.7480,
    ),
    (
        finess_number("44", 1),
        "ICO RENE GAUDUCHEAU",
        "INSTITUT DE CANCEROLOGIE DE L'OUEST SITE RENE GAUDUCHEAU",
        "BD JACQUES MONOD",
        "44800",
        "Saint-Herblain",
        "131",
        47.2370,
        -1.6370,
    ),
    (
        finess_number("94", 1),
        "GUSTAVE ROUSSY",
        "INSTITUT GUSTAVE ROUSSY",
        "114 RUE EDOUARD VAILLANT",
        "94800",
        "Villejuif",
        "131",
        48.7940,
        2.3500,
    ),
    (
        finess_number("31", 1),
        "IUCT ONCOPOLE",
        "INSTITUT UNIVERSITAIRE DU CANCER DE TOULOUSE ONCOPOLE",
        "1 AV IRENE JOLIOT-CURIE",
        "31100",
        "Toulouse",
        "131",
        43.5560,
        1.4270,
    ),
]

#: Real establishments of the samples where generated professionals also work.
REAL_SITES = [
    Site("010000024", "010780054", "CH DE FLEYRIAT", "900 RTE DE PARIS", "01440", "Viriat", "01"),
    Site(
        "060000528",
        "060780962",
        "CENTRE ANTOINE LACASSAGNE",
        "33 AV DE VALOMBROSE",
        "06189",
        "Nice",
        "06",
    ),
    Site(
        "210986089",
        "210780581",
        "CHU DIJON BOURGOGNE",
        "14 RUE PAUL GAFFAREL",
        "21000",
        "Dijon",
        "21",
    ),
    Site(
        "520000027",
        "520780032",
        "CENTRE HOSPITALIER DE CHAUMONT",
        "2 RUE JEANNE D'ARC",
        "52014",
        "Chaumont",
        "52",
    ),
    Site(
        "970400024",
        "970408589",
        "CHU SITE FELIX GUYON",
        "ALLEE DES TOPAZES",
        "97400",
        "Saint-Denis",
        "974",
    ),
]

#: Named demo physicians: (RPPS index, last name, first name, female, specialty, site index).
PHYSICIANS = [
    (1, "LE GALL-KERBRAT", "Bénédicte", True, "SM36", 0),
    (2, "MORVAN", "Yannick", False, "SM37", 0),
    (3, "QUÉMÉNEUR", "Anaïs", True, "SM01", 0),
    (4, "L'HOSTIS", "Loïc", False, "SM44", 0),
    (5, "KERVELLA", "Maëlle", True, "SM14", 0),
    (6, "DE LA FONTAINE", "Anne-Sophie", True, "SM36", 2),
    (7, "TANGUY", "Erwan", False, "SM45", 3),
    (8, "PRIGENT", "Gaël", False, "SM28", 2),
    (9, "CADIOU", "Hélène", True, "SM36", 1),
    (10, "GUILLOU", "Ronan", False, "SM12", 1),
]


def demo_physicians() -> list[dict[str, str]]:
    """The named demo physicians with their RPPS numbers (for other modules' demo data)."""
    return [
        {
            "rpps": rpps_number(index),
            "last_name": last,
            "first_name": first,
            "specialty": specialty,
            "finess": _generated_sites()[site].finess,
        }
        for index, last, first, _female, specialty, site in PHYSICIANS
    ]


def _generated_sites() -> list[Site]:
    return [
        Site(finess, finess, long_name, street, postal, city, _department(postal))
        for finess, _n, long_name, street, postal, city, _c, _lat, _lon in ESTABLISHMENTS
    ]


def _department(postal_code: str) -> str:
    return postal_code[:3] if postal_code.startswith("97") else postal_code[:2]


def finess_file(path: Path) -> None:
    """The etalab file of the demo: the real excerpt's lines, then generated establishments."""
    generated = []
    for finess, name, long_name, street, postal, city, category, lat, lon in ESTABLISHMENTS:
        x, y = to_lambert93(lat, lon)
        generated.append(
            {
                "finess": finess,
                "finess_ej": finess,
                "name": name,
                "long_name": long_name,
                "street": street,
                "postal_code": postal,
                "city": city,
                "department": _department(postal),
                "category": category,
                "category_label": category_label(category) or "",
                "x": f"{x:.1f}",
                "y": f"{y:.1f}",
            }
        )
    real = (DEMO_DIR / "etalab-cs1100502-stock-20260512-0339_excerpt.csv").read_text("utf-8")
    lines = list(etalab_lines(generated, "2026-05-12"))
    structures = [line for line in lines[1:] if line.startswith("structureet;")]
    points = [line for line in lines[1:] if line.startswith("geolocalisation;")]
    body = [*real.splitlines()[1:], *structures, *points]
    path.write_text("\n".join([f"finess;etalab;{len(body)};2026-05-12", *body]) + "\n", "utf-8")


def rpps_file(path: Path) -> None:
    """The RPPS file of the demo (2026 layout): the real 2021 rows, then generated ones."""
    rng = random.Random(53)  # noqa: S311 - reproducible demo data, not a secret
    names = NameGenerator(rng, generated_surnames=300)
    real = (DEMO_DIR / "PS_LibreAcces_Personne_activite_small_2021.txt").read_text("utf-8")
    lines = [rpps_header()]
    # The 2026 layout appends four columns (role, activity genre) to the 2021 one.
    lines += [line + "||||" for line in real.splitlines()[1:]]
    generated = _generated_sites()
    for index, last, first, female, specialty, site_index in PHYSICIANS:
        lines += practitioner_lines(
            rpps=rpps_number(index),
            last_name=last,
            first_name=first,
            female=female,
            profession="10",
            specialty=specialty,
            sites=[generated[site_index]],
        )
    sites = generated + REAL_SITES
    oncology = ["SM36", "SM37", "SM45", "SM01", "SM44", "SM28", "SM14", "SM05", "SM12"]
    oncology += ["SM20", "SM41", "SM24", "SM23", "SM35", "SM34", "SM21"]
    index = 100
    for site in sites:
        # Every site has a medical oncologist, and five other RCP specialties.
        for specialty in ["SM36", *rng.sample(oncology[1:], 5)]:
            index += 1
            other = rng.choice(sites) if rng.random() < 0.2 else None
            lines += practitioner_lines(
                rpps=rpps_number(index),
                last_name=names.last_name(),
                first_name=names.first_name(),
                female=rng.random() < 0.55,
                profession="10",
                specialty=specialty,
                sites=[site] + ([other] if other and other is not site else []),
            )
        extra: tuple[tuple[str, str | None], ...] = (("21", None), ("60", "SI02"))
        for profession, other_specialty in extra:
            index += 1
            lines += practitioner_lines(
                rpps=rpps_number(index),
                last_name=names.last_name(),
                first_name=names.first_name(),
                female=rng.random() < 0.7,
                profession=profession,
                specialty=other_specialty,
                sites=[site],
            )
    path.write_text("\n".join(lines) + "\n", "utf-8")


def load_demo() -> dict[str, sync.ImportReport]:
    """Import the demo files (partial files: nothing missing from them is deactivated)."""
    reports = {}
    with tempfile.TemporaryDirectory(prefix="dcc-directory-demo-") as scratch:
        rpps_path, finess_path = Path(scratch) / "rpps.txt", Path(scratch) / "finess.csv"
        rpps_file(rpps_path)
        finess_file(finess_path)
        for path in (DEMO_DIR / "finess-structures-echantillon-20260813.json.gz", finess_path):
            layout, kinds, records = importers.read_finess(path)
            reports[path.name] = sync.import_organizations(
                records, layout=layout, kinds=kinds, file_name=path.name, deactivate_missing=False
            )
        with rpps_path.open("rb") as handle:
            layout, people = importers.read_rpps(handle)
            reports["rpps"] = sync.import_practitioners(
                people, layout=layout, file_name="demo rpps", deactivate_missing=False
            )
    return reports


def regions_covered() -> set[str]:
    """Regions of the generated establishments (the demo's promise: Bretagne and others)."""
    return {region_of_department(_department(e[4])) or "" for e in ESTABLISHMENTS}
