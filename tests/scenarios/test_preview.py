"""A preview of a new host: `ansible-playbook postmaster.mail.site --check --diff` against a
Debian host that was never converged (no Postfix, no python3-apt), with TLS on and no
private CA yet on the control node. It is an admin's first step with a new server, so it
must run to the end, say what a real run would install and write, and write nothing: not on
the host, and not in tls_controller_dir (the CA is made by a real run only).
"""

from __future__ import annotations

import os
import subprocess
import time

import yaml

from conftest import PROJECT_ROOT
from playbook_runs import recap_changed
from systemd_container import systemd_container

IMAGE = "localhost/debian-bookworm:base"
# What the host's state is made of, as a listing that any write would change. drift_check's
# code cache (/var/cache/postmaster-mail) is a cache of the checking tool, not state.
SNAPSHOT = ("find /etc /home /srv /var/spool /var/lib/dpkg /var/lib/systemd -xdev -printf '%p %y %m %u %s\\n' "
            "| sort; find /etc /home /var/spool -xdev -type f -print0 | sort -z | xargs -0 sha256sum; "
            "dpkg-query -W; test ! -e /usr/sbin/postconf && echo no-postfix")


def sh(name, env, script):
    completed = subprocess.run(["podman", "exec", name, "bash", "-c", script], env=env, capture_output=True,
                               text=True, timeout=120, check=False)
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def test_check_diff_previews_a_new_host_and_writes_nothing(tmp_path):
    name = "postmaster-preview-test-%d" % os.getpid()
    pki = tmp_path / "pki"
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               CONTAINERS_CONF=str(PROJECT_ROOT / "containers" / "containers.conf"))
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {name: {
        "ansible_connection": "containers.podman.podman", "ansible_python_interpreter": "/usr/bin/python3",
        "postmaster_mail_tls": True, "tls_controller_dir": str(pki), "tls_server_names": ["mail.preview.test"],
        "postfix_myhostname": "mail.preview.test", "maildir_users": [],
    }}}}))
    with systemd_container(name, IMAGE, env, "mail.preview.test"):
        before = sh(name, env, SNAPSHOT)
        assert "no-postfix" in before and "python3-apt" not in before
        started = time.monotonic()
        completed = subprocess.run(["ansible-playbook", "-i", str(inventory), "postmaster.mail.site", "--check",
                                    "--diff"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
                                   check=False)
        elapsed = time.monotonic() - started
        output = completed.stdout + completed.stderr
        assert completed.returncode == 0, output[-6000:]
        after = sh(name, env, SNAPSHOT)
    print("preview: %.0f s" % elapsed)
    assert recap_changed(completed.stdout, name) > 0, output[-3000:]
    # What a real run would do, said in the play's output.
    for said in ("a real run would install postfix", "a real run would install s-nail",
                 "a real run would create the private CA in %s/ca" % pki,
                 "issue the server certificate for mail.preview.test",
                 "a real run would install /etc/postfix/tls/ca.pem, /etc/postfix/tls/server-",
                 "Postfix is not installed yet"):
        assert said in output, (said, output[-4000:])
    assert before == after, "the preview changed the host"
    assert not pki.exists(), sorted(str(path) for path in pki.rglob("*"))
