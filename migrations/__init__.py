"""Alembic revisions: the only source of the database schema (date-prefixed, reversible)."""
