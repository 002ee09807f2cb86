"""yamllint (strict) and ansible-lint (profile production) pass on the whole collection.

scripts/lint runs both with the settings in .yamllint and .ansible-lint (both skip
.cache/, .venv/ and tests/output/).
"""

from __future__ import annotations

import os
import subprocess

from conftest import PROJECT_ROOT


def test_yamllint_and_ansible_lint_production_pass():
    completed = subprocess.run(
        [str(PROJECT_ROOT / "scripts" / "lint"), "--nocolor", "--format", "pep8"],
        capture_output=True, text=True, check=False, timeout=600,
        env=dict(os.environ, NO_COLOR="1", ANSIBLE_NOCOLOR="1"),
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    assert "'production'" in output, output
