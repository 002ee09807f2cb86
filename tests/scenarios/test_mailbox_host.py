"""One real bookworm host converged with postmaster.mail.site as a mailbox server
(postmaster_mail_mailbox: true, server and client certificates from the private CA) that also
signs its mail with DKIM (postmaster_mail_rspamd: true), for what the Molecule mailbox scenario
does not see: the playbook's own output, and renewals.

- the first converge, run with -vvv and --diff, shows no password hash, and no DKIM private
  key nor its digest;
- a re-run changes nothing, and the dovecot role's check is answered on the control node
  (Dovecot's version from the control node's cache, verified by an earlier check);
- --check --diff on the converged host changes nothing and shows no hash;
- two forced renewals in a row (issue 15, defect 9; issue 17, item 1): after each, Postfix and
  Dovecot serve the new certificate, and site.yml's post_tasks (the tls role's "prune" entry
  point, after the handlers reloaded them) leave only the newest chain file per kind, except
  an earlier one that a consumer's configuration still names (here a file under
  /etc/stunnel); `postfix check` is clean, mail still comes in over STARTTLS and is read over
  IMAP with the chain verified, and a plain re-run changes nothing;
- a run that changes Dovecot's files and fails before its handlers (a Maildir for a user that
  does not exist) is finished by the next run, which reloads Dovecot.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess

import pytest
import yaml

from conftest import PROJECT_ROOT
from container_host import ContainerHost
from playbook_runs import recap_changed
from systemd_container import PIPELINED_CONNECTION, bookworm_mail_host

HOSTNAME = "mail.mailbox.test"
SALT = "FIXEDSALT"
# Clear passwords exist only in this test (the control node); the host gets a hash or chpasswd.
BOB_PASSWORD = "Bob-%d-pw" % os.getpid()
DAVE_PASSWORD = "Dave-%d-pw" % os.getpid()
TLS_DIR = "/etc/postfix/tls"
# Earlier chain files put there by hand: one a consumer still names, one nothing names.
NAMED = "server-20200101-000000.pem"
UNNAMED = "client-20200101-000000.pem"
PRUNE_TASK = "postmaster.mail.tls : Remove the chain files of earlier certificates that nothing names any more"
CHECK_SUFFIX = "Check the host against the desired state"
DOVECOT_CHECK = "postmaster.mail.dovecot : " + CHECK_SUFFIX

# Runs in the container: one message to dave over STARTTLS on port 25, then dave reads it over
# IMAP on 993; the chain verified against the CA both times. Dave's password on stdin.
MAIL_AND_READ = """
import imaplib, smtplib, ssl, sys, time
subject = sys.argv[1]
password = sys.stdin.read().strip()
context = ssl.create_default_context(cafile="/etc/postfix/tls/ca.pem")
with smtplib.SMTP("localhost", 25, local_hostname="client.mailbox.test", timeout=30) as client:
    client.starttls(context=context)
    client.sendmail("bob@mailbox.test", ["dave@%s"],
                    "From: bob@mailbox.test\\r\\nTo: dave\\r\\nSubject: %%s\\r\\n\\r\\nhello\\r\\n" %% subject)
with imaplib.IMAP4_SSL("localhost", 993, ssl_context=context, timeout=30) as imap:
    imap.login("dave", password)
    for attempt in range(120):
        imap.select("INBOX", readonly=True)
        if imap.search(None, "SUBJECT", '"%%s"' %% subject)[1][0].split():
            print("FOUND")
            break
        time.sleep(0.5)
""" % HOSTNAME


def sha512_crypt(password):
    """A SHA512-CRYPT hash made on the control node with a fixed salt (stable across runs)."""
    return subprocess.run(["openssl", "passwd", "-6", "-salt", SALT, password], capture_output=True, text=True,
                          check=True).stdout.strip()


class Host(ContainerHost):
    def __init__(self, root, name):
        super().__init__(root, name)
        self.bob_hash = sha512_crypt(BOB_PASSWORD)
        self.inventory.write_text(yaml.safe_dump({"all": {"hosts": {name: {
            "ansible_connection": PIPELINED_CONNECTION, "ansible_python_interpreter": "/usr/bin/python3",
            "postmaster_mail_mailbox": True, "tls_controller_dir": str(root / "pki"),
            "tls_server_names": [HOSTNAME, "localhost", "127.0.0.1"], "tls_client_certificate_enabled": True,
            "postfix_myhostname": HOSTNAME, "postfix_mydomain": "mailbox.test", "maildir_users": ["dave"],
            "dovecot_users": [{"name": "bob@mailbox.test", "password_hash": self.bob_hash}],
            "dovecot_version_cache_dir": str(root / "versions"),
            "postmaster_mail_rspamd": True, "rspamd_dkim_domains": ["mailbox.test"],
            "rspamd_dkim_controller_dir": str(root / "dkim"),
        }}}}))

    def site(self, extra=None, options=()):
        return self.play(PROJECT_ROOT / "playbooks" / "site.yml", extra, options, timeout=1500)

    def chain_files(self):
        return sorted(self.sh("cd %s && ls server-*.pem client-*.pem" % TLS_DIR).split())

    def served_fingerprint(self, port):
        return self.sh("openssl s_client -connect 127.0.0.1:%d </dev/null 2>/dev/null | openssl x509 -noout "
                       "-fingerprint -sha256" % port)

    def file_fingerprint(self, path):
        return self.sh("openssl x509 -in %s -noout -fingerprint -sha256" % path)

    def mail_and_read(self, subject):
        completed = subprocess.run(["podman", "exec", "-i", self.name, "python3", "-c", MAIL_AND_READ, subject],
                                   input=DAVE_PASSWORD, env=self.env, capture_output=True, text=True, timeout=120,
                                   check=False)
        assert completed.returncode == 0 and completed.stdout.strip() == "FOUND", completed.stdout + completed.stderr


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    root = tmp_path_factory.mktemp("mailbox-host")
    name = "postmaster-mailbox-host-%d" % os.getpid()
    host = Host(root, name)
    with bookworm_mail_host(name, host.env, HOSTNAME):
        host.sh("useradd --create-home --shell /bin/bash dave")
        subprocess.run(["podman", "exec", "-i", name, "chpasswd"], input="dave:%s\n" % DAVE_PASSWORD,
                       env=host.env, text=True, check=True, capture_output=True)
        host.converge_output = host.site(options=["-vvv", "--diff"])
        yield host


def no_hash(output, host):
    assert host.bob_hash not in output
    assert host.bob_hash.split("$")[-1][:20] not in output
    assert "$%s$" % SALT not in output and BOB_PASSWORD not in output
    keys = list((host.root / "dkim").glob("*/*.key"))
    assert keys
    for key in keys:
        text = key.read_text()
        body = "".join(text.splitlines()[1:-1])
        assert hashlib.sha256(text.encode()).hexdigest() not in output
        assert body[:40] not in output and body[-40:] not in output


def pruned(output):
    """Whether the prune task ran and removed something."""
    return "TASK [%s] " % PRUNE_TASK in output and "changed: [" in output.split("TASK [%s] " % PRUNE_TASK, 1)[1][:400]


def test_converge_shows_no_hash(host):
    assert "Write the virtual users' passwd-file" in host.converge_output
    no_hash(host.converge_output, host)


def test_rerun_changes_nothing_and_answers_the_dovecot_check_locally(host):
    output = host.site()
    assert recap_changed(output, host.name) == 0, output[-6000:]
    checks = [block for block in output.split("TASK [")[1:] if block.split("]", 1)[0].endswith(CHECK_SUFFIX)]
    check = next(block for block in checks if block.startswith(DOVECOT_CHECK))
    assert "skipping: [%s]" % host.name in check, check
    cache = json.loads(next((host.root / "versions").glob("*.json")).read_text())
    assert re.match(r"^1:2\.3\.", cache["dovecot-core"]), cache


def test_check_diff_on_converged_host_changes_nothing_and_shows_no_hash(host):
    output = host.site(options=["--check", "--diff"])
    assert recap_changed(output, host.name) == 0, output[-6000:]
    no_hash(output, host)


def test_renewals_reload_postfix_and_dovecot_and_leave_only_current_chain_files(host):
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
        # Both daemons serve the new server certificate.
        server_chain = next(path for path in current if "/server-" in path)
        assert host.served_fingerprint(993) == host.file_fingerprint(server_chain)
        assert host.served_fingerprint(465) == host.file_fingerprint(server_chain)
    assert renewed[0] != renewed[1]

    assert host.sh("postfix check 2>&1; echo rc=$?") == "rc=0\n"
    host.mail_and_read("after-renewals")
    # Mail from the host itself (127.0.0.1) with the From: domain of rspamd_dkim_domains is signed.
    signed = host.sh("grep -rl after-renewals /home/dave/Maildir | head -1 | xargs grep -c '^DKIM-Signature: .*d=mailbox.test' "
                     "|| true")
    assert signed.strip() == "1", signed

    output = host.site()
    assert recap_changed(output, host.name) == 0, output[-6000:]
    assert host.chain_files() == sorted([NAMED] + [os.path.basename(path) for path in renewed[1]])


def tls_1_2_taken_on_993(host):
    return host.sh("openssl s_client -connect 127.0.0.1:993 -tls1_2 </dev/null >/dev/null 2>&1; echo $?").strip() == "0"


def test_a_reload_a_failed_run_left_pending_is_done_by_the_next_run(host):
    """Dovecot's files change, then a later role fails on this host (a Maildir for a user that
    does not exist) before the handlers: Dovecot still runs its old configuration. The next
    run's check sees the note the files task left, and reloads Dovecot."""
    pending = "/run/postmaster-mail/dovecot.reload-pending"
    assert tls_1_2_taken_on_993(host)
    tls_1_3 = {"dovecot_tls_min_protocol": "TLSv1.3"}
    command = ["ansible-playbook", "-i", str(host.inventory), str(PROJECT_ROOT / "playbooks" / "site.yml"),
               "-e", json.dumps(dict(tls_1_3, maildir_users=["dave", "nosuch-pmtest"]))]
    failed = subprocess.run(command, cwd=PROJECT_ROOT, env=host.env, capture_output=True, text=True, timeout=1500,
                            check=False)
    assert failed.returncode == 2 and "user nosuch-pmtest does not exist" in failed.stdout, failed.stdout[-6000:]
    assert "RUNNING HANDLER" not in failed.stdout, failed.stdout[-6000:]
    assert "ssl_min_protocol = TLSv1.3" in host.sh("doveconf -n ssl_min_protocol")
    assert tls_1_2_taken_on_993(host), "Dovecot was reloaded by the failed run"
    assert host.sh("test -f %s && echo left" % pending).strip() == "left"

    output = host.site(tls_1_3)
    assert "RUNNING HANDLER [postmaster.mail.dovecot : Reload Dovecot]" in output, output[-6000:]
    assert not tls_1_2_taken_on_993(host)
    assert host.sh("test -e %s && echo left || echo gone" % pending).strip() == "gone"
    output = host.site(tls_1_3)
    assert recap_changed(output, host.name) == 0, output[-6000:]
