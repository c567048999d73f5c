"""Every ``dcc-services`` command runs with the application (found by the index drill).

The domains' click groups were added to the FlaskGroup without an application context:
``dcc-services guidelines reindex`` and ``planning generate`` failed with "Could not locate
a bind". Run as an operator would, in a fresh process on a fresh database.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from server.cli import main

REPO = Path(__file__).resolve().parent.parent


def _leaves(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _leaves(command, (*prefix, name))
        else:
            yield (*prefix, name), command


def test_every_domain_command_is_wrapped_in_the_application_context():
    unwrapped = [
        " ".join(path)
        for path, command in _leaves(main)
        if path[0] in ("directory", "guidelines", "planning")
        and not hasattr(command.callback, "__wrapped__")
    ]
    assert unwrapped == []


@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    [
        ["guidelines", "reindex"],
        ["planning", "generate", "--from", "2026-12-01", "--to", "2026-12-31"],
        ["trials", "reindex"],
    ],
)
def test_domain_commands_run_in_a_fresh_process(tmp_path, args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DCC_")}
    env.update({"DCC_INSTANCE_DIR": str(tmp_path), "DCC_LOG_LEVEL": "WARNING"})
    cli = [sys.executable, "-c", "from server.cli import main; main()"]
    for command in (["db", "upgrade"], args):
        done = subprocess.run(
            [*cli, *command], env=env, cwd=REPO, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr[-2000:]
