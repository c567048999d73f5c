"""Synthetic directory lines in the exact formats of the real files (demo data and benchmarks).

Names mix frequent French surnames with generated ones (accents, hyphenated compounds,
particles), numbers pass the Luhn check. Generated RPPS numbers start with ``1980`` and
generated FINESS numbers use the ``9`` seventh-digit range, outside the ranges of real ones
seen in the samples, so that a demo row is never mistaken for a real person or place.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from planning.directory.importers import RPPS_COLUMNS_2026
from planning.directory.nomenclature import MODES_EXERCICE, profession_label, specialty_label
from planning.directory.normalize import luhn_valid


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


COMMON_LAST_NAMES = _words(
    "MARTIN BERNARD THOMAS PETIT ROBERT RICHARD DURAND DUBOIS MOREAU LAURENT SIMON MICHEL "
    "LEFÈVRE LEROY ROUX DAVID BERTRAND MOREL FOURNIER GIRARD BONNET DUPONT LAMBERT FONTAINE "
    "ROUSSEAU VINCENT MÜLLER LEFEBVRE FAURE ANDRÉ MERCIER BLANC GUÉRIN BOYER GARNIER CHEVALIER "
    "FRANÇOIS LEGRAND GAUTHIER GARCIA PERRIN ROBIN CLÉMENT MORIN NICOLAS HENRY ROUSSEL MATHIEU "
    "GAUTIER MASSON MARCHAND DUVAL DENIS DUMONT MARIE LEMAIRE NOËL MEYER DUFOUR MEUNIER BRUN "
    "BLANCHARD GIRAUD JOLY RIVIÈRE LUCAS BRUNET GAILLARD BARBIER ARNAUD MARTINEZ GÉRARD ROCHE "
    "RENARD SCHMITT ROY LEROUX COLIN VIDAL CARON PICARD ROGER FABRE AUBERT LEMOINE RENAUD "
    "DUMAS LACROIX OLIVIER PHILIPPE BOURGEOIS PIERRE BENOÎT REY LECLERC PAYET ROLLAND LECLERCQ "
    "GUILLAUME LECOMTE LÓPEZ JEAN DUPUY GUILLOT HUBERT BERGER CARPENTIER SÁNCHEZ DUPUIS MOULIN "
    "LOUIS DESCHAMPS HUET VASSEUR PEREZ BOUCHER FLEURY ROYER KLEIN JACQUET ADAM PARIS POIRIER "
    "MARTY AUBRY GUYOT CARRÉ CHARLES RENAULT CHARPENTIER MÉNARD MAILLARD BARON BERTIN BAILLY "
    "HERVÉ SCHNEIDER FERNANDEZ COLLET LÉGER BOUVIER JULIEN PRÉVOST MILLET PERROT "
    "DANIEL COUSIN GERMAIN BRETON BESSON LANGLOIS RÉMY PELLETIER LÉVÊQUE "
    "PERRIER LEBLANC BARRÉ LEBRUN MARCHAL WEBER MALLET HAMON BOULANGER JACOB MONNIER MICHAUD "
    "RODRIGUEZ GUICHARD GILLET ÉTIENNE GRONDIN POULAIN TESSIER CHEVALLIER COLLIN CHAUVIN  "
    "BOUCHET GAY LEMAÎTRE BÉNARD MARÉCHAL HUMBERT REYNAUD ANTOINE HOARAU PERRET BARTHÉLEMY "
    "CORDIER PICHON LEJEUNE GILBERT LAMY DELAUNAY PASQUIER CARLIER LAPORTE KERBRAT QUÉMÉNEUR "
    "MORVAN TANGUY CADIOU GUILLOU PRIGENT KERVELLA L'HOSTIS D'ALMEIDA "
    "N'DIAYE "
)
_PARTICLE_NAMES = (
    "LE GALL",
    "LE ROUX",
    "LE GOFF",
    "LE BIHAN",
    "LE BRAS",
    "LE MEUR",
    "DA SILVA",
    "DE LA FONTAINE",
    "DE SAINT-EXUPÉRY",
    "VAN DER BERG",
)
FIRST_NAMES = _words(
    "Jean Marie Michel Philippe Alain Nathalie Isabelle Sylvie Catherine Françoise Pierre "
    "Christophe Stéphane Valérie Sandrine Patrick Nicolas Christine Frédéric Laurent Éric "
    "Céline Julie Aurélie Émilie Camille Léa Chloé Inès Zoé Maëlle Anaïs Hélène Bénédicte "
    "Géraldine Clémence Agnès Thérèse Noémie Loïc Gaël Yannick Ronan Erwan Goulven Maël Hervé "
    "Jérôme Sébastien Benoît Grégoire Rémi Timothée Joël Noël François Raphaël Mathéo Élise "
    "Jean-Baptiste Marie-Hélène Anne-Sophie Jean-François Pierre-Yves Marie-Laure Marc-Antoine "
    "Zakaria Mohamed Fatima Yasmine Karim Nadia Thi Minh Van Kévin Mélanie Aude Ségolène Béatrice"
)
_SYLLABLES_START = _words(
    "KER LE GUIL BRO MOR TRÉ PLOU LAN CHA BEAU MON VIL ROCHE BOIS GRAND PÉ DU"
)
_SYLLABLES_MIDDLE = _words("VEL MAR GAR NEL LOR BER TIN VAL RAN DEL SAR COL MIN RIN")
_SYLLABLES_END = _words("EC OU AND ET IER EAU IN ON AULT ARD Y ÈS AC ENNE")


def luhn_complete(digits: str) -> str:
    """``digits`` followed by the check digit that makes the whole pass the Luhn check."""
    for check in "0123456789":
        if luhn_valid(digits + check):
            return digits + check
    raise AssertionError("unreachable")


def rpps_number(index: int) -> str:
    """The ``index``-th synthetic RPPS number (``198`` + 7 digits + check digit; below a
    million, the numbers start with ``1980``)."""
    if not 0 <= index < 10_000_000:
        raise ValueError(f"no synthetic RPPS number for index {index}")
    return luhn_complete(f"198{index:07d}")


def finess_number(department: str, index: int) -> str:
    """A synthetic FINESS number of ``department`` (check digit per Luhn)."""
    return luhn_complete(f"{department}9{index:05d}")


class NameGenerator:
    """Professional names following a skewed distribution, as in the real register."""

    def __init__(self, rng: random.Random, generated_surnames: int = 200_000) -> None:
        self.rng = rng
        self.common = [*COMMON_LAST_NAMES, *_PARTICLE_NAMES]
        self.common_weights = list(
            itertools.accumulate(1 / (rank + 8) for rank in range(len(self.common)))
        )
        self.generated = [self._invent() for _ in range(generated_surnames)]

    def _invent(self) -> str:
        rng = self.rng
        parts = [rng.choice(_SYLLABLES_START)]
        for _ in range(rng.choice((0, 1, 1, 2))):
            parts.append(rng.choice(_SYLLABLES_MIDDLE))
        parts.append(rng.choice(_SYLLABLES_END))
        return "".join(parts)

    def last_name(self) -> str:
        # As in France: the 200 most frequent surnames carry about a tenth of the people
        # (MARTIN about 0.4 %), the rest is a long tail.
        rng = self.rng
        if rng.random() < 0.12:
            name = rng.choices(self.common, cum_weights=self.common_weights)[0]
        else:
            name = rng.choice(self.generated)
        if rng.random() < 0.08:
            name = f"{name}-{rng.choice(self.generated if rng.random() < 0.5 else self.common)}"
        return name if rng.random() < 0.85 else name.title()

    def first_name(self) -> str:
        name = self.rng.choice(FIRST_NAMES)
        return name if self.rng.random() < 0.8 else name.upper()


@dataclass
class Site:
    """A place of exercise written into RPPS lines."""

    finess: str
    finess_ej: str
    name: str
    street: str
    postal_code: str
    city: str
    department: str


def rpps_line(values: dict[str, str]) -> str:
    """One line of the 2026 extraction (56 ``|``-separated fields, trailing ``|``)."""
    return "|".join(values.get(column, "") for column in RPPS_COLUMNS_2026) + "|"


def rpps_header() -> str:
    return "|".join(RPPS_COLUMNS_2026) + "|"


def practitioner_lines(
    *,
    rpps: str,
    last_name: str,
    first_name: str,
    female: bool,
    profession: str,
    specialty: str | None,
    sites: Sequence[Site | None],
    mode: str = "S",
) -> list[str]:
    """The lines of one professional: one per site (``None`` = an activity without a site)."""
    lines = []
    for site in sites:
        values = {
            "Type d'identifiant PP": "8",
            "Identifiant PP": rpps,
            "Identification nationale PP": "8" + rpps,
            "Code civilité d'exercice": "DR" if profession in ("10", "40") else "",
            "Libellé civilité d'exercice": "Docteur" if profession in ("10", "40") else "",
            "Code civilité": "MME" if female else "M",
            "Libellé civilité": "Madame" if female else "Monsieur",
            "Nom d'exercice": last_name,
            "Prénom d'exercice": first_name,
            "Code profession": profession,
            "Libellé profession": profession_label(profession) or "",
            "Code catégorie professionnelle": "C",
            "Libellé catégorie professionnelle": "Civil",
            "Code mode exercice": mode,
            "Libellé mode exercice": MODES_EXERCICE.get(mode, ""),
            "Autorité d'enregistrement": "CNOM//" if profession == "10" else "ARS//",
        }
        if specialty:
            values.update(
                {
                    "Code type savoir-faire": "S",
                    "Libellé type savoir-faire": "Spécialité ordinale",
                    "Code savoir-faire": specialty,
                    "Libellé savoir-faire": specialty_label(specialty) or "",
                }
            )
        if site is not None:
            number, _, street = site.street.partition(" ")
            values.update(
                {
                    "Numéro FINESS site": site.finess,
                    "Numéro FINESS établissement juridique": site.finess_ej,
                    "Identifiant technique de la structure": "F" + site.finess,
                    "Raison sociale site": site.name,
                    "Numéro Voie (coord. structure)": number,
                    "Libellé Voie (coord. structure)": street,
                    "Bureau cedex (coord. structure)": f"{site.postal_code} {site.city.upper()}",
                    "Code postal (coord. structure)": site.postal_code,
                    "Libellé commune (coord. structure)": site.city,
                    "Code Département (structure)": site.department,
                    "Ancien identifiant de la structure": "1" + site.finess,
                    "Autorité d'enregistrement": "CNOM/ARS/ARS",
                }
            )
        lines.append(rpps_line(values))
    return lines


#: Specialties of physicians drawn by the generators, oncology-heavy, with weights.
SPECIALTY_WEIGHTS = {
    "SM54": 30,
    "SM53": 10,
    "SM36": 6,
    "SM37": 3,
    "SM45": 2,
    "SM35": 1,
    "SM23": 1,
    "SM01": 3,
    "SM44": 6,
    "SM28": 1,
    "SM14": 3,
    "SM05": 2,
    "SM12": 2,
    "SM20": 4,
    "SM41": 3,
    "SM24": 3,
    "SM34": 2,
    "SM21": 1,
    "SM04": 5,
    "SM40": 4,
    "SM42": 5,
    "SM02": 5,
}
#: Professions of the register with their approximate weight.
PROFESSION_WEIGHTS = {"10": 23, "60": 45, "21": 8, "70": 9, "40": 4, "50": 2, "91": 2, "93": 7}


def national_lines(
    rng: random.Random,
    *,
    professionals: int,
    sites: list[Site],
    activities_per_professional: float = 1.9,
) -> Iterator[str]:
    """Lines of a synthetic national extraction (sorted by identifier, as the real file)."""
    names = NameGenerator(rng)
    specialties = list(SPECIALTY_WEIGHTS)
    specialty_weights = list(SPECIALTY_WEIGHTS.values())
    professions = list(PROFESSION_WEIGHTS)
    profession_weights = list(PROFESSION_WEIGHTS.values())
    extra = activities_per_professional - 1
    for index in range(professionals):
        profession = rng.choices(professions, profession_weights)[0]
        specialty = (
            rng.choices(specialties, specialty_weights)[0]
            if profession == "10"
            else ("SI02" if profession == "60" and rng.random() < 0.01 else None)
        )
        count = 1 + int(extra) + (1 if rng.random() < extra - int(extra) else 0)
        count = max(1, min(count + rng.choice((-1, 0, 0, 1)), 6))
        where: list[Site | None] = [
            rng.choice(sites) if rng.random() < 0.85 else None for _ in range(count)
        ]
        yield from practitioner_lines(
            rpps=rpps_number(index),
            last_name=names.last_name(),
            first_name=names.first_name(),
            female=rng.random() < 0.6,
            profession=profession,
            specialty=specialty,
            sites=where,
            mode=rng.choice("SSL"),
        )


def etalab_lines(establishments: list[dict[str, str]], extraction_date: str) -> Iterator[str]:
    """A FINESS etalab flat file (cs1100507 layout: ``structureet`` then ``geolocalisation``).

    Each establishment: finess, finess_ej, name, long_name, street, postal_code, city,
    department, category, category_label, phone, x, y (Lambert-93 or local UTM), epsg.
    """
    yield f"finess;etalab;{len(establishments)};{extraction_date}"
    for e in establishments:
        number, _, street = e["street"].partition(" ")
        department = e["department"]
        etalab_department = {"971": "9A", "972": "9B", "973": "9C", "974": "9D", "976": "9F"}.get(
            department, department
        )
        fields = [
            "structureet",
            e["finess"],
            e["finess_ej"],
            e["name"],
            e["long_name"],
            "",
            "",
            number,
            "",
            street,
            "",
            "",
            "001",
            etalab_department,
            e.get("department_label", ""),
            f"{e['postal_code']} {e['city'].upper()}",
            e.get("phone", ""),
            "",
            e["category"],
            e["category_label"],
            "",
            "",
            "",
            "8610Z",
            "03",
            "ARS établissements Publics de santé dotation globale",
            "1",
            "Etablissement public de santé",
            "1970-01-01",
            "1970-01-01",
            extraction_date,
            "",
        ]
        yield ";".join(fields)
    for e in establishments:
        yield (
            f"geolocalisation;{e['finess']};{e['x']};{e['y']};"
            f"1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,EPSG:{e.get('epsg', '2154')};{extraction_date}"
        )
