"""The Dovecot model's files against the real Dovecot of bullseye (2.3.13), bookworm (2.3.19)
and trixie (2.4): no role yet, the test writes what plugins/module_utils/_dovecot_model.py
returns, as the role will.

One throwaway container per release from the cached packages image (scripts/build-test-images),
without systemd: Dovecot runs as its own daemon, shared by every case. In each:
- `doveconf -n` reads the model's dovecot.conf without an error or warning, and so does every
  variant of CONFIG_VARIANTS (IMAP off, LMTP off, PAM off, quota, 2.4's empty protocols);
- Dovecot starts; a virtual user whose SHA512-CRYPT hash was made on the control node
  (`openssl passwd -6` with a fixed salt, what Ansible's password_hash('sha512', salt) gives)
  logs in over 993 and over 143 after STARTTLS; LOGIN before STARTTLS is refused; a wrong
  password is refused; an ARGON2ID user, a bare $2y$ BLF-CRYPT user and a system user (PAM) log in
- LMTP on Postfix's socket delivers to a virtual user (bob@example.org) and a system user
  (alice@example.org, found without the domain) into the ~/Maildir IMAP shows; a message over
  a user's quota is refused with Dovecot's 552 and nothing is written;
- the auth socket Postfix uses exists in its queue directory with the model's owner and mode.
"""

from __future__ import annotations

import imaplib
import os
import ssl
import subprocess
import sys
import warnings

import pytest

from conftest import PROJECT_ROOT
from systemd_container import mail_packages_image

sys.path.insert(0, str(PROJECT_ROOT / ".cache" / "collections"))

from ansible_collections.postmaster.mail.plugins.module_utils._dovecot_model import desired_state  # noqa: E402

SUITES = {"bullseye": "2.3", "bookworm": "2.3", "trixie": "2.4"}
ENV = dict(os.environ, CONTAINERS_CONF=str(PROJECT_ROOT / "containers" / "containers.conf"))
PACKAGES = ["dovecot-core", "dovecot-imapd", "dovecot-lmtpd"]
CHAIN = "/etc/ssl/postmaster-test/server-20261203T010000.pem"
# Clear passwords exist only in this test (the control node); the host gets hashes.
PASSWORDS = {"bob@example.org": "Bob-%d-pw" % os.getpid(), "carol@example.org": "Carol-%d-pw" % os.getpid(),
             "dave@example.org": "Dave-%d-pw" % os.getpid(), "alice": "Alice-%d-pw" % os.getpid()}
SALT = "PmTestSalt0123ab"
SMALL_QUOTA = "2K"
# A refused login waits auth_failure_delay (2 s), and the next login from the same address anvil's
# penalty (about 4 s here); a loaded machine stretches both.
IMAP_TIMEOUT = 45


def sh(name, script, check=True, timeout=300):
    completed = subprocess.run(["podman", "exec", name, "bash", "-c", script], env=ENV, capture_output=True,
                               text=True, timeout=timeout, check=False)
    if check:
        assert completed.returncode == 0, "%s\n%s%s" % (script, completed.stdout, completed.stderr)
    return completed


def put(name, path, content, mode, owner):
    """Write CONTENT to PATH in the container (through stdin: no copy of a secret on this side's disk)."""
    subprocess.run(["podman", "exec", "-i", name, "bash", "-c",
                    'umask 077 && mkdir -p "$(dirname %s)" && cat > %s && chown %s %s && chmod %s %s'
                    % (path, path, owner, path, mode, path)],
                   input=content, env=ENV, text=True, check=True, capture_output=True)


def sha512_crypt(password):
    """A SHA512-CRYPT hash made here, on the control node, with a fixed salt (stable across runs)."""
    return subprocess.run(["openssl", "passwd", "-6", "-salt", SALT, password], capture_output=True, text=True,
                          check=True).stdout.strip()


def settings(argon2id_hash, bcrypt_hash):
    return {
        "dovecot_tls_chain_file": CHAIN,
        "dovecot_lmtp_enabled": True,
        "dovecot_quota_default": "1G",
        "dovecot_sender_domains": ["example.org"],
        "dovecot_users": [
            {"name": "bob@example.org", "password_hash": sha512_crypt(PASSWORDS["bob@example.org"])},
            {"name": "carol@example.org", "password_hash": argon2id_hash, "quota": SMALL_QUOTA},
            {"name": "dave@example.org", "password_hash": bcrypt_hash},
        ],
    }


# Other settings whose dovecot.conf must parse too (overrides of settings()).
CONFIG_VARIANTS = {
    "imap and lmtp off": {"dovecot_imap_enabled": False, "dovecot_lmtp_enabled": False,
                          "dovecot_tls_chain_file": None},
    "pam off, no quota": {"dovecot_system_users": False, "dovecot_quota_default": None},
    "system users only": {"dovecot_users": [], "dovecot_quota_default": "500M"},
    "virtual users only, lmtp off": {"dovecot_system_users": False, "dovecot_lmtp_enabled": False},
}


@pytest.fixture(scope="module")
def containers(tmp_path_factory):
    """One container per release from the cached packages image, where Dovecot is installed."""
    names = {suite: "dovecot-config-%s-%d" % (suite, os.getpid()) for suite in SUITES}
    try:
        for suite, name in names.items():
            subprocess.run(["podman", "rm", "-f", "-t", "0", name], env=ENV, capture_output=True, check=False)
            started = subprocess.run(["podman", "run", "-d", "--name", name, mail_packages_image(suite, ENV),
                                      "sleep", "infinity"], env=ENV, capture_output=True, text=True, check=False)
            assert started.returncode == 0, started.stderr
            sh(name, "dpkg-query -W %s openssl python3 >/dev/null" % " ".join(PACKAGES))
        yield names
    finally:
        for name in names.values():
            subprocess.run(["podman", "rm", "-f", "-t", "0", name], env=ENV, capture_output=True, check=False)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A self-signed certificate and the chain file the tls role would publish (key, then certificate)."""
    root = tmp_path_factory.mktemp("pki")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(root / "key.pem"), "-out", str(root / "cert.pem"), "-days", "2",
                    "-subj", "/CN=mail.example.org", "-addext", "subjectAltName=DNS:mail.example.org"],
                   check=True, capture_output=True)
    return {"cert": root / "cert.pem", "chain": (root / "key.pem").read_text() + (root / "cert.pem").read_text()}


PREPARED = {}


@pytest.fixture(params=sorted(SUITES))
def host(request, containers, pki):
    """The release's container with the model's files written and Dovecot running (once per release)."""
    suite = request.param
    if suite not in PREPARED:
        PREPARED[suite] = prepare(containers[suite], pki)
    return dict(PREPARED[suite], suite=suite)


def prepare(name, pki):
    version = sh(name, "dovecot --version").stdout.split()[0]
    # ARGON2ID and BLF-CRYPT: Python has neither here, so these hashes are made by Dovecot's own
    # doveadm pw; the bcrypt one is given bare ($2y$...), as other tools write it.
    argon2id = sh(name, "doveadm pw -s ARGON2ID -p '%s'" % PASSWORDS["carol@example.org"]).stdout.strip()
    bcrypt = sh(name, "doveadm pw -s BLF-CRYPT -p '%s'" % PASSWORDS["dave@example.org"]).stdout.strip()
    assert bcrypt.startswith("{BLF-CRYPT}$2y$")
    wanted = settings(argon2id, bcrypt[len("{BLF-CRYPT}"):])
    state = desired_state(wanted, {"version": version})
    accounts = {"owner": state["accounts"]["name"], "home": state["accounts"]["home"]}
    sh(name, "getent passwd postfix >/dev/null || useradd -r -M -d /var/spool/postfix postfix; "
             "mkdir -p /var/spool/postfix/private; "
             "getent passwd %(owner)s >/dev/null || useradd -r -m -d %(home)s %(owner)s; "
             "id alice >/dev/null 2>&1 || useradd -m alice" % accounts)
    subprocess.run(["podman", "exec", "-i", name, "chpasswd"], input="alice:%s\n" % PASSWORDS["alice"], env=ENV,
                   text=True, check=True, capture_output=True)
    put(name, CHAIN, pki["chain"], "0600", "root:root")
    for item in state["files"]:
        put(name, item["path"], item["content"], item["mode"], "%s:%s" % (item["owner"], item["group"]))
    sh(name, "dovecot")
    address = subprocess.run(["podman", "inspect", "-f", "{{.NetworkSettings.IPAddress}}", name], env=ENV,
                             capture_output=True, text=True, check=True).stdout.strip()
    return {"name": name, "version": version, "state": state, "settings": wanted, "address": address,
            "cert": pki["cert"]}


def imaps_login(host, user, password):
    """An IMAPS client logged in as USER (the caller closes it with `with`).

    CI once saw Dovecot answer no LOGIN for 90 s under load, with nothing kept to explain it: a
    login left unanswered for IMAP_TIMEOUT is tried once more on a new connection, with Dovecot's
    own errors and processes shown as a warning, or in the failure if it stalls again."""
    try:
        return imaps_login_once(host, user, password)
    except LoginStalled:
        warnings.warn(stall_report(host, user))
    try:
        return imaps_login_once(host, user, password)
    except LoginStalled:
        raise AssertionError(stall_report(host, user)) from None


class LoginStalled(Exception):
    """The server took the connection and gave no answer to LOGIN in IMAP_TIMEOUT."""


def imaps_login_once(host, user, password):
    client = imaplib.IMAP4_SSL(host["address"], 993, ssl_context=tls_context(host), timeout=IMAP_TIMEOUT)
    try:
        client.login(user, password)
    except TimeoutError:
        client.shutdown()
        raise LoginStalled() from None
    except BaseException:
        client.shutdown()
        raise
    return client


def stall_report(host, user):
    state = sh(host["name"], "doveadm log errors; doveadm penalty; ps -eo user,etime,stat,args", check=False).stdout
    return "the LOGIN of %s on %s got no answer in %d s; Dovecot:\n%s" % (user, host["suite"], IMAP_TIMEOUT, state)


def tls_context(host):
    context = ssl.create_default_context(cafile=str(host["cert"]))
    context.check_hostname = False  # the container is reached by its address; the chain is verified
    return context


def test_version_family(host):
    assert host["state"]["version_family"] == SUITES[host["suite"]], host["version"]


def test_doveconf_reads_it_without_a_word(host):
    result = sh(host["name"], "doveconf -n")
    assert result.stderr == "", result.stderr
    assert "ssl = required" in result.stdout


@pytest.mark.parametrize("variant", sorted(CONFIG_VARIANTS))
def test_doveconf_reads_every_variant(host, variant):
    wanted = dict(host["settings"], **CONFIG_VARIANTS[variant])
    state = desired_state(wanted, {"version": host["version"]})
    config = state["files"][0]
    assert config["path"] == "/etc/dovecot/dovecot.conf"
    path = "/tmp/variant.conf"
    put(host["name"], path, config["content"], "0644", "root:root")
    result = sh(host["name"], "doveconf -n -c %s" % path, check=False)
    assert result.returncode == 0 and result.stderr == "", "%s:\n%s" % (variant, result.stderr)


def test_imaps_login(host):
    with imaps_login(host, "bob@example.org", PASSWORDS["bob@example.org"]) as client:
        assert client.state == "AUTH"
        assert client.select("INBOX")[0] == "OK"


def test_starttls_login_and_nothing_before(host):
    with imaplib.IMAP4(host["address"], 143, timeout=IMAP_TIMEOUT) as client:
        assert "LOGINDISABLED" in client.capabilities and "STARTTLS" in client.capabilities
        with pytest.raises(imaplib.IMAP4.error, match="PRIVACYREQUIRED"):
            client.login("bob@example.org", PASSWORDS["bob@example.org"])
        client.starttls(ssl_context=tls_context(host))
        assert client.login("bob@example.org", PASSWORDS["bob@example.org"])[0] == "OK"


def test_wrong_password_refused(host):
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        imaps_login(host, "bob@example.org", "not-" + PASSWORDS["bob@example.org"])


@pytest.mark.parametrize("user", ["carol@example.org", "dave@example.org", "alice"])
def test_argon2id_bcrypt_and_system_users_log_in(host, user):
    with imaps_login(host, user, PASSWORDS[user]) as client:
        assert client.state == "AUTH"


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
def test_tls_below_1_2_refused(host):
    context = tls_context(host)
    context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises((ssl.SSLError, OSError)):
        imaplib.IMAP4_SSL(host["address"], 993, ssl_context=context, timeout=IMAP_TIMEOUT)


# Runs in the container: one LMTP transaction per recipient on Postfix's socket; prints
# "delivered" or Dovecot's refusal for each.
LMTP = """
import smtplib, sys
socket, subject, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
body = "Subject: %s\\r\\n\\r\\n" % subject + "x" * size + "\\r\\n"
for recipient in sys.argv[4:]:
    client = smtplib.LMTP(socket)
    try:
        client.sendmail("sender@example.net", [recipient], body)
        print("delivered")
    except smtplib.SMTPException as exc:
        print("refused", exc)
    client.close()
"""


def lmtp(host, subject, size, *recipients):
    socket = host["state"]["postfix"]["main_cf"]["mailbox_transport"].replace("lmtp:unix:", "/var/spool/postfix/")
    completed = subprocess.run(["podman", "exec", "-i", host["name"], "python3", "-", socket, subject, str(size)]
                               + list(recipients), input=LMTP, env=ENV, capture_output=True, text=True, timeout=60,
                               check=True)
    return completed.stdout.strip().splitlines()


def subjects(host, user):
    with imaps_login(host, user, PASSWORDS[user]) as client:
        client.select("INBOX", readonly=True)
        found = client.search(None, "ALL")[1][0].split()
        return [client.fetch(number, "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")[1][0][1].decode().strip()
                for number in found]


def test_lmtp_delivers_to_virtual_and_system_users(host):
    subject = "lmtp-%s" % host["suite"]
    assert lmtp(host, subject, 10, "bob@example.org", "alice@example.org") == ["delivered", "delivered"]
    assert "Subject: " + subject in subjects(host, "bob@example.org")
    assert "Subject: " + subject in subjects(host, "alice")
    # The same Maildir Postfix's home_mailbox (Maildir/) writes to.
    assert host["state"]["postfix"]["main_cf"]["home_mailbox"] == "Maildir/"
    assert sh(host["name"], "ls /home/alice/Maildir/new | wc -l").stdout.strip() != "0"


def test_lmtp_refuses_over_quota(host):
    (reply,) = lmtp(host, "too-big-%s" % host["suite"], 8192, "carol@example.org")
    assert reply.startswith("refused") and "552" in reply, reply
    assert "Subject: too-big-%s" % host["suite"] not in subjects(host, "carol@example.org")


def test_auth_socket_for_postfix(host):
    listed = sh(host["name"], "stat -c '%a %U %G %F' /var/spool/postfix/private/auth "
                              "/var/spool/postfix/private/dovecot-lmtp").stdout.split("\n")
    assert listed[0] == "660 postfix postfix socket"
    assert listed[1] == "600 postfix postfix socket"
    assert host["state"]["postfix"]["main_cf"]["smtpd_sasl_path"] == "private/auth"


def test_passwd_file_is_not_world_readable(host):
    assert sh(host["name"], "stat -c '%a %U %G' /etc/dovecot/postmaster-users").stdout.strip() == "640 root dovecot"
