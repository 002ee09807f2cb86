"""The postmaster.mail.dovecot role on one real bookworm host (systemd), in a play with the
tls (private CA), postfix, mail_client and maildir roles; the Postfix side of authenticated
submission is not wired here, only what the dovecot role gives alone:

- IMAP on 993 with the chain verified against the CA from the control node, and on 143 after
  STARTTLS; LOGIN before STARTTLS is refused; a wrong password is refused;
- a system user (alice, PAM) and a virtual user (bob, SHA512-CRYPT made on the control node);
- a mail Postfix delivers to alice's ~/Maildir is listed over IMAP and by s-nail;
- the first converge, run with -vvv and --diff, shows no password hash;
- a re-run changes nothing and makes one remote check call: the dovecot role's own check is
  answered on the control node (Dovecot's version from the control node's cache, verified by
  the play's first check);
- --check --diff on the converged host changes nothing and shows no hash.
"""

from __future__ import annotations

import glob
import imaplib
import json
import os
import re
import ssl
import subprocess
import time

import pytest
import yaml

from conftest import PROJECT_ROOT
from container_host import ContainerHost
from playbook_runs import recap_changed
from systemd_container import systemd_container

IMAGE = "localhost/debian-bookworm:base"
# Bookworm with Postfix installed (tests/modules/test_postfix_apply.py keeps it): used when present.
POSTFIX_IMAGE = "localhost/postmaster-apply-test:bookworm"
HOSTNAME = "mail.dovecot.test"
SALT = "FIXEDSALT"
# Clear passwords exist only in this test (the control node); the host gets a hash or chpasswd.
BOB_PASSWORD = "Bob-%d-pw" % os.getpid()
ALICE_PASSWORD = "Alice-%d-pw" % os.getpid()
CHECK_SUFFIX = "Check the host against the desired state"
CHECK_TASK = "postmaster.mail.dovecot : " + CHECK_SUFFIX

PLAYBOOK = [{
    "name": "A mailbox server",
    "hosts": "all",
    "gather_facts": False,
    "roles": ["postmaster.mail.tls", "postmaster.mail.postfix", "postmaster.mail.dovecot",
              "postmaster.mail.mail_client", "postmaster.mail.maildir"],
}]


def sha512_crypt(password):
    """A SHA512-CRYPT hash made on the control node with a fixed salt (stable across runs)."""
    return subprocess.run(["openssl", "passwd", "-6", "-salt", SALT, password], capture_output=True, text=True,
                          check=True).stdout.strip()


class Host(ContainerHost):
    def __init__(self, root, name):
        super().__init__(root, name)
        self.bob_hash = sha512_crypt(BOB_PASSWORD)
        self.inventory.write_text(yaml.safe_dump({"all": {"hosts": {name: {
            "ansible_connection": "containers.podman.podman", "ansible_python_interpreter": "/usr/bin/python3",
            "tls_controller_dir": str(root / "pki"),
            "tls_server_names": [HOSTNAME, "localhost", "127.0.0.1"],
            "postfix_myhostname": HOSTNAME, "postfix_mydomain": "dovecot.test", "maildir_users": ["alice"],
            "dovecot_tls_chain_file": "{{ tls_server_chain_file }}",
            "dovecot_users": [{"name": "bob@dovecot.test", "password_hash": self.bob_hash}],
            "dovecot_version_cache_dir": str(root / "versions"),
        }}}}))
        self.playbook = root / "mailbox.yml"
        self.playbook.write_text(yaml.safe_dump(PLAYBOOK, sort_keys=False))

    def play(self, *options):
        started = time.monotonic()
        completed = subprocess.run(["ansible-playbook", "-i", str(self.inventory), str(self.playbook)] + list(options),
                                   cwd=PROJECT_ROOT, env=self.env, capture_output=True, text=True, timeout=1500,
                                   check=False)
        assert completed.returncode == 0, completed.stdout[-8000:] + completed.stderr[-3000:]
        return completed.stdout + completed.stderr, time.monotonic() - started


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    root = tmp_path_factory.mktemp("dovecot-role")
    name = "postmaster-dovecot-role-%d" % os.getpid()
    host = Host(root, name)
    cached = subprocess.run(["podman", "image", "exists", POSTFIX_IMAGE], env=host.env, check=False).returncode == 0
    with systemd_container(name, POSTFIX_IMAGE if cached else IMAGE, host.env, HOSTNAME):
        # The cached image was installed under another host name, which Debian keeps in /etc/mailname.
        host.sh("echo %s > /etc/mailname && useradd --create-home --shell /bin/bash alice" % HOSTNAME)
        subprocess.run(["podman", "exec", "-i", name, "chpasswd"], input="alice:%s\n" % ALICE_PASSWORD,
                       env=host.env, text=True, check=True, capture_output=True)
        host.converge_output, host.converge_seconds = host.play("-vvv", "--diff")
        print("converge: %.0f s" % host.converge_seconds)
        host.address = subprocess.run(["podman", "inspect", "-f", "{{.NetworkSettings.IPAddress}}", name],
                                      env=host.env, capture_output=True, text=True, check=True).stdout.strip()
        cas = sorted(glob.glob(str(root / "pki" / "**" / "ca*.pem"), recursive=True)
                     + glob.glob(str(root / "pki" / "**" / "ca*.crt"), recursive=True))
        assert cas, sorted(glob.glob(str(root / "pki" / "**"), recursive=True))
        host.ca_file = cas[0]
        yield host


def tls_context(host):
    context = ssl.create_default_context(cafile=host.ca_file)
    context.check_hostname = False  # reached by its address; the chain is verified against the CA
    return context


def no_hash(output, host):
    assert host.bob_hash not in output
    assert host.bob_hash.split("$")[-1][:20] not in output
    assert "$%s$" % SALT not in output and BOB_PASSWORD not in output


def test_converge_shows_no_hash(host):
    assert "Write the virtual users' passwd-file" in host.converge_output
    no_hash(host.converge_output, host)


def test_imap_993_verified_chain_virtual_and_system_users(host):
    for user, password in (("bob@dovecot.test", BOB_PASSWORD), ("alice", ALICE_PASSWORD)):
        with imaplib.IMAP4_SSL(host.address, 993, ssl_context=tls_context(host), timeout=20) as client:
            assert client.login(user, password)[0] == "OK"
            assert client.select("INBOX")[0] == "OK"


def test_imap_143_starttls_and_no_login_before(host):
    with imaplib.IMAP4(host.address, 143, timeout=20) as client:
        with pytest.raises(imaplib.IMAP4.error, match="PRIVACYREQUIRED|LOGINDISABLED|disabled"):
            client.login("bob@dovecot.test", BOB_PASSWORD)
    with imaplib.IMAP4(host.address, 143, timeout=20) as client:
        client.starttls(ssl_context=tls_context(host))
        assert client.login("bob@dovecot.test", BOB_PASSWORD)[0] == "OK"


def test_wrong_password_refused(host):
    with imaplib.IMAP4_SSL(host.address, 993, ssl_context=tls_context(host), timeout=20) as client:
        with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
            client.login("bob@dovecot.test", "not-" + BOB_PASSWORD)


def test_mail_delivered_by_postfix_seen_over_imap_and_by_s_nail(host):
    subject = "dovecot-role-%d" % time.time()
    host.sh("printf 'From: root@%s\\nTo: alice@%s\\nSubject: %s\\n\\nhello\\n' | /usr/sbin/sendmail -t"
            % (HOSTNAME, HOSTNAME, subject))
    host.sh("for i in $(seq 60); do grep -rqs 'Subject: %s' /home/alice/Maildir/new && exit 0; sleep 1; done; exit 1"
            % subject, timeout=90)
    listing = host.sh("su - alice -c 's-nail -N -H -f ~/Maildir </dev/null'")
    assert subject in listing, listing
    with imaplib.IMAP4_SSL(host.address, 993, ssl_context=tls_context(host), timeout=20) as client:
        client.login("alice", ALICE_PASSWORD)
        client.select("INBOX", readonly=True)
        status, found = client.search(None, "SUBJECT", '"%s"' % subject)
        assert status == "OK" and found[0].split(), found


def test_rerun_changes_nothing_with_one_check(host):
    output, seconds = host.play()
    print("re-run: %.0f s" % seconds)
    assert recap_changed(output, host.name) == 0, output[-6000:]
    # One remote check: the play's first; the dovecot role's is answered on the control node
    # (Dovecot's version came from the cache, which that first check verified on the host).
    checks = [block for block in output.split("TASK [")[1:] if block.split("]", 1)[0].endswith(CHECK_SUFFIX)]
    remote = [block.split("]", 1)[0] for block in checks if "ok: [%s]" % host.name in block]
    assert len(remote) == 1, remote
    check = next(block for block in checks if block.startswith(CHECK_TASK))
    assert "skipping: [%s]" % host.name in check, check
    cache = json.loads(next((host.root / "versions").glob("*.json")).read_text())
    assert re.match(r"^1:2\.3\.", cache["dovecot-core"]), cache


def test_check_diff_on_converged_host_changes_nothing_and_shows_no_hash(host):
    output, dummy = host.play("--check", "--diff")
    assert recap_changed(output, host.name) == 0, output[-6000:]
    no_hash(output, host)
