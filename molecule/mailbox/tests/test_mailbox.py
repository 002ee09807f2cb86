"""Verify the mailbox server on each release (Dovecot 2.3.13, 2.3.19, 2.4) with real logins and
real mail, every client's chain (with the host's name) verified against the tls role's CA
(ca.pem: the private CA, or on mailbox-bullseye the supplied root) on 25, 587, 465, 993, 143:

- alice (system user, PAM) authenticates on 587 after STARTTLS and on 465 and sends to
  bob@molecule.test (virtual user, delivered over LMTP) and to alice on the next host (relayed
  over port 25 to a second container, found in the test DNS);
- the message to bob carries smtpd's Received header with the TLS session (TLS 1.2 or 1.3),
  as does the one relayed to the next host;
- bob fetches both messages over IMAP on 993 and on 143 after STARTTLS, and s-nail lists them
  in the same Maildir; a message alice reads in s-nail is \\Seen over IMAP, and the other way;
- a client that did not log in is refused on 587 and 465 for every recipient; AUTH is offered
  only after STARTTLS on 587 and never on 25; alice may not send as bob; a wrong password is
  refused after Dovecot's delay and logged; LOGIN before STARTTLS on 143 is refused;
- a message over carol's quota is refused with Dovecot's reply and comes back to alice whole;
- the passwd-file is private and holds no clear password.
Probes run inside the container (Python's smtplib and imaplib), except the one for LOGIN
before STARTTLS, which comes from the control node: Dovecot counts a client on the host
itself as secure."""

import email
import imaplib
import json
import re
import shlex
import uuid

import pytest
import testinfra
from mailbox_hosts import CA, domain, name_of, next_host, wait_for

PASSWORDS = {"alice": "Alice-molecule-pw", "bob@molecule.test": "Bob-molecule-pw",
             "carol@molecule.test": "Carol-molecule-pw"}
BOB_MAILDIR = "/var/vmail/bob@molecule.test/Maildir"
CAROL_MAILDIR = "/var/vmail/carol@molecule.test/Maildir"
# s-nail's header summary of a folder, one subject per line, none cut to the screen's width.
S_NAIL_SUBJECTS = "COLUMNS=500 s-nail -N -H -S headline=%%s -f %s </dev/null"

# Runs in the host: the submission probes, one JSON result. Arguments: the host's domain,
# the next host's domain, a token for the subjects; alice's password on stdin.
SUBMISSION_PROBE = r"""
import json, smtplib, ssl, sys, time
domain, next_domain, token = sys.argv[1:4]
password = sys.stdin.read().strip()
context = ssl.create_default_context(cafile=%r)
alice = "alice@" + domain
recipients = ("bob@molecule.test", "carol@molecule.test", alice, "alice@" + next_domain, "someone@example.net")
results = {}

def message(sender, to, subject, body="hello"):
    return "From: %%s\r\nTo: %%s\r\nSubject: %%s\r\n\r\n%%s\r\n" %% (sender, ", ".join(to), subject, body)

def connect(port):
    if port == 465:
        client = smtplib.SMTP_SSL("localhost", 465, context=context, timeout=30)
        client.ehlo("client.molecule.test")
        return client
    client = smtplib.SMTP("localhost", port, local_hostname="client.molecule.test", timeout=30)
    client.ehlo()
    results["%%d auth before starttls" %% port] = client.has_extn("auth")
    client.starttls(context=context)
    client.ehlo()
    return client

for port in (587, 465):
    with connect(port) as client:
        results["%%d auth offered" %% port] = client.esmtp_features.get("auth", "")
        client.mail(alice)
        results["%%d not logged in" %% port] = {rcpt: list(map(str, client.rcpt(rcpt))) for rcpt in recipients}
        client.rset()
    with connect(port) as client:
        started = time.monotonic()
        try:
            client.login("alice", password + "-wrong")
            results["%%d wrong password" %% port] = "accepted"
        except smtplib.SMTPAuthenticationError as error:
            results["%%d wrong password" %% port] = [error.smtp_code, round(time.monotonic() - started, 2)]
    with connect(port) as client:
        client.login("alice", password)
        to = ["bob@molecule.test", "alice@" + next_domain]
        client.sendmail(alice, to, message(alice, to, "%%s-sent-on-%%d" %% (token, port)))
        results["%%d sent" %% port] = True
        try:
            client.sendmail("bob@molecule.test", ["bob@molecule.test"],
                            message("bob@molecule.test", ["bob@molecule.test"], "%%s-forged-on-%%d" %% (token, port)))
            results["%%d other sender" %% port] = "accepted"
        except smtplib.SMTPRecipientsRefused as error:
            results["%%d other sender" %% port] = [list(map(str, value)) for value in error.recipients.values()]
        except smtplib.SMTPSenderRefused as error:
            results["%%d other sender" %% port] = [error.smtp_code, str(error.smtp_error)]

with connect(587) as client:
    client.login("alice", password)
    # Larger than carol's quota (16K), smaller than Postfix's bounce_size_limit (50000 bytes):
    # Dovecot refuses it at delivery and alice gets it back whole.
    client.sendmail(alice, ["carol@molecule.test"],
                    message(alice, ["carol@molecule.test"], "%%s-over-quota" %% token, "\r\n".join(["x" * 76] * 300)))
    results["over quota submitted"] = True

with connect(25) as client:
    results["25 auth after starttls"] = client.has_extn("auth")
print(json.dumps(results))
""" % CA

# Runs in the host: log in over IMAP and look for a subject. Arguments: user, mode (993, 143
# or plain), subject or "-", flags to set on the found messages or "-"; the password on stdin.
IMAP_PROBE = r"""
import imaplib, json, ssl, sys, time
user, mode, subject, flags = sys.argv[1:5]
password = sys.stdin.read().strip()
context = ssl.create_default_context(cafile=%r)
result = {}
started = time.monotonic()
try:
    if mode == "993":
        client = imaplib.IMAP4_SSL("localhost", 993, ssl_context=context, timeout=20)
    else:
        client = imaplib.IMAP4("localhost", 143, timeout=20)
        if mode == "143":
            client.starttls(ssl_context=context)
    result["tls"] = client.sock.version() if hasattr(client.sock, "version") else None
    client.login(user, password)
    client.select("INBOX", readonly=flags == "-")
    result["found"] = []
    if subject != "-":
        for number in client.search(None, "SUBJECT", '"%%s"' %% subject)[1][0].split():
            if flags != "-":
                client.store(number, "+FLAGS", flags)
            result["found"].append(client.fetch(number, "(FLAGS)")[1][0].decode())
    client.logout()
except imaplib.IMAP4.error as error:
    result["refused"] = str(error)
    result["seconds"] = round(time.monotonic() - started, 2)
print(json.dumps(result))
""" % CA


def run_probe(host, script, arguments, password):
    quoted = " ".join(shlex.quote(argument) for argument in arguments)
    command = "printf %%s %s | python3 -c %s %s" % (shlex.quote(password), shlex.quote(script), quoted)
    return json.loads(host.check_output(command))


def imap(host, user, mode, subject="-", flags="-", password=None):
    return run_probe(host, IMAP_PROBE, [user, mode, subject, flags], PASSWORDS[user] if password is None else password)


@pytest.fixture(scope="module")
def submission(host):
    """The submission probes, run once per host: (token, results)."""
    name = name_of(host)
    token = "mailbox-%s-%s" % (name, uuid.uuid4().hex[:8])
    return token, run_probe(host, SUBMISSION_PROBE, [domain(name), domain(next_host(name)), token], PASSWORDS["alice"])


def test_auth_only_after_tls_on_submission_and_never_on_25(submission):
    dummy, results = submission
    assert results["587 auth before starttls"] is False, results
    assert results["25 auth before starttls"] is False and results["25 auth after starttls"] is False, results
    for port in (587, 465):
        assert "PLAIN" in results["%d auth offered" % port], results


@pytest.mark.parametrize("port", [587, 465])
def test_client_not_logged_in_is_refused_for_every_recipient(submission, port):
    dummy, results = submission
    refused = results["%d not logged in" % port]
    assert refused and all(reply[0].startswith("5") for reply in refused.values()), refused


@pytest.mark.parametrize("port", [587, 465])
def test_wrong_password_refused_after_a_delay(submission, port):
    dummy, results = submission
    code, seconds = results["%d wrong password" % port]
    assert code == 535, results
    # Dovecot's auth_failure_delay (2 s) before it answers a failed login.
    assert seconds >= 1.5, results


@pytest.mark.parametrize("port", [587, 465])
def test_alice_may_not_send_as_bob(submission, port):
    dummy, results = submission
    assert "not owned by user alice" in json.dumps(results["%d other sender" % port]), results


@pytest.mark.parametrize("port", [587, 465])
def test_bob_fetches_the_message_over_imap_and_s_nail_lists_it(host, submission, port):
    token, results = submission
    assert results["%d sent" % port] is True
    subject = "%s-sent-on-%d" % (token, port)
    message = email.message_from_string(host.file(wait_for(host, BOB_MAILDIR, "Subject: " + subject)).content_string)
    # smtpd's Received header (ESMTPSA: TLS and a login, RFC 3848) names the TLS session.
    received = [header for header in message.get_all("Received") if "with ESMTPSA" in header]
    assert received and re.search(r"\(using TLSv1\.[23] with cipher", received[0]), message.get_all("Received")
    for mode in ("993", "143"):
        result = imap(host, "bob@molecule.test", mode, subject)
        assert result.get("tls", "").startswith("TLSv1.") and len(result["found"]) == 1, result
    listing = host.check_output(S_NAIL_SUBJECTS % BOB_MAILDIR)
    assert subject in listing.split(), listing
    forged = host.run("grep -rlsF -- %s %s" % (shlex.quote("%s-forged-on-%d" % (token, port)), BOB_MAILDIR))
    assert forged.rc == 1, forged.stdout


@pytest.mark.parametrize("port", [587, 465])
def test_mail_to_the_next_host_is_relayed_over_tls(host, submission, port):
    token, dummy = submission
    name = name_of(host)
    receiver = testinfra.get_host("podman://" + next_host(name))
    path = wait_for(receiver, "/home/alice/Maildir", "Subject: %s-sent-on-%d" % (token, port))
    message = email.message_from_string(receiver.file(path).content_string)
    # The receiver's smtpd wrote the Received header that names the sender's host.
    received = [header for header in message.get_all("Received") if "from %s" % domain(name) in header]
    assert received and re.search(r"\(using TLSv1\.[23] with cipher", received[0]), message.get_all("Received")


def test_over_quota_refused_by_dovecot_and_returned_whole(host, submission):
    token, results = submission
    assert results["over quota submitted"] is True
    subject = "%s-over-quota" % token
    bounce = host.file(wait_for(host, "/home/alice/Maildir", "Subject: " + subject)).content_string
    assert "Undelivered Mail Returned to Sender" in bounce, bounce[:2000]
    assert "Quota exceeded" in bounce and "552" in bounce, bounce[:4000]
    assert bounce.count("x" * 76) >= 300, "the returned message is not whole"
    assert host.run("grep -rlsF -- %s %s" % (shlex.quote(subject), CAROL_MAILDIR)).rc != 0
    assert host.check_output("postqueue -p") == "Mail queue is empty"


def test_failed_logins_are_logged_without_the_password(host, submission):
    journal = host.check_output("journalctl -q --no-pager --since=-30min")
    assert "SASL PLAIN authentication failed" in journal or "SASL LOGIN authentication failed" in journal, journal[-3000:]
    # Dovecot's own line (auth_verbose): the user and the reason (2.3: "pam(alice,127.0.0.1):
    # pam_authenticate() failed"; 2.4: "auth-worker(alice,127.0.0.1)<pid>: request [7]: pam: ...").
    assert re.search(r"\(alice,127\.0\.0\.1\).*pam.*password mismatch", journal, re.I), journal[-3000:]
    assert PASSWORDS["alice"] not in journal


def test_message_read_in_s_nail_is_seen_over_imap_and_the_other_way(host):
    subjects = ["read-%s-%s" % (way, uuid.uuid4().hex[:8]) for way in ("s-nail", "imap")]
    for subject in subjects:
        host.check_output("printf 'Subject: %s\\n\\nhello\\n' | /usr/sbin/sendmail alice" % subject)
        wait_for(host, "/home/alice/Maildir", "Subject: " + subject)
    # s-nail reads the first (and keeps it in the Maildir: Debian's s-nail does not move mail to mbox).
    listing = host.check_output("su - alice -c %s" % shlex.quote(
        "s-nail -N -H -f ~/Maildir </dev/null"))
    number = next(line for line in listing.splitlines() if subjects[0] in line).split()[1]
    host.check_output("su - alice -c %s" % shlex.quote("printf 'type %s\\nquit\\n' | s-nail -N -f ~/Maildir" % number))
    seen = imap(host, "alice", "993", subjects[0])
    assert len(seen["found"]) == 1 and "\\Seen" in seen["found"][0], seen
    # IMAP marks the second \Seen; s-nail then no longer lists it as new or unread.
    marked = imap(host, "alice", "993", subjects[1], "\\Seen")
    assert len(marked["found"]) == 1 and "\\Seen" in marked["found"][0], marked
    listing = host.check_output("su - alice -c %s" % shlex.quote("s-nail -N -H -f ~/Maildir </dev/null"))
    line = next(line for line in listing.splitlines() if subjects[1] in line)
    assert line.split()[0] not in ("N", "U"), listing


@pytest.mark.parametrize("user", sorted(PASSWORDS))
@pytest.mark.parametrize("mode", ["993", "143"])
def test_login_over_tls_with_a_verified_chain(host, user, mode):
    result = imap(host, user, mode)
    assert "refused" not in result and result["tls"].startswith("TLSv1."), result


def test_no_login_before_starttls(host):
    address = host.check_output("hostname -I").split()[0]
    with imaplib.IMAP4(address, 143, timeout=20) as client:
        with pytest.raises(imaplib.IMAP4.error, match="PRIVACYREQUIRED|LOGINDISABLED|disabled"):
            client.login("bob@molecule.test", PASSWORDS["bob@molecule.test"])


def test_wrong_imap_password_refused_after_a_delay(host):
    result = imap(host, "bob@molecule.test", "993", password="not-the-password")
    assert "AUTHENTICATIONFAILED" in result.get("refused", ""), result
    assert result["seconds"] >= 1.5, result


def test_passwd_file_is_private(host):
    users = host.file("/etc/dovecot/postmaster-users")
    assert users.user == "root" and users.group == "dovecot" and users.mode == 0o640
    assert "Bob-molecule-pw" not in users.content_string
    assert "bob@molecule.test:{SHA512-CRYPT}$6$FIXEDSALT$" in users.content_string
