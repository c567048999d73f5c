"""Schema fuzzing: every operation of the committed OpenAPI document, with each role's token.

No 5xx, and no response that breaks its documented schema, status codes or content types.
The number of examples is bounded for CI (DCC_FUZZ_EXAMPLES); benchmarks/fuzz_long.py runs the
longer pass of a release.
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

EXAMPLES = int(os.environ.get("DCC_FUZZ_EXAMPLES", "15"))

#: One token per role, with a realistic perimeter.
ROLES = {
    "national_admin": {},
    "regional_admin": {"region": "53"},
    "coordinator_3c": {"finess": ["290000017"]},
    "physician": {"rpps": "10003456789"},
    "rcp_software": {"region": "53"},
}


_ROLE_TURN = itertools.cycle(sorted(ROLES))

COMMITTED = Path(__file__).resolve().parent.parent / "openapi" / "openapi.json"
schema = schemathesis.openapi.from_path(COMMITTED)


@pytest.fixture
def wsgi_app(app):
    return app


@pytest.fixture
def bearers(token_for):
    return {
        role: {"Authorization": f"Bearer {token_for(role=role, **perimeter)}"}
        for role, perimeter in ROLES.items()
    }


#: Bodies validated beyond what a JSON schema can say (a decision tree's node rules and
#: criteria, people and places of the directory): a schema-valid random body may rightly get
#: 422. A fiche is not among them: its codes (OncoTree, CIM-10, departments) are documented.
DOMAIN_VALIDATED = {
    # RCPs and sessions name professionals and places that must exist in the directory;
    # feeds take the filters of their scope only; a period must end after it starts
    ("POST", "/planning/rcps"),
    ("PATCH", "/planning/rcps/{rcp_id}"),
    ("POST", "/planning/rcps/{rcp_id}/sessions/generate"),
    ("POST", "/planning/sessions"),
    ("PATCH", "/planning/sessions/{session_id}"),
    ("PUT", "/planning/sessions/{session_id}/participants"),
    ("POST", "/planning/feeds"),
    ("POST", "/guidelines/referentials"),
    ("POST", "/guidelines/referentials/import"),
    ("PATCH", "/guidelines/referentials/{referential_id}"),
    # the CDS service a random id names does not exist
    ("POST", "/cds-services/{service_id}"),
}


def _has_nul(case) -> bool:
    """NUL is refused everywhere (422), also inside free-form objects a schema cannot constrain."""
    parts = [case.body, case.query, case.path_parameters]
    return "\\u0000" in json.dumps(parts, default=str) or "\x00" in json.dumps(parts, default=str)


def _beyond_result_window(case) -> bool:
    """Searches serve the first 10,000 results (page x page size): a cross-field rule that a
    JSON schema cannot state, answered with 422."""
    query = case.query or {}
    for page_key, size_key in (("page", "page_size"), ("_page", "_count")):
        try:
            if int(query.get(page_key, 1)) * int(query.get(size_key, 50)) > 10_000:
                return True
        except (TypeError, ValueError):
            continue
    return False


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
def test_operation_holds_its_contract(case, bearers, wsgi_app):
    case.operation.schema.app = wsgi_app  # in-process WSGI calls, inside the test's transaction
    # schemathesis cannot combine with parametrized fixtures: examples take the roles in turn
    refused_by_rule = (
        (case.method.upper(), case.path) in DOMAIN_VALIDATED
        or _has_nul(case)
        or _beyond_result_window(case)
    )
    excluded = [schemathesis.checks.positive_data_acceptance] if refused_by_rule else []
    headers = bearers[next(_ROLE_TURN)]
    case.call_and_validate(headers=headers, app=wsgi_app, excluded_checks=excluded)
