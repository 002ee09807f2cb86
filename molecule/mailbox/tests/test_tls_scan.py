"""Scan the ports people use with sslyze (molecule/resources/tls_scan.py), the private CA
trusted and the host's own name checked: IMAP on 993 and on 143 after STARTTLS, submission on
587 after STARTTLS and on 465 meet Mozilla's "intermediate" profile, as sslyze ships it."""

from __future__ import annotations

import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "resources"))
import tls_scan  # noqa: E402  (molecule/resources, not a package)

PORTS = (993, 143, 587, 465)


@pytest.fixture(scope="session")
def profile():
    return tls_scan.mozilla_intermediate()


@pytest.fixture(scope="module")
def scan(host, profile, tmp_path_factory):
    """STARTTLS scans of 143 and 587 and one TLS scan of 993 and 465, side by side."""
    name = host.backend.get_hostname()
    jobs = {"imap": ([143], "imap"), "smtp": ([587], "smtp"), "tls": ([993, 465], None)}
    return tls_scan.scan(name, "%s.molecule.test" % name, tls_scan.private_ca(), jobs,
                         tmp_path_factory.mktemp("sslyze-%s" % name))


@pytest.mark.parametrize("port", PORTS)
def test_chain_validates_with_the_host_name(scan, port):
    problems = tls_scan.chain_problems(scan, port)
    assert not problems, "chain on %d: %s; %s" % (port, problems, scan[port]["verdict"])


@pytest.mark.parametrize("port", PORTS)
def test_meets_mozilla_intermediate(scan, profile, port):
    tls_scan.assert_mozilla_intermediate(scan, profile, port)
