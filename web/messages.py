"""French wording of the refusals that the pages show (the API speaks English, the pages French).

The services raise English problem details for the API's clients. A page shows the French
sentence of the refusals its users meet (deadline passed, session full, not in your
perimeter...), recognised by their wording, with the numbers they carry; any other refusal
gets the French name of its kind followed by the service's own detail, so that nothing the
user needs to know is lost in translation.
"""

from __future__ import annotations

import re
from typing import Any

from core.errors import DomainError

#: (pattern of the service's detail, French template with the pattern's groups).
_REFUSALS: list[tuple[re.Pattern[str], str]] = [
    (p, t)
    for p, t in (
        (
            r"the registration deadline of session (\d+) passed at (\S+)",
            "La date limite d'inscription à la séance n° {0} est passée ({1}).",
        ),
        (
            r"the registration deadline has passed: ask the 3C",
            "La date limite d'inscription est passée : adressez-vous au 3C.",
        ),
        (
            r"session (\d+) is full \((\d+) dossiers\)",
            "La séance n° {0} est complète ({1} dossiers).",
        ),
        (r"session (\d+) is full", "La séance n° {0} est complète."),
        (
            r"this dossier is already registered for session (\d+) \(registration (\d+)\)",
            "Ce dossier est déjà inscrit à la séance n° {0} (inscription n° {1}).",
        ),
        (
            r"this dossier is already registered for session (\d+)",
            "Ce dossier est déjà inscrit à la séance n° {0}.",
        ),
        (r"session (\d+) is already cancelled", "La séance n° {0} est déjà annulée."),
        (
            r"session (\d+) is cancelled: no attendance to record",
            "La séance n° {0} est annulée : il n'y a pas de présences à saisir.",
        ),
        (r"session (\d+) is cancelled", "La séance n° {0} est annulée."),
        (
            r"session (\d+) has not started yet",
            "La séance n° {0} n'a pas encore commencé : les présences se saisissent après.",
        ),
        (
            r"session (\d+) is at revision (\d+), not (\d+): read it again",
            "La séance n° {0} a été modifiée entre-temps (version {1}) : rechargez la page.",
        ),
        (
            r"session (\d+) already holds (\d+) dossiers; capacity cannot drop to (\d+)",
            "La séance n° {0} compte déjà {1} dossiers : sa capacité ne peut pas descendre à {2}.",
        ),
        (
            r"RCP (\d+) has no recurrence: add sessions one by one",
            "La RCP n° {0} n'a pas de récurrence : ajoutez ses séances une à une.",
        ),
        (r"RCP (\d+) is inactive", "La RCP n° {0} est inactive."),
        (
            r"RCP (\d+) takes dossiers only from physicians of establishment (\S+)",
            "La RCP n° {0} n'accepte que les dossiers des médecins de l'établissement {1}.",
        ),
        (
            r"the physician (\d+) is not an active professional of the directory",
            "Le médecin {0} n'est pas un professionnel actif de l'annuaire.",
        ),
        (
            r"only the registering physician may withdraw this dossier",
            "Seul le médecin qui a inscrit ce dossier peut le retirer.",
        ),
        (
            r"registration (\d+) is not in your perimeter",
            "L'inscription n° {0} n'est pas dans votre périmètre.",
        ),
        (
            r"\S+ \S+ may not act on (.+) of establishment (\S+)",
            "Votre profil ne vous permet pas d'agir sur {0} de l'établissement {1}.",
        ),
        (
            r"\S+ \S+ may not act on (.+) of region (\S+)",
            "Votre profil ne vous permet pas d'agir sur {0} de la région {1}.",
        ),
        (
            r"role (\S+) may not call this operation \(allowed: (.+)\)",
            "Votre rôle ({0}) ne permet pas cette action (rôles autorisés : {1}).",
        ),
        (
            r"a (\S+) cannot register dossiers",
            "Votre rôle ({0}) ne permet pas d'inscrire des dossiers.",
        ),
        (
            r"only national administrators write national referentials",
            "Seuls les administrateurs nationaux écrivent les référentiels nationaux.",
        ),
        (
            r"regional administrator of region (\S+) may not write a referential of region (\S+)",
            "L'administrateur de la région {0} ne peut pas écrire un référentiel de la région {1}.",
        ),
        (
            r"role (\S+) may not write referentials",
            "Votre rôle ({0}) ne permet pas d'écrire des référentiels.",
        ),
        (
            r"a version must be approved by someone other than its author",
            "Une version doit être approuvée par une autre personne que son auteur.",
        ),
        (
            r"referential (\S+) already has a version in preparation",
            "Le référentiel {0} a déjà une version en préparation.",
        ),
        (
            r"referential (\S+) already has a version (\S+)",
            "Le référentiel {0} a déjà une version {1}.",
        ),
        (
            r"referential (\S+) belongs to another owner",
            "Le référentiel {0} appartient à un autre propriétaire.",
        ),
        (
            r"only a draft can be submitted \(this version is (\S+)\)",
            "Seul un brouillon peut être soumis (cette version est « {0} »).",
        ),
        (
            r"only a version in review can be approved \(this is (\S+)\)",
            "Seule une version en relecture peut être approuvée (celle-ci est « {0} »).",
        ),
        (
            r"only an active version can be retired \(this is (\S+)\)",
            "Seule une version active peut être retirée (celle-ci est « {0} »).",
        ),
        (
            r"version (\S+) of (\S+) is (\S+) and cannot change: .*",
            "La version {0} de {1} est « {2} » et ne peut plus changer : partez d'un brouillon.",
        ),
        (
            r"feed (\d+) belongs to another user",
            "Ce lien d'abonnement appartient à un autre utilisateur.",
        ),
        (r"no session (\d+)", "La séance n° {0} n'existe pas."),
        (r"no RCP (\d+)", "La RCP n° {0} n'existe pas."),
        (r"no registration (\d+)", "L'inscription n° {0} n'existe pas."),
    )
    for p in (re.compile(f"^{p}$"),)
]

#: What a perimeter refusal is about (``Principal.require_establishment``'s ``what``).
_OBJECTS = {
    "RCPs": "les RCP",
    "this RCP": "cette RCP",
    "this session": "cette séance",
    "this RCP's registrations": "les inscriptions de cette RCP",
    "the target session": "la séance de destination",
    "this resource": "cette ressource",
    "referentials": "les référentiels",
    "this referential": "ce référentiel",
}

#: The French name of each kind of refusal, by HTTP status, for the details not listed above.
_KINDS = {
    400: "Demande incorrecte",
    401: "Connexion requise",
    403: "Action non autorisée",
    404: "Introuvable",
    409: "Action impossible dans l'état actuel",
    412: "Condition préalable non remplie",
    413: "Contenu trop volumineux",
    415: "Format non pris en charge",
    422: "Saisie invalide",
    429: "Trop de demandes",
    503: "Service momentanément indisponible",
}

#: marshmallow's own messages, as the forms show them next to the field's name.
_FIELD_MESSAGES = {
    "Missing data for required field.": "champ obligatoire.",
    "Field may not be null.": "ne peut pas être vide.",
    "Unknown field.": "champ inconnu.",
    "Not a valid string.": "texte attendu.",
    "Not a valid integer.": "nombre entier attendu.",
    "Not a valid number.": "nombre attendu.",
    "Not a valid boolean.": "oui ou non attendu.",
    "Not a valid datetime.": "date et heure attendues.",
    "Not a valid date.": "date attendue.",
    "Not a valid email address.": "adresse électronique invalide.",
    "Not a valid URL.": "adresse web invalide.",
    "Shorter than minimum length 1.": "ne peut pas être vide.",
}
_ONE_OF = re.compile(r"^Must be one of: (.+)\.$")
_LENGTH = re.compile(r"^Length must be between (\d+) and (\d+)\.$")
_LONGER = re.compile(r"^Longer than maximum length (\d+)\.$")
_RANGE = re.compile(r"^Must be greater than or equal to (\S+) and less than or equal to (\S+)\.$")


def refusal(error: DomainError) -> str:
    """The French sentence for a service's refusal."""
    return refusal_detail(error.status, error.detail)


def refusal_detail(status: int, detail: str) -> str:
    """The French sentence for a refusal of ``status`` whose English detail is ``detail``."""
    for pattern, template in _REFUSALS:
        match = pattern.match(detail)
        if match:
            return template.format(*(_OBJECTS.get(group, group) for group in match.groups()))
    return f"{_KINDS.get(status, 'Refus')} : {detail}"


def field_message(message: Any) -> str:
    """A marshmallow (or service) message about one field, in French when it is a known one."""
    text = str(message)
    if text in _FIELD_MESSAGES:
        return _FIELD_MESSAGES[text]
    if match := _ONE_OF.match(text):
        return f"valeurs possibles : {match.group(1)}."
    if match := _LENGTH.match(text):
        return f"entre {match.group(1)} et {match.group(2)} caractères."
    if match := _LONGER.match(text):
        return f"{match.group(1)} caractères au plus."
    if match := _RANGE.match(text):
        return f"entre {match.group(1)} et {match.group(2)}."
    return text
