"""Earlier chain files go after a renewal (issue 15, defect 9), on one real bookworm host
converged with postmaster.mail.site and TLS (server and client certificates).

Two forced renewals in a row: after each, site.yml's post_tasks (the tls role's "prune" entry
point, after the handlers reloaded Postfix) leave only the newest chain file per kind, except
an earlier one that a consumer's configuration still names (here a file under /etc/stunnel);
main.cf names the newest, `postfix check` is clean, mail still comes in over STARTTLS, and a
plain re-run changes nothing."""

from __future__ import annotations

import os
import subprocess

import yaml

from conftest import PROJECT_ROOT
from container_host import ContainerHost
from playbook_runs import recap_changed
from systemd_container import systemd_container

IMAGE = "localhost/debian-bookworm:base"
# Bookworm with Postfix installed (tests/modules/test_postfix_apply.py keeps it): used when present.
POSTFIX_IMAGE = "localhost/postmaster-apply-test:bookworm"
HOSTNAME = "mail.prune.test"
TLS_DIR = "/etc/postfix/tls"
# Earlier chain files put there by hand: one a consumer still names, one nothing names.
NAMED = "server-20200101-000000.pem"
UNNAMED = "client-20200101-000000.pem"
PRUNE_TASK = "postmaster.mail.tls : Remove the chain files of earlier certificates that nothing names any more"

# Runs in the container: one message to dave over STARTTLS on port 25.
SEND = """
import smtplib, ssl, sys
context = ssl.create_default_context(cafile="/etc/postfix/tls/ca.pem")
with smtplib.SMTP("127.0.0.1", 25, local_hostname="client.prune.test", timeout=30) as client:
    client.starttls(context=context)
    client.sendmail("bob@prune.test", ["dave@localhost"],
                    "From: bob@prune.test\\r\\nTo: dave@localhost\\r\\nSubject: %s\\r\\n\\r\\nhello\\r\\n" % sys.argv[1])
"""


class Host(ContainerHost):
    def __init__(self, root, name):
        super().__init__(root, name)
        self.inventory.write_text(yaml.safe_dump({"all": {"hosts": {name: {
            "ansible_connection": "containers.podman.podman", "ansible_python_interpreter": "/usr/bin/python3",
            "postmaster_mail_tls": True, "tls_controller_dir": str(root / "pki"),
            "tls_server_names": [HOSTNAME, "localhost", "127.0.0.1"], "tls_client_certificate_enabled": True,
            "postfix_myhostname": HOSTNAME, "postfix_mydomain": "prune.test", "maildir_users": ["dave"],
        }}}}))

    def site(self, extra=None):
        return self.play(PROJECT_ROOT / "playbooks" / "site.yml", extra)

    def chain_files(self):
        return sorted(self.sh("cd %s && ls server-*.pem client-*.pem" % TLS_DIR).split())


def pruned(output):
    """Whether the prune task ran and removed something."""
    return "TASK [%s] " % PRUNE_TASK in output and "changed: [" in output.split("TASK [%s] " % PRUNE_TASK, 1)[1][:400]


def test_renewals_leave_only_current_and_named_chain_files(tmp_path):
    name = "postmaster-tls-prune-%d" % os.getpid()
    host = Host(tmp_path, name)
    cached = subprocess.run(["podman", "image", "exists", POSTFIX_IMAGE], env=host.env, check=False).returncode == 0
    with systemd_container(name, POSTFIX_IMAGE if cached else IMAGE, host.env, HOSTNAME):
        # The cached image was installed under another host name, which Debian keeps in /etc/mailname.
        host.sh("echo %s > /etc/mailname && useradd --create-home --shell /bin/bash dave" % HOSTNAME)
        host.site()
        first = host.chain_files()
        assert len(first) == 2, first
        # An earlier file a consumer still names, and one nothing names.
        host.sh("cp {d}/{f} {d}/{n} && cp {d}/{f} {d}/{u} && mkdir -p /etc/stunnel && "
                "printf 'cert = {d}/{n}\\n' > /etc/stunnel/other.conf".format(d=TLS_DIR, f=first[0], n=NAMED, u=UNNAMED))

        renewed = []
        for dummy in range(2):
            output = host.site({"tls_force_renewal": True})
            assert pruned(output), output[-6000:]
            current = host.sh("postconf -h smtpd_tls_chain_files smtp_tls_chain_files").split()
            assert sorted(os.path.basename(path) for path in current) != first
            renewed.append(current)
            # Only the current files, and the one the other configuration names.
            assert host.chain_files() == sorted([NAMED] + [os.path.basename(path) for path in current])
        assert renewed[0] != renewed[1]

        assert host.sh("postfix check 2>&1; echo rc=$?") == "rc=0\n"
        host.sh("python3 -c '%s' after-renewals" % SEND.replace("'", "'\"'\"'"))
        host.sh("for i in $(seq 60); do grep -rqs 'Subject: after-renewals' /home/dave/Maildir/new && exit 0; "
                "sleep 1; done; exit 1", timeout=90)

        output = host.site()
        assert recap_changed(output, name) == 0, output[-6000:]
        assert host.chain_files() == sorted([NAMED] + [os.path.basename(path) for path in renewed[1]])
