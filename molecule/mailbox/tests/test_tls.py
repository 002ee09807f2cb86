"""Verify the TLS side of each mailbox host with real handshakes and real mail (chains, AUTH
and mail over 587 and 465 are proven by test_mailbox.py, the scans by test_tls_scan.py): old
protocols are refused where TLS is mandatory and reach the server on 25, 587 refuses MAIL
before STARTTLS, main.cf names date-stamped chain files in key-then-certificate order, root
only; and the renewal of the side effect (site.yml with tls_force_renewal while mail streams
in) made Postfix and Dovecot serve the new date-stamped certificate, removed the earlier chain
files and lost no message. mailbox-bullseye runs on a supplied CA (root, intermediate, server
certificate), which the role installs as ca.pem too and never renews."""

import re
import shlex
import time

import pytest

CA = "/etc/postfix/tls/ca.pem"
DELIVERY_TIMEOUT = 60
STREAM_MINIMUM = 40  # as side_effect.yml asks
SUPPLIED = "mailbox-bullseye"
ALICE_MAILDIR = "/home/alice/Maildir"
# Each port and the STARTTLS protocol openssl s_client speaks on it, if any.
PORTS = {25: "smtp", 587: "smtp", 465: None, 993: None, 143: "imap"}


def supplied(host):
    return host.backend.get_hostname() == SUPPLIED


def s_client(host, port, *options, stdin="QUIT\n"):
    starttls = ["-starttls", PORTS[port]] if PORTS[port] else []
    command = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-CAfile", CA,
               "-servername", "%s.molecule.test" % host.backend.get_hostname(), *starttls, *options]
    return host.run("printf %s | timeout 20 %s" % (shlex.quote(stdin), " ".join(map(shlex.quote, command))))


def served_certificate(host, port):
    starttls = "-starttls %s" % PORTS[port] if PORTS[port] else ""
    return host.check_output(
        "openssl s_client -connect 127.0.0.1:%d %s </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256"
        % (port, starttls))


def file_certificate(host, path):
    return host.check_output("openssl x509 -in %s -noout -fingerprint -sha256" % path)


@pytest.mark.parametrize("port", [587, 465])
@pytest.mark.parametrize("protocol", ["-tls1", "-tls1_1"])
def test_old_protocols_are_refused_where_tls_is_mandatory(host, port, protocol):
    # @SECLEVEL=0 lets the client offer TLS 1.0/1.1 at all: the refusal must be the server's.
    result = s_client(host, port, protocol, "-cipher", "DEFAULT:@SECLEVEL=0")
    negotiated = re.search(r"Cipher is (?!\(NONE\))", result.stdout)
    assert negotiated is None, result.stdout


def test_old_protocols_reach_the_server_as_offered(host):
    """Control for the refusals above: port 25 (opportunistic, as TLS_README advises)
    accepts TLS 1.0 from the same client, so the refusal on 587/465 is the server's."""
    result = s_client(host, 25, "-tls1", "-cipher", "DEFAULT:@SECLEVEL=0")
    assert "New, TLSv1.0," in result.stdout or "New, TLSv1," in result.stdout, result.stdout


def test_port_587_refuses_mail_before_starttls(host):
    dialogue = host.run(
        "python3 -c %s" % shlex.quote(
            "import smtplib\n"
            "c = smtplib.SMTP('127.0.0.1', 587, timeout=20)\n"
            "c.ehlo('probe.test')\n"
            "print(c.has_extn('auth'), c.mail('root@localhost'))\n"))
    assert dialogue.rc == 0, dialogue.stderr
    assert dialogue.stdout.startswith("False (530"), dialogue.stdout


def test_main_cf_uses_a_date_stamped_chain_file(host):
    chain = host.check_output("postconf -h smtpd_tls_chain_files")
    assert re.fullmatch(r"/etc/postfix/tls/server-\d{8}-\d{6}\.pem", chain), chain
    client = host.check_output("postconf -h smtp_tls_chain_files")
    if not supplied(host):
        assert re.fullmatch(r"/etc/postfix/tls/client-\d{8}-\d{6}\.pem", client), client
    assert host.check_output("postconf -h smtp_tls_CAfile") == CA


def test_private_keys_are_root_only(host):
    for path in host.check_output("ls /etc/postfix/tls/*-*.pem").split():
        key = host.file(path)
        assert (key.user, key.group, key.mode) == ("root", "root", 0o600), path
    assert not host.file("/etc/postfix/tls/ca.key").exists


def test_chain_file_order_is_key_certificate(host):
    chain = host.file(host.check_output("postconf -h smtpd_tls_chain_files")).content_string
    blocks = re.findall(r"-----BEGIN ([A-Z ]+)-----", chain)
    # A supplied chain carries the intermediate after the server certificate.
    assert blocks[0].endswith("PRIVATE KEY") and blocks[1:] == ["CERTIFICATE"] * (2 if supplied(host) else 1), blocks


def test_renewal_switched_to_a_new_certificate(host):
    before = host.file("/root/chain-files-before-renewal").content_string.split()
    active = host.check_output("postconf -h smtpd_tls_chain_files")
    stamped = host.check_output("ls /etc/postfix/tls/server-*.pem").split()
    # The tls role's prune (site.yml's post_tasks) leaves only the chain file in use.
    assert stamped == [active], stamped
    if supplied(host):
        # A supplied certificate is not renewed by the role; a private CA's is.
        assert before == [active], before
    else:
        client = host.check_output("postconf -h smtp_tls_chain_files")
        assert host.check_output("ls /etc/postfix/tls/client-*.pem").split() == [client]
        assert active > before[0] and client > before[1], (before, active, client)
        for earlier in before:
            assert not host.file(earlier).exists, earlier
    for port in PORTS:
        assert served_certificate(host, port) == file_certificate(host, active), port


def test_no_mail_lost_during_renewal(host):
    sent = int(host.file("/root/renewal-stream-sent").content_string)
    assert sent >= STREAM_MINIMUM
    deadline = time.monotonic() + DELIVERY_TIMEOUT
    while True:
        # test_mailbox.py's s-nail and IMAP sessions may have moved them from new to cur.
        found = host.run("grep -l -r '^Subject: renewal-stream ' %s/new %s/cur" % (ALICE_MAILDIR, ALICE_MAILDIR))
        delivered = len(found.stdout.split())
        if delivered >= sent or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert delivered == sent
    assert host.check_output("postqueue -p") == "Mail queue is empty"


def test_postfix_check_is_clean(host):
    result = host.run("postfix check")
    assert result.rc == 0 and result.stderr.strip() == "", result.stderr
