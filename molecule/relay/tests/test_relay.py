"""Verify the relay topology: mail sent on each edge arrives in alice's Maildir on the hub,
over TLS (the hub's Received header says so), through the tunnel or Postfix's own SMTPS
client; secrets stay root-only; queues end empty."""

import hashlib
import re
import shlex
import time
import uuid

import pytest
import testinfra

EDGES = ("edge-tunnel", "edge-direct")
# The edges' login on the hub: a virtual user of the hub's Dovecot (molecule.yml's dovecot_users).
EDGE_LOGIN = "edge@hub.molecule.test"
EDGE_PASSWORD = "edge-S3cret-" + hashlib.sha1(b"relay").hexdigest()[:8]
DELIVERY_TIMEOUT = 60


@pytest.fixture(scope="module")
def hub():
    return testinfra.get_host("podman://hub")


def edge_only(host):
    name = host.backend.get_hostname()
    if name not in EDGES:
        pytest.skip("edge check")
    return name


def wait_on_hub(hub, token):
    deadline = time.monotonic() + DELIVERY_TIMEOUT
    while time.monotonic() < deadline:
        found = hub.run("grep -rl -- %s /home/alice/Maildir/new" % token)
        if found.rc == 0:
            return hub.file(found.stdout.split()[0]).content_string
        time.sleep(0.5)
    raise AssertionError("%s not delivered on hub within %ds" % (token, DELIVERY_TIMEOUT))


def test_mail_from_edge_arrives_on_hub_over_tls(host, hub):
    edge = edge_only(host)
    token = "relay-%s-%s" % (edge, uuid.uuid4().hex)
    sent = host.run("printf 'Subject: %s\\n\\nrelayed\\n' | /usr/sbin/sendmail alice@hub.molecule.test" % token)
    assert sent.rc == 0, sent.stderr
    message = wait_on_hub(hub, token)
    hub_received = re.search(r"^Received: from .*?(?=^\S)", message, re.S | re.M).group(0)
    assert "hub.molecule.test" in hub_received
    assert re.search(r"\(using TLSv1\.[23] with cipher", hub_received), hub_received
    assert "Authenticated sender" in hub_received or "authenticated" in hub_received.lower() or \
        "esmtpsa" in hub_received.lower(), hub_received


def test_tunnel_edge_relays_through_stunnel(host):
    if edge_only(host) != "edge-tunnel":
        pytest.skip("tunnel edge only")
    assert host.check_output("postconf -h relayhost") == "[127.0.0.1]:10465"
    assert host.service("postmaster-stunnel").is_running
    assert host.socket("tcp://127.0.0.1:10465").is_listening


def test_direct_edge_uses_postfix_smtps_client_with_secure_policy(host):
    if edge_only(host) != "edge-direct":
        pytest.skip("direct edge only")
    transport_map = host.check_output("postconf -h transport_maps")
    nexthop = host.check_output("postmap -q hub.molecule.test %s" % transport_map)
    assert re.fullmatch(r"postmaster-smtps:\[[0-9.]+\]:465", nexthop), nexthop
    assert host.check_output("postconf -h relayhost") == ""
    service = host.check_output("postconf -P postmaster-smtps/unix/smtp_tls_wrappermode")
    assert service.endswith("= yes")
    policy_map = host.check_output("postconf -h smtp_tls_policy_maps")
    destination = nexthop.split(":", 1)[1]
    assert host.check_output("postmap -q %s %s" % (destination, policy_map)) == "secure match=hub.molecule.test"


def test_sasl_password_table_is_secret(host):
    edge_only(host)
    maps = host.check_output("postconf -h smtp_sasl_password_maps")
    source = maps.split(":", 1)[1]
    for path in host.check_output("ls %s %s.*" % (source, source)).split():
        secret = host.file(path)
        assert (secret.user, secret.mode) == ("root", 0o600), path


def test_queues_are_empty(host):
    assert host.check_output("postqueue -p") == "Mail queue is empty"


def test_postfix_check_is_clean(host):
    result = host.run("postfix check")
    assert result.rc == 0 and result.stderr.strip() == "", result.stderr


def test_hub_is_not_an_open_relay(host, hub):
    """From another container, the hub refuses to relay to a foreign domain on 25, and on
    465 it refuses everything until the client has authenticated."""
    edge_only(host)
    address = hub.check_output("hostname -I").split()[0]
    probe = host.run("python3 -c %s" % shlex.quote(
        "import smtplib, ssl\n"
        "c = smtplib.SMTP(%r, 25, timeout=20)\n"
        "c.ehlo('probe.test')\n"
        "c.mail('someone@example.net')\n"
        "print(c.rcpt('victim@example.com'))\n"
        "context = ssl.create_default_context(cafile='/etc/postfix/tls/ca.pem')\n"
        "context.check_hostname = False\n"
        "s = smtplib.SMTP_SSL(%r, 465, context=context, timeout=20)\n"
        "s.ehlo('probe.test')\n"
        "s.mail('someone@example.net')\n"
        "print(s.rcpt('alice@hub.molecule.test'))\n" % (address, address)))
    assert probe.rc == 0, probe.stderr
    relay_reply, unauthenticated_reply = probe.stdout.splitlines()
    # Debian's smtpd_relay_restrictions end in defer_unauth_destination (454), Postfix's
    # own default in reject_unauth_destination (554): refused either way.
    assert relay_reply.startswith(("(454", "(554")) and "Relay access denied" in relay_reply, relay_reply
    assert unauthenticated_reply.startswith("(554") and "Access denied" in unauthenticated_reply, unauthenticated_reply


def smtp_script(address, port, lines):
    """A python3 command that connects (SMTPS on 465, the CA checked, plain SMTP elsewhere),
    says EHLO as c, then runs LINES."""
    prologue = [
        "import smtplib, ssl",
        "context = ssl.create_default_context(cafile='/etc/postfix/tls/ca.pem')",
        "context.check_hostname = False",
        "c = smtplib.SMTP_SSL(%r, %d, context=context, timeout=20)" % (address, port) if port == 465
        else "c = smtplib.SMTP(%r, %d, timeout=20)" % (address, port),
        "c.ehlo('probe.test')",
    ]
    return "python3 -c %s" % shlex.quote("\n".join(prologue + lines))


def relay_probe(address, port, login=None):
    """Ask to relay to a foreign domain and return the RCPT reply, then withdraw with RSET:
    no DATA is sent, so nothing is queued and nothing leaves the project's containers."""
    lines = ["c.login(%r, %r)" % login] if login else []
    lines += ["c.mail('probe@molecule.test')", "print(c.rcpt('victim@example.com'))", "c.rset()", "c.quit()"]
    return smtp_script(address, port, lines)


def test_only_authenticated_and_local_clients_may_relay(host, hub):
    """The other side of the open-relay test: an edge that logs in on 465 may relay to a
    foreign domain, and so may a client in mynetworks (the hub's own loopback)."""
    edge_only(host)
    address = hub.check_output("hostname -I").split()[0]
    authenticated = host.run(relay_probe(address, 465, (EDGE_LOGIN, EDGE_PASSWORD)))
    assert authenticated.rc == 0, authenticated.stderr
    assert authenticated.stdout.startswith("(250"), authenticated.stdout
    local = hub.run(relay_probe("127.0.0.1", 25))
    assert local.rc == 0, local.stderr
    assert local.stdout.startswith("(250"), local.stdout


def test_hub_checks_edge_logins_with_dovecot(host, hub):
    """The hub's Postfix asks the collection's Dovecot (the dovecot role's contract, no Cyrus
    SASL): AUTH only on 465 and 587, Dovecot's auth socket in Postfix's chroot. Dovecot itself
    refuses the edge's login with a wrong password and logs it with the edge's address, and
    takes the right one; the mail relayed earlier was accepted for that login."""
    edge = edge_only(host)
    assert hub.check_output("postconf -h smtpd_sasl_type smtpd_sasl_path").splitlines() == ["dovecot", "private/auth"]
    assert hub.check_output("postconf -h smtpd_sasl_auth_enable") == "no"  # port 25: no AUTH
    for service in ("smtps", "submission"):
        option = hub.check_output("postconf -P %s/inet/smtpd_sasl_auth_enable" % service)
        assert option == "%s/inet/smtpd_sasl_auth_enable = yes" % service
    listener = hub.check_output("ss -xlpn src /var/spool/postfix/private/auth")
    assert '"dovecot"' in listener, listener
    edge_address = host.check_output("hostname -I").split()[0]
    since = hub.check_output("date +%s")
    probe = host.run(smtp_script(hub.check_output("hostname -I").split()[0], 465, [
        "c.user, c.password = %r, 'not-the-password'" % EDGE_LOGIN,
        "try:",
        "    c.auth('PLAIN', c.auth_plain)",
        "except smtplib.SMTPAuthenticationError as refused:",
        "    print(refused.smtp_code)",
        "c.user, c.password = %r, %r" % (EDGE_LOGIN, EDGE_PASSWORD),
        "print(c.auth('PLAIN', c.auth_plain)[0])",
        "c.quit()",
    ]))
    assert probe.rc == 0, probe.stderr
    assert probe.stdout.split() == ["535", "235"], probe.stdout
    journal = hub.check_output("journalctl --no-pager -q -o cat --since @%s -t dovecot" % since)
    assert re.search(r"auth: passwd-file\(%s,%s\b.*: Password mismatch" % (re.escape(EDGE_LOGIN), re.escape(edge_address)),
                     journal), journal
    postfix = hub.check_output("journalctl --no-pager -q -o cat -t postfix/smtps/smtpd")
    assert re.search(r"client=\S+\[%s\], sasl_method=PLAIN, sasl_username=%s$" % (re.escape(edge_address), re.escape(EDGE_LOGIN)),
                     postfix, re.M), "%s: no message accepted for %s in the hub's log" % (edge, EDGE_LOGIN)


def test_edge_login_may_not_send_as_a_stranger(host, hub):
    """The edge's login owns the senders molecule.yml lists (its own domain's addresses), no
    others: on 465 a foreign envelope sender is refused at RCPT, its own is accepted (then RSET,
    no DATA: nothing is queued)."""
    edge = edge_only(host)
    probe = host.run(smtp_script(hub.check_output("hostname -I").split()[0], 465, [
        "c.login(%r, %r)" % (EDGE_LOGIN, EDGE_PASSWORD),
        "c.mail('someone@example.net')",
        "print(c.rcpt('alice@hub.molecule.test'))",
        "c.rset()",
        "c.mail('root@%s.molecule.test')" % edge,
        "print(c.rcpt('alice@hub.molecule.test'))",
        "c.rset()",
        "c.quit()",
    ]))
    assert probe.rc == 0, probe.stderr
    stranger, own = probe.stdout.splitlines()
    assert stranger.startswith("(553") and "not owned by user %s" % EDGE_LOGIN in stranger, stranger
    assert own.startswith("(250"), own
