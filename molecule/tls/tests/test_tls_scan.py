"""Scan 25, 587 and 465 of each container with sslyze (molecule/resources/tls_scan.py): no
SSL 2.0/3.0 anywhere; 587 and 465 meet Mozilla's "intermediate" profile, as sslyze ships it,
with the private CA trusted; 25 stays opportunistic, as TLS_README advises for mail between
servers, but its chain validates against the private CA as well. smtpd looks the scanner's
address up (smtpd_peername_lookup, on by default) in the project's test DNS (prepare.yml)."""

from __future__ import annotations

import os
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "resources"))
import tls_scan  # noqa: E402  (molecule/resources, not a package)

SERVER_NAME = "mail.molecule.test"
SUPPLIED = "tls-bullseye"  # its root CA is the supplied one, not the private CA
ALL_PORTS = (25, 587, 465)
MANDATORY_TLS_PORTS = (587, 465)


@pytest.fixture(scope="session")
def profile():
    return tls_scan.mozilla_intermediate()


@pytest.fixture(scope="module")
def scan(host, profile, tmp_path_factory):
    """One STARTTLS scan of 25 and 587 and one TLS scan of 465, side by side: port -> results."""
    name = host.backend.get_hostname()
    ca = (pathlib.Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "supplied" / "root.crt" if name == SUPPLIED
          else tls_scan.private_ca())
    return tls_scan.scan(name, SERVER_NAME, ca, {"starttls": ([25, 587], "smtp"), "smtps": ([465], None)},
                         tmp_path_factory.mktemp("sslyze-%s" % name))


@pytest.mark.parametrize("port", ALL_PORTS)
def test_no_ssl_2_or_3(scan, port):
    result = tls_scan.scanned(scan, port)
    for command in ("ssl_2_0_cipher_suites", "ssl_3_0_cipher_suites"):
        suites = [suite["cipher_suite"]["name"] for suite in tls_scan.accepted(result, command)]
        assert not result[command]["result"]["is_tls_version_supported"] and not suites, \
            "%s accepted on %d: %s" % (tls_scan.PROTOCOLS[command], port, suites)


@pytest.mark.parametrize("port", ALL_PORTS)
def test_chain_validates_against_the_private_ca(scan, port):
    # sslyze checks the name (SNI mail.molecule.test) in the same validation.
    problems = tls_scan.chain_problems(scan, port)
    assert not problems, "chain on %d: %s; %s" % (port, problems, scan[port]["verdict"])


def test_port_25_stays_opportunistic(scan):
    modern = tls_scan.supported_protocols(tls_scan.scanned(scan, 25)) & {"TLSv1.2", "TLSv1.3"}
    assert modern, "STARTTLS on 25 offers neither TLS 1.2 nor TLS 1.3"


@pytest.mark.parametrize("port", MANDATORY_TLS_PORTS)
def test_mandatory_tls_meets_mozilla_intermediate(scan, profile, port):
    tls_scan.assert_mozilla_intermediate(scan, profile, port)
