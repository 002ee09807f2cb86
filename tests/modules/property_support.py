"""Shared by the property tests: a stand-in for AnsibleModule, for tests that call a
backend many times against the real Postfix tools (the same commands run, without a
module process per example), and a strategy helper."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from hypothesis import strategies as st

# The collection as Ansible imports it (tests/conftest.py runs modules the same way).
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".cache" / "collections"))


class Failed(Exception):
    """fail_json was called."""


class FakeModule(object):
    check_mode = False
    _diff = False

    def __init__(self, params=None):
        self.params = params or {}
        self.no_log_values = set()
        self.warnings = []

    def get_bin_path(self, name, opt_dirs=()):
        return shutil.which(name, path=os.pathsep.join(list(opt_dirs) + [os.environ.get("PATH", "")]))

    def run_command(self, command, environ_update=None):
        completed = subprocess.run(command, capture_output=True, text=True, check=False,
                                   env=dict(os.environ, **(environ_update or {})))
        return completed.returncode, completed.stdout, completed.stderr

    def atomic_move(self, source, destination):
        os.rename(source, destination)

    def backup_local(self, path):
        raise AssertionError("no backups in property tests")

    def warn(self, message):
        self.warnings.append(message)

    def fail_json(self, **result):
        raise Failed(result.get("msg"))


def mostly(usual, rare, odds=9):
    """A strategy: `usual` `odds` times for each time `rare`."""
    return st.integers(0, odds).flatmap(lambda draw: rare if draw == 0 else usual)
