"""Server-rendered French pages for 3C staff, physicians and referential administrators."""

from __future__ import annotations

from flask import Flask, redirect, url_for
from werkzeug.wrappers import Response

from core.config import Settings


def init_app(app: Flask, settings: Settings) -> None:
    """Register the pages (a plain Flask blueprint, outside the OpenAPI document)."""
    from web import auth, views

    # the app sets HttpOnly and SameSite=Lax; Secure too whenever served over https
    if settings.public_url.startswith("https://"):
        app.config["SESSION_COOKIE_SECURE"] = True
    auth.init_oidc(app, settings)
    app.register_blueprint(views.blp)

    @app.route("/")
    def _root() -> Response:
        return redirect(url_for("web.index"))
