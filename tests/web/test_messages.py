"""The French wording of service refusals and form messages on the pages (web/messages.py)."""

from __future__ import annotations

import pytest

from core.auth import Principal, Role
from core.errors import Conflict, DomainError, Forbidden, NotFound
from web import messages


@pytest.mark.parametrize(
    ("error", "french"),
    [
        (
            Conflict(
                "the registration deadline of session 12 passed at 2026-12-01T13:00:00+00:00",
                code="deadline-passed",
            ),
            "La date limite d'inscription à la séance n° 12 est passée "
            "(2026-12-01T13:00:00+00:00).",
        ),
        (
            Conflict("session 7 is full (12 dossiers)", code="session-full"),
            "La séance n° 7 est complète (12 dossiers).",
        ),
        (Conflict("session 7 is full", code="session-full"), "La séance n° 7 est complète."),
        (
            Conflict("this dossier is already registered for session 3 (registration 41)"),
            "Ce dossier est déjà inscrit à la séance n° 3 (inscription n° 41).",
        ),
        (
            Conflict("this dossier is already registered for session 3"),
            "Ce dossier est déjà inscrit à la séance n° 3.",
        ),
        (
            Conflict("session 3 is at revision 5, not 4: read it again"),
            "La séance n° 3 a été modifiée entre-temps (version 5) : rechargez la page.",
        ),
        (
            Forbidden("RCP 9 takes dossiers only from physicians of establishment 290000017"),
            "La RCP n° 9 n'accepte que les dossiers des médecins de l'établissement 290000017.",
        ),
        (NotFound("no session 404"), "La séance n° 404 n'existe pas."),
        (
            Conflict("only a version in review can be approved (this is draft)"),
            "Seule une version en relecture peut être approuvée (celle-ci est « draft »).",
        ),
    ],
)
def test_known_refusals_are_said_in_french(error: DomainError, french: str) -> None:
    assert messages.refusal(error) == french


def test_perimeter_refusals_name_what_and_where_in_french() -> None:
    principal = Principal(
        subject="3c-rennes",
        role=Role.COORDINATOR_3C,
        issuer="https://dcc.example.fr",
        finess=frozenset({"350005179"}),
    )
    with pytest.raises(Forbidden) as raised:
        principal.require_establishment("290000017", "53", "this session")
    assert messages.refusal(raised.value) == (
        "Votre profil ne vous permet pas d'agir sur cette séance de l'établissement 290000017."
    )


def test_other_refusals_keep_the_service_detail_behind_a_french_kind() -> None:
    error = Conflict("something new the pages do not know yet")
    assert messages.refusal(error) == (
        "Action impossible dans l'état actuel : something new the pages do not know yet"
    )
    assert messages.refusal_detail(418, "teapot") == "Refus : teapot"


@pytest.mark.parametrize(
    ("message", "french"),
    [
        ("Missing data for required field.", "champ obligatoire."),
        ("Must be one of: initial, relapse.", "valeurs possibles : initial, relapse."),
        ("Length must be between 1 and 200.", "entre 1 et 200 caractères."),
        ("Longer than maximum length 64.", "64 caractères au plus."),
        ("a message of a service", "a message of a service"),
    ],
)
def test_form_messages(message: str, french: str) -> None:
    assert messages.field_message(message) == french
