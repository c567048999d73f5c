"""The authorisation matrix: every operation x caller -> allowed, denied (403) or hidden (404).

One row per operation of the committed OpenAPI document (``METHOD /path/template``). A row names
the callers that are allowed; every other signed-in caller must get 403, except those listed as
``hidden`` (owner-scoped resources answer 404 so that their existence does not leak). Without a
token every secured operation answers 401; a public operation (``PUBLIC``) serves everybody.

The callers, and what "own" and "other" mean for them (tests/test_authz_matrix.py builds the
objects): the RCP and its session are hosted by establishment BREST (290000017), region 53
(Bretagne); the registration, its notification and the feed belong to physician P; the webhook to
RCP software S; the regional referential to region 53.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Caller name -> (role, perimeter). ``own`` is inside the objects' perimeter, ``other`` outside.
CALLERS: dict[str, str] = {
    "anonymous": "no token",
    "national": "national_admin",
    "regional_own": "regional_admin of region 53 (the host's region)",
    "regional_other": "regional_admin of region 11",
    "3c_own": "coordinator_3c of establishment 290000017 (the host)",
    "3c_other": "coordinator_3c of establishment 350005179 (another establishment)",
    "physician_own": "physician P (the registering physician, owner of the feed)",
    "physician_other": "physician Q (another physician of the directory)",
    "software_own": "rcp_software S of establishment 290000017, on behalf of P",
    "software_other": "rcp_software of region 11, on behalf of Q",
}

SIGNED_IN = frozenset(CALLERS) - {"anonymous"}
NATIONAL = frozenset({"national"})
ADMINS = frozenset({"national", "regional_own", "regional_other"})
#: National admins, admins of the host's region, the host's 3C and its software.
HOST_MANAGERS = frozenset({"national", "regional_own", "3c_own", "software_own"})
#: Region 53 writers of a region 53 referential.
REGION_WRITERS = frozenset({"national", "regional_own"})
PHYSICIAN_P = frozenset({"physician_own", "software_own"})


@dataclass(frozen=True)
class Row:
    allowed: frozenset[str]
    hidden: frozenset[str] = frozenset()
    public: bool = False

    def expected(self, caller: str) -> str:
        if caller in self.allowed or self.public:
            return "allowed"
        if caller == "anonymous":
            return "unauthenticated"
        return "hidden" if caller in self.hidden else "denied"


PUBLIC = Row(allowed=frozenset(CALLERS), public=True)
EVERYONE = Row(allowed=SIGNED_IN)


MATRIX: dict[str, Row] = {
    # --- platform ---------------------------------------------------------------------------
    "GET /.well-known/jwks.json": PUBLIC,
    "GET /.well-known/oauth-authorization-server": PUBLIC,
    "POST /oauth/token": PUBLIC,
    "GET /health/live": PUBLIC,
    "GET /health/ready": PUBLIC,
    "GET /version": PUBLIC,
    # national admins read every event, regional admins their region's (a filtered list)
    "GET /audit/events": Row(allowed=ADMINS),
    # --- directory: public registers, any signed-in caller -----------------------------------
    "GET /directory/organizations": EVERYONE,
    "GET /directory/organizations/{finess}": EVERYONE,
    "GET /directory/practitioners": EVERYONE,
    "GET /directory/practitioners/{rpps}": EVERYONE,
    "GET /fhir/Organization": EVERYONE,
    "GET /fhir/Organization/{finess}": EVERYONE,
    "GET /fhir/Practitioner": EVERYONE,
    "GET /fhir/Practitioner/{resource_id}": EVERYONE,
    "GET /fhir/PractitionerRole": EVERYONE,
    # --- planning: RCPs and sessions ---------------------------------------------------------
    "GET /planning/kinds": EVERYONE,
    "GET /planning/rcps": EVERYONE,
    "POST /planning/rcps": Row(allowed=HOST_MANAGERS),
    "GET /planning/rcps/{rcp_id}": EVERYONE,
    "PATCH /planning/rcps/{rcp_id}": Row(allowed=HOST_MANAGERS),
    "POST /planning/rcps/{rcp_id}/sessions/generate": Row(allowed=HOST_MANAGERS),
    "GET /planning/sessions": EVERYONE,
    "POST /planning/sessions": Row(allowed=HOST_MANAGERS),
    "GET /planning/sessions/next": EVERYONE,
    "GET /planning/sessions/{session_id}": EVERYONE,
    "PATCH /planning/sessions/{session_id}": Row(allowed=HOST_MANAGERS),
    "GET /planning/sessions/{session_id}.ics": EVERYONE,
    "PUT /planning/sessions/{session_id}/attendance": Row(allowed=HOST_MANAGERS),
    "POST /planning/sessions/{session_id}/cancel": Row(allowed=HOST_MANAGERS),
    "PUT /planning/sessions/{session_id}/participants": Row(allowed=HOST_MANAGERS),
    # --- planning: registrations (dossiers) ----------------------------------------------------
    # lists are filtered to the caller's perimeter, never refused
    "GET /planning/registrations": EVERYONE,
    "GET /planning/sessions/{session_id}/registrations": Row(
        allowed=HOST_MANAGERS | PHYSICIAN_P | {"physician_other", "software_other"}
    ),
    "POST /planning/sessions/{session_id}/registrations": Row(
        allowed=PHYSICIAN_P | {"physician_other", "software_other"}
    ),
    "GET /planning/registrations/{registration_id}": Row(allowed=HOST_MANAGERS | PHYSICIAN_P),
    "POST /planning/registrations/{registration_id}/decision": Row(allowed=HOST_MANAGERS),
    "POST /planning/registrations/{registration_id}/withdraw": Row(allowed=PHYSICIAN_P),
    # --- planning: notifications and webhooks --------------------------------------------------
    "GET /planning/notifications": Row(allowed=PHYSICIAN_P | {"physician_other", "software_other"}),
    "POST /planning/notifications/{notification_id}/read": Row(
        allowed=PHYSICIAN_P, hidden=frozenset({"physician_other", "software_other"})
    ),
    "GET /planning/webhooks": Row(allowed=SIGNED_IN - {"physician_own", "physician_other"}),
    "POST /planning/webhooks": Row(allowed=SIGNED_IN - {"physician_own", "physician_other"}),
    "DELETE /planning/webhooks/{webhook_id}": Row(
        allowed=NATIONAL | {"software_own"},
        hidden=frozenset(
            {"regional_own", "regional_other", "3c_own", "3c_other", "software_other"}
        ),
    ),
    "GET /planning/webhooks/{webhook_id}/deliveries": Row(
        allowed=NATIONAL | {"software_own"},
        hidden=frozenset(
            {"regional_own", "regional_other", "3c_own", "3c_other", "software_other"}
        ),
    ),
    # --- planning: calendar feeds (no patient data) --------------------------------------------
    "GET /planning/feeds": EVERYONE,
    "POST /planning/feeds": EVERYONE,
    "GET /planning/feeds/sessions.ics": EVERYONE,
    "GET /planning/feeds/{scope}/{value}.ics": EVERYONE,
    "DELETE /planning/feeds/{feed_id}": Row(allowed=NATIONAL | {"physician_own"}),
    # the secret URL is the credential
    "GET /feeds/{token}.ics": PUBLIC,
    # --- trials: public registries -----------------------------------------------------------
    "GET /trials": EVERYONE,
    "POST /trials/search": EVERYONE,
    "GET /trials/{trial_id}": EVERYONE,
    # --- guidelines: everyone reads active versions, region 53 admins write region 53's ---------
    "POST /guidelines/evaluate": EVERYONE,
    "GET /guidelines/referentials": EVERYONE,
    "POST /guidelines/referentials": Row(allowed=REGION_WRITERS),
    "POST /guidelines/referentials/import": Row(allowed=REGION_WRITERS),
    "GET /guidelines/referentials/{referential_id}": EVERYONE,
    "PATCH /guidelines/referentials/{referential_id}": Row(allowed=REGION_WRITERS),
    "POST /guidelines/referentials/{referential_id}/approve": Row(allowed=REGION_WRITERS),
    "GET /guidelines/referentials/{referential_id}/diff": EVERYONE,
    "POST /guidelines/referentials/{referential_id}/drafts": Row(allowed=REGION_WRITERS),
    "GET /guidelines/referentials/{referential_id}/export": EVERYONE,
    "GET /guidelines/referentials/{referential_id}/fhir": EVERYONE,
    "POST /guidelines/referentials/{referential_id}/retire": Row(allowed=REGION_WRITERS),
    "POST /guidelines/referentials/{referential_id}/submit": Row(allowed=REGION_WRITERS),
    "GET /guidelines/referentials/{referential_id}/versions": EVERYONE,
    "GET /cds-services": PUBLIC,
    "POST /cds-services/{service_id}": EVERYONE,
    "POST /cds-services/{service_id}/feedback": EVERYONE,
}
