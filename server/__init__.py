"""The composition of the DCC services: application factory, CLI and WSGI entry point."""
