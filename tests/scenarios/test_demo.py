"""The README's main command works as written: it provisions the demo container as the full
server (TLS, Dovecot's IMAP, authenticated submission), delivers a test mail to a Maildir, user
demo sends one by authenticated submission and fetches it over IMAP, and a second run reports
changed=0."""

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


def test_demo_delivers_and_reruns_change_nothing():
    run_demo()
    output = run_demo()
    assert re.search(r"^delivered: /home/demo/Maildir/new/\S+$", output, re.M), output[-3000:]
    assert re.search(r"^delivery time: \d+ ms$", output, re.M), output[-3000:]
    assert re.search(r"^sent by authenticated submission: demo@postmaster.test logged in as demo on "
                     r"mail.postmaster.test:587 after STARTTLS$", output, re.M), output[-3000:]
    assert re.search(r"^submission time: \d+ ms$", output, re.M), output[-3000:]
    assert re.search(r"^fetched over IMAP: demo on mail.postmaster.test:993 \(TLS\), Subject: postmaster.mail "
                     r"submission test \d+$", output, re.M), output[-3000:]
    assert re.search(r"^delivery and fetch time: \d+ ms$", output, re.M), output[-3000:]
    assert changed_count(output) == 0, output[-3000:]

    # --check --diff against the converged host predicts no change and shows no diff.
    completed = subprocess.run(
        ["ansible-playbook", "-i", "demo/inventory.yml", "playbooks/site.yml", "--check", "--diff"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr
    assert changed_count(completed.stdout) == 0, completed.stdout[-3000:]
    assert "--- before" not in completed.stdout


def changed_count(output):
    recap = re.search(r"postmaster-demo\s+: ok=\d+\s+changed=(\d+)", output)
    assert recap, output[-3000:]
    return int(recap.group(1))
