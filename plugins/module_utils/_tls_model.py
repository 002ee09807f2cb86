# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The desired state of the postmaster.mail.tls role, decided in one place.

`desired_state(settings, files, now)` takes the role's settings (every `tls_*` variable of
roles/tls/defaults/main.yml, already templated, plus `host`, the inventory name, and the
chain files the role published in this run, `published`), the control node's files
(`files`: a mapping whose get(path) gives the file's bytes, or None for a file that does not
exist; the filter reads them on demand, tests pass a dict) and the time, and returns what the role needs: the certificate kinds
to issue, their subjectAltNames, whether every issued certificate is still good for these
settings (`fresh`, the fast path that runs no module of community.crypto), the facts a
fresh certificate publishes, whether a certificate is due for renewal, the files the role
installs on the host, and the desired state the drift check compares (the digests of files
that hold a private key only in `secret_digests`).

Certificates are read with `cryptography`, which community.crypto already needs on the
control node; the facts are those community.crypto's x509_certificate_info reports.

Pure logic (no file reads, no processes, no Ansible): the postmaster.mail.tls_desired_state
filter reads the files and runs it on the control node, and unit tests reach every branch.

Private to postmaster.mail: no stability promise for other collections.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import re

# An IPv4 or IPv6 address among tls_server_names becomes an IP: subjectAltName.
IP_PATTERN = re.compile(r"^([0-9]+(?:\.[0-9]+){3}|[0-9a-fA-F]*:[0-9a-fA-F:.]*)$")
KINDS = ("server", "client")
# The chain files this role names on the host: KIND-YYYYMMDD-HHMMSS.pem, after the certificate's start date.
CHAIN_FILE = re.compile(r"^(server|client)-[0-9]{8}-[0-9]{6}\.pem$")
# community.crypto's date format (x509_certificate_info's not_before and not_after).
ASN1_TIME = "%Y%m%d%H%M%SZ"


def kinds(settings):
    """The certificates the role issues (or checks): the server's, and the client's when asked for."""
    return ["server"] + (["client"] if settings.get("tls_client_certificate_enabled") else [])


def host_dir(settings):
    """The host's directory on the control node."""
    return "%s/hosts/%s" % (settings["tls_controller_dir"], settings["host"])


def ca_paths(settings):
    """The private CA's key and certificate on the control node."""
    return settings["tls_controller_dir"] + "/ca/ca.key", settings["tls_controller_dir"] + "/ca/ca.crt"


def ca_certificate_source(settings):
    """The CA certificate installed on the host as ca.pem."""
    if settings["tls_ca_mode"] == "private":
        return ca_paths(settings)[1]
    return settings.get("tls_supplied_ca_certificate")


def subject_alt_names(settings):
    """DNS: names first, then IP: addresses, each in the order of tls_server_names."""
    names = settings["tls_server_names"]
    return (["DNS:" + name for name in names if not IP_PATTERN.match(name)]
            + ["IP:" + name for name in names if IP_PATTERN.match(name)])


def stamp(not_before):
    """The date stamp of a chain file, from a certificate's not_before (YYYYMMDDHHMMSSZ)."""
    return "%s-%s" % (not_before[:8], not_before[8:14])


@functools.lru_cache(maxsize=64)
def certificate_info(data):
    """What the role reads of a PEM certificate, as community.crypto's x509_certificate_info
    reports it; None for data that is not a PEM certificate. Kept for the next call with the
    same data (the filter runs each time a role variable names it); do not change the result."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import NameOID

    try:
        certificate = x509.load_pem_x509_certificate(data)
    except ValueError:
        return None
    public_key = certificate.public_key()
    key_der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    try:
        extension = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        alt_names = [_general_name(name) for name in extension.value]
    except x509.ExtensionNotFound:
        alt_names = None
    if isinstance(public_key, rsa.RSAPublicKey):
        key_type, key_size = "RSA", public_key.key_size
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        key_type, key_size = "ECC", public_key.key_size
    else:
        key_type, key_size = type(public_key).__name__, None
    return {
        "subject_common_name": _common_name(certificate.subject, NameOID.COMMON_NAME),
        "issuer_common_name": _common_name(certificate.issuer, NameOID.COMMON_NAME),
        "not_before": _utc(certificate, "not_valid_before").strftime(ASN1_TIME),
        "not_after": _utc(certificate, "not_valid_after").strftime(ASN1_TIME),
        "subject_alt_name": alt_names,
        "public_key_type": key_type,
        "public_key_size": key_size,
        "certificate_sha256": _fingerprint(certificate.public_bytes(serialization.Encoding.DER)),
        "public_key_sha256": _fingerprint(key_der),
    }


def _common_name(name, oid):
    values = name.get_attributes_for_oid(oid)
    return values[-1].value if values else None


def _general_name(name):
    from cryptography import x509

    if isinstance(name, x509.DNSName):
        return "DNS:" + name.value
    if isinstance(name, x509.IPAddress):
        return "IP:" + name.value.compressed
    return "%s:%s" % (type(name).__name__, name.value)


def _utc(certificate, attribute):
    aware = getattr(certificate, attribute + "_utc", None)
    return aware if aware is not None else getattr(certificate, attribute).replace(tzinfo=datetime.timezone.utc)


def _fingerprint(data):
    digest = hashlib.sha256(data).hexdigest()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def _seconds_left(not_after, now):
    end = datetime.datetime.strptime(not_after, ASN1_TIME).replace(tzinfo=datetime.timezone.utc)
    return (end - now).total_seconds()


def published_facts(settings, kind, info):
    """The facts the role publishes for a certificate of `kind` (server, client)."""
    name = "%s-%s.pem" % (kind, stamp(info["not_before"]))
    return {
        "chain_file": "%s/%s" % (settings["tls_host_dir"], name),
        "chain_source": "%s/%s" % (host_dir(settings), name),
        "not_after": info["not_after"],
        "certificate_sha256": info["certificate_sha256"].upper(),
        "public_key_sha256": info["public_key_sha256"].upper(),
        "tlsa_record": "3 1 1 " + info["public_key_sha256"].replace(":", ""),
    }


def renewal_due(settings, info, now):
    """Whether the certificate described by `info` (None: there is none) must be signed
    again: forced, or not valid in tls_renew_days days."""
    if settings.get("tls_force_renewal") or info is None:
        return True
    then = now + datetime.timedelta(days=int(settings["tls_renew_days"]))
    return not (info["not_before"] <= then.strftime(ASN1_TIME) <= info["not_after"])


def stale_reason(settings, files, now):
    """Why the issued certificates cannot be kept as they are (None: they are fresh, and the
    role may publish their facts without running any module that makes or checks them)."""
    if settings["tls_ca_mode"] != "private":
        return "the certificates are supplied"
    if settings.get("tls_force_renewal"):
        return "tls_force_renewal"
    kinds_ = kinds(settings)
    needed = list(ca_paths(settings)) + ["%s/%s%s" % (host_dir(settings), kind, suffix)
                                         for kind in kinds_ for suffix in (".key", ".crt")]
    missing = [path for path in needed if files.get(path) is None]
    if missing:
        return "missing " + ", ".join(missing)
    ca = certificate_info(files.get(ca_paths(settings)[1]))
    if ca is None or ca["subject_common_name"] != settings["tls_ca_common_name"]:
        return "the CA certificate is not the CA named by tls_ca_common_name"
    if _seconds_left(ca["not_after"], now) <= 0:
        return "the CA certificate has expired"
    for kind in kinds_:
        reason = _certificate_stale(settings, files, kind, now)
        if reason:
            return "%s certificate: %s" % (kind, reason)
    return None


def _certificate_stale(settings, files, kind, now):
    directory = host_dir(settings)
    info = certificate_info(files.get("%s/%s.crt" % (directory, kind)))
    if info is None:
        return "not a PEM certificate"
    checks = (
        (_seconds_left(info["not_after"], now) > int(settings["tls_renew_days"]) * 86400, "due for renewal"),
        (info["issuer_common_name"] == settings["tls_ca_common_name"], "another issuer"),
        (info["subject_common_name"] == settings["tls_server_names"][0], "another common name"),
        (sorted(info["subject_alt_name"] or []) == sorted(subject_alt_names(settings)), "other names"),
        (info["public_key_type"] == settings["tls_key_type"], "another key type"),
        (settings["tls_key_type"] != "RSA" or info["public_key_size"] == int(settings["tls_rsa_key_size"]),
         "another key size"),
    )
    for good, reason in checks:
        if not good:
            return reason
    chain = files.get("%s/%s-%s.pem" % (directory, kind, stamp(info["not_before"])))
    if chain is None:
        return "no chain file"
    expected = files.get("%s/%s.key" % (directory, kind)).rstrip() + b"\n" + files.get("%s/%s.crt" % (directory, kind)).rstrip()
    if chain.rstrip() != expected:
        return "the chain file does not hold the key and certificate"
    return None


def host_files(settings):
    """The files the role installs on the host, with their source on the control node and
    mode ([] until the role has published the server's chain file)."""
    published = settings.get("published") or {}
    if not (published.get("server") or {}).get("source"):
        return []
    files = [{"path": settings["tls_host_dir"] + "/ca.pem", "source": ca_certificate_source(settings), "mode": "0644"}]
    for kind in KINDS:
        chain = published.get(kind) or {}
        if chain.get("source"):
            files.append({"path": chain["file"], "source": chain["source"], "mode": "0600"})
    if settings.get("tls_ca_key_on_hosts") and settings["tls_ca_mode"] == "private":
        files.append({"path": settings["tls_host_dir"] + "/ca.key", "source": ca_paths(settings)[0], "mode": "0600"})
    return files


def preview_message(settings, files):
    """What a real run would make on the control node, said by a preview (check mode)."""
    make_ca = "" if files.get(ca_paths(settings)[1]) is not None else (
        "create the private CA in %s/ca, then " % settings["tls_controller_dir"])
    return ("Check mode: a real run would %sissue the %s certificate for %s in %s, valid %s days."
            % (make_ca, " and ".join(kinds(settings)), ", ".join(settings["tls_server_names"]), host_dir(settings),
               settings["tls_certificate_valid_days"]))


def desired_state(settings, files, now, check_mode=False):
    """Everything the tls role decides; see the module docstring. `now` is an aware datetime."""
    kinds_ = kinds(settings)
    reason = stale_reason(settings, files, now)
    issued = {}
    if reason is None:
        for kind in kinds_:
            issued[kind] = published_facts(settings, kind, certificate_info(files.get("%s/%s.crt" % (host_dir(settings), kind))))
    current = {}
    for kind in kinds_:
        data = files.get("%s/%s.crt" % (host_dir(settings), kind))
        current[kind] = certificate_info(data) if data is not None else None
    installed = host_files(settings)
    spec, secrets = None, {}
    # Until every file to install exists on the control node (a preview), there is nothing to compare.
    if installed and all(files.get(item["source"]) is not None for item in installed):
        spec = {"files": []}
        for item in installed:
            entry = {"path": item["path"], "mode": item["mode"], "owner": "root", "group": "root"}
            data = files.get(item["source"])
            digest = hashlib.sha256(data).hexdigest()
            if item["mode"] == "0600":
                entry["secret"] = True
                secrets[item["path"]] = digest
            else:
                entry["sha256"] = digest
            spec["files"].append(entry)
    return {
        "kinds": kinds_,
        "controller_host_dir": host_dir(settings),
        "ca_certificate_source": ca_certificate_source(settings),
        "subject_alt_names": subject_alt_names(settings),
        "fresh": reason is None,
        "stale_reason": reason,
        "issued": issued,
        "renewal_due": {kind: renewal_due(settings, current[kind], now) for kind in kinds_},
        "host_files": installed,
        # In check mode, files a real run would make on the control node first (nothing to compare yet).
        "missing_sources": [item["source"] for item in installed if files.get(item["source"]) is None] if check_mode else [],
        "preview_message": preview_message(settings, files),
        "drift_spec": spec,
        "secret_digests": secrets,
    }


def chain_files_to_prune(directory, names, keep, named):
    """The chain files in `directory` (whose entries are `names`) that may go: of this role's
    naming pattern, not among `keep` (the chain files the role published in this run), and
    not named by any file a daemon reads (`named`: chain file name to the files that name it).
    Nothing goes while `keep` names no chain file in `directory`: the run did not publish the
    current ones, so which are earlier is unknown."""
    keep_names = {path.rsplit("/", 1)[-1] for path in keep if path.rsplit("/", 1)[0] == directory.rstrip("/")}
    if not any(CHAIN_FILE.match(name) for name in keep_names):
        return []
    return sorted(name for name in names if CHAIN_FILE.match(name) and name not in keep_names and not named.get(name))
