"""The ``dcc-services`` command: database, server, demo data, tokens and OAuth clients."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click
from alembic import command
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from core import oauth
from core.auth import Role, claims_for, mint_token
from core.db import db
from core.errors import DomainError
from guidelines import cli as guidelines_cli
from planning import cli as planning_cli
from planning.directory.cli import directory as directory_group
from planning.directory.cli import load_demo_directory
from server.app import create_app
from server.migrations_state import alembic_config


def _create_app(*_: Any) -> Any:
    return create_app()


@click.group(
    cls=FlaskGroup,
    create_app=_create_app,
    add_version_option=False,
    load_dotenv=True,
    set_debug_flag=False,
)
def main() -> None:
    """DCC national services: RCP planning, clinical-trial search, guideline referentials."""


# --- database -----------------------------------------------------------------------------


@main.group("db")
def db_group() -> None:
    """Database schema (Alembic migrations)."""


def _alembic() -> Any:
    return alembic_config(current_app.extensions["dcc"].settings.database_url)


@db_group.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Migrate the database to REVISION (default: head)."""
    command.upgrade(_alembic(), revision)
    click.echo(f"database at {revision}")


@db_group.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Migrate the database down to REVISION (e.g. -1 or base)."""
    command.downgrade(_alembic(), revision)
    click.echo(f"database at {revision}")


@db_group.command("current")
def db_current() -> None:
    """Show the revision the database is at."""
    command.current(_alembic(), verbose=False)


@db_group.command("check")
def db_check() -> None:
    """Fail when the models and the migrations disagree (alembic check)."""
    command.check(_alembic())
    click.echo("models and migrations agree")


# --- serving ------------------------------------------------------------------------------


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True)
@click.option("--workers", default=2, show_default=True)
def serve(host: str, port: int, workers: int) -> None:
    """Serve the API with gunicorn (the production server) on HOST:PORT."""
    args = [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        "python:server.gunicorn_conf",
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        "server.wsgi:app",
    ]
    click.echo(f"serving on http://{host}:{port} (API documentation: /docs)")
    os.execvp(args[0], args)  # noqa: S606 - replaces this process with gunicorn


# --- demo ---------------------------------------------------------------------------------

DEMO_CLIENT_NAME = "Logiciel RCP de démonstration"


@main.command("demo")
def demo() -> None:
    """Load the demo data of every module (idempotent: safe to run again)."""
    with db.transaction():
        existing = [c for c in oauth.list_clients() if c.name == DEMO_CLIENT_NAME]
        if not existing:
            created = oauth.create_client(name=DEMO_CLIENT_NAME, region="53")
            click.echo(
                f"demo RCP software client: {created.client.client_id} "
                f"secret {created.secret} (shown once)"
            )
    for name, loader in demo_loaders():
        click.echo(f"loading demo {name}...")
        loader()
    click.echo("demo data loaded. Mint a token with e.g.: dcc-services token --role national_admin")


def demo_loaders() -> list[tuple[str, Any]]:
    """Each domain's demo loader, in dependency order."""
    from planning.cli import load_demo as planning_demo
    from trials.cli import load_demo as trials_demo
    from web import demo as web_demo

    return [
        ("directory (RPPS, FINESS)", load_demo_directory),
        ("planning", planning_demo),
        ("trials", trials_demo),
        ("guidelines", guidelines_cli.load_demo),
        ("web", web_demo.demo_loader),
    ]


def _in_app_context(group: click.Group) -> click.Group:
    """Run every command of a domain's group inside the application context.

    A plain ``click.group`` added to the FlaskGroup gets no application (so no database):
    ``dcc-services guidelines reindex`` failed with "Could not locate a bind". Wrapping here,
    where the domains are composed, covers every group whatever its class.
    """
    for command_ in group.commands.values():
        if isinstance(command_, click.Group):
            _in_app_context(command_)
        elif command_.callback is not None and not getattr(command_, "_dcc_app", False):
            command_.callback = with_appcontext(command_.callback)
            command_._dcc_app = True  # type: ignore[attr-defined]
    return group


main.add_command(_in_app_context(directory_group))
main.add_command(_in_app_context(guidelines_cli.guidelines))


# --- tokens and clients -------------------------------------------------------------------

main.add_command(_in_app_context(planning_cli.planning))


@main.command("token")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--subject", help="Token subject (default: derived from the role and perimeter)")
@click.option("--region", help="Region code (INSEE, e.g. 53 for Bretagne)")
@click.option("--finess", multiple=True, help="Establishment FINESS number (repeatable)")
@click.option("--rpps", help="RPPS number of the physician")
@click.option("--on-behalf-of", help="RPPS of the physician RCP software acts for")
@click.option("--ttl", default=3600, show_default=True, help="Lifetime in seconds")
def token(
    role: str,
    subject: str | None,
    region: str | None,
    finess: tuple[str, ...],
    rpps: str | None,
    on_behalf_of: str | None,
    ttl: int,
) -> None:
    """Mint an access token signed with the local issuer key (demo and tests)."""
    platform = current_app.extensions["dcc"]
    settings = platform.settings
    subject = subject or rpps or (finess[0] if finess else None) or region or role
    extra = claims_for(
        role=role,
        subject=subject,
        region=region,
        finess=finess,
        rpps=rpps,
        on_behalf_of=on_behalf_of,
    )
    click.echo(
        mint_token(
            platform.signing_key,
            issuer=settings.issuer,
            audience=settings.audience,
            ttl=ttl,
            client_id="dcc-services-cli",
            extra=extra,
        )
    )


@main.group("clients")
def clients() -> None:
    """OAuth 2.0 clients (RCP software) allowed the client-credentials grant."""


@clients.command("create")
@click.option("--name", required=True, help="Software and site, e.g. 'DxCare CHU Brest'")
@click.option(
    "--role",
    type=click.Choice(
        [Role.RCP_SOFTWARE.value, Role.REGIONAL_ADMIN.value, Role.NATIONAL_ADMIN.value]
    ),
    default=Role.RCP_SOFTWARE.value,
    show_default=True,
)
@click.option("--region", help="Perimeter: a region code")
@click.option("--finess", multiple=True, help="Perimeter: an establishment (repeatable)")
def clients_create(name: str, role: str, region: str | None, finess: tuple[str, ...]) -> None:
    """Register a client; prints its id and secret (the secret is shown only once)."""
    try:
        with db.transaction():
            created = oauth.create_client(
                name=name, role=Role(role), region=region, finess=list(finess)
            )
    except DomainError as error:
        raise click.UsageError(error.detail) from error
    click.echo(
        json.dumps(
            {"client_id": created.client.client_id, "client_secret": created.secret}, indent=2
        )
    )
    click.echo("store the secret now: only its hash is kept", err=True)


@clients.command("list")
def clients_list() -> None:
    """List the registered clients."""
    for client in oauth.list_clients():
        perimeter = (client.region and f"region {client.region}") or ", ".join(client.finess)
        state = "revoked" if client.revoked else "active"
        click.echo(f"{client.client_id}\t{state}\t{client.role}\t{perimeter}\t{client.name}")


@clients.command("revoke")
@click.argument("client_id")
def clients_revoke(client_id: str) -> None:
    """Revoke a client: it cannot get new tokens (issued ones expire with their TTL)."""
    try:
        with db.transaction():
            oauth.revoke_client(client_id=client_id)
    except DomainError as error:
        raise click.ClickException(error.detail) from error
    click.echo(f"revoked {client_id}")


# --- domains ------------------------------------------------------------------------------

from trials.cli import trials as trials_group  # noqa: E402 - domains come after the platform

main.add_command(trials_group)
