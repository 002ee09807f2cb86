"""Verify Dovecot on each release (2.3.13, 2.3.19, 2.4) with real logins and real mail, from
inside the container (Python's imaplib, the chain verified against the tls role's CA): IMAP
on 993 and on 143 after STARTTLS, no LOGIN before STARTTLS (from the control node), a wrong
password refused, a system user (PAM) and a virtual user, and a message Postfix delivered to
alice's ~/Maildir seen both over IMAP and by s-nail; the passwd-file is private and holds no
clear password."""

import imaplib
import shlex
import time
import uuid

import pytest

CA = "/etc/postfix/tls/ca.pem"
USERS = {"alice": "Alice-molecule-pw", "bob@molecule.test": "Bob-molecule-pw"}

PROBE = r"""
import imaplib, ssl, sys
user, password, mode = sys.argv[1:4]
context = ssl.create_default_context(cafile=%r)
context.check_hostname = True
try:
    if mode == "993":
        client = imaplib.IMAP4_SSL("localhost", 993, ssl_context=context, timeout=20)
    else:
        client = imaplib.IMAP4("localhost", 143, timeout=20)
        if mode == "143":
            client.starttls(ssl_context=context)
    client.login(user, password)
    client.select("INBOX", readonly=True)
    status, found = client.search(None, "SUBJECT", '"%%s"' %% sys.argv[4]) if len(sys.argv) > 4 else ("OK", [b""])
    print("LOGGED-IN", client.sock.version() if hasattr(client.sock, "version") else "plain", len(found[0].split()))
    client.logout()
except imaplib.IMAP4.error as error:
    print("REFUSED", error)
""" % CA


def imap(host, user, password, mode, subject=None):
    command = "python3 -c %s %s %s %s" % (shlex.quote(PROBE), shlex.quote(user), shlex.quote(password), mode)
    if subject:
        command += " " + shlex.quote(subject)
    return host.check_output(command)


@pytest.mark.parametrize("user", sorted(USERS))
@pytest.mark.parametrize("mode", ["993", "143"])
def test_login_over_tls_with_a_verified_chain(host, user, mode):
    output = imap(host, user, USERS[user], mode)
    assert output.startswith("LOGGED-IN TLSv1."), output


def test_no_login_before_starttls(host):
    """From the control node: Dovecot counts a connection from the host itself as secure, and
    takes a login there before STARTTLS."""
    address = host.check_output("hostname -I").split()[0]
    with imaplib.IMAP4(address, 143, timeout=20) as client:
        with pytest.raises(imaplib.IMAP4.error, match="PRIVACYREQUIRED|LOGINDISABLED|disabled"):
            client.login("bob@molecule.test", USERS["bob@molecule.test"])


def test_wrong_password_refused(host):
    output = imap(host, "bob@molecule.test", "not-the-password", "993")
    assert output.startswith("REFUSED") and "AUTHENTICATIONFAILED" in output, output


def test_mail_postfix_delivers_is_seen_over_imap_and_by_s_nail(host):
    subject = "mailbox-%s" % uuid.uuid4().hex[:12]
    host.check_output("printf 'From: root@mail.molecule.test\\nTo: alice@mail.molecule.test\\nSubject: %s\\n\\nhello\\n' "
                      "| /usr/sbin/sendmail -t" % subject)
    deadline = time.monotonic() + 60
    while host.run("grep -rqs -- %s /home/alice/Maildir/new" % shlex.quote("Subject: " + subject)).rc != 0:
        assert time.monotonic() < deadline, "not delivered to /home/alice/Maildir/new"
        time.sleep(0.5)
    assert subject in host.check_output("su - alice -c 's-nail -N -H -f ~/Maildir </dev/null'")
    output = imap(host, "alice", USERS["alice"], "993", subject)
    assert output.startswith("LOGGED-IN") and output.endswith(" 1"), output


def test_passwd_file_is_private(host):
    users = host.file("/etc/dovecot/postmaster-users")
    assert users.user == "root" and users.group == "dovecot" and users.mode == 0o640
    assert "Bob-molecule-pw" not in users.content_string
    assert "bob@molecule.test:{SHA512-CRYPT}$6$FIXEDSALT$" in users.content_string
