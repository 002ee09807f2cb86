"""Verify DKIM signing and the inbound SPF, DKIM and DMARC checks (the rspamd role) on each
release (rspamd 2.7, 3.4, 3.12) with real mail between the hosts, each its own domain in the
project's test DNS, which publishes for each an SPF record (a -all), a DMARC record (p=reject) and
the DKIM records of the fact rspamd_dkim_records (dkim_rotation.yml, a side effect):

- alice sends over 587 (logged in) to alice on the next host: the message arrives with a
  DKIM-Signature of her domain that Python's dkimpy verifies against the test DNS, and the
  receiver's Authentication-Results says dkim=pass, spf=pass and dmarc=pass;
- mail signed before the key rotation (side effect) and mail signed after it both verify, with
  different selectors, both published;
- a message from one host that claims the next host's domain is refused at SMTP time, with a
  reply that names DMARC; mail from a stranger's domain relayed in over port 25 is accepted but
  not signed;
- with rspamd stopped, a logged-in client is told to try again (4xx) and a local message waits
  in the queue; once rspamd is back the message is delivered, signed; nothing is lost.
DNS answers for dkimpy come from the test DNS container (the resolver the hosts use)."""

import email
import json
import shlex
import time
import uuid

import dkim
import dns.resolver
import pytest
import testinfra
from mailbox_hosts import CA, domain, name_of, next_host, wait_for

ALICE_PASSWORD = "Alice-molecule-pw"
ALICE_MAILDIR = "/home/alice/Maildir"
DELIVERY_TIMEOUT = 90

# Runs in the host: one SMTP transaction, its outcome as JSON. Arguments: server, port, login
# ("-" for none), envelope sender, recipient, From: header, subject; the password on stdin.
SMTP_PROBE = r"""
import json, smtplib, ssl, sys
server, port, login, sender, recipient, header_from, subject = sys.argv[1:8]
password = sys.stdin.read().strip()
message = "From: %%s\r\nTo: %%s\r\nSubject: %%s\r\nMessage-ID: <%%s@probe.molecule.test>\r\n\r\nhello\r\n" %% (
    header_from, recipient, subject, subject)
try:
    with smtplib.SMTP(server, int(port), local_hostname="probe.molecule.test", timeout=60) as client:
        client.ehlo()
        client.starttls(context=ssl.create_default_context(cafile=%r) if login != "-" else ssl._create_unverified_context())
        client.ehlo()
        if login != "-":
            client.login(login, password)
        client.sendmail(sender, [recipient], message)
    print(json.dumps({"accepted": True}))
except smtplib.SMTPResponseException as error:
    print(json.dumps({"code": error.smtp_code, "reply": error.smtp_error.decode(errors="replace")}))
except smtplib.SMTPRecipientsRefused as error:
    print(json.dumps({"code": list(error.recipients.values())[0][0], "reply": str(error.recipients)}))
except (smtplib.SMTPException, OSError) as error:
    print(json.dumps({"error": "%%s: %%s" %% (type(error).__name__, error)}))
""" % CA


def smtp(host, server, port, login, sender, recipient, header_from, subject):
    arguments = " ".join(shlex.quote(str(part)) for part in (server, port, login, sender, recipient, header_from, subject))
    return json.loads(host.check_output("printf %%s %s | python3 -c %s %s" % (
        shlex.quote(ALICE_PASSWORD), shlex.quote(SMTP_PROBE), arguments)))


def message_text(host, maildir, text, timeout=DELIVERY_TIMEOUT):
    """The text of the message under MAILDIR that contains TEXT."""
    return host.file(wait_for(host, maildir, text, timeout)).content_string


@pytest.fixture(scope="module")
def test_dns(host):
    """A resolver that asks the test DNS container, as the hosts do."""
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [host.check_output("awk '/^nameserver/ {print $2; exit}' /etc/resolv.conf")]
    resolver.lifetime = 10
    return resolver


def verify(text, resolver):
    """Whether dkimpy verifies the message's DKIM-Signature with the key the test DNS publishes."""
    def txt(name, timeout=5):
        answer = resolver.resolve(name.decode().rstrip("."), "TXT", raise_on_no_answer=False, lifetime=timeout)
        records = [b"".join(item.strings) for item in answer]
        return records[0] if records else None
    return dkim.verify(text.replace("\r\n", "\n").replace("\n", "\r\n").encode(), dnsfunc=txt)


def signature_tags(message):
    header = message["DKIM-Signature"]
    assert header, "no DKIM-Signature in:\n%s" % message.as_string()[:2000]
    tags = dict(part.strip().split("=", 1) for part in "".join(header.split()).split(";") if "=" in part)
    return tags


def results_of(message):
    """The receiver's Authentication-Results header (the one rspamd adds)."""
    headers = message.get_all("Authentication-Results") or []
    assert headers, "no Authentication-Results in:\n%s" % message.as_string()[:2000]
    return " ".join(" ".join(headers).split())


def test_mail_from_alice_is_signed_and_passes_every_check(host, test_dns):
    name = name_of(host)
    subject = "dkim-submitted-%s-%s" % (name, uuid.uuid4().hex[:8])
    sent = smtp(host, "localhost", 587, "alice", "alice@" + domain(name), "alice@" + domain(next_host(name)),
                "alice@" + domain(name), subject)
    assert sent == {"accepted": True}, sent
    receiver = testinfra.get_host("podman://" + next_host(name))
    text = message_text(receiver, ALICE_MAILDIR, "Subject: " + subject)
    message = email.message_from_string(text)
    assert signature_tags(message)["d"] == domain(name)
    assert verify(text, test_dns), "dkimpy does not verify:\n" + text[:3000]
    results = results_of(message)
    for verdict in ("dkim=pass", "spf=pass", "dmarc=pass"):
        assert verdict in results, results


def test_mail_signed_before_and_after_the_rotation_verifies(host, test_dns):
    name = name_of(host)
    receiver = testinfra.get_host("podman://" + next_host(name))
    selectors = []
    for moment in ("before", "after"):
        text = message_text(receiver, ALICE_MAILDIR, "Subject: dkim-%s-rotation-%s" % (moment, name))
        message = email.message_from_string(text)
        assert verify(text, test_dns), "dkimpy does not verify the message signed %s the rotation:\n%s" % (moment, text[:3000])
        assert "dkim=pass" in results_of(message)
        selectors.append(signature_tags(message)["s"])
    assert selectors[0] != selectors[1], selectors
    # The key now signing is the newer one; the dkim_signing.conf names only it.
    conf = host.file("/etc/rspamd/local.d/dkim_signing.conf").content_string
    assert 'selector = "%s";' % selectors[1] in conf and 'selector = "%s";' % selectors[0] not in conf, conf


def test_rspamd_only_signs_outbound_mail(host):
    """local.d/settings.conf is read: logged-in users' and local senders' mail gets only DKIM_SIGNED."""
    dump = host.check_output("rspamadm configdump settings")
    for rule in ("postmaster_outbound_authenticated", "postmaster_outbound_local"):
        assert rule in dump, dump
    assert "DKIM_SIGNED" in dump, dump


def test_forged_sender_is_refused_at_smtp_time(host):
    """This host claims the next host's domain (SPF -all, DMARC p=reject there): refused."""
    name = name_of(host)
    victim = domain(next_host(name))
    subject = "forged-%s-%s" % (name, uuid.uuid4().hex[:8])
    refused = smtp(host, victim, 25, "-", "alice@" + victim, "alice@" + victim, "alice@" + victim, subject)
    assert refused.get("code", 0) >= 500 and "DMARC" in refused.get("reply", ""), refused
    receiver = testinfra.get_host("podman://" + next_host(name))
    assert receiver.run("grep -rlsF -- %s %s" % (shlex.quote(subject), ALICE_MAILDIR)).rc != 0


def test_mail_relayed_from_a_stranger_is_accepted_unsigned(host):
    name = name_of(host)
    receiver_name = next_host(name)
    subject = "stranger-%s-%s" % (name, uuid.uuid4().hex[:8])
    stranger = "someone@stranger.molecule.test"  # no SPF, no DMARC: nothing to enforce
    sent = smtp(host, domain(receiver_name), 25, "-", stranger, "alice@" + domain(receiver_name), stranger, subject)
    assert sent == {"accepted": True}, sent
    receiver = testinfra.get_host("podman://" + receiver_name)
    message = email.message_from_string(message_text(receiver, ALICE_MAILDIR, "Subject: " + subject))
    assert message["DKIM-Signature"] is None, message.as_string()[:2000]
    assert "spf=" in results_of(message)


def test_milter_stopped_defers_and_loses_nothing(host, test_dns):
    name = name_of(host)
    token = uuid.uuid4().hex[:8]
    local = "milter-down-local-%s-%s" % (name, token)
    host.check_output("systemctl stop rspamd")
    try:
        refused = smtp(host, "localhost", 587, "alice", "alice@" + domain(name), "alice@" + domain(name),
                       "alice@" + domain(name), "milter-down-587-%s" % token)
        assert 400 <= refused.get("code", 0) < 500, refused
        host.check_output("printf 'From: alice@%s\\nSubject: %s\\n\\nwait for me\\n' | /usr/sbin/sendmail -f alice@%s alice"
                          % (domain(name), local, domain(name)))
        time.sleep(3)
        assert host.run("grep -rlsF -- %s %s" % (shlex.quote(local), ALICE_MAILDIR)).rc != 0, "delivered without the milter"
    finally:
        host.check_output("systemctl start rspamd")
    # pickup tries the waiting message again (it rescans the maildrop each minute; a kick speeds it up).
    host.run("sleep 3; postkick public pickup W")
    message = email.message_from_string(message_text(host, ALICE_MAILDIR, "Subject: " + local, timeout=150))
    assert signature_tags(message)["d"] == domain(name)
    assert host.check_output("postqueue -p") == "Mail queue is empty"


def test_keys_are_private_and_records_published(host, test_dns):
    name = name_of(host)
    keys = host.check_output("ls /var/lib/rspamd/dkim").split()
    assert keys and all(key.startswith(domain(name) + ".") for key in keys), keys
    for key in keys:
        found = host.file("/var/lib/rspamd/dkim/" + key)
        assert (found.user, found.group, found.mode) == ("root", "_rspamd", 0o640)
        selector = key[len(domain(name)) + 1:-len(".key")]
        answer = test_dns.resolve("%s._domainkey.%s" % (selector, domain(name)), "TXT")
        assert b"".join(list(answer)[0].strings).startswith(b"v=DKIM1; k=rsa; p=")
