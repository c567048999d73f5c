"""Request and response schemas of the directory API (JSON and FHIR)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from core.api import PaginationArgsSchema, Schema
from planning.directory.normalize import finess_warnings, rpps_warnings


def _describe(text: str) -> dict[str, str]:
    return {"description": text}


class ActivitySchema(ma.Schema):
    """One activity of a professional: profession, specialty and place."""

    profession_code = ma.fields.String(
        allow_none=True, metadata=_describe("Profession (TRE_G15), e.g. 10")
    )
    profession_label = ma.fields.String(
        allow_none=True, metadata=_describe("Profession label, e.g. Médecin")
    )
    category_code = ma.fields.String(
        allow_none=True, metadata=_describe("Professional category (C civil...)")
    )
    specialty_type = ma.fields.String(
        allow_none=True, metadata=_describe("Savoir-faire type (S specialty...)")
    )
    specialty_code = ma.fields.String(
        allow_none=True, metadata=_describe("Specialty (TRE_R38), e.g. SM36")
    )
    specialty_label = ma.fields.String(allow_none=True, metadata=_describe("Specialty label"))
    mode_exercice = ma.fields.String(
        allow_none=True, metadata=_describe("L libéral, S salarié, B bénévole")
    )
    siret = ma.fields.String(allow_none=True, metadata=_describe("SIRET of the site"))
    finess_site = ma.fields.String(
        allow_none=True, metadata=_describe("FINESS of the establishment (ET)")
    )
    finess_ej = ma.fields.String(
        allow_none=True, metadata=_describe("FINESS of the legal entity (EJ)")
    )
    structure_id = ma.fields.String(
        allow_none=True, metadata=_describe("Technical id of the structure")
    )
    structure_name = ma.fields.String(allow_none=True, metadata=_describe("Name of the structure"))
    address = ma.fields.String(
        allow_none=True, metadata=_describe("Street address of the structure")
    )
    postal_code = ma.fields.String(allow_none=True, metadata=_describe("Postal code"))
    city = ma.fields.String(allow_none=True, metadata=_describe("City"))
    country = ma.fields.String(allow_none=True, metadata=_describe("Country, when not France"))
    phone = ma.fields.String(allow_none=True, metadata=_describe("Phone of the structure"))
    email = ma.fields.String(allow_none=True, metadata=_describe("E-mail of the structure"))
    department = ma.fields.String(allow_none=True, metadata=_describe("Department code (INSEE)"))
    region = ma.fields.String(allow_none=True, metadata=_describe("Region code (INSEE)"))
    role_code = ma.fields.String(allow_none=True, metadata=_describe("Role (2026 extraction)"))
    genre_code = ma.fields.String(
        allow_none=True, metadata=_describe("Activity genre (2026 extraction)")
    )
    active = ma.fields.Boolean(metadata=_describe("False once absent from the extraction"))


class PractitionerSummarySchema(ma.Schema):
    """A health professional as listed by a search (details: by RPPS number)."""

    rpps = ma.fields.String(
        allow_none=True, metadata=_describe("RPPS number (11 digits); null for ADELI only")
    )
    national_id = ma.fields.String(metadata=_describe("IDNPS: type digit + identifier"))
    id_type = ma.fields.Method(
        "_id_type",
        metadata={
            **_describe("RPPS or ADELI (the register of the identifier)"),
            "type": "string",
            "enum": ["RPPS", "ADELI"],
        },
    )
    civility = ma.fields.String(allow_none=True, metadata=_describe("Civility code (M, MME)"))
    exercise_civility = ma.fields.String(
        allow_none=True, metadata=_describe("Title used at work (DR, PR)")
    )
    last_name = ma.fields.String(metadata=_describe("Last name as exercised"))
    first_name = ma.fields.String(metadata=_describe("First name as exercised"))
    active = ma.fields.Boolean(metadata=_describe("False once absent from the extraction"))
    professions = ma.fields.Method(
        "_professions",
        metadata={
            **_describe("Profession codes of the active activities"),
            "type": "array",
            "items": {"type": "string"},
        },
    )
    specialties = ma.fields.Method(
        "_specialties",
        metadata={
            **_describe("Specialty codes of the active activities"),
            "type": "array",
            "items": {"type": "string"},
        },
    )
    departments = ma.fields.Method(
        "_departments",
        metadata={
            **_describe("Departments of the active activities"),
            "type": "array",
            "items": {"type": "string"},
        },
    )
    warnings = ma.fields.Method(
        "_warnings",
        metadata={
            **_describe("Doubts about the data, e.g. a failed Luhn check"),
            "type": "array",
            "items": {"type": "string"},
        },
    )

    def _id_type(self, practitioner: Any) -> str:
        return "RPPS" if practitioner.id_type == "8" else "ADELI"

    def _active_values(self, practitioner: Any, name: str) -> list[str]:
        values = {getattr(a, name) for a in practitioner.activities if a.active}
        return sorted(v for v in values if v)

    def _professions(self, practitioner: Any) -> list[str]:
        return self._active_values(practitioner, "profession_code")

    def _specialties(self, practitioner: Any) -> list[str]:
        return self._active_values(practitioner, "specialty_code")

    def _departments(self, practitioner: Any) -> list[str]:
        return self._active_values(practitioner, "department")

    def _warnings(self, practitioner: Any) -> list[str]:
        return rpps_warnings(practitioner.rpps) if practitioner.rpps else []


class PractitionerSchema(PractitionerSummarySchema):
    """A health professional of the RPPS (or ADELI) directory, with all his activities."""

    activities = ma.fields.List(
        ma.fields.Nested(ActivitySchema), metadata=_describe("Activities, places of exercise")
    )


class OrganizationSchema(ma.Schema):
    """A FINESS establishment (ET) or legal entity (EJ)."""

    finess = ma.fields.String(metadata=_describe("FINESS number (9 characters)"))
    kind = ma.fields.String(metadata=_describe("ET (establishment) or EJ (legal entity)"))
    finess_ej = ma.fields.String(
        allow_none=True, metadata=_describe("FINESS of the legal entity of an ET")
    )
    name = ma.fields.String(metadata=_describe("Short name (raison sociale)"))
    long_name = ma.fields.String(allow_none=True, metadata=_describe("Long name"))
    category_code = ma.fields.String(
        allow_none=True, metadata=_describe("FINESS category, e.g. 101 CHR, 131")
    )
    category_label = ma.fields.String(allow_none=True, metadata=_describe("Category label"))
    siret = ma.fields.String(allow_none=True, metadata=_describe("SIRET"))
    address = ma.fields.String(allow_none=True, metadata=_describe("Street address"))
    postal_code = ma.fields.String(allow_none=True, metadata=_describe("Postal code"))
    city = ma.fields.String(allow_none=True, metadata=_describe("City (ligne d'acheminement)"))
    department = ma.fields.String(allow_none=True, metadata=_describe("Department code (INSEE)"))
    region = ma.fields.String(allow_none=True, metadata=_describe("Region code (INSEE)"))
    phone = ma.fields.String(allow_none=True, metadata=_describe("Phone"))
    lat = ma.fields.Float(allow_none=True, metadata=_describe("Latitude (WGS84 degrees)"))
    lon = ma.fields.Float(allow_none=True, metadata=_describe("Longitude (WGS84 degrees)"))
    opened_on = ma.fields.Date(allow_none=True, metadata=_describe("Opening date"))
    closed_on = ma.fields.Date(allow_none=True, metadata=_describe("Closing date, when closed"))
    active = ma.fields.Boolean(metadata=_describe("False when closed or absent from FINESS"))
    distance_km = ma.fields.Float(
        allow_none=True, metadata=_describe("Distance to `near`, when searched so")
    )
    warnings = ma.fields.Method(
        "_warnings",
        metadata={
            **_describe("Doubts about the data, e.g. a failed Luhn check"),
            "type": "array",
            "items": {"type": "string"},
        },
    )

    def _warnings(self, organization: Any) -> list[str]:
        return finess_warnings(organization.finess)


class PractitionerQueryArgsSchema(PaginationArgsSchema):
    """Filters of the professional search."""

    name = ma.fields.String(
        validate=ma.validate.Length(min=1, max=100),
        metadata=_describe(
            "Name words, any order, each matching the start of a name part (accents, case and "
            "hyphens ignored); or an RPPS (11 digits) or national id (12 digits)"
        ),
    )
    specialty = ma.fields.String(
        validate=ma.validate.Length(max=12), metadata=_describe("Specialty code, e.g. SM36")
    )
    profession = ma.fields.String(
        validate=ma.validate.Length(max=4), metadata=_describe("Profession code, e.g. 10")
    )
    department = ma.fields.String(
        validate=ma.validate.Length(max=3), metadata=_describe("Department code, e.g. 29")
    )
    region = ma.fields.String(
        validate=ma.validate.Length(max=2), metadata=_describe("Region code (INSEE), e.g. 53")
    )
    finess = ma.fields.String(
        validate=ma.validate.Length(equal=9),
        metadata=_describe("FINESS of the establishment of an activity"),
    )
    active = ma.fields.Boolean(
        load_default=True, metadata=_describe("Active professionals (default) or inactive ones")
    )


def _lat_lon(value: str) -> None:
    parse_point(value)


def parse_point(value: str) -> tuple[float, float]:
    """``"48.39,-4.49"`` -> (48.39, -4.49); ValidationError when malformed."""
    try:
        lat_text, lon_text = value.split(",")
        lat, lon = float(lat_text), float(lon_text)
    except ValueError as error:
        raise ma.ValidationError("expected 'latitude,longitude' in degrees") from error
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ma.ValidationError("latitude or longitude out of range")
    return lat, lon


class OrganizationQueryArgsSchema(PaginationArgsSchema):
    """Filters of the establishment search."""

    name = ma.fields.String(
        validate=ma.validate.Length(min=1, max=100),
        metadata=_describe("Name words, each matching the start of a word; or a FINESS number"),
    )
    category = ma.fields.String(
        validate=ma.validate.Length(max=4), metadata=_describe("FINESS category, e.g. 101")
    )
    kind = ma.fields.String(
        validate=ma.validate.OneOf(["ET", "EJ"]), metadata=_describe("ET or EJ")
    )
    department = ma.fields.String(
        validate=ma.validate.Length(max=3), metadata=_describe("Department code, e.g. 29")
    )
    region = ma.fields.String(
        validate=ma.validate.Length(max=2), metadata=_describe("Region code (INSEE), e.g. 53")
    )
    near = ma.fields.String(
        validate=[
            ma.validate.Regexp(
                # latitude in [-90, 90], longitude in [-180, 180], as the pattern documents
                r"^-?(?:[1-8]?\d(?:\.\d+)?|90(?:\.0+)?),"
                r"-?(?:(?:1[0-7]\d|\d{1,2})(?:\.\d+)?|180(?:\.0+)?)$",
                error="expected 'latitude,longitude' in degrees",
            ),
            _lat_lon,
        ],
        metadata=_describe("'latitude,longitude': establishments around, nearest first"),
    )
    radius_km = ma.fields.Float(
        load_default=20.0,
        validate=ma.validate.Range(min=0.1, max=300),
        metadata=_describe("Radius around `near`, in km"),
    )
    active = ma.fields.Boolean(
        load_default=True, metadata=_describe("Open establishments (default) or closed ones")
    )


# --- FHIR ---------------------------------------------------------------------------------


class FhirSearchArgsSchema(Schema):
    """Common FHIR search parameters: page size and page.

    Unsupported search parameters are ignored, as a FHIR server does by default
    (``Prefer: handling=lenient``); the JSON API refuses them instead (core/api.py).
    """

    lenient_query = True

    class Meta:
        unknown = ma.EXCLUDE

    _count = ma.fields.Integer(
        data_key="_count",
        load_default=50,
        validate=ma.validate.Range(min=1, max=200),
        metadata=_describe("Resources per page (at most 200)"),
    )
    _page = ma.fields.Integer(
        data_key="_page",
        load_default=1,
        validate=ma.validate.Range(min=1, max=2**31 - 1),
        metadata=_describe("Page number (follow the bundle's next link)"),
    )
    active = ma.fields.Boolean(
        load_default=True, metadata=_describe("Active resources (default) or inactive ones")
    )


class FhirPractitionerArgsSchema(FhirSearchArgsSchema):
    """Practitioner search parameters (ANS Annuaire Santé subset)."""

    name = ma.fields.String(metadata=_describe("Name words (prefix, accent-insensitive)"))
    family = ma.fields.String(metadata=_describe("Same as name (prefix on any name part)"))
    given = ma.fields.String(metadata=_describe("Same as name (prefix on any name part)"))
    identifier = ma.fields.String(
        metadata=_describe("RPPS (11 digits) or IDNPS (12), optionally as system|value")
    )
    qualification_code = ma.fields.String(
        data_key="qualification-code",
        metadata=_describe("Specialty (SM36) or profession (10) code, optionally system|code"),
    )


class FhirPractitionerRoleArgsSchema(FhirSearchArgsSchema):
    """PractitionerRole search parameters."""

    practitioner = ma.fields.String(metadata=_describe("Practitioner/{id} or id (IDNPS or RPPS)"))
    organization = ma.fields.String(metadata=_describe("Organization/{finess} or FINESS number"))
    name = ma.fields.String(metadata=_describe("Name words of the practitioner"))
    specialty = ma.fields.String(metadata=_describe("Specialty code, e.g. SM36"))


class FhirOrganizationArgsSchema(FhirSearchArgsSchema):
    """Organization search parameters."""

    name = ma.fields.String(metadata=_describe("Name words (prefix, accent-insensitive)"))
    identifier = ma.fields.String(metadata=_describe("FINESS number, optionally system|value"))
    type = ma.fields.String(metadata=_describe("FINESS category code (TRE_R66), e.g. 101"))
    address_postalcode = ma.fields.String(
        data_key="address-postalcode", metadata=_describe("Department (2-3 first digits)")
    )


class FhirResourceSchema(ma.Schema):
    """A FHIR R4 resource or searchset Bundle (JSON, application/fhir+json)."""

    class Meta:
        unknown = ma.INCLUDE

    resourceType = ma.fields.String(metadata=_describe("FHIR resource type"))  # noqa: N815
