"""Verify TLS on each container with real handshakes and real mail: the chain verifies
against the private CA on 25, 587 and 465, old protocols are refused where TLS is
mandatory, 587 refuses MAIL before STARTTLS, mail over TLS lands in a Maildir with the
TLS session in its Received header, and the renewal (side effect) switched to a new
date-stamped certificate without losing a message."""

import re
import shlex
import time
import uuid

import pytest

CA = "/etc/postfix/tls/ca.pem"
DELIVERY_TIMEOUT = 30
STREAM_COUNT = 40  # as side_effect.yml sends
SUPPLIED = "tls-bullseye"  # runs the tls role with a supplied root, intermediate and server cert


def supplied(host):
    return host.backend.get_hostname() == SUPPLIED


def s_client(host, port, *options, stdin="QUIT\n"):
    starttls = ["-starttls", "smtp"] if port in (25, 587) else []
    command = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-CAfile", CA,
               "-servername", "mail.molecule.test", *starttls, *options]
    return host.run("printf %s | timeout 20 %s" % (shlex.quote(stdin), " ".join(map(shlex.quote, command))))


def served_certificate(host, port):
    return host.check_output(
        "openssl s_client -connect 127.0.0.1:%d %s </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256"
        % (port, "-starttls smtp" if port in (25, 587) else ""))


def file_certificate(host, path):
    return host.check_output("openssl x509 -in %s -noout -fingerprint -sha256" % path)


def wait_for_file(host, directory, pattern, timeout=DELIVERY_TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = host.run("grep -l -r -- %s %s" % (shlex.quote(pattern), directory))
        if found.rc == 0:
            return found.stdout.split()[0]
        time.sleep(0.5)
    raise AssertionError("no message with %r in %s after %ds" % (pattern, directory, timeout))


@pytest.mark.parametrize("port", [25, 587, 465])
def test_chain_verifies_against_the_private_ca(host, port):
    result = s_client(host, port)
    assert "Verify return code: 0 (ok)" in result.stdout, result.stdout + result.stderr
    protocol = re.search(r"Protocol\s*:\s*(TLSv[0-9.]+)", result.stdout) or \
        re.search(r"New, (TLSv[0-9.]+),", result.stdout)
    assert protocol and protocol.group(1) in ("TLSv1.2", "TLSv1.3"), result.stdout


@pytest.mark.parametrize("port", [587, 465])
@pytest.mark.parametrize("protocol", ["-tls1", "-tls1_1"])
def test_old_protocols_are_refused_where_tls_is_mandatory(host, port, protocol):
    # @SECLEVEL=0 lets the client offer TLS 1.0/1.1 at all: the refusal must be the server's.
    result = s_client(host, port, protocol, "-cipher", "DEFAULT:@SECLEVEL=0")
    negotiated = re.search(r"Cipher is (?!\(NONE\))", result.stdout)
    assert negotiated is None, result.stdout


def test_port_465_speaks_tls_at_once(host):
    # A TLS handshake on the bare connection, then the SMTP greeting inside it.
    probe = host.run("python3 -c %s" % shlex.quote(
        "import socket, ssl\n"
        "context = ssl.create_default_context(cafile=%r)\n"
        "context.check_hostname = False\n"
        "with context.wrap_socket(socket.create_connection(('127.0.0.1', 465), 20)) as tls:\n"
        "    print(tls.version(), tls.recv(512).decode().split()[0])\n" % CA))
    assert probe.rc == 0, probe.stderr
    assert probe.stdout.split() in (["TLSv1.2", "220"], ["TLSv1.3", "220"]), probe.stdout


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


@pytest.mark.parametrize("port", [587, 465])
def test_mail_over_tls_lands_in_maildir_with_tls_in_received(host, port):
    token = uuid.uuid4().hex
    send = host.run("python3 -c %s" % shlex.quote(
        "import smtplib, ssl\n"
        "context = ssl.create_default_context(cafile=%r)\n"
        "context.check_hostname = False\n"
        "if %d == 465:\n"
        "    c = smtplib.SMTP_SSL('127.0.0.1', 465, context=context, timeout=20)\n"
        "else:\n"
        "    c = smtplib.SMTP('127.0.0.1', 587, timeout=20); c.starttls(context=context)\n"
        "c.sendmail('root@localhost', ['bob@localhost'],\n"
        "           'Subject: tls %s\\n\\nbody\\n')\n"
        "c.quit()\n" % (CA, port, token)))
    assert send.rc == 0, send.stderr
    path = wait_for_file(host, "/home/bob/Maildir/new", token)
    message = host.file(path).content_string
    received = message.split("\nReceived: ")[0] if message.startswith("Received: ") else \
        message[message.index("Received: "):]
    assert re.search(r"\(using TLSv1\.[23] with cipher", message), received


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
    assert blocks[0].endswith("PRIVATE KEY") and blocks[1:] == ["CERTIFICATE"] * (2 if supplied(host) else 1), blocks


def test_renewal_switched_to_a_new_certificate(host):
    stamped = host.check_output("ls /etc/postfix/tls/server-*.pem").split()
    # A supplied certificate is not renewed by the role; a private CA's is.
    expected = 1 if supplied(host) else 2
    assert len(stamped) == expected, "expected %d server chain files: %s" % (expected, stamped)
    active = host.check_output("postconf -h smtpd_tls_chain_files")
    assert active == sorted(stamped)[-1]
    for port in (25, 587, 465):
        assert served_certificate(host, port) == file_certificate(host, active)


def test_no_mail_lost_during_renewal(host):
    deadline = time.monotonic() + DELIVERY_TIMEOUT
    while True:
        found = host.run("grep -l -r '^Subject: renewal-stream ' /home/alice/Maildir/new")
        delivered = len(found.stdout.split())
        if delivered >= STREAM_COUNT or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert delivered == STREAM_COUNT
    assert host.check_output("postqueue -p") == "Mail queue is empty"


def test_postfix_check_is_clean(host):
    result = host.run("postfix check")
    assert result.rc == 0 and result.stderr.strip() == "", result.stderr
