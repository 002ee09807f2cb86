"""Scan 25, 587 and 465 of each container with sslyze (scripts/sslyze) and check the JSON it
writes: no SSL 2.0/3.0 anywhere; 587 and 465 meet Mozilla's "intermediate" profile, as sslyze
ships it, with the private CA trusted; 25 stays opportunistic, as TLS_README advises for mail
between servers, but its chain validates against the private CA as well.

sslyze runs in a throwaway container of the bookworm image on Podman's network (SSLYZE_IMAGE in
scripts/sslyze, the same virtual environment mounted read-only): the servers see a client on
another machine, as a real scanner would be, at the cost of one container start per scan.
smtpd looks the scanner's address up (smtpd_peername_lookup, on by default) in the project's
test DNS (prepare.yml), which answers at once; this machine's resolver stalled those lookups."""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest

PROJECT_ROOT = pathlib.Path(__file__).resolve().parents[3]
SSLYZE = PROJECT_ROOT / "scripts" / "sslyze"
SSLYZE_PYTHON = PROJECT_ROOT / ".cache" / "sslyze-venv" / "bin" / "python"
SERVER_NAME = "mail.molecule.test"
SUPPLIED = "tls-bullseye"  # its root CA is the supplied one, not the private CA
SCANNER_IMAGE = "localhost/debian-bookworm:base"
SCAN_TIMEOUT = 300
ALL_PORTS = (25, 587, 465)
MANDATORY_TLS_PORTS = (587, 465)
# --mozilla_config alone runs just the scan commands sslyze's compliance check needs.
SCAN_OPTIONS = ["--quiet", "--mozilla_config=intermediate"]
PROTOCOLS = {
    "ssl_2_0_cipher_suites": "SSLv2", "ssl_3_0_cipher_suites": "SSLv3",
    "tls_1_0_cipher_suites": "TLSv1", "tls_1_1_cipher_suites": "TLSv1.1",
    "tls_1_2_cipher_suites": "TLSv1.2", "tls_1_3_cipher_suites": "TLSv1.3",
}
PROFILE_SCRIPT = (
    "from sslyze.mozilla_tls_profile.tls_config_checker import MozillaTlsConfiguration, TlsConfigurationEnum\n"
    "print(MozillaTlsConfiguration.get(TlsConfigurationEnum.MOZILLA_INTERMEDIATE).model_dump_json())\n"
)


@pytest.fixture(scope="session")
def profile():
    """Mozilla's intermediate profile from sslyze itself (curve names in sslyze's spelling)."""
    ready = subprocess.run([str(SSLYZE), "--help"], capture_output=True, text=True, timeout=SCAN_TIMEOUT, check=False)
    assert ready.returncode == 0, ready.stderr
    return json.loads(subprocess.check_output([str(SSLYZE_PYTHON), "-c", PROFILE_SCRIPT], text=True))


def trusted_ca(name):
    ephemeral = pathlib.Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
    return ephemeral / ("supplied/root.crt" if name == SUPPLIED else "pki/ca/ca.crt")


def container_address(name):
    return subprocess.check_output(
        ["podman", "inspect", "--format", "{{.NetworkSettings.IPAddress}}", name], text=True).strip()


def run_sslyze(json_out, ca, targets, starttls):
    """sslyze in its own container, which sees json_out and ca through the mounted directory."""
    command = [str(SSLYZE), *SCAN_OPTIONS, "--certinfo_ca_file", str(ca), "--json_out", str(json_out)]
    command += ["--starttls", "smtp"] if starttls else []
    return subprocess.run(command + targets, capture_output=True, text=True, timeout=SCAN_TIMEOUT, check=False,
                          cwd=json_out.parent, env=dict(os.environ, SSLYZE_IMAGE=SCANNER_IMAGE))


def verdicts(stdout):
    """sslyze's own compliance lines per port: its verdict, then one line per issue."""
    found, port = {}, None
    for line in stdout.partition("COMPLIANCE AGAINST TLS CONFIGURATION")[2].splitlines():
        verdict = re.match(r"\s*%s:(\d+): (.*)" % re.escape(SERVER_NAME), line)
        if verdict:
            port = int(verdict.group(1))
            found[port] = [verdict.group(2)]
        elif port and line.strip().startswith("*"):
            found[port].append(line.strip())
    return found


@pytest.fixture(scope="module")
def scan(host, profile, tmp_path_factory):
    """One STARTTLS scan of 25 and 587 and one TLS scan of 465, side by side: port -> results."""
    name = host.backend.get_hostname()
    address, directory = container_address(name), tmp_path_factory.mktemp("sslyze-%s" % name)
    ca = pathlib.Path(shutil.copy(trusted_ca(name), directory / "ca.pem"))
    jobs = {"starttls": ([25, 587], True), "smtps": ([465], False)}
    with ThreadPoolExecutor(len(jobs)) as pool:
        runs = {job: pool.submit(run_sslyze, directory / ("%s.json" % job), ca,
                                 ["%s:%d{%s}" % (SERVER_NAME, port, address) for port in ports], starttls)
                for job, (ports, starttls) in jobs.items()}
    results = {}
    for job, run in runs.items():
        completed = run.result()
        json_out = directory / ("%s.json" % job)
        assert json_out.exists(), "sslyze wrote no %s (exit %d): %s" % (json_out, completed.returncode, completed.stderr)
        said = verdicts(completed.stdout)
        for server in json.loads(json_out.read_text())["server_scan_results"]:
            port = server["server_location"]["port"]
            results[port] = {"server": server, "verdict": said.get(port, ["no verdict"]), "ca": str(ca)}
    return results


def scanned(scan, port):
    """The port's scan results, after checking that every scan command completed."""
    server = scan[port]["server"]
    assert server["scan_status"] == "COMPLETED", \
        "sslyze could not scan %d: %s" % (port, server["connectivity_error_trace"])
    failed = {command: attempt["error_reason"] for command, attempt in server["scan_result"].items()
              if attempt["status"] == "ERROR"}
    assert not failed, "sslyze scan commands failed on %d: %s; %s" % (port, failed, scan[port]["verdict"])
    return server["scan_result"]


def accepted(result, command):
    return result[command]["result"]["accepted_cipher_suites"]


@pytest.mark.parametrize("port", ALL_PORTS)
def test_no_ssl_2_or_3(scan, port):
    result = scanned(scan, port)
    for command in ("ssl_2_0_cipher_suites", "ssl_3_0_cipher_suites"):
        suites = [suite["cipher_suite"]["name"] for suite in accepted(result, command)]
        assert not result[command]["result"]["is_tls_version_supported"] and not suites, \
            "%s accepted on %d: %s" % (PROTOCOLS[command], port, suites)


@pytest.mark.parametrize("port", ALL_PORTS)
def test_chain_validates_against_the_private_ca(scan, port):
    result = scanned(scan, port)
    deployments = result["certificate_info"]["result"]["certificate_deployments"]
    for deployment in deployments:
        # sslyze checks the name (SNI mail.molecule.test) in the same validation.
        validation = [check for check in deployment["path_validation_results"]
                      if check["trust_store"]["path"] == scan[port]["ca"]]
        assert validation and validation[0]["was_validation_successful"], \
            "chain on %d does not validate against %s: %s; %s" % (
                port, scan[port]["ca"], validation and validation[0]["validation_error"], scan[port]["verdict"])
        assert deployment["received_chain_has_valid_order"], "chain on %d is out of order" % port


def test_port_25_stays_opportunistic(scan):
    result = scanned(scan, 25)
    modern = [PROTOCOLS[command] for command in ("tls_1_2_cipher_suites", "tls_1_3_cipher_suites")
              if result[command]["result"]["is_tls_version_supported"]]
    assert modern, "STARTTLS on 25 offers neither TLS 1.2 nor TLS 1.3"


def profile_issues(result, profile):
    """What sslyze's Mozilla check looks at, read from the JSON and compared with the profile."""
    issues = []
    versions, suites, suites_1_3, curves, dh_sizes = set(), set(), set(), set(), []
    for command, version in PROTOCOLS.items():
        if not result[command]["result"]["is_tls_version_supported"]:
            continue
        versions.add(version)
        for suite in accepted(result, command):
            (suites_1_3 if version == "TLSv1.3" else suites).add(suite["cipher_suite"]["name"])
            key = suite["ephemeral_key"] or {}
            if key.get("type_name") == "ECDH":
                curves.add(key["curve_name"])
            elif key.get("type_name") == "DH":
                dh_sizes.append(key["size"])
    curves.update(curve["name"] for curve in result["elliptic_curves"]["result"]["supported_curves"] or [])
    checks = [
        ("protocols outside the profile (TLS 1.0/1.1?)", versions - set(profile["tls_versions"])),
        ("TLS 1.2 suites outside the profile (CBC, CAMELLIA, ARIA, anonymous?)", suites - set(profile["ciphers"]["iana"])),
        ("TLS 1.3 suites outside the profile", suites_1_3 - set(profile["ciphersuites"])),
        ("key exchange curves outside the profile", curves - set(profile["tls_curves"])),
        ("DH groups smaller than %s bits" % profile["dh_param_size"],
         {size for size in dh_sizes if size < (profile["dh_param_size"] or 0)}),
    ]
    issues += ["%s: %s" % (what, sorted(found)) for what, found in checks if found]

    certificates = result["certificate_info"]["result"]["certificate_deployments"]
    for deployment in certificates:
        leaf = deployment["received_certificate_chain"][0]
        lifetime = (datetime.fromisoformat(leaf["not_valid_after"])
                    - datetime.fromisoformat(leaf["not_valid_before"])).days
        if lifetime > profile["maximum_certificate_lifespan"]:
            issues.append("certificate valid for %d days, the profile allows %d"
                          % (lifetime, profile["maximum_certificate_lifespan"]))
        key = leaf["public_key"]
        if key["algorithm"] == "ECPublicKey" and key["ec_curve_name"] not in profile["certificate_curves"]:
            issues.append("certificate key on curve %s" % key["ec_curve_name"])
        if key["algorithm"] == "RSAPublicKey" and key["key_size"] < profile["rsa_key_size"]:
            issues.append("certificate RSA key of %d bits" % key["key_size"])
        if leaf["signature_algorithm_oid"]["name"] not in profile["certificate_signatures"]:
            issues.append("certificate signed with %s" % leaf["signature_algorithm_oid"]["name"])
        if not deployment["verified_certificate_chain"]:
            issues.append("no verified chain")

    weaknesses = {
        "TLS compression": result["tls_compression"]["result"]["supports_compression"],
        "CCS injection": result["openssl_ccs_injection"]["result"]["is_vulnerable_to_ccs_injection"],
        "Heartbleed": result["heartbleed"]["result"]["is_vulnerable_to_heartbleed"],
        "ROBOT": result["robot"]["result"]["robot_result"] == "VULNERABLE_STRONG_ORACLE",
        "no TLS_FALLBACK_SCSV": not result["tls_fallback_scsv"]["result"]["supports_fallback_scsv"],
        "no secure renegotiation": not result["session_renegotiation"]["result"]["supports_secure_renegotiation"],
        "no extended master secret": not result["tls_extended_master_secret"]["result"]["supports_ems_extension"],
    }
    issues += [weakness for weakness, present in weaknesses.items() if present]
    return issues


@pytest.mark.parametrize("port", MANDATORY_TLS_PORTS)
def test_mandatory_tls_meets_mozilla_intermediate(scan, profile, port):
    issues = profile_issues(scanned(scan, port), profile)
    said = "sslyze says: " + " ".join(scan[port]["verdict"])
    assert not issues, "%d is not Mozilla intermediate: %s. %s" % (port, "; ".join(issues), said)
    assert scan[port]["verdict"] == ["OK - Compliant."], said
