"""HTTP views of the national directories: JSON lookups and FHIR R4 (ANS conventions)."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, json
from flask.views import MethodView

from core.api import Blueprint, page, page_json, page_of, path_parameter
from planning.directory import fhir, services
from planning.directory.schemas import (
    FhirOrganizationArgsSchema,
    FhirPractitionerArgsSchema,
    FhirPractitionerRoleArgsSchema,
    FhirResourceSchema,
    OrganizationQueryArgsSchema,
    OrganizationSchema,
    PractitionerQueryArgsSchema,
    PractitionerSchema,
    PractitionerSummarySchema,
    parse_point,
)

blp = Blueprint(
    "directory",
    __name__,
    url_prefix="/directory",
    description="National directories: health professionals (RPPS) and establishments (FINESS).",
)
fhir_blp = Blueprint(
    "directory_fhir",
    __name__,
    url_prefix="/fhir",
    description="FHIR R4 views of the national directories, as the ANS Annuaire Santé API.",
)

ANYONE = "any authenticated caller: the directories are public registers"


#: Path parameters documented with their format: a malformed number gets 422, as stated.
RPPS_PARAMETER = path_parameter("rpps", r"^[0-9]{11}$", "RPPS number (11 digits)")
PRACTITIONER_ID_PARAMETER = path_parameter(
    "resource_id",
    r"^(?:[0-9]{11}|[A-Za-z0-9]{10}|[A-Za-z0-9]{12})$",
    "IDNPS (10 or 12 characters) or RPPS number (11 digits)",
)
FINESS_PARAMETER = path_parameter(
    "finess", r"^(?:[0-9]{9}|2[AaBb][0-9]{7})$", "FINESS number (9 characters; 2A/2B in Corsica)"
)


@blp.route("/practitioners")
class Practitioners(MethodView):
    @blp.auth(who=ANYONE)
    @blp.arguments(PractitionerQueryArgsSchema(), location="query")
    @blp.response(200, page_of(PractitionerSummarySchema))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Search health professionals

        Every word of `name` must start a part of the professional's name, in any order,
        ignoring accents, case and hyphens: `benedicte` finds Bénédicte, `carpentier` finds
        LEBRUN-CARPENTIER. Exact name parts rank before longer ones. The activity filters
        (specialty, profession, department, region, finess) must hold for one same activity.
        `total` is exact up to 1,000; 1,001 means more than 1,000. Pages reach the first
        10,000 results (refine the search beyond).
        """
        # Reads only: on PostgreSQL outside a transaction (no BEGIN / ROLLBACK round trips),
        # and without the database at all when the node's copy answers.
        result = services.search_practitioner_summary_texts(**args, read_only_request=True)
        # The summaries are stored as the JSON of the documented schema: spliced, not encoded.
        return Response(
            page_json(
                result.items, total=result.total, page=args["page"], page_size=args["page_size"]
            ),
            mimetype="application/json",
        )


@blp.route("/practitioners/<rpps>", parameters=[RPPS_PARAMETER])
class PractitionerByRpps(MethodView):
    @blp.auth(who=ANYONE)
    @blp.response(200, PractitionerSchema)
    @blp.alt_response(404, description="No professional with this RPPS number")
    @blp.alt_response(422, description="Malformed RPPS number (11 digits expected)")
    def get(self, rpps: str) -> Any:
        """A health professional by RPPS number, with all his activities

        A number failing the Luhn check is still looked up; the response then carries a
        warning.
        """
        return services.require_practitioner(rpps=rpps)


@blp.route("/organizations")
class Organizations(MethodView):
    @blp.auth(who=ANYONE)
    @blp.arguments(OrganizationQueryArgsSchema(), location="query")
    @blp.response(200, page_of(OrganizationSchema))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Search establishments

        By name words (prefix, accents ignored), category, department, region; with `near`,
        the establishments within `radius_km`, nearest first.
        """
        near = args.pop("near", None)
        result = services.search_organizations(**args, near=parse_point(near) if near else None)
        return page(
            result.items, total=result.total, page=args["page"], page_size=args["page_size"]
        )


@blp.route("/organizations/<finess>", parameters=[FINESS_PARAMETER])
class OrganizationByFiness(MethodView):
    @blp.auth(who=ANYONE)
    @blp.response(200, OrganizationSchema)
    @blp.alt_response(404, description="No establishment with this FINESS number")
    @blp.alt_response(422, description="Malformed FINESS number (9 characters expected)")
    def get(self, finess: str) -> Any:
        """An establishment or legal entity by FINESS number"""
        return services.require_organization(finess=finess)


# --- FHIR -------------------------------------------------------------------------------------


def _fhir(body: dict[str, Any]) -> Response:
    return Response(json.dumps(body), mimetype=fhir.FHIR_JSON)


def _total(result: services.SearchResult[Any]) -> int | None:
    # As the ANS API on string searches: no total rather than a wrong one.
    return result.total if result.total_is_exact else None


def _bundle(
    resources: list[dict[str, Any]],
    total: int | None,
    path: str,
    args: dict[str, Any],
    params: dict[str, Any],
) -> Response:
    return _fhir(
        fhir.searchset(
            resources,
            total=total,
            base_url=current_app.extensions["dcc"].settings.public_url.rstrip("/"),
            path=path,
            params=params,
            page=args["_page"],
            count=args["_count"],
        )
    )


def _params(args: dict[str, Any], *names: str) -> dict[str, Any]:
    params = {name: args.get(name.replace("-", "_")) for name in names}
    if args.get("active") is False:
        params["active"] = "false"
    return params


@fhir_blp.route("/Practitioner")
class FhirPractitioners(MethodView):
    @fhir_blp.auth(who=ANYONE)
    @fhir_blp.arguments(FhirPractitionerArgsSchema(), location="query")
    @fhir_blp.response(200, FhirResourceSchema, content_type=fhir.FHIR_JSON)
    def get(self, args: dict[str, Any]) -> Response:
        """Search Practitioner resources (searchset Bundle)

        `name`, `family` and `given` all match the start of any name part, accents ignored.
        `qualification-code` takes a specialty (SM36) or a profession (10).
        """
        result = services.search_practitioners(**fhir.practitioner_search(args))
        return _bundle(
            [fhir.practitioner(p) for p in result.items],
            _total(result),
            "/fhir/Practitioner",
            args,
            _params(args, "name", "family", "given", "identifier", "qualification-code"),
        )


@fhir_blp.route("/Practitioner/<resource_id>", parameters=[PRACTITIONER_ID_PARAMETER])
class FhirPractitionerById(MethodView):
    @fhir_blp.auth(who=ANYONE)
    @fhir_blp.response(200, FhirResourceSchema, content_type=fhir.FHIR_JSON)
    @fhir_blp.alt_response(404, description="No such practitioner")
    @fhir_blp.alt_response(422, description="Malformed id (IDNPS or RPPS expected)")
    def get(self, resource_id: str) -> Response:
        """A Practitioner by id (IDNPS, or the 11-digit RPPS number)"""
        return _fhir(
            fhir.practitioner(services.require_practitioner_by_id(resource_id=resource_id))
        )


@fhir_blp.route("/PractitionerRole")
class FhirPractitionerRoles(MethodView):
    @fhir_blp.auth(who=ANYONE)
    @fhir_blp.arguments(FhirPractitionerRoleArgsSchema(), location="query")
    @fhir_blp.response(200, FhirResourceSchema, content_type=fhir.FHIR_JSON)
    def get(self, args: dict[str, Any]) -> Response:
        """Search PractitionerRole resources: the activities of professionals

        By `practitioner` (Practitioner/{id}), `organization` (Organization/{finess}),
        practitioner `name` or `specialty`. Pages are pages of professionals (all the roles of
        one professional stay on one page), and `total` counts professionals (left out past
        1,000).
        """
        search = fhir.practitioner_role_search(args)
        result = services.search_practitioners(**search)
        return _bundle(
            [
                r
                for p in result.items
                for r in fhir.practitioner_roles(p, finess=search.get("finess"))
            ],
            _total(result),
            "/fhir/PractitionerRole",
            args,
            _params(args, "practitioner", "organization", "name", "specialty"),
        )


@fhir_blp.route("/Organization")
class FhirOrganizations(MethodView):
    @fhir_blp.auth(who=ANYONE)
    @fhir_blp.arguments(FhirOrganizationArgsSchema(), location="query")
    @fhir_blp.response(200, FhirResourceSchema, content_type=fhir.FHIR_JSON)
    def get(self, args: dict[str, Any]) -> Response:
        """Search Organization resources (establishments and legal entities)"""
        result = services.search_organizations(**fhir.organization_search(args))
        return _bundle(
            [fhir.organization(o) for o in result.items],
            _total(result),
            "/fhir/Organization",
            args,
            _params(args, "name", "identifier", "type", "address-postalcode"),
        )


@fhir_blp.route("/Organization/<finess>", parameters=[FINESS_PARAMETER])
class FhirOrganizationById(MethodView):
    @fhir_blp.auth(who=ANYONE)
    @fhir_blp.response(200, FhirResourceSchema, content_type=fhir.FHIR_JSON)
    @fhir_blp.alt_response(404, description="No such organization")
    @fhir_blp.alt_response(422, description="Malformed FINESS number")
    def get(self, finess: str) -> Response:
        """An Organization by id (its FINESS number)"""
        return _fhir(fhir.organization(services.require_organization(finess=finess)))
