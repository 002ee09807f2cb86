"""Running commands and ansible-playbook from scenario tests, and reading the play recap."""

from __future__ import annotations

import os
import re
import subprocess

from conftest import PROJECT_ROOT


def run(command, env=None, timeout=1200):
    """Stdout of COMMAND run in the project root; the test fails with its output when it fails."""
    env = dict(os.environ if env is None else env, ANSIBLE_NOCOLOR="1")
    completed = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=False,
                               timeout=timeout)
    assert completed.returncode == 0, "%s\n%s%s" % (command, completed.stdout[-5000:], completed.stderr[-3000:])
    return completed.stdout


def recap_changed(output, host):
    """The changed count of HOST's recap line, which must show no failure."""
    recap = re.search(r"^%s\s+: ok=\d+\s+changed=(\d+)\s+unreachable=0\s+failed=0" % re.escape(host), output, re.M)
    assert recap, output[-3000:]
    return int(recap.group(1))
