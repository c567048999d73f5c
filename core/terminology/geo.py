"""French departments and regions (INSEE codes), postal codes, and distances between places."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Department:
    code: str
    name: str
    region: str
    #: Coordinates of the prefecture: the point used when only a department is known.
    prefecture: str
    lat: float
    lon: float


#: Regions since 2016, by INSEE code.
REGIONS: dict[str, str] = {
    "01": "Guadeloupe",
    "02": "Martinique",
    "03": "Guyane",
    "04": "La Réunion",
    "06": "Mayotte",
    "11": "Île-de-France",
    "24": "Centre-Val de Loire",
    "27": "Bourgogne-Franche-Comté",
    "28": "Normandie",
    "32": "Hauts-de-France",
    "44": "Grand Est",
    "52": "Pays de la Loire",
    "53": "Bretagne",
    "75": "Nouvelle-Aquitaine",
    "76": "Occitanie",
    "84": "Auvergne-Rhône-Alpes",
    "93": "Provence-Alpes-Côte d'Azur",
    "94": "Corse",
}

DEPARTMENTS: dict[str, Department] = {
    "01": Department("01", "Ain", "84", "Bourg-en-Bresse", 46.205, 5.225),
    "02": Department("02", "Aisne", "32", "Laon", 49.564, 3.620),
    "03": Department("03", "Allier", "84", "Moulins", 46.566, 3.333),
    "04": Department("04", "Alpes-de-Haute-Provence", "93", "Digne-les-Bains", 44.092, 6.236),
    "05": Department("05", "Hautes-Alpes", "93", "Gap", 44.559, 6.079),
    "06": Department("06", "Alpes-Maritimes", "93", "Nice", 43.703, 7.266),
    "07": Department("07", "Ardèche", "84", "Privas", 44.735, 4.599),
    "08": Department("08", "Ardennes", "44", "Charleville-Mézières", 49.773, 4.720),
    "09": Department("09", "Ariège", "76", "Foix", 42.965, 1.607),
    "10": Department("10", "Aube", "44", "Troyes", 48.297, 4.074),
    "11": Department("11", "Aude", "76", "Carcassonne", 43.213, 2.349),
    "12": Department("12", "Aveyron", "76", "Rodez", 44.350, 2.575),
    "13": Department("13", "Bouches-du-Rhône", "93", "Marseille", 43.296, 5.370),
    "14": Department("14", "Calvados", "28", "Caen", 49.183, -0.371),
    "15": Department("15", "Cantal", "84", "Aurillac", 44.926, 2.440),
    "16": Department("16", "Charente", "75", "Angoulême", 45.649, 0.156),
    "17": Department("17", "Charente-Maritime", "75", "La Rochelle", 46.160, -1.151),
    "18": Department("18", "Cher", "24", "Bourges", 47.081, 2.399),
    "19": Department("19", "Corrèze", "75", "Tulle", 45.267, 1.770),
    "2A": Department("2A", "Corse-du-Sud", "94", "Ajaccio", 41.919, 8.738),
    "2B": Department("2B", "Haute-Corse", "94", "Bastia", 42.697, 9.450),
    "21": Department("21", "Côte-d'Or", "27", "Dijon", 47.322, 5.041),
    "22": Department("22", "Côtes-d'Armor", "53", "Saint-Brieuc", 48.514, -2.765),
    "23": Department("23", "Creuse", "75", "Guéret", 46.171, 1.872),
    "24": Department("24", "Dordogne", "75", "Périgueux", 45.184, 0.721),
    "25": Department("25", "Doubs", "27", "Besançon", 47.238, 6.024),
    "26": Department("26", "Drôme", "84", "Valence", 44.933, 4.892),
    "27": Department("27", "Eure", "28", "Évreux", 49.027, 1.151),
    "28": Department("28", "Eure-et-Loir", "24", "Chartres", 48.446, 1.489),
    "29": Department("29", "Finistère", "53", "Quimper", 47.996, -4.102),
    "30": Department("30", "Gard", "76", "Nîmes", 43.837, 4.360),
    "31": Department("31", "Haute-Garonne", "76", "Toulouse", 43.605, 1.444),
    "32": Department("32", "Gers", "76", "Auch", 43.646, 0.586),
    "33": Department("33", "Gironde", "75", "Bordeaux", 44.838, -0.579),
    "34": Department("34", "Hérault", "76", "Montpellier", 43.611, 3.877),
    "35": Department("35", "Ille-et-Vilaine", "53", "Rennes", 48.117, -1.678),
    "36": Department("36", "Indre", "24", "Châteauroux", 46.811, 1.691),
    "37": Department("37", "Indre-et-Loire", "24", "Tours", 47.394, 0.685),
    "38": Department("38", "Isère", "84", "Grenoble", 45.188, 5.724),
    "39": Department("39", "Jura", "27", "Lons-le-Saunier", 46.675, 5.555),
    "40": Department("40", "Landes", "75", "Mont-de-Marsan", 43.890, -0.500),
    "41": Department("41", "Loir-et-Cher", "24", "Blois", 47.586, 1.335),
    "42": Department("42", "Loire", "84", "Saint-Étienne", 45.440, 4.387),
    "43": Department("43", "Haute-Loire", "84", "Le Puy-en-Velay", 45.043, 3.885),
    "44": Department("44", "Loire-Atlantique", "52", "Nantes", 47.218, -1.554),
    "45": Department("45", "Loiret", "24", "Orléans", 47.903, 1.909),
    "46": Department("46", "Lot", "76", "Cahors", 44.448, 1.441),
    "47": Department("47", "Lot-et-Garonne", "75", "Agen", 44.203, 0.616),
    "48": Department("48", "Lozère", "76", "Mende", 44.518, 3.501),
    "49": Department("49", "Maine-et-Loire", "52", "Angers", 47.478, -0.563),
    "50": Department("50", "Manche", "28", "Saint-Lô", 49.116, -1.091),
    "51": Department("51", "Marne", "44", "Châlons-en-Champagne", 48.957, 4.363),
    "52": Department("52", "Haute-Marne", "44", "Chaumont", 48.111, 5.139),
    "53": Department("53", "Mayenne", "52", "Laval", 48.073, -0.770),
    "54": Department("54", "Meurthe-et-Moselle", "44", "Nancy", 48.692, 6.184),
    "55": Department("55", "Meuse", "44", "Bar-le-Duc", 48.773, 5.160),
    "56": Department("56", "Morbihan", "53", "Vannes", 47.658, -2.760),
    "57": Department("57", "Moselle", "44", "Metz", 49.119, 6.176),
    "58": Department("58", "Nièvre", "27", "Nevers", 46.990, 3.159),
    "59": Department("59", "Nord", "32", "Lille", 50.629, 3.057),
    "60": Department("60", "Oise", "32", "Beauvais", 49.430, 2.081),
    "61": Department("61", "Orne", "28", "Alençon", 48.432, 0.091),
    "62": Department("62", "Pas-de-Calais", "32", "Arras", 50.291, 2.778),
    "63": Department("63", "Puy-de-Dôme", "84", "Clermont-Ferrand", 45.777, 3.087),
    "64": Department("64", "Pyrénées-Atlantiques", "75", "Pau", 43.295, -0.371),
    "65": Department("65", "Hautes-Pyrénées", "76", "Tarbes", 43.233, 0.078),
    "66": Department("66", "Pyrénées-Orientales", "76", "Perpignan", 42.699, 2.895),
    "67": Department("67", "Bas-Rhin", "44", "Strasbourg", 48.573, 7.752),
    "68": Department("68", "Haut-Rhin", "44", "Colmar", 48.079, 7.358),
    "69": Department("69", "Rhône", "84", "Lyon", 45.764, 4.836),
    "70": Department("70", "Haute-Saône", "27", "Vesoul", 47.622, 6.156),
    "71": Department("71", "Saône-et-Loire", "27", "Mâcon", 46.307, 4.832),
    "72": Department("72", "Sarthe", "52", "Le Mans", 48.006, 0.199),
    "73": Department("73", "Savoie", "84", "Chambéry", 45.564, 5.918),
    "74": Department("74", "Haute-Savoie", "84", "Annecy", 45.899, 6.129),
    "75": Department("75", "Paris", "11", "Paris", 48.857, 2.352),
    "76": Department("76", "Seine-Maritime", "28", "Rouen", 49.443, 1.100),
    "77": Department("77", "Seine-et-Marne", "11", "Melun", 48.540, 2.660),
    "78": Department("78", "Yvelines", "11", "Versailles", 48.805, 2.120),
    "79": Department("79", "Deux-Sèvres", "75", "Niort", 46.323, -0.459),
    "80": Department("80", "Somme", "32", "Amiens", 49.894, 2.296),
    "81": Department("81", "Tarn", "76", "Albi", 43.929, 2.148),
    "82": Department("82", "Tarn-et-Garonne", "76", "Montauban", 44.018, 1.355),
    "83": Department("83", "Var", "93", "Toulon", 43.124, 5.928),
    "84": Department("84", "Vaucluse", "93", "Avignon", 43.949, 4.806),
    "85": Department("85", "Vendée", "52", "La Roche-sur-Yon", 46.670, -1.426),
    "86": Department("86", "Vienne", "75", "Poitiers", 46.580, 0.340),
    "87": Department("87", "Haute-Vienne", "75", "Limoges", 45.834, 1.261),
    "88": Department("88", "Vosges", "44", "Épinal", 48.173, 6.449),
    "89": Department("89", "Yonne", "27", "Auxerre", 47.798, 3.567),
    "90": Department("90", "Territoire de Belfort", "27", "Belfort", 47.640, 6.863),
    "91": Department("91", "Essonne", "11", "Évry-Courcouronnes", 48.629, 2.441),
    "92": Department("92", "Hauts-de-Seine", "11", "Nanterre", 48.892, 2.206),
    "93": Department("93", "Seine-Saint-Denis", "11", "Bobigny", 48.908, 2.439),
    "94": Department("94", "Val-de-Marne", "11", "Créteil", 48.790, 2.455),
    "95": Department("95", "Val-d'Oise", "11", "Cergy", 49.036, 2.076),
    "971": Department("971", "Guadeloupe", "01", "Basse-Terre", 15.998, -61.726),
    "972": Department("972", "Martinique", "02", "Fort-de-France", 14.616, -61.059),
    "973": Department("973", "Guyane", "03", "Cayenne", 4.922, -52.313),
    "974": Department("974", "La Réunion", "04", "Saint-Denis", -20.882, 55.450),
    "976": Department("976", "Mayotte", "06", "Mamoudzou", -12.781, 45.228),
}


def normalize_department(code: str | None) -> str | None:
    """'1' -> '01', '2a' -> '2A', '971' stays; unknown codes give None."""
    if not code:
        return None
    code = code.strip().upper()
    if code.isdigit() and len(code) == 1:
        code = "0" + code
    if code in ("20",):  # pre-1976 Corsica code: ambiguous
        return None
    return code if code in DEPARTMENTS else None


def region_of_department(code: str | None) -> str | None:
    department = normalize_department(code)
    return DEPARTMENTS[department].region if department else None


def departments_of_region(region: str) -> list[str]:
    return [d.code for d in DEPARTMENTS.values() if d.region == region]


def department_of_postal_code(postal_code: str | None) -> str | None:
    """The department of a French postal code (Corsica and overseas handled)."""
    if not postal_code:
        return None
    digits = postal_code.strip().replace(" ", "")
    if len(digits) != 5 or not digits.isdigit():
        return None
    if digits.startswith("97"):
        return normalize_department(digits[:3])
    if digits.startswith("20"):
        return "2A" if digits[:3] in ("200", "201") else "2B"
    return normalize_department(digits[:2])


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlmb = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(a))


def department_point(code: str | None) -> tuple[float, float] | None:
    department = normalize_department(code)
    if department is None:
        return None
    d = DEPARTMENTS[department]
    return d.lat, d.lon
