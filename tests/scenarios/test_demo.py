"""The README's main command works as written: it provisions the demo container,
delivers a test mail to a Maildir, and a second run reports changed=0."""

from __future__ import annotations

import re
import subprocess

from conftest import PROJECT_ROOT


def run_demo():
    completed = subprocess.run(
        [str(PROJECT_ROOT / "scripts" / "demo")], cwd=PROJECT_ROOT,
        capture_output=True, text=True, check=False,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output[-5000:]
    return output


def test_demo_delivers_and_second_run_changes_nothing():
    run_demo()
    output = run_demo()
    assert re.search(r"^delivered: /home/demo/Maildir/new/\S+$", output, re.M), output[-3000:]
    assert re.search(r"^delivery time: \d+ ms$", output, re.M), output[-3000:]
    recap = re.search(r"postmaster-demo\s+: ok=\d+\s+changed=(\d+)", output)
    assert recap and recap.group(1) == "0", output[-3000:]
