"""Sign-in helpers: the RPPS claim of the OpenID Connect provider, the OIDC client setup."""

from __future__ import annotations

import pytest

from core.auth import Role
from core.config import Settings
from server.app import create_app
from web import auth


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("810100000017", "10100000017"),  # PSC SubjectNameID: "8" + RPPS
        ("10100000017", "10100000017"),
        ("010100000017", None),  # an ADELI national id is not an RPPS number
        ("abc", None),
        (None, None),
    ],
)
def test_rpps_from_the_configured_claim(value, expected):
    claims = {} if value is None else {"SubjectNameID": value}
    assert auth.rpps_from_claims(claims, "SubjectNameID") == expected


def test_oidc_claims_make_a_physician_principal():
    settings = Settings(oidc_rpps_claim="rpps", oidc_metadata_url="https://psc.example/.well-known")
    principal = auth.principal_from_oidc(
        {"sub": "f:abc", "iss": "https://psc.example", "rpps": "10100000017"}, settings
    )
    assert principal is not None
    assert (principal.role, principal.rpps, principal.subject) == (
        Role.PHYSICIAN,
        "10100000017",
        "f:abc",
    )
    assert auth.principal_from_oidc({"sub": "x"}, settings) is None


def test_the_oidc_client_is_registered_only_when_configured(app, tmp_path):
    assert "dcc_web_oauth" not in app.extensions
    settings = app.extensions["dcc"].settings
    configured = create_app(
        env="testing",
        database_url=settings.database_url,
        instance_dir=tmp_path,
        signing_key_file=settings.signing_key_file,
        log_format="text",
        log_level="WARNING",
        oidc_metadata_url="https://psc.example/auth/realms/esante-wallet/.well-known/openid-configuration",
        oidc_client_id="dcc-web",
        oidc_client_secret="secret",
    )
    client = configured.extensions["dcc_web_oauth"].create_client("psc")
    assert client.client_id == "dcc-web"
    html = configured.test_client().get("/web/connexion").get_data(as_text=True)
    assert "Se connecter avec Pro Santé Connect" in html
