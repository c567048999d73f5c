"""WSGI entry point for gunicorn: ``gunicorn -c python:server.gunicorn_conf server.wsgi:app``."""

from server.app import create_app

app = create_app()
