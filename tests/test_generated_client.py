"""A client nobody here wrote by hand: openapi-python-client reads the committed OpenAPI document,
and the code it generates runs the registration story against a live server.

Whatever the generator trips on (a refused document, a warning, a model it drops) is a defect of
our document: the generation runs with ``--fail-on-warning``. Every call below goes through the
generated functions and models, and the assertions are on the typed results they return.

The server is gunicorn in its own process on a scratch SQLite database (migrated, with the demo
directory), whatever DCC_DATABASE_URL says: it runs once, in ``make test``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from core.auth import SigningKey, claims_for, mint_token
from tests.live import CLI, REPO, free_port, gunicorn

DOCUMENT = REPO / "openapi" / "openapi.json"
PACKAGE = "dcc_generated_client"
BREST = "290000017"  # CHRU de Brest, a real establishment of the demo directory

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("DCC_DATABASE_URL", "").startswith("postgresql"),
        reason="runs its own server on SQLite whatever the database: once, in `make test`",
    ),
]


@dataclass
class Server:
    url: str
    env: dict[str, str]
    log: Path

    def token(self, *, role: str, subject: str, **perimeter: Any) -> str:
        """A real access token, signed with the key file the server itself loads."""
        key = SigningKey.load_or_create(Path(self.env["DCC_SIGNING_KEY_FILE"]), create=False)
        return mint_token(
            key,
            issuer=self.env["DCC_ISSUER"],
            audience=self.env["DCC_AUDIENCE"],
            ttl=600,
            client_id="generated-client-test",
            extra=claims_for(role=role, subject=subject, **perimeter),
        )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """gunicorn on a free port, a migrated scratch SQLite database and the demo directory."""
    workdir = tmp_path_factory.mktemp("generated-client-server")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DCC_ENV": "development",
        "DCC_DATABASE_URL": f"sqlite:///{workdir / 'server.sqlite3'}",
        "DCC_INSTANCE_DIR": str(workdir),
        "DCC_SIGNING_KEY_FILE": str(workdir / "signing-key.pem"),
        "DCC_PUBLIC_URL": url,
        "DCC_ISSUER": url,
        "DCC_AUDIENCE": "dcc-services",
        "DCC_LOG_LEVEL": "WARNING",
        "DCC_LOG_FORMAT": "text",
        "PYTHONFAULTHANDLER": "1",
    }
    for args in (["db", "upgrade"], ["directory", "demo"]):
        subprocess.run([*CLI, *args], env=env, cwd=REPO, check=True, capture_output=True)
    log = workdir / "server.log"
    options = ("--workers", "1", "--worker-class", "gthread", "--threads", "2")
    with gunicorn(port, env, log, options, start_seconds=30):
        yield Server(url=url, env=env, log=log)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The client package openapi-python-client generates from the committed document."""
    out = tmp_path_factory.mktemp("generated-client")
    bindir = Path(sys.executable).parent
    generator = shutil.which("openapi-python-client", path=str(bindir)) or shutil.which(
        "openapi-python-client"
    )
    assert generator, "openapi-python-client is a dev dependency: pip install -e '.[dev]'"
    result = subprocess.run(
        [
            generator,
            "generate",
            *("--path", str(DOCUMENT)),
            *("--output-path", str(out / PACKAGE)),
            *("--meta", "none"),
            "--fail-on-warning",
        ],
        # its post-generation hook formats the code with ruff, from this virtualenv
        env={**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"the generator refused our document:\n{result.stdout}"
    assert "Warning" not in result.stdout, result.stdout
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(out))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def _models() -> Any:
    return importlib.import_module(f"{PACKAGE}.models")


def import_module(name: str) -> Any:
    return importlib.import_module(name)


@pytest.fixture
def client(generated: ModuleType, server: Server) -> Iterator[Callable[[str], Any]]:
    """``client(token)``: the generated AuthenticatedClient, closed after the test."""
    with contextlib.ExitStack() as stack:

        def make(token: str) -> Any:
            made = generated.AuthenticatedClient(base_url=server.url, token=token, timeout=30.0)
            return stack.enter_context(made)

        yield make


def test_the_registration_story_through_the_generated_client(client, server):
    models = _models()

    three_c = client(server.token(role="coordinator_3c", subject="3c-finistere", finess=[BREST]))

    # the 3C finds the host and two physicians working there in the directory
    get_org = import_module(f"{PACKAGE}.api.directory.get_directory_organizations_finess")
    host = get_org.sync(BREST, client=three_c)
    assert isinstance(host, models.Organization), host
    assert host.finess == BREST and host.region == "53"
    search = import_module(f"{PACKAGE}.api.directory.get_directory_practitioners")
    staff = search.sync(client=three_c, finess=BREST, page_size=10)
    assert isinstance(staff, models.PractitionerSummaryPage), staff
    assert isinstance(staff.items, list) and len(staff.items) >= 2, staff
    coordinator, physician = staff.items[0], staff.items[1]

    # the 3C creates the RCP, coordinator and meeting place taken from the directory
    create_rcp = import_module(f"{PACKAGE}.api.planning.post_planning_rcps")
    rcp = create_rcp.sync(
        client=three_c,
        body=models.RcpCreate(
            title="RCP thoracique (client généré)",
            kind_code=models.RcpCreateKindCode.MED_251,
            level=models.RcpCreateLevel.LOCAL,
            host_finess=host.finess,
            place_finess=host.finess,
            coordinator_rpps=coordinator.rpps,
            members=[models.MemberInput(rpps=physician.rpps)],
            rrule="FREQ=WEEKLY;BYDAY=TU",
            recurrence_start=dt.date.today(),
            start_time="14:00:00",
            duration_minutes=90,
            deadline_hours=24,
            capacity=5,
            open_to_external=True,
        ),
    )
    assert isinstance(rcp, models.Rcp), rcp
    assert isinstance(rcp.id, int) and rcp.region == "53"
    assert rcp.coordinator.rpps == coordinator.rpps
    assert rcp.host.finess == BREST

    # ... and generates the sessions of the next eight weeks
    today = dt.date.today()
    generate = import_module(f"{PACKAGE}.api.planning.post_planning_rcps_rcp_id_sessions_generate")
    planned = generate.sync(
        rcp.id,
        client=three_c,
        body=models.Period(from_=today, to=today + dt.timedelta(days=56)),
    )
    assert isinstance(planned, models.Generation), planned
    assert 7 <= planned.created <= 9 and planned.existing == 0
    assert all(isinstance(s, models.Session) for s in planned.sessions)
    assert all(isinstance(s.starts_at, dt.datetime) for s in planned.sessions)

    # a physician lists the sessions still open and registers a dossier in the first one
    doctor = client(server.token(role="physician", subject=physician.rpps, rpps=physician.rpps))
    listing = import_module(f"{PACKAGE}.api.planning.get_planning_sessions")
    page = listing.sync(client=doctor, rcp_id=rcp.id, has_capacity=True, page_size=20)
    assert isinstance(page, models.SessionSummaryPage), page
    now = dt.datetime.now(dt.UTC)
    open_sessions = sorted(
        (s for s in page.items if s.registration_deadline > now), key=lambda s: s.starts_at
    )
    first, following = open_sessions[0], open_sessions[1]
    assert first.places_left == 5
    register = import_module(
        f"{PACKAGE}.api.planning.post_planning_sessions_session_id_registrations"
    )
    registration = register.sync(
        first.id,
        client=doctor,
        body=models.RegistrationCreate(
            patient_ref="dossier-0001",
            tumour_code="C34.1",
            question="Chirurgie d'emblée ou traitement néoadjuvant ?",
            phase=models.RegistrationCreatePhase.INITIAL,
        ),
    )
    assert isinstance(registration, models.Registration), registration
    assert registration.status == "proposed" and registration.session_id == first.id
    assert registration.registering_rpps == physician.rpps

    # the 3C defers it to the next session
    decide = import_module(
        f"{PACKAGE}.api.planning.post_planning_registrations_registration_id_decision"
    )
    decided = decide.sync(
        registration.id,
        client=three_c,
        body=models.Decision(
            decision=models.DecisionDecision.DEFERRED,
            target_session_id=following.id,
            reason="bilan d'extension à compléter",
        ),
    )
    assert isinstance(decided, models.Registration), decided
    assert decided.status == "deferred" and isinstance(decided.deferred_to_id, int)

    # the physician reads the notification, and finds the dossier in the following session
    inbox = import_module(f"{PACKAGE}.api.planning.get_planning_notifications")
    notes = inbox.sync(client=doctor, unread=True)
    assert isinstance(notes, models.NotificationPage), notes
    assert notes.unread == 1 and len(notes.items) == 1
    note = notes.items[0]
    assert isinstance(note, models.Notification)
    assert note.event == "registration.deferred" and note.registration_id == registration.id
    assert note.read is False and note.read_at is None
    mark_read = import_module(
        f"{PACKAGE}.api.planning.post_planning_notifications_notification_id_read"
    )
    read = mark_read.sync(note.id, client=doctor)
    assert isinstance(read, models.Notification), read
    assert read.read is True and isinstance(read.read_at, dt.datetime)
    assert inbox.sync(client=doctor, unread=True).unread == 0
    fetch = import_module(f"{PACKAGE}.api.planning.get_planning_registrations_registration_id")
    moved = fetch.sync(decided.deferred_to_id, client=doctor)
    assert isinstance(moved, models.Registration), moved
    assert moved.session_id == following.id and moved.status == "accepted"
    assert moved.deferred_from_id == registration.id

    # refusals come back typed too: a physician may not create an RCP
    refused = create_rcp.sync_detailed(client=doctor, body=models.RcpCreate(host_finess=BREST))
    assert refused.status_code == 403
    assert isinstance(refused.parsed, models.Problem) and refused.parsed.status == 403
