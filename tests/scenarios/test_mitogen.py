"""The optional accelerator works: the site playbook with TLS converges through Mitogen's
strategy (`mitogen_linear`, connection `podman`), a re-run reports changed=0, and mail
is delivered to a Maildir. See README.md, "Faster runs with Mitogen"."""

from __future__ import annotations

import os
import re
import subprocess

import yaml

from conftest import PROJECT_ROOT
from playbook_runs import recap_changed, run
from systemd_container import bookworm_mail_host


def mitogen_env():
    strategy_dir = subprocess.run(
        ["python", "-c", "import ansible_mitogen, os; print(os.path.join(os.path.dirname(ansible_mitogen.__file__),"
         " 'plugins', 'strategy'))"], capture_output=True, text=True, check=True).stdout.strip()
    return dict(os.environ, ANSIBLE_STRATEGY="mitogen_linear", ANSIBLE_STRATEGY_PLUGINS=strategy_dir,
                ANSIBLE_NOCOLOR="1")


def test_site_converges_and_reruns_unchanged_under_mitogen(tmp_path):
    env = mitogen_env()
    name = "postmaster-mitogen-test-%d" % os.getpid()
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"all": {
        "hosts": {name: {"ansible_connection": "podman", "ansible_python_interpreter": "/usr/bin/python3"}},
        "vars": {"postfix_myhostname": "mail.mitogen.test", "postfix_mydomain": "mitogen.test",
                 "postmaster_mail_tls": True, "tls_controller_dir": str(tmp_path / "pki"),
                 "tls_server_names": ["mail.mitogen.test", "localhost"], "maildir_users": ["carol"]},
    }}))
    with bookworm_mail_host(name, env, "mail.mitogen.test"):
        run(["podman", "exec", name, "useradd", "--create-home", "--shell", "/bin/bash", "carol"], env)
        site = ["ansible-playbook", "-i", str(inventory), "playbooks/site.yml"]
        assert recap_changed(run(site, env), name) > 0
        assert recap_changed(run(site, env), name) == 0

        # Modules really ran inside Mitogen's interpreter on the host, not as AnsiballZ files.
        probe = run(["ansible", "-i", str(inventory), name, "-m", "ansible.builtin.shell",
                     "-a", "cat /proc/$PPID/cmdline"], env)
        assert "mitogen:" in probe, probe

        with open(PROJECT_ROOT / "scripts" / "send-test-mail.sh", "rb") as script:
            mail = subprocess.run(["podman", "exec", "-i", name, "sh", "-s", "carol", "60"], stdin=script, env=env,
                                  capture_output=True, text=True, check=False)
        assert mail.returncode == 0, mail.stdout + mail.stderr
        assert re.search(r"^delivered: /home/carol/Maildir/new/\S+$", mail.stdout, re.M), mail.stdout
