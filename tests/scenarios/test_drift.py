"""Re-runs skip the roles' remote work only when nothing differs: after a converge, a re-run
makes one postmaster.mail.drift_check call and changes nothing (site.yml ends the play
there; a bad setting still reaches the role that reports it); drift made by hand on the
host (main.cf edited, /etc/s-nail.rc deleted, a file's mode changed, Postfix stopped, a
Maildir removed) shows in --check --diff without being repaired, and the next real run
repairs every piece of it."""

from __future__ import annotations

import os
import re
import subprocess

import yaml

from conftest import PROJECT_ROOT
from playbook_runs import recap_changed, run
from systemd_container import bookworm_mail_host

DRIFT = ("postconf -e myhostname=drifted.example; rm -f /etc/s-nail.rc; "
         "chmod 0600 /etc/profile.d/postmaster-mail.sh; systemctl stop postfix; rm -rf /home/dave/Maildir")
STATE = ("postconf -h myhostname; systemctl is-active postfix || true; ls /home/dave/Maildir; "
         "grep -c 'postmaster.mail managed block' /etc/s-nail.rc || true; stat -c %a /etc/profile.d/postmaster-mail.sh")
GOOD_STATE = "mail.drift.test\nactive\ncur\nnew\ntmp\n2\n644\n"


def ran(output, task):
    """Whether TASK ran on the host (ok or changed), not skipped."""
    match = re.search(r"TASK \[%s\] \**\n(ok|changed|skipping)" % re.escape(task), output)
    return bool(match) and match.group(1) != "skipping"


def test_rerun_checks_once_and_repairs_drift(tmp_path):
    name = "postmaster-drift-test-%d" % os.getpid()
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"all": {
        "hosts": {name: {"ansible_connection": "containers.podman.podman",
                         "ansible_python_interpreter": "/usr/bin/python3"}},
        "vars": {"postfix_myhostname": "mail.drift.test", "postfix_mydomain": "drift.test",
                 "maildir_users": ["dave"]},
    }}))
    site = ["ansible-playbook", "-i", str(inventory), "playbooks/site.yml"]
    with bookworm_mail_host(name, dict(os.environ), "mail.drift.test"):
        run(["podman", "exec", name, "useradd", "--create-home", "--shell", "/bin/bash", "dave"])
        assert recap_changed(run(site), name) > 0

        output = run(site)
        assert recap_changed(output, name) == 0
        # site.yml's one check covers every role; the play ends before any role's task.
        assert ran(output, "Check the host against every role's desired state")
        assert "TASK [postmaster.mail." not in output, output

        # A bad setting changes the desired state, so the roles run and the role that owns
        # it stops with its own message before anything changes.
        bad = subprocess.run(site + ["-e", '{"mail_client_extra_settings": 5}'], cwd=PROJECT_ROOT,
                             env=dict(os.environ, ANSIBLE_NOCOLOR="1"), capture_output=True, text=True,
                             check=False, timeout=600)
        assert bad.returncode == 2, bad.stdout[-3000:]
        assert "mail_client_extra_settings must be a list of s-nail settings" in bad.stdout, bad.stdout[-3000:]
        assert re.search(r"^%s\s+: ok=\d+\s+changed=0\s" % re.escape(name), bad.stdout, re.M), bad.stdout[-3000:]

        run(["podman", "exec", name, "sh", "-c", DRIFT])
        drifted = run(["podman", "exec", name, "sh", "-c", STATE])
        checked = run(site + ["--check", "--diff"])
        assert recap_changed(checked, name) >= 5
        assert "drifted.example" in checked  # the real diff of main.cf
        assert run(["podman", "exec", name, "sh", "-c", STATE]) == drifted

        assert recap_changed(run(site), name) >= 5
        assert run(["podman", "exec", name, "sh", "-c", STATE]) == GOOD_STATE
        assert recap_changed(run(site), name) == 0


FULL_VARS = {
    "postmaster_mail_tls": True, "tls_server_names": ["mail.drift.test", "localhost"],
    "tls_client_certificate_enabled": True, "postfix_myhostname": "mail.drift.test", "postfix_mydomain": "drift.test",
    "maildir_users": ["dave"],
    "postfix_tls_policies": [{"destination": "example.org", "level": "secure", "match": [".example.org"]}],
    "stunnel_tunnels": [{"name": "hub", "accept": "127.0.0.1:10465", "connect": "127.0.0.1:465",
                         "ca_file": "/etc/postfix/tls/ca.pem", "check_host": "mail.drift.test"}],
    "postfix_relay": {"host": "mail.drift.test", "method": "stunnel", "tunnel_port": 10465,
                      "username": "edge@drift.test", "password": "drift-S3cret"},
}
FULL_DRIFT = ("echo 'x y' >> /etc/postfix/postmaster_sasl_passwd; rm -f /etc/postfix/postmaster_tls_policy.db; "
              "echo '; edited' >> /etc/stunnel/postmaster-mail.conf; rm -f /etc/postfix/tls/server-*.pem; "
              "systemctl stop postmaster-stunnel")
FULL_STATE = ("grep -c 'x y' /etc/postfix/postmaster_sasl_passwd || true; ls /etc/postfix/postmaster_tls_policy.db; "
              "tail -n 1 /etc/stunnel/postmaster-mail.conf; ls /etc/postfix/tls | grep -c '^server-'; "
              "systemctl is-active postmaster-stunnel || true")
FULL_GOOD_STATE = "0\n/etc/postfix/postmaster_tls_policy.db\ncheckHost = mail.drift.test\n1\nactive\n"


def test_full_mission_reruns_with_one_check_and_repairs_drift(tmp_path):
    """TLS from the private CA, lookup tables (SASL, TLS policy), a stunnel tunnel: a re-run
    issues nothing on the control node and makes one check (the tls role's, which also
    compares the postfix role's main.cf from the Postfix facts the converge cached on the
    control node); table, tunnel and chain file drift is repaired."""
    name = "postmaster-drift-full-%d" % os.getpid()
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"all": {
        "hosts": {name: dict(FULL_VARS, ansible_connection="containers.podman.podman",
                             ansible_python_interpreter="/usr/bin/python3", tls_controller_dir=str(tmp_path / "pki"))},
    }}))
    full = ["ansible-playbook", "-i", str(inventory), "benchmarks/playbooks/full.yml"]
    with bookworm_mail_host(name, dict(os.environ), "mail.drift.test"):
        run(["podman", "exec", name, "useradd", "--create-home", "--shell", "/bin/bash", "dave"])
        assert recap_changed(run(full), name) > 0

        output = run(full)
        assert recap_changed(output, name) == 0
        checks = re.findall(r"TASK \[postmaster\.mail\.(\w+) : Check the host against the desired state\] \**\n(ok|skipping)",
                            output)
        assert sorted(role for role, status in checks if status == "ok") == ["tls"], checks
        for task in ("postmaster.mail.tls : Create the CA private key",
                     "postmaster.mail.tls : Read the current certificate (server)",
                     "postmaster.mail.tls : Install the server chain file",
                     "postmaster.mail.stunnel : Install stunnel",
                     "postmaster.mail.postfix : Build the TLS policy table"):
            assert not ran(output, task), task

        run(["podman", "exec", name, "sh", "-c", FULL_DRIFT])
        assert recap_changed(run(full), name) >= 4
        assert run(["podman", "exec", name, "sh", "-c", FULL_STATE]) == FULL_GOOD_STATE
        assert recap_changed(run(full), name) == 0
