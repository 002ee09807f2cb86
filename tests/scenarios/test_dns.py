"""The project's test DNS (dns_server.py): one DNS container and one systemd client on a
network of their own. The client's resolver is the DNS container (podman run --dns) and it
resolves A, PTR, MX, the TXT records of SPF, DKIM and DMARC, and TLSA, all validated by
DNSSEC (AD bit); records published while the server runs are seen at once.

The client boots the DNS image (the bookworm base image plus Knot, Unbound and dig, its
daemons masked) with systemd, so dig is there without an apt run in the test.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from dns_server import IMAGE, build_zones, default_env, dns_server, project_network, txt
from systemd_container import systemd_container

ZONE = "example.test"
# A 2048-bit RSA key's record is longer than one TXT string (255 bytes).
DKIM_KEY = "v=DKIM1; k=rsa; p=" + "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" * 9
TLSA = "3 1 1 " + "ab" * 32


def zones():
    return {
        ZONE: [
            ("@", "MX", "10 mail"),
            ("@", "TXT", txt("v=spf1 mx -all")),
            ("_dmarc", "TXT", txt("v=DMARC1; p=reject; rua=mailto:dmarc@example.test")),
            ("20261203._domainkey", "TXT", txt(DKIM_KEY)),
            ("_25._tcp.mail", "TLSA", TLSA),
        ],
        "other.test": [("@", "MX", "10 mx.other.test.")],
    }


@pytest.fixture(scope="module")
def lab():
    env = default_env()
    with project_network(env) as network:
        hosts = {"client.example.test": network.address(10), "mail.example.test": network.address(11),
                 "mx.other.test": network.address(12)}
        with dns_server(network, zones(), hosts, env, upstream=False) as dns:
            name = "postmaster-dns-client-%d" % os.getpid()
            with systemd_container(name, IMAGE, env, "client.example.test",
                                   extra_args=dns.client_args(hosts["client.example.test"])):
                yield dns, name, hosts


def client(lab, script):
    dummy, name, dummy = lab
    completed = subprocess.run(["podman", "exec", name, "bash", "-c", script], env=default_env(),
                               capture_output=True, text=True, check=False, timeout=60)
    assert completed.returncode == 0, "%s\n%s%s" % (script, completed.stdout, completed.stderr)
    return completed.stdout


def dig(lab, name, rtype):
    return client(lab, "dig +short %s %s" % (name, rtype)).splitlines()


def tlsa(lab, name):
    """TLSA records as "usage selector type HEX", dig's blanks in the hex removed."""
    return sorted("%s %s %s %s" % tuple(line.split(None, 3)[:3] + ["".join(line.split()[3:]).lower()])
                  for line in dig(lab, name, "TLSA"))


def test_client_resolver_is_the_test_dns(lab):
    dns = lab[0]
    assert client(lab, "cat /etc/resolv.conf").split() == ["nameserver", dns.address]


def test_a_and_ptr_through_libc(lab):
    hosts = lab[2]
    assert client(lab, "getent hosts mail.example.test").split() == [hosts["mail.example.test"], "mail.example.test"]
    assert client(lab, "getent hosts mx.other.test").split()[0] == hosts["mx.other.test"]
    for host in ("mail.example.test", "mx.other.test"):
        script = "python3 -c 'import socket; print(socket.gethostbyaddr(\"%s\")[0])'" % hosts[host]
        assert client(lab, script).strip() == host


def test_mx_spf_dkim_dmarc_tlsa(lab):
    assert dig(lab, ZONE, "MX") == ["10 mail.example.test."]
    assert dig(lab, ZONE, "TXT") == ['"v=spf1 mx -all"']
    assert dig(lab, "_dmarc." + ZONE, "TXT") == ['"v=DMARC1; p=reject; rua=mailto:dmarc@example.test"']
    dkim = dig(lab, "20261203._domainkey." + ZONE, "TXT")
    assert len(dkim) == 1 and "".join(dkim[0][1:-1].split('" "')) == DKIM_KEY
    assert tlsa(lab, "_25._tcp.mail." + ZONE) == [TLSA]


def test_answers_are_validated(lab):
    """DANE needs the AD bit: the resolver validated the signed zone."""
    for query in ("_25._tcp.mail.example.test TLSA", "example.test MX", "mail.example.test A"):
        answer = client(lab, "dig +dnssec " + query)
        flags = answer.split("flags:")[1].split(";")[0].split()
        assert "ad" in flags, answer
        assert "RRSIG" in answer, answer


def test_update_while_running(lab):
    dns, dummy, hosts = lab
    assert dig(lab, "20261204._domainkey." + ZONE, "TXT") == []
    dns.update(ZONE, [("20261204._domainkey", "TXT", txt("v=DKIM1; k=ed25519; p=new")),
                      ("_25._tcp.mail", "TLSA", "3 1 1 " + "cd" * 32)])
    assert dig(lab, "20261204._domainkey." + ZONE, "TXT") == ['"v=DKIM1; k=ed25519; p=new"']
    assert tlsa(lab, "_25._tcp.mail." + ZONE) == [TLSA, "3 1 1 " + "cd" * 32]
    dns.set_hosts({"late.example.test": dns.network.address(13)})
    assert client(lab, "getent hosts late.example.test").split()[0] == dns.network.address(13)
    script = "python3 -c 'import socket; print(socket.gethostbyaddr(\"%s\")[0])'" % dns.network.address(13)
    assert client(lab, script).strip() == "late.example.test"
    assert "ad" in client(lab, "dig +dnssec late.example.test").split("flags:")[1].split(";")[0].split()


def test_new_zone_while_running(lab):
    dns = lab[0]
    dns.update("new.test", [("@", "TXT", txt("v=spf1 -all"))])
    assert dig(lab, "new.test", "TXT") == ['"v=spf1 -all"']
    assert "ad" in client(lab, "dig +dnssec new.test TXT").split("flags:")[1].split(";")[0].split()


@pytest.mark.parametrize("zones_, hosts, fragment", [
    ({"example.test": [("@", "TXT", '"a"\nevil A 1.2.3.4')]}, {}, "line break"),
    ({"example.test": [("@", "TXT", '"a" ; comment')]}, {}, "comment"),
    ({"example.test": [("@", "TXT", '"unbalanced')]}, {}, "record data"),
    ({"example.test": [("bad name", "A", "10.0.0.1")]}, {}, "not a DNS name"),
    ({"example.test": [("@", "SOA", "x")]}, {}, "SOA and NS are made here"),
    ({"example.test": [("@", "MX")]}, {}, "must be (owner, type, rdata)"),
    ({"example.test": []}, {"mail.elsewhere.test": "10.0.0.5"}, "in none of the zones"),
])
def test_bad_zone_data_is_refused(zones_, hosts, fragment):
    with pytest.raises(ValueError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        build_zones(zones_, hosts, "10.0.0.2")
