"""Scan each host's TLS ports with sslyze (molecule/resources/tls_scan.py) from another
container, its CA trusted (the private CA, or on mailbox-bullseye the supplied root) and the
host's own name checked: no SSL 2.0/3.0 anywhere and the chain validates on all five ports;
IMAP on 993 and on 143 after STARTTLS, submission on 587 after STARTTLS and on 465 meet
Mozilla's "intermediate" profile, as sslyze ships it; 25 stays opportunistic, as TLS_README
advises for mail between servers, but offers TLS 1.2 or 1.3. smtpd looks the scanner's address
up (smtpd_peername_lookup, on by default) in the project's test DNS (prepare.yml)."""

from __future__ import annotations

import os
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "resources"))
import tls_scan  # noqa: E402  (molecule/resources, not a package)

SUPPLIED = "mailbox-bullseye"  # its root CA is the supplied one (prepare.yml), not the private CA
MANDATORY_TLS_PORTS = (993, 143, 587, 465)
ALL_PORTS = (25,) + MANDATORY_TLS_PORTS


@pytest.fixture(scope="session")
def profile():
    return tls_scan.mozilla_intermediate()


@pytest.fixture(scope="module")
def scan(host, profile, tmp_path_factory):
    """STARTTLS scans of 143, and of 25 and 587, and one TLS scan of 993 and 465, side by side."""
    name = host.backend.get_hostname()
    ca = (pathlib.Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "supplied" / "root.crt" if name == SUPPLIED
          else tls_scan.private_ca())
    jobs = {"imap": ([143], "imap"), "smtp": ([25, 587], "smtp"), "tls": ([993, 465], None)}
    return tls_scan.scan(name, "%s.molecule.test" % name, ca, jobs, tmp_path_factory.mktemp("sslyze-%s" % name))


@pytest.mark.parametrize("port", ALL_PORTS)
def test_no_ssl_2_or_3(scan, port):
    result = tls_scan.scanned(scan, port)
    for command in ("ssl_2_0_cipher_suites", "ssl_3_0_cipher_suites"):
        suites = [suite["cipher_suite"]["name"] for suite in tls_scan.accepted(result, command)]
        assert not result[command]["result"]["is_tls_version_supported"] and not suites, \
            "%s accepted on %d: %s" % (tls_scan.PROTOCOLS[command], port, suites)


@pytest.mark.parametrize("port", ALL_PORTS)
def test_chain_validates_with_the_host_name(scan, port):
    problems = tls_scan.chain_problems(scan, port)
    assert not problems, "chain on %d: %s; %s" % (port, problems, scan[port]["verdict"])


def test_port_25_stays_opportunistic(scan):
    modern = tls_scan.supported_protocols(tls_scan.scanned(scan, 25)) & {"TLSv1.2", "TLSv1.3"}
    assert modern, "STARTTLS on 25 offers neither TLS 1.2 nor TLS 1.3"


@pytest.mark.parametrize("port", MANDATORY_TLS_PORTS)
def test_meets_mozilla_intermediate(scan, profile, port):
    tls_scan.assert_mozilla_intermediate(scan, profile, port)
