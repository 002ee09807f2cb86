"""ansible-test sanity and units pass, offline, on Python 3.11.

scripts/ansible-test copies the collection to
.cache/ansible-test/ansible_collections/postmaster/mail and writes the pip bootstrap
script ansible-test would otherwise download. The first run on a machine builds
ansible-test's virtual environments from PyPI (about three minutes); later runs reuse them.
"""

from __future__ import annotations

import re
import subprocess

from conftest import PROJECT_ROOT

ANSIBLE_TEST = PROJECT_ROOT / "scripts" / "ansible-test"


def ansible_test(*args):
    completed = subprocess.run(
        [str(ANSIBLE_TEST), *args, "--venv", "--python", "3.11", "--color", "no"],
        capture_output=True, text=True, check=False, timeout=1500,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output[-20000:]
    return output


def test_sanity_passes():
    output = ansible_test("sanity")
    # A sanity test whose tool is missing is skipped with a warning, not failed.
    assert "Required program" not in output, output[-5000:]
    assert "All targets skipped" not in output, output[-5000:]


def test_units_pass():
    output = ansible_test("units")
    passed = re.search(r"(\d+) passed", output)
    assert passed and int(passed.group(1)) > 0, output[-5000:]
    assert " failed" not in output.split("test session starts")[-1], output[-5000:]
