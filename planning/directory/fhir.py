"""FHIR R4 resources of the directory, following the ANS Annuaire Santé conventions.

Identifier systems and type codes as the ANS FHIR API publishes them: IDNPS
(urn:oid:1.2.250.1.71.4.2.1) and RPPS for professionals, FINESS (FINEG for an establishment,
FINEJ for a legal entity) and IDNST (urn:oid:1.2.250.1.71.4.2.2) for organizations; codes from
the NOS terminologies (TRE_G15 professions, TRE_R38 specialties, TRE_R66 categories).
Functions take plain objects with the model's attributes and return JSON-ready dicts.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

IDNPS_SYSTEM = "urn:oid:1.2.250.1.71.4.2.1"
RPPS_SYSTEM = "https://rpps.esante.gouv.fr"
ADELI_SYSTEM = "urn:oid:1.2.250.1.71.4.2.1"
IDNST_SYSTEM = "urn:oid:1.2.250.1.71.4.2.2"
FINESS_SYSTEM = "https://finess.esante.gouv.fr"
IDENTIFIER_TYPES = "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203"
ORGANIZATION_TYPES = "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-type-organisation"
PROFESSION_SYSTEM = (
    "https://mos.esante.gouv.fr/NOS/TRE_G15-ProfessionSante/FHIR/TRE-G15-ProfessionSante"
)
SPECIALTY_SYSTEM = (
    "https://mos.esante.gouv.fr/NOS/TRE_R38-SpecialiteOrdinale/FHIR/TRE-R38-SpecialiteOrdinale"
)
CATEGORY_SYSTEM = "https://mos.esante.gouv.fr/NOS/TRE_R66-CategorieEtablissement/FHIR/TRE-R66-CategorieEtablissement"
MODE_SYSTEM = "https://mos.esante.gouv.fr/NOS/TRE_R23-ModeExercice/FHIR/TRE-R23-ModeExercice"

FHIR_JSON = "application/fhir+json"


def _identifier(system: str, value: str, type_code: str, display: str) -> dict[str, Any]:
    return {
        "use": "official",
        "type": {"coding": [{"system": IDENTIFIER_TYPES, "code": type_code, "display": display}]},
        "system": system,
        "value": value,
    }


def _coding(system: str, code: str | None, display: str | None) -> dict[str, Any]:
    coding: dict[str, Any] = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return coding


def _address(
    line: str | None, postal_code: str | None, city: str | None, country: str | None = None
) -> list[dict[str, Any]]:
    address: dict[str, Any] = {"use": "work", "type": "physical"}
    if line:
        address["line"] = [line]
    if postal_code:
        address["postalCode"] = postal_code
    if city:
        address["city"] = city
    address["country"] = country or "FRA"
    return [address] if len(address) > 3 else []


def practitioner_id(practitioner: Any) -> str:
    """The logical id of a professional: his national identifier (IDNPS)."""
    return str(practitioner.national_id)


def practitioner(practitioner: Any) -> dict[str, Any]:
    """A ``Practitioner``: identifiers, name, and the qualifications of active activities."""
    identifiers = [
        _identifier(
            IDNPS_SYSTEM,
            practitioner.national_id,
            "IDNPS",
            "Identifiant National de Professionnel de Santé",
        )
    ]
    if practitioner.rpps:
        identifiers.append(_identifier(RPPS_SYSTEM, practitioner.rpps, "RPPS", "N° RPPS"))
    else:
        identifiers.append(_identifier(ADELI_SYSTEM, practitioner.national_id, "ADELI", "N° ADELI"))
    name: dict[str, Any] = {"use": "usual", "family": practitioner.last_name}
    if practitioner.first_name:
        name["given"] = [practitioner.first_name]
    if practitioner.exercise_civility:
        name["prefix"] = [practitioner.exercise_civility]
    qualifications = []
    seen: set[tuple[str, str]] = set()
    for activity in practitioner.activities:
        if not activity.active:
            continue
        for system, code, label in (
            (PROFESSION_SYSTEM, activity.profession_code, activity.profession_label),
            (SPECIALTY_SYSTEM, activity.specialty_code, activity.specialty_label),
        ):
            if code and (system, code) not in seen:
                seen.add((system, code))
                qualifications.append({"code": {"coding": [_coding(system, code, label)]}})
    resource: dict[str, Any] = {
        "resourceType": "Practitioner",
        "id": practitioner_id(practitioner),
        "identifier": identifiers,
        "active": bool(practitioner.active),
        "name": [name],
    }
    if qualifications:
        resource["qualification"] = qualifications
    return resource


def practitioner_roles(practitioner: Any, *, finess: str | None = None) -> list[dict[str, Any]]:
    """One ``PractitionerRole`` per activity (situation d'exercice) of the professional
    (only those at establishment ``finess`` when given)."""
    roles = []
    for activity in practitioner.activities:
        if finess and activity.finess_site != finess:
            continue
        role: dict[str, Any] = {
            "resourceType": "PractitionerRole",
            "id": f"{practitioner_id(practitioner)}-{activity.id}",
            "active": bool(activity.active and practitioner.active),
            "practitioner": {
                "reference": f"Practitioner/{practitioner_id(practitioner)}",
                "display": f"{practitioner.first_name} {practitioner.last_name}".strip(),
            },
        }
        if activity.finess_site:
            role["organization"] = {
                "reference": f"Organization/{activity.finess_site}",
                "identifier": {"system": FINESS_SYSTEM, "value": activity.finess_site},
            }
            if activity.structure_name:
                role["organization"]["display"] = activity.structure_name
        if activity.profession_code:
            role["code"] = [
                {
                    "coding": [
                        _coding(
                            PROFESSION_SYSTEM, activity.profession_code, activity.profession_label
                        )
                    ]
                }
            ]
        if activity.mode_exercice:
            role["code"] = [
                *role.get("code", []),
                {"coding": [_coding(MODE_SYSTEM, activity.mode_exercice, None)]},
            ]
        if activity.specialty_code:
            role["specialty"] = [
                {
                    "coding": [
                        _coding(SPECIALTY_SYSTEM, activity.specialty_code, activity.specialty_label)
                    ]
                }
            ]
        telecom = []
        if activity.phone:
            telecom.append({"system": "phone", "value": activity.phone, "use": "work"})
        if activity.email:
            telecom.append({"system": "email", "value": activity.email, "use": "work"})
        if telecom:
            role["telecom"] = telecom
        roles.append(role)
    return roles


def organization(organization: Any) -> dict[str, Any]:
    """An ``Organization``: an establishment (FINEG) or a legal entity (FINEJ)."""
    legal = organization.kind == "EJ"
    identifiers = [
        _identifier(
            FINESS_SYSTEM,
            organization.finess,
            "FINEJ" if legal else "FINEG",
            "FINESS d'entité juridique" if legal else "FINESS d'entité géographique",
        ),
        _identifier(
            IDNST_SYSTEM,
            "1" + organization.finess,
            "IDNST",
            "Identifiant National de Structure",
        ),
    ]
    types = [
        {
            "coding": [
                _coding(
                    ORGANIZATION_TYPES,
                    "LEGAL-ENTITY" if legal else "GEOGRAPHICAL-ENTITY",
                    "Entité juridique" if legal else "Entité géographique",
                )
            ]
        }
    ]
    if organization.category_code:
        types.append(
            {
                "coding": [
                    _coding(
                        CATEGORY_SYSTEM, organization.category_code, organization.category_label
                    )
                ]
            }
        )
    resource: dict[str, Any] = {
        "resourceType": "Organization",
        "id": organization.finess,
        "identifier": identifiers,
        "active": bool(organization.active),
        "type": types,
        "name": organization.long_name or organization.name,
    }
    if organization.long_name and organization.name != organization.long_name:
        resource["alias"] = [organization.name]
    if organization.phone:
        resource["telecom"] = [{"system": "phone", "value": organization.phone, "use": "work"}]
    address = _address(organization.address, organization.postal_code, organization.city)
    if address:
        if organization.lat is not None and organization.lon is not None:
            address[0]["extension"] = [
                {
                    "url": "http://hl7.org/fhir/StructureDefinition/geolocation",
                    "extension": [
                        {"url": "latitude", "valueDecimal": organization.lat},
                        {"url": "longitude", "valueDecimal": organization.lon},
                    ],
                }
            ]
        resource["address"] = address
    if organization.finess_ej and not legal:
        resource["partOf"] = {
            "reference": f"Organization/{organization.finess_ej}",
            "identifier": {"system": FINESS_SYSTEM, "value": organization.finess_ej},
        }
    return resource


def searchset(
    resources: Iterable[dict[str, Any]],
    *,
    total: int | None,
    base_url: str,
    path: str,
    params: dict[str, Any],
    page: int,
    count: int,
) -> dict[str, Any]:
    """A ``searchset`` Bundle with ``self`` and, when more pages exist, ``next`` links.

    ``total`` None (too many to count) leaves it out; ``next`` then follows a full page.
    """
    resources = list(resources)

    def link(page_number: int) -> str:
        query = {k: v for k, v in params.items() if v not in (None, "")}
        query.update({"_count": count, "_page": page_number})
        return f"{base_url}{path}?{urlencode(query)}"

    links = [{"relation": "self", "url": link(page)}]
    more = page * count < total if total is not None else len(resources) >= count
    if more:
        links.append({"relation": "next", "url": link(page + 1)})
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset"}
    if total is not None:
        bundle["total"] = total
    return {
        **bundle,
        "link": links,
        "entry": [
            {
                "fullUrl": f"{base_url}/fhir/{resource['resourceType']}/{resource['id']}",
                "resource": resource,
                "search": {"mode": "match"},
            }
            for resource in resources
        ],
    }


def strip_system(value: str | None) -> str | None:
    """``"https://rpps.esante.gouv.fr|10101010101"`` -> ``"10101010101"``."""
    if value is None:
        return None
    return value.rsplit("|", 1)[-1].strip() or None


def reference_id(value: str | None, resource_type: str) -> str | None:
    """``"Practitioner/810101010101"`` (or the bare id) -> ``"810101010101"``."""
    if value is None:
        return None
    return value.strip().removeprefix(f"{resource_type}/") or None


def _paging(args: dict[str, Any]) -> dict[str, Any]:
    return {"page": args["_page"], "page_size": args["_count"], "active": args["active"]}


def practitioner_search(args: dict[str, Any]) -> dict[str, Any]:
    """FHIR Practitioner search parameters -> arguments of ``search_practitioners``."""
    search = _paging(args)
    words = " ".join(args[k] for k in ("name", "family", "given") if args.get(k))
    identifier = strip_system(args.get("identifier"))
    if identifier:
        words = identifier
    if words:
        search["name"] = words
    code = strip_system(args.get("qualification_code"))
    if code:
        search["profession" if code.isdigit() else "specialty"] = code
    return search


def practitioner_role_search(args: dict[str, Any]) -> dict[str, Any]:
    """FHIR PractitionerRole search parameters -> arguments of ``search_practitioners``."""
    search = _paging(args)
    practitioner = reference_id(args.get("practitioner"), "Practitioner")
    if practitioner:
        search["name"] = practitioner
    elif args.get("name"):
        search["name"] = args["name"]
    organization = reference_id(args.get("organization"), "Organization")
    if organization:
        search["finess"] = organization.upper()
    if args.get("specialty"):
        search["specialty"] = strip_system(args["specialty"])
    return search


def organization_search(args: dict[str, Any]) -> dict[str, Any]:
    """FHIR Organization search parameters -> arguments of ``search_organizations``."""
    search = _paging(args)
    identifier = strip_system(args.get("identifier"))
    if identifier:
        search["name"] = identifier
    elif args.get("name"):
        search["name"] = args["name"]
    if args.get("type"):
        search["category"] = strip_system(args["type"])
    if args.get("address_postalcode"):
        search["postal_code"] = args["address_postalcode"]
    return search
