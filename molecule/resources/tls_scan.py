"""sslyze (scripts/sslyze) against a container's TLS ports, for the Molecule scenarios' tests:
scan a set of ports side by side and check the JSON sslyze writes against Mozilla's
"intermediate" profile as sslyze ships it.

sslyze runs in a throwaway container of the bookworm image on Podman's network (SSLYZE_IMAGE in
scripts/sslyze, the same virtual environment mounted read-only): the servers see a client on
another machine, as a real scanner would be, at the cost of one container start per scan.
Scenarios that scan port 25 give their hosts the project's test DNS (smtpd looks the scanner's
address up; this machine's resolver stalls those lookups)."""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

PROJECT_ROOT = pathlib.Path(__file__).resolve().parents[2]
SSLYZE = PROJECT_ROOT / "scripts" / "sslyze"
SSLYZE_PYTHON = PROJECT_ROOT / ".cache" / "sslyze-venv" / "bin" / "python"
SCANNER_IMAGE = "localhost/debian-bookworm:base"
SCAN_TIMEOUT = 300
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


def mozilla_intermediate():
    """Mozilla's intermediate profile from sslyze itself (curve names in sslyze's spelling);
    installs sslyze on first use."""
    ready = subprocess.run([str(SSLYZE), "--help"], capture_output=True, text=True, timeout=SCAN_TIMEOUT, check=False)
    assert ready.returncode == 0, ready.stderr
    return json.loads(subprocess.check_output([str(SSLYZE_PYTHON), "-c", PROFILE_SCRIPT], text=True))


def private_ca():
    """The tls role's private CA on the control node (tls_controller_dir = EPHEMERAL/pki)."""
    return pathlib.Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "pki" / "ca" / "ca.crt"


def container_address(name):
    return subprocess.check_output(
        ["podman", "inspect", "--format", "{{.NetworkSettings.IPAddress}}", name], text=True).strip()


def _run_sslyze(json_out, ca, targets, starttls):
    """sslyze in its own container, which sees json_out and ca through the mounted directory."""
    command = [str(SSLYZE), *SCAN_OPTIONS, "--certinfo_ca_file", str(ca), "--json_out", str(json_out)]
    command += ["--starttls", starttls] if starttls else []
    return subprocess.run(command + targets, capture_output=True, text=True, timeout=SCAN_TIMEOUT, check=False,
                          cwd=json_out.parent, env=dict(os.environ, SSLYZE_IMAGE=SCANNER_IMAGE))


def _verdicts(stdout, server_name):
    """sslyze's own compliance lines per port: its verdict, then one line per issue."""
    found, port = {}, None
    for line in stdout.partition("COMPLIANCE AGAINST TLS CONFIGURATION")[2].splitlines():
        verdict = re.match(r"\s*%s:(\d+): (.*)" % re.escape(server_name), line)
        if verdict:
            port = int(verdict.group(1))
            found[port] = [verdict.group(2)]
        elif port and line.strip().startswith("*"):
            found[port].append(line.strip())
    return found


def scan(name, server_name, ca, jobs, directory):
    """Scan container NAME as SERVER_NAME (SNI, name checks) with CA trusted. JOBS maps a job
    name to (ports, starttls protocol or None); the jobs run side by side. Returns
    port -> {server: sslyze's JSON for the port, verdict: its compliance lines, ca}.

    A job that could not connect, or one of whose scan commands lost its connection, is run
    once more on its own: sslyze gives up after 5 s, which a loaded test machine (every
    scenario at once) can exceed."""
    address = container_address(name)
    ca = pathlib.Path(shutil.copy(ca, directory / "ca.pem"))

    def run(job):
        ports, starttls = jobs[job]
        json_out = directory / ("%s.json" % job)
        completed = _run_sslyze(json_out, ca, ["%s:%d{%s}" % (server_name, port, address) for port in ports],
                                starttls)
        assert json_out.exists(), "sslyze wrote no %s (exit %d): %s" % (json_out, completed.returncode, completed.stderr)
        said = _verdicts(completed.stdout, server_name)
        return {server["server_location"]["port"]: {"server": server, "ca": str(ca),
                                                    "verdict": said.get(server["server_location"]["port"],
                                                                        ["no verdict"])}
                for server in json.loads(json_out.read_text())["server_scan_results"]}

    with ThreadPoolExecutor(len(jobs)) as pool:
        found = dict(zip(jobs, pool.map(run, jobs)))
    results = {}
    for job, ports in found.items():
        if not all(_complete(result["server"]) for result in ports.values()):
            ports = run(job)
        results.update(ports)
    return results


def _complete(server):
    return server["scan_status"] == "COMPLETED" and all(
        attempt["status"] != "ERROR" for attempt in server["scan_result"].values())


def scanned(results, port):
    """The port's scan results, after checking that every scan command completed."""
    server = results[port]["server"]
    assert server["scan_status"] == "COMPLETED", \
        "sslyze could not scan %d: %s" % (port, server["connectivity_error_trace"])
    failed = {command: attempt["error_reason"] for command, attempt in server["scan_result"].items()
              if attempt["status"] == "ERROR"}
    assert not failed, "sslyze scan commands failed on %d: %s; %s" % (port, failed, results[port]["verdict"])
    return server["scan_result"]


def accepted(result, command):
    return result[command]["result"]["accepted_cipher_suites"]


def supported_protocols(result):
    return {version for command, version in PROTOCOLS.items() if result[command]["result"]["is_tls_version_supported"]}


def chain_problems(results, port):
    """Why the chain on PORT does not validate against the trusted CA (with the name), or []."""
    problems = []
    for deployment in scanned(results, port)["certificate_info"]["result"]["certificate_deployments"]:
        validation = [check for check in deployment["path_validation_results"]
                      if check["trust_store"]["path"] == results[port]["ca"]]
        if not (validation and validation[0]["was_validation_successful"]):
            problems.append("does not validate against %s: %s" % (results[port]["ca"],
                                                                  validation and validation[0]["validation_error"]))
        if not deployment["received_chain_has_valid_order"]:
            problems.append("chain out of order")
    return problems


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


def assert_mozilla_intermediate(results, profile, port):
    """PORT meets the profile by our reading of the JSON and by sslyze's own verdict."""
    issues = profile_issues(scanned(results, port), profile)
    said = "sslyze says: " + " ".join(results[port]["verdict"])
    assert not issues, "%d is not Mozilla intermediate: %s. %s" % (port, "; ".join(issues), said)
    assert results[port]["verdict"] == ["OK - Compliant."], said
