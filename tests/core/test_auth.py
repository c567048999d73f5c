"""Every way a bearer token can be wrong gets 401 problem+json; roles and perimeters hold."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from core.auth import Principal, Role, claims_for, mint_token
from core.errors import Unauthorized

PROTECTED = "/audit/events"


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(app, **overrides):
    settings = app.extensions["dcc"].settings
    now = int(time.time())
    claims = {
        "iss": settings.issuer,
        "aud": settings.audience,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": "j1",
        "client_id": "tests",
        **claims_for(role="national_admin", subject="admin"),
    }
    claims.update(overrides)
    return claims


def _call(client, token):
    return client.get(PROTECTED, headers={"Authorization": f"Bearer {token}"})


def _assert_401(response, fragment):
    assert response.status_code == 401, response.get_json()
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == 401
    assert fragment in body["detail"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_valid_token_is_accepted(client, auth_header):
    response = client.get(PROTECTED, headers=auth_header(role="national_admin"))
    assert response.status_code == 200
    assert response.get_json()["items"] == [] or "items" in response.get_json()


def test_missing_token(client):
    response = client.get(PROTECTED)
    _assert_401(response, "needs a bearer access token")


def test_not_a_bearer_scheme(client):
    response = client.get(PROTECTED, headers={"Authorization": "Basic dXNlcjpwYXNz"})
    _assert_401(response, "needs a bearer access token")


def test_garbage_token(client):
    _assert_401(_call(client, "not-a-jwt"), "malformed")


def test_alg_none_is_refused(client, app):
    token = f"{_b64({'alg': 'none', 'typ': 'at+jwt'})}.{_b64(_claims(app))}."
    _assert_401(_call(client, token), "refused algorithm")


def test_hs256_signed_with_the_public_key_is_refused(client, app):
    # The classic key-confusion attack: HMAC with the published public key as the secret.
    public_pem = app.extensions["dcc"].signing_key.key.as_pem(private=False)
    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'at+jwt'})}.{_b64(_claims(app))}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    token = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    _assert_401(_call(client, token), "refused algorithm")


def test_tampered_token(client, token_for):
    token = token_for(role="national_admin")
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["dcc_role"] = "national_admin"
    claims["sub"] = "someone-else"
    forged = f"{header}.{_b64(claims)}.{signature}"
    _assert_401(_call(client, forged), "signature is invalid")


def test_one_changed_character_in_the_signature(client, token_for):
    token = token_for(role="national_admin")
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    _assert_401(_call(client, flipped), "signature")


def test_signed_by_another_key(client, app):
    other = RSAKey.generate_key(2048, private=True)
    token = jwt.encode({"alg": "RS256", "typ": "at+jwt"}, _claims(app), other)
    _assert_401(_call(client, token), "signature is invalid")


def test_expired_token(client, app):
    past = int(time.time()) - 3600
    key = app.extensions["dcc"].signing_key
    token = key.sign(_claims(app, iat=past - 600, nbf=past - 600, exp=past))
    _assert_401(_call(client, token), "exp")


def test_not_yet_valid_token(client, app):
    future = int(time.time()) + 3600
    key = app.extensions["dcc"].signing_key
    token = key.sign(_claims(app, nbf=future, exp=future + 600))
    _assert_401(_call(client, token), "nbf")


def test_wrong_audience(client, app):
    key = app.extensions["dcc"].signing_key
    _assert_401(_call(client, key.sign(_claims(app, aud="another-api"))), "aud")


def test_wrong_issuer(client, app):
    key = app.extensions["dcc"].signing_key
    token = key.sign(_claims(app, iss="https://evil.example"))
    _assert_401(_call(client, token), "issuer this server does not trust")


def test_missing_expiry(client, app):
    key = app.extensions["dcc"].signing_key
    claims = _claims(app)
    del claims["exp"]
    _assert_401(_call(client, key.sign(claims)), "exp")


def test_not_an_access_token_type(client, app):
    key = app.extensions["dcc"].signing_key
    _assert_401(_call(client, key.sign(_claims(app), typ="JWT")), "at+jwt")


def test_role_not_allowed_is_403(client, auth_header):
    response = client.get(PROTECTED, headers=auth_header(role="physician", rpps="10000000001"))
    assert response.status_code == 403
    assert response.mimetype == "application/problem+json"
    assert "role physician may not call this operation" in response.get_json()["detail"]


def test_role_without_its_perimeter_is_403(client, app):
    key = app.extensions["dcc"].signing_key
    token = key.sign(_claims(app, dcc_role="regional_admin"))
    response = _call(client, token)
    assert response.status_code == 403
    assert "perimeter" in response.get_json()["detail"]


def test_unknown_role_is_403(client, app):
    key = app.extensions["dcc"].signing_key
    response = _call(client, key.sign(_claims(app, dcc_role="superuser")))
    assert response.status_code == 403


def test_external_oidc_issuer_with_configured_rpps_claim(tmp_path):
    """A Pro Santé Connect-like issuer: ES256 keys from a JWKS file, RPPS in its own claim."""
    from core.auth import SigningKey, TokenVerifier
    from core.config import IssuerConfig, Settings

    psc_key = ECKey.generate_key("P-256", private=True)
    public = psc_key.as_dict(private=False) | {"kid": "psc-1"}
    jwks = tmp_path / "psc.json"
    jwks.write_text(json.dumps({"keys": [public]}))
    settings = Settings(
        trusted_issuers=(
            IssuerConfig(
                issuer="https://auth.esante.gouv.fr/auth/realms/esante-wallet",
                audience="dcc-national",
                jwks_file=str(jwks),
                rpps_claim="SubjectNameID",
                default_role="physician",
                rfc9068=False,
            ),
        )
    )
    local = SigningKey(RSAKey.generate_key(2048, private=True))
    verifier = TokenVerifier.from_settings(settings, local)
    now = int(time.time())
    token = jwt.encode(
        {"alg": "ES256", "kid": "psc-1"},
        {
            "iss": "https://auth.esante.gouv.fr/auth/realms/esante-wallet",
            "aud": "dcc-national",
            "sub": "f:550dc1c8-d97b",
            "exp": now + 60,
            "iat": now,
            "SubjectNameID": "810012345678",
        },
        psc_key,
    )
    principal = verifier.verify(token)
    assert principal.role is Role.PHYSICIAN
    assert principal.rpps == "810012345678"


def test_principal_perimeters():
    national = Principal("a", Role.NATIONAL_ADMIN, "i")
    regional = Principal("b", Role.REGIONAL_ADMIN, "i", region="53")
    coordinator = Principal("c", Role.COORDINATOR_3C, "i", finess=frozenset({"290000017"}))
    software = Principal(
        "d", Role.RCP_SOFTWARE, "i", finess=frozenset({"350000022"}), on_behalf_of="10001"
    )
    physician = Principal("e", Role.PHYSICIAN, "i", rpps="10002")
    assert national.covers_establishment("999999999", "11")
    assert regional.covers_establishment("290000017", "53")
    assert not regional.covers_establishment("750000001", "11")
    assert coordinator.covers_establishment("290000017", "53")
    assert not coordinator.covers_establishment("290000025", "53")
    assert not coordinator.covers_region("53")
    assert software.covers_establishment("350000022", "53")
    assert not software.covers_establishment("290000017", "53")
    assert software.acting_rpps() == "10001"
    assert physician.acting_rpps() == "10002"
    assert not physician.covers_establishment("290000017", "53")


@pytest.mark.parametrize("role", ["regional_admin", "coordinator_3c", "physician"])
def test_mint_token_roundtrip(app, role):
    platform = app.extensions["dcc"]
    perimeter = {
        "regional_admin": {"region": "53"},
        "coordinator_3c": {"finess": ["290000017"]},
        "physician": {"rpps": "10001234567"},
    }[role]
    token = mint_token(
        platform.signing_key,
        issuer=platform.settings.issuer,
        audience=platform.settings.audience,
        ttl=60,
        client_id="t",
        extra=claims_for(role=role, subject="s", **perimeter),
    )
    principal = platform.verifier.verify(token)
    assert principal.role.value == role


def test_a_verified_token_is_not_checked_again_until_it_expires(app, token_for, monkeypatch):
    verifier = app.extensions["dcc"].verifier
    token = token_for(role="physician", rpps="10001234567", ttl=600)
    checks = []
    decode = verifier._decode_with
    monkeypatch.setattr(verifier, "_decode_with", lambda *a: checks.append(1) or decode(*a))
    first = verifier.verify(token)
    assert verifier.verify(token) == first and first.rpps == "10001234567"
    assert len(checks) == 1
    # a tampered copy is another string: checked, and refused
    with pytest.raises(Unauthorized, match="signature"):
        verifier.verify(token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"))


def test_verified_tokens_expire_and_stay_bounded():
    from core.auth import _VerifiedTokens

    principal = Principal("a", Role.NATIONAL_ADMIN, "i")
    cache = _VerifiedTokens(size=2, ttl=300)
    cache.put("expired", principal, 99, now=100)  # already expired: not kept
    assert cache.get("expired", now=100) is None
    cache.put("t1", principal, 160, now=100)
    assert cache.get("t1", now=159) is principal
    assert cache.get("t1", now=160) is None  # never past the token's exp
    cache.put("long", principal, 10_000, now=100)
    assert cache.get("long", now=399) is principal
    assert cache.get("long", now=400) is None  # at most ttl seconds, then verified again
    cache.put("no-exp", principal, None, now=100)
    assert cache.get("no-exp", now=100) is None
    for name in ("a", "b", "c"):
        cache.put(name, principal, 1000, now=100)
    assert cache.get("a", now=101) is None and cache.get("c", now=101) is principal
