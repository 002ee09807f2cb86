"""postmaster.mail.mail_probe against real SMTP servers on 127.0.0.1.

Each server is aiosmtpd in a thread of the test process, with a certificate from a
throwaway CA made here; the module runs as a child process, as under Ansible, and talks
to it over loopback TCP with real TLS. A server "delivers" by writing the message into
a Maildir in tmp_path the way a local delivery agent does (tmp/, then renamed into new/).
"""

from __future__ import annotations

import asyncio
import datetime
import email
import ipaddress
import json
import os
import socket
import ssl
import sys
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from conftest import COLLECTIONS_DIR, assert_failed, assert_ok, run_module

sys.path.insert(0, str(COLLECTIONS_DIR))

from ansible_collections.postmaster.mail.plugins.module_utils._mail_probe import (  # noqa: E402
    default_security,
    queue_id,
)

SERVER_NAME = "mail.example.test"
RELAY_DOMAIN = "relay.example"
USER, PASSWORD = "alice", "correct horse battery staple"


# --- a throwaway PKI ---------------------------------------------------------------------

def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_pem(path, cert, key=None):
    data = cert.public_bytes(serialization.Encoding.PEM)
    path.write_bytes(data)
    if key is not None:
        key_path = path.with_suffix(".key")
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        return key_path
    return None


def make_ca(common_name):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def make_server_cert(ca_cert, ca_key):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(SERVER_NAME))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName(SERVER_NAME), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """ca_file: the CA that signed the servers' certificate; wrong_ca_file: another CA."""
    directory = tmp_path_factory.mktemp("pki")
    ca_cert, ca_key = make_ca("mail_probe test CA")
    wrong_cert, dummy = make_ca("mail_probe unrelated CA")
    server_cert, server_key = make_server_cert(ca_cert, ca_key)
    _write_pem(directory / "ca.pem", ca_cert)
    _write_pem(directory / "wrong-ca.pem", wrong_cert)
    key_path = _write_pem(directory / "server.pem", server_cert, server_key)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(directory / "server.pem"), str(key_path))
    return SimpleNamespace(ca_file=str(directory / "ca.pem"), wrong_ca_file=str(directory / "wrong-ca.pem"),
                           server_context=context)


# --- SMTP servers --------------------------------------------------------------------------

class Handler(object):
    """Accepts mail, except RCPT TO in RELAY_DOMAIN (554 5.7.1, as Postfix's
    reject_unauth_destination) and MAIL FROM in blocked.example. With a maildir, it
    delivers each message there `delay` seconds after queueing it."""

    def __init__(self, maildir=None, delay=0.3, subdir="new"):
        self.maildir = maildir
        self.delay = delay
        self.subdir = subdir
        self.messages = []

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if address.endswith("@blocked.example"):
            return "553 5.7.1 Sender address rejected: Access denied"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 Ok"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.endswith("@" + RELAY_DOMAIN):
            return "554 5.7.1 Relay access denied"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        queue = uuid.uuid4().hex[:10].upper()
        self.messages.append(SimpleNamespace(
            mail_from=envelope.mail_from, rcpt_tos=list(envelope.rcpt_tos),
            message=email.message_from_bytes(envelope.content),
            # session.ssl is set by STARTTLS only; smtps is TLS from the start.
            tls=session.ssl is not None or server.transport.get_extra_info("sslcontext") is not None,
            authenticated=bool(session.authenticated)))
        if self.maildir:
            asyncio.get_running_loop().call_later(self.delay, self.deliver, envelope, queue)
        return "250 2.0.0 Ok: queued as %s" % queue

    def deliver(self, envelope, queue):
        for sub in ("tmp", "new", "cur"):
            os.makedirs(os.path.join(self.maildir, sub), exist_ok=True)
        name = "%d.%s.mail.example.test" % (time.time(), queue)
        tmp = os.path.join(self.maildir, "tmp", name)
        with open(tmp, "wb") as handle:
            handle.write(b"Return-Path: <%s>\nDelivered-To: %s\n" % (
                envelope.mail_from.encode(), envelope.rcpt_tos[0].encode()))
            handle.write(envelope.content.replace(b"\r\n", b"\n"))
        final = name + ":2,S" if self.subdir == "cur" else name
        os.rename(tmp, os.path.join(self.maildir, self.subdir, final))


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (auth_data.login, auth_data.password) == (USER.encode(), PASSWORD.encode())
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd sends the 535 reply


class LoopbackController(Controller):
    """aiosmtpd's Controller on a port of 127.0.0.1 that the kernel picks: the socket is
    bound before the server starts, so no other process can take the port in between."""

    def __init__(self, handler, **kwargs):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        super().__init__(handler, hostname="127.0.0.1", port=self.sock.getsockname()[1], **kwargs)

    def _create_server(self):
        return self.loop.create_server(self._factory_invoker, sock=self.sock, ssl=self.ssl_context)


@pytest.fixture
def start_server(pki):
    """start_server(security, handler, **SMTP options) -> a running server (.port, .handler)."""
    controllers = []

    def start(security="starttls", handler=None, **options):
        options.setdefault("server_hostname", SERVER_NAME)
        if security == "starttls":
            options["tls_context"] = pki.server_context
        elif security == "smtps":
            options["ssl_context"] = pki.server_context
        controller = LoopbackController(handler or Handler(), **options)
        controller.start()
        controllers.append(controller)
        return controller

    yield start
    for controller in controllers:
        controller.stop()
        controller.sock.close()


@pytest.fixture
def closed_port():
    """A loopback port that nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def probe(server, check_mode=False, **options):
    args = dict(server="127.0.0.1", port=server if isinstance(server, int) else server.port,
                recipient="alice@example.test")
    args.update(options)
    return run_module("mail_probe", args, check_mode=check_mode)


def where(server):
    return "127.0.0.1:%d" % server.port


# --- sending -----------------------------------------------------------------------------

def test_plain(start_server):
    server = start_server("plain")
    result = probe(server, security="plain")
    assert_ok(result)
    assert result["changed"] is False
    assert result["tls"] is None
    assert result["security"] == "plain"
    assert result["server_reply"] == "250 2.0.0 Ok: queued as %s" % result["queue_id"]
    assert result["delivered_path"] is None and result["delivery_time"] is None
    assert result["elapsed"] > 0
    [sent] = server.handler.messages
    assert sent.tls is False
    assert sent.rcpt_tos == ["alice@example.test"]
    assert sent.mail_from.startswith("root@")
    assert sent.message["Message-ID"] == result["message_id"]
    assert sent.message["Auto-Submitted"] == "auto-generated"
    token = result["message_id"][1:].split(".", 1)[0]
    assert token in sent.message["Subject"]


def test_each_run_sends_a_new_message(start_server):
    server = start_server("plain")
    first, second = probe(server, security="plain"), probe(server, security="plain")
    assert first["message_id"] != second["message_id"]
    assert first["changed"] is second["changed"] is False
    assert len(server.handler.messages) == 2


def test_sender_and_subject(start_server):
    server = start_server("plain")
    assert_ok(probe(server, security="plain", sender="probe@example.test", subject="Hello there"))
    [sent] = server.handler.messages
    assert sent.mail_from == "probe@example.test" and sent.message["From"] == "probe@example.test"
    assert sent.message["Subject"] == "Hello there"


def test_starttls_verified_with_ca_file(start_server, pki):
    server = start_server("starttls")
    result = probe(server, ca_file=pki.ca_file)
    assert_ok(result)
    assert result["security"] == "starttls"
    assert result["tls"]["protocol"].startswith("TLSv1.")
    assert result["tls"]["cipher"] and result["tls"]["bits"] >= 128
    assert result["tls"]["verified"] is True
    [sent] = server.handler.messages
    assert sent.tls is True


def test_starttls_without_ca_file_accepts_any_certificate(start_server):
    result = probe(start_server("starttls"))
    assert_ok(result)
    assert result["tls"]["verified"] is False


def test_smtps(start_server, pki):
    server = start_server("smtps")
    result = probe(server, security="smtps", ca_file=pki.ca_file, server_name=SERVER_NAME)
    assert_ok(result)
    assert result["tls"]["verified"] is True
    assert result["queue_id"]
    assert server.handler.messages[0].tls is True


def test_server_name_is_checked(start_server, pki):
    server = start_server("starttls")
    assert_ok(probe(server, ca_file=pki.ca_file, server_name=SERVER_NAME))
    result = probe(server, ca_file=pki.ca_file, server_name="other.example.test")
    assert_failed(result, "TLS with %s failed: certificate verify failed" % where(server), "other.example.test")
    assert len(server.handler.messages) == 1


def test_wrong_ca_fails_with_the_reason(start_server, pki):
    server = start_server("starttls")
    result = probe(server, ca_file=pki.wrong_ca_file)
    assert_failed(result, "mail_probe: TLS with %s failed: certificate verify failed: " % where(server),
                  "local issuer")
    assert result["changed"] is False
    assert server.handler.messages == []


def test_wrong_ca_fails_with_smtps(start_server, pki):
    server = start_server("smtps")
    result = probe(server, security="smtps", ca_file=pki.wrong_ca_file)
    assert_failed(result, "TLS with %s failed: certificate verify failed" % where(server))
    assert server.handler.messages == []


def test_starttls_not_offered(start_server):
    server = start_server("plain")
    assert_failed(probe(server), "%s does not offer STARTTLS" % where(server))
    assert server.handler.messages == []


def test_unreadable_ca_file_fails_before_connecting(tmp_path, closed_port):
    assert_failed(probe(closed_port, ca_file=str(tmp_path / "missing.pem")),
                  "cannot read CA file %s" % (tmp_path / "missing.pem"))


def test_nothing_listening(closed_port):
    assert_failed(probe(closed_port), "mail_probe: cannot connect to 127.0.0.1:%d: Connection refused" % closed_port)


# --- refusals ----------------------------------------------------------------------------

def test_refused_recipient_quotes_the_server(start_server):
    server = start_server("plain")
    result = probe(server, security="plain", recipient="someone@" + RELAY_DOMAIN)
    assert_failed(result)
    assert result["msg"] == ("mail_probe: server refused RCPT TO <someone@%s>: 554 5.7.1 Relay access denied"
                             % RELAY_DOMAIN)
    assert server.handler.messages == []


def test_refused_sender_quotes_the_server(start_server):
    server = start_server("plain")
    result = probe(server, security="plain", sender="x@blocked.example")
    assert_failed(result, "server refused MAIL FROM <x@blocked.example>: 553 5.7.1 Sender address rejected")


# --- delivery ----------------------------------------------------------------------------

def test_delivery_found(start_server, tmp_path):
    maildir = tmp_path / "Maildir"
    server = start_server("starttls", Handler(maildir=str(maildir), delay=0.3))
    result = probe(server, maildir=str(maildir))
    assert_ok(result)
    assert Path(result["delivered_path"]).parent == maildir / "new"
    assert result["message_id"].encode() in Path(result["delivered_path"]).read_bytes()
    assert 0.3 <= result["delivery_time"] < 5
    assert result["elapsed"] >= result["delivery_time"]
    assert "delivered in" in result["msg"]


def test_delivery_found_in_cur(start_server, tmp_path):
    maildir = tmp_path / "Maildir"
    server = start_server("plain", Handler(maildir=str(maildir), delay=0.1, subdir="cur"))
    result = probe(server, security="plain", maildir=str(maildir))
    assert_ok(result)
    assert Path(result["delivered_path"]).parent == maildir / "cur"
    assert result["delivered_path"].endswith(":2,S")


def test_not_delivered_times_out_with_the_server_reply(start_server, tmp_path):
    maildir = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    (maildir / "new" / "1.older.message").write_text("Message-ID: <older@example.test>\n\nhello\n")
    server = start_server("starttls")  # accepts, never delivers
    result = probe(server, maildir=str(maildir), timeout=2)
    assert_failed(result)
    assert result["msg"] == "mail_probe: not delivered to %s within 2 s; the server said: %s" % (
        maildir, "250 2.0.0 Ok: queued as %s" % result["queue_id"])
    assert result["message_id"] and result["tls"]["protocol"]
    assert 2 <= result["elapsed"] < 10
    assert len(server.handler.messages) == 1


# --- check mode -------------------------------------------------------------------------

def test_check_mode_sends_nothing(start_server, tmp_path, pki):
    server = start_server("starttls", Handler(maildir=str(tmp_path / "Maildir")))
    result = probe(server, check_mode=True, ca_file=pki.ca_file, maildir=str(tmp_path / "Maildir"))
    assert_ok(result)
    assert result["changed"] is False and result["skipped"] is True
    assert result["message_id"] is None and result["server_reply"] is None
    assert server.handler.messages == []
    assert not (tmp_path / "Maildir").exists()


def test_check_mode_still_checks_options(closed_port):
    assert_failed(probe(closed_port, check_mode=True, security="plain", username=USER, password=PASSWORD),
                  "only over TLS")


# --- SMTP AUTH ----------------------------------------------------------------------------

def test_auth_right_password(start_server, pki):
    server = start_server("starttls", authenticator=authenticator, auth_required=True)
    result = probe(server, ca_file=pki.ca_file, username=USER, password=PASSWORD)
    assert_ok(result)
    assert server.handler.messages[0].authenticated is True
    assert PASSWORD not in json.dumps(result)


def test_auth_wrong_password(start_server, pki):
    server = start_server("starttls", authenticator=authenticator, auth_required=True)
    result = probe(server, ca_file=pki.ca_file, username=USER, password="wrong")
    assert_failed(result, "mail_probe: server refused AUTH PLAIN for alice: 535 5.7.8 Authentication credentials invalid")
    assert server.handler.messages == []


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_auth_over_smtps(start_server, pki):
    # aiosmtpd counts only STARTTLS as TLS, so it must be told to offer AUTH over smtps.
    server = start_server("smtps", authenticator=authenticator, auth_required=True, auth_require_tls=False)
    assert_ok(probe(server, security="smtps", ca_file=pki.ca_file, username=USER, password=PASSWORD))
    assert server.handler.messages[0].authenticated is True


def test_auth_not_offered(start_server, pki):
    server = start_server("starttls", auth_exclude_mechanism=["LOGIN", "PLAIN"])
    result = probe(server, ca_file=pki.ca_file, username=USER, password=PASSWORD)
    assert_failed(result, "mail_probe: %s does not offer AUTH after TLS" % where(server))
    assert server.handler.messages == []


def test_credentials_go_only_to_a_verified_server(start_server, pki):
    """Without ca_file, the system's CAs do not know the test CA: the probe stops before AUTH."""
    server = start_server("starttls", authenticator=authenticator, auth_required=True)
    result = probe(server, username=USER, password=PASSWORD)
    assert_failed(result, "certificate verify failed")
    result = probe(server, ca_file=pki.ca_file, server_name="other.example.test", username=USER, password=PASSWORD)
    assert_failed(result, "certificate verify failed")
    assert server.handler.messages == []


def test_credentials_with_verification_switched_off_are_refused(start_server, pki):
    server = start_server("starttls", authenticator=authenticator, auth_required=True)
    result = probe(server, ca_file=pki.ca_file, verify=False, username=USER, password=PASSWORD)
    assert_failed(result, "mail_probe: username and password go only to a server whose certificate is verified")
    assert server.handler.messages == []


@pytest.mark.parametrize("options", [
    dict(security="plain", username=USER, password=PASSWORD),
    dict(security="plain", ca_file="/etc/ssl/certs/ca-certificates.crt"),
    dict(username=USER),
])
def test_contradictory_options_fail_before_connecting(start_server, options):
    server = start_server("plain")
    assert_failed(probe(server, **options))
    assert server.handler.messages == []


# --- pure logic ----------------------------------------------------------------------------

@pytest.mark.parametrize("port, security", [(25, "starttls"), (587, "starttls"), (465, "smtps"), (2525, "starttls")])
def test_default_security(port, security):
    assert default_security(port) == security


@pytest.mark.parametrize("reply, expected", [
    ("250 2.0.0 Ok: queued as 4dQ5Yx1xYzz9", "4dQ5Yx1xYzz9"),
    ("250 OK id=1tF2aB-000123-Xy", "1tF2aB-000123-Xy"),
    ("250 Message accepted for delivery", None),
])
def test_queue_id(reply, expected):
    assert queue_id(reply) == expected
