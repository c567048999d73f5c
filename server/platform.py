"""The platform state shared by every request: settings, keys, token verifier, readiness checks."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from flask import Response

from core.auth import SigningKey, TokenVerifier
from core.config import Settings

#: A readiness check returns (ok, detail); it must be quick and never raise.
ReadinessCheck = Callable[[], tuple[bool, str]]


@dataclass
class Platform:
    settings: Settings
    signing_key: SigningKey
    verifier: TokenVerifier
    readiness_checks: dict[str, ReadinessCheck] = field(default_factory=dict)
    #: The ``POST /oauth/token`` handler (authlib's authorization server), set by create_app.
    token_endpoint: Callable[[], Response] | None = None

    def index_dir_usable(self) -> tuple[bool, str]:
        path: Path = self.settings.index_dir
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            return False, f"cannot create {path}: {error.strerror}"
        if not os.access(path, os.W_OK):
            return False, f"{path} is not writable"
        return True, str(path)
