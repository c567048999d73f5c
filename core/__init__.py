"""Shared building blocks of the DCC services; imports no domain package."""
