"""Sign-in of the web pages (OpenID Connect, or demo users outside production), CSRF tokens.

The web session holds the caller's perimeter; each request turns it back into the same
`core.auth.Principal` the API builds from a token, and the pages hand it to the services.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, abort, redirect, request, session, url_for

from core.auth import Principal, Role
from core.config import Settings

F = TypeVar("F", bound=Callable[..., Any])

SESSION_KEY = "web_user"
CSRF_KEY = "web_csrf"


def principal_to_session(principal: Principal, label: str) -> dict[str, Any]:
    return {
        "subject": principal.subject,
        "role": principal.role.value,
        "issuer": principal.issuer,
        "region": principal.region,
        "finess": sorted(principal.finess),
        "rpps": principal.rpps,
        "label": label,
    }


def sign_in(principal: Principal, label: str) -> None:
    """Start a fresh web session (a new CSRF token too: no fixation across sign-ins)."""
    session.clear()
    session[SESSION_KEY] = principal_to_session(principal, label)
    session[CSRF_KEY] = secrets.token_urlsafe(32)
    session.permanent = False


def sign_out() -> None:
    session.clear()


def current_user() -> dict[str, Any] | None:
    user = session.get(SESSION_KEY)
    return user if isinstance(user, dict) else None


def current_principal() -> Principal | None:
    """The signed-in person as a Principal, or None."""
    user = current_user()
    if user is None:
        return None
    try:
        return Principal(
            subject=user["subject"],
            role=Role(user["role"]),
            issuer=user["issuer"],
            region=user.get("region"),
            finess=frozenset(user.get("finess") or ()),
            rpps=user.get("rpps"),
        )
    except (KeyError, ValueError):
        session.clear()
        return None


def login_required(*roles: Role) -> Callable[[F], F]:
    """Redirect anonymous visitors to the sign-in page; 403 page for other roles."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = current_principal()
            if principal is None:
                return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
            if roles and principal.role not in roles:
                abort(403)
            return view(*args, principal=principal, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


# --- CSRF ---------------------------------------------------------------------------------


def csrf_token() -> str:
    token = session.get(CSRF_KEY)
    if not token:
        token = session[CSRF_KEY] = secrets.token_urlsafe(32)
    return str(token)


def check_csrf() -> None:
    """Every POST of the web pages carries the session's token (synchroniser token pattern)."""
    expected = session.get(CSRF_KEY)
    given = request.form.get("csrf_token", "") or request.headers.get("X-CSRF-Token", "")
    if not expected or not hmac.compare_digest(str(expected), given):
        abort(400, description="Jeton CSRF absent ou invalide : rechargez la page.")


# --- OpenID Connect -----------------------------------------------------------------------


def oidc_enabled(settings: Settings) -> bool:
    return bool(settings.oidc_metadata_url and settings.oidc_client_id)


def init_oidc(app: Flask, settings: Settings) -> None:
    """Register the authlib Flask client of the provider (Pro Santé Connect style)."""
    if not oidc_enabled(settings):
        return
    from authlib.integrations.flask_client import OAuth

    oauth = OAuth(app)
    oauth.register(
        "psc",
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret or None,
        server_metadata_url=settings.oidc_metadata_url,
        client_kwargs={"scope": settings.oidc_scope},
    )
    app.extensions["dcc_web_oauth"] = oauth


def rpps_from_claims(claims: dict[str, Any], claim: str) -> str | None:
    """The RPPS number in the configured claim; PSC gives the national id ``8`` + RPPS."""
    value = claims.get(claim)
    if value is None:
        return None
    value = str(value).strip()
    if len(value) == 12 and value.startswith("8"):
        value = value[1:]
    return value if len(value) == 11 and value.isdigit() else None


def principal_from_oidc(claims: dict[str, Any], settings: Settings) -> Principal | None:
    """A physician Principal from the provider's claims (None without a valid RPPS)."""
    rpps = rpps_from_claims(claims, settings.oidc_rpps_claim)
    if rpps is None:
        return None
    return Principal(
        subject=str(claims.get("sub") or rpps),
        role=Role.PHYSICIAN,
        issuer=str(claims.get("iss") or settings.oidc_metadata_url),
        rpps=rpps,
    )
