"""Pure-logic tests of plugins/module_utils/_tls_model.py (the tls role's model), without
containers: a throwaway CA and certificates made with `cryptography`, then one case per way
the issued certificates can stop fitting the settings, the renewal window, the files the
role installs and the drift check's spec (key digests only among the secrets)."""

from __future__ import annotations

import datetime
import hashlib
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

# See tests/unit/test_maincf.py for why sys.path is set here and not in a conftest.py.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".cache" / "collections"))

from ansible_collections.postmaster.mail.plugins.module_utils._tls_model import (  # noqa: E402
    certificate_info,
)
from ansible_collections.postmaster.mail.plugins.module_utils._tls_model import desired_state as model  # noqa: E402

NOW = datetime.datetime(2026, 6, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)
PKI = "/pki"
HOST_DIR = PKI + "/hosts/mail"
CA_NAME = "postmaster.mail private CA"
NAMES = ["mail.example.org", "smtp.example.org", "192.0.2.25"]


class ControllerFiles(object):
    """Files as the filter gives them: get() only."""

    def __init__(self, files):
        self.get = files.get


def desired_state(settings_, files, now, check_mode=False):
    return model(settings_, ControllerFiles(files), now, check_mode=check_mode)


def settings(**changes):
    base = {
        "host": "mail", "published": {}, "tls_ca_mode": "private", "tls_controller_dir": PKI,
        "tls_ca_common_name": CA_NAME, "tls_ca_key_on_hosts": False, "tls_server_names": NAMES,
        "tls_client_certificate_enabled": False, "tls_key_type": "ECC", "tls_rsa_key_size": 2048,
        "tls_certificate_valid_days": 365, "tls_renew_days": 30, "tls_force_renewal": False,
        "tls_supplied_ca_certificate": None, "tls_host_dir": "/etc/postfix/tls",
    }
    base.update(changes)
    return base


def pem_key(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def sign(subject_key, subject, issuer_key, issuer, not_before, not_after, alt_names=None):
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
               .public_key(subject_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(not_before).not_valid_after(not_after))
    if alt_names is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
    return builder.sign(issuer_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def san(names):
    import ipaddress

    result = []
    for entry in names:
        try:
            result.append(x509.IPAddress(ipaddress.ip_address(entry)))
        except ValueError:
            result.append(x509.DNSName(entry))
    return result


_CA_KEY = ec.generate_private_key(ec.SECP384R1())
_KEYS = {"ECC": ec.generate_private_key(ec.SECP256R1())}


def key_of(key_type, size=2048):
    if key_type == "RSA":
        _KEYS.setdefault(("RSA", size), rsa.generate_private_key(public_exponent=65537, key_size=size))
        return _KEYS[("RSA", size)]
    return _KEYS["ECC"]


def pki(kinds=("server",), ca_name=CA_NAME, ca_days=3650, cert_days=365, age_days=0, names=tuple(NAMES), key_type="ECC",
        key_size=2048, chain="good"):
    """The control node's files, as the role leaves them after issuing `kinds`."""
    start = NOW - datetime.timedelta(days=age_days)
    files = {PKI + "/ca/ca.key": pem_key(_CA_KEY),
             PKI + "/ca/ca.crt": sign(_CA_KEY, name(ca_name), _CA_KEY, name(ca_name), start - datetime.timedelta(days=1),
                                      start + datetime.timedelta(days=ca_days))}
    for kind in kinds:
        key = key_of(key_type, key_size)
        crt = sign(key, name(names[0]), _CA_KEY, name(ca_name), start, start + datetime.timedelta(days=cert_days),
                   san(names))
        files["%s/%s.key" % (HOST_DIR, kind)] = pem_key(key)
        files["%s/%s.crt" % (HOST_DIR, kind)] = crt
        stamp = start.strftime("%Y%m%d-%H%M%S")
        if chain == "good":
            files["%s/%s-%s.pem" % (HOST_DIR, kind, stamp)] = pem_key(key).rstrip() + b"\n" + crt.rstrip() + b"\n"
        elif chain == "other":
            files["%s/%s-%s.pem" % (HOST_DIR, kind, stamp)] = crt
    return files


# (case, settings changes, pki() arguments, expected fresh, expected stale reason fragment)
FRESH_CASES = [
    ("fresh", {}, {}, True, None),
    ("fresh with client certificate", {"tls_client_certificate_enabled": True}, {"kinds": ("server", "client")},
     True, None),
    ("client certificate switched on", {"tls_client_certificate_enabled": True}, {}, False, "missing"),
    ("client certificate switched off", {}, {"kinds": ("server", "client")}, True, None),
    ("expired CA", {}, {"ca_days": 0, "age_days": 1}, False, "CA certificate has expired"),
    ("another CA name", {"tls_ca_common_name": "Other CA"}, {}, False, "not the CA named"),
    ("no CA", {}, {"ca_name": CA_NAME}, True, None),
    ("inside the renewal window", {}, {"cert_days": 365, "age_days": 340}, False, "due for renewal"),
    ("one day before the renewal window", {}, {"cert_days": 365, "age_days": 334}, True, None),
    ("SAN order does not matter", {"tls_server_names": [NAMES[0], NAMES[2], NAMES[1]]}, {}, True, None),
    ("another name", {"tls_server_names": NAMES + ["new.example.org"]}, {}, False, "other names"),
    ("another common name", {"tls_server_names": [NAMES[1], NAMES[0], NAMES[2]]}, {}, False, "another common name"),
    ("key type changed", {"tls_key_type": "RSA"}, {}, False, "another key type"),
    ("RSA", {"tls_key_type": "RSA"}, {"key_type": "RSA"}, True, None),
    ("RSA size changed", {"tls_key_type": "RSA", "tls_rsa_key_size": 3072}, {"key_type": "RSA"}, False,
     "another key size"),
    ("missing chain file", {}, {"chain": "none"}, False, "no chain file"),
    ("chain file content mismatch", {}, {"chain": "other"}, False, "does not hold the key"),
    ("supplied mode", {"tls_ca_mode": "supplied"}, {}, False, "supplied"),
    ("force renewal", {"tls_force_renewal": True}, {}, False, "tls_force_renewal"),
]


@pytest.mark.parametrize("changes, arguments, fresh, reason", [case[1:] for case in FRESH_CASES],
                         ids=[case[0] for case in FRESH_CASES])
def test_fresh(changes, arguments, fresh, reason):
    state = desired_state(settings(**changes), pki(**arguments), NOW)
    assert state["fresh"] is fresh, state["stale_reason"]
    if reason:
        assert reason in state["stale_reason"]
        assert state["issued"] == {}
    else:
        assert state["stale_reason"] is None
        assert list(state["issued"]) == state["kinds"]


def test_missing_ca_key_is_not_fresh():
    files = pki()
    del files[PKI + "/ca/ca.key"]
    assert "missing /pki/ca/ca.key" in desired_state(settings(), files, NOW)["stale_reason"]


def test_issued_facts():
    files = pki()
    info = certificate_info(files[HOST_DIR + "/server.crt"])
    server = desired_state(settings(), files, NOW)["issued"]["server"]
    stamp = NOW.strftime("%Y%m%d-%H%M%S")
    spki = x509.load_pem_x509_certificate(files[HOST_DIR + "/server.crt"]).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert server == {
        "chain_file": "/etc/postfix/tls/server-%s.pem" % stamp,
        "chain_source": "%s/server-%s.pem" % (HOST_DIR, stamp),
        "not_after": (NOW + datetime.timedelta(days=365)).strftime("%Y%m%d%H%M%SZ"),
        "certificate_sha256": info["certificate_sha256"].upper(),
        "public_key_sha256": info["public_key_sha256"].upper(),
        "tlsa_record": "3 1 1 " + hashlib.sha256(spki).hexdigest(),
    }


def test_certificate_info_agrees_with_community_crypto():
    """The facts are those the slow path reads with community.crypto's x509_certificate_info."""
    filters = pytest.importorskip("ansible_collections.community.crypto.plugins.filter.x509_certificate_info")
    for key_type in ("ECC", "RSA"):
        data = pki(key_type=key_type)[HOST_DIR + "/server.crt"]
        theirs = filters.x509_certificate_info_filter(data.decode())
        ours = certificate_info(data)
        assert ours["not_before"] == theirs["not_before"]
        assert ours["not_after"] == theirs["not_after"]
        assert ours["subject_common_name"] == theirs["subject"]["commonName"]
        assert ours["issuer_common_name"] == theirs["issuer"]["commonName"]
        assert ours["subject_alt_name"] == theirs["subject_alt_name"]
        assert ours["public_key_type"] == theirs["public_key_type"].upper()
        if key_type == "RSA":
            assert ours["public_key_size"] == theirs["public_key_data"]["size"]
        assert ours["certificate_sha256"] == theirs["fingerprints"]["sha256"]
        assert ours["public_key_sha256"] == theirs["public_key_fingerprints"]["sha256"]


def test_subject_alt_names_dns_first():
    state = desired_state(settings(tls_server_names=["192.0.2.25", "mail.example.org", "2001:db8::25"]), {}, NOW)
    assert state["subject_alt_names"] == ["DNS:mail.example.org", "IP:192.0.2.25", "IP:2001:db8::25"]


# (case, settings changes, pki() arguments, renewal due by kind)
RENEWAL_CASES = [
    ("valid", {}, {}, {"server": False}),
    ("no certificate yet", {}, {"kinds": ()}, {"server": True}),
    ("inside the renewal window", {}, {"age_days": 340}, {"server": True}),
    ("force renewal", {"tls_force_renewal": True}, {}, {"server": True}),
    ("client certificate new", {"tls_client_certificate_enabled": True}, {}, {"server": False, "client": True}),
]


@pytest.mark.parametrize("changes, arguments, due", [case[1:] for case in RENEWAL_CASES],
                         ids=[case[0] for case in RENEWAL_CASES])
def test_renewal_due(changes, arguments, due):
    assert desired_state(settings(**changes), pki(**arguments), NOW)["renewal_due"] == due


def published(files, *kinds):
    stamp = NOW.strftime("%Y%m%d-%H%M%S")
    return {kind: {"file": "/etc/postfix/tls/%s-%s.pem" % (kind, stamp), "source": "%s/%s-%s.pem" % (HOST_DIR, kind, stamp)}
            for kind in kinds}


def test_nothing_to_install_before_the_chain_files_are_published():
    state = desired_state(settings(), pki(), NOW)
    assert (state["host_files"], state["drift_spec"], state["secret_digests"]) == ([], None, {})


@pytest.mark.parametrize("client, key_on_hosts", [(False, False), (True, False), (True, True)])
def test_host_files_and_drift_spec(client, key_on_hosts):
    kinds = ("server", "client") if client else ("server",)
    files = pki(kinds=kinds)
    state = desired_state(settings(tls_client_certificate_enabled=client, tls_ca_key_on_hosts=key_on_hosts,
                                   published=published(files, *kinds)), files, NOW)
    paths = ["/etc/postfix/tls/ca.pem"] + [entry["file"] for entry in published(files, *kinds).values()]
    paths += ["/etc/postfix/tls/ca.key"] if key_on_hosts else []
    assert [item["path"] for item in state["host_files"]] == paths
    spec = state["drift_spec"]["files"]
    assert spec[0] == {"path": "/etc/postfix/tls/ca.pem", "mode": "0644", "owner": "root", "group": "root",
                       "sha256": hashlib.sha256(files[PKI + "/ca/ca.crt"]).hexdigest()}
    for entry, item in zip(spec[1:], state["host_files"][1:]):
        assert entry == {"path": item["path"], "mode": "0600", "owner": "root", "group": "root", "secret": True}
    # No digest of a key anywhere in the logged spec; each is among the no_log secrets.
    assert state["secret_digests"] == {item["path"]: hashlib.sha256(files[item["source"]]).hexdigest()
                                       for item in state["host_files"][1:]}
    assert not set(state["secret_digests"].values()) & set(str(spec).split("'"))


def test_supplied_ca_certificate_installed():
    files = pki()
    files["/own/root.crt"] = files[PKI + "/ca/ca.crt"]
    state = desired_state(settings(tls_ca_mode="supplied", tls_supplied_ca_certificate="/own/root.crt",
                                   tls_ca_key_on_hosts=True, published=published(files, "server")), files, NOW)
    assert state["host_files"][0]["source"] == "/own/root.crt"
    assert [item["path"] for item in state["host_files"]][-1] != "/etc/postfix/tls/ca.key"


def test_preview_lists_files_not_made_yet():
    files = {}
    state = desired_state(settings(published=published(files, "server")), files, NOW, check_mode=True)
    assert state["missing_sources"] == [PKI + "/ca/ca.crt", published(files, "server")["server"]["source"]]
    assert state["drift_spec"] is None
    assert state["preview_message"].startswith("Check mode: a real run would create the private CA in /pki/ca, "
                                               "then issue the server certificate for mail.example.org")
    assert desired_state(settings(), pki(), NOW, check_mode=True)["missing_sources"] == []
    assert "create the private CA" not in desired_state(settings(), pki(), NOW)["preview_message"]


# --- The "prune" entry point: which earlier chain files go -----------------------------------

OLD, NEWER, CURRENT = "server-20250101-000000.pem", "server-20250601-000000.pem", "server-20260601-120000.pem"
ENTRIES = [OLD, NEWER, CURRENT, "client-20250101-000000.pem", "ca.pem", "ca.key", "server-2025.pem", "notes.txt"]
# (case, keep, files naming each chain file, expected removals)
PRUNE_CASES = [
    ("earlier files go", ["/etc/postfix/tls/" + CURRENT], {},
     ["client-20250101-000000.pem", OLD, NEWER]),
    ("a file a reader names stays", ["/etc/postfix/tls/" + CURRENT], {NEWER: ["/etc/postfix/main.cf"]},
     ["client-20250101-000000.pem", OLD]),
    ("the current client file stays", ["/etc/postfix/tls/ca.pem", "/etc/postfix/tls/" + CURRENT,
                                       "/etc/postfix/tls/client-20250101-000000.pem"], {}, [OLD, NEWER]),
    ("nothing current, nothing goes", ["/etc/postfix/tls/ca.pem"], {}, []),
    ("current elsewhere, nothing goes", ["/srv/tls/" + CURRENT], {}, []),
    ("trailing slash", ["/etc/postfix/tls/" + CURRENT], {OLD: ["x"], NEWER: ["y"]}, ["client-20250101-000000.pem"]),
]


@pytest.mark.parametrize("keep, named, removed", [case[1:] for case in PRUNE_CASES], ids=[case[0] for case in PRUNE_CASES])
def test_chain_files_to_prune(keep, named, removed):
    from ansible_collections.postmaster.mail.plugins.module_utils._tls_model import chain_files_to_prune

    assert chain_files_to_prune("/etc/postfix/tls/", ENTRIES, keep, named) == removed


def test_prune_readers_name_files(tmp_path):
    """A name in main.cf, in a hidden rollback copy or in stunnel's configuration keeps its file;
    a symbolic link is not followed; a missing reader is skipped."""
    from ansible_collections.postmaster.mail.plugins.modules.tls_prune import naming_files

    (tmp_path / "postfix" / ".postmaster-rollback").mkdir(parents=True)
    (tmp_path / "postfix" / "main.cf").write_text("smtpd_tls_chain_files = /etc/postfix/tls/%s\n" % CURRENT)
    (tmp_path / "postfix" / ".postmaster-rollback" / "main.cf").write_bytes(
        b"# \xe9\nsmtpd_tls_chain_files = /etc/postfix/tls/" + NEWER.encode() + b"\n")
    (tmp_path / "outside").write_text(OLD)
    (tmp_path / "postfix" / "link").symlink_to(tmp_path / "outside")
    (tmp_path / "stunnel.conf").write_text("cert = /etc/postfix/tls/client-20250101-000000.pem\n")
    named = naming_files([str(tmp_path / "postfix"), str(tmp_path / "stunnel.conf"), str(tmp_path / "none")],
                         [OLD, NEWER, CURRENT, "client-20250101-000000.pem"])
    assert named == {OLD: [], NEWER: [str(tmp_path / "postfix" / ".postmaster-rollback" / "main.cf")],
                     CURRENT: [str(tmp_path / "postfix" / "main.cf")],
                     "client-20250101-000000.pem": [str(tmp_path / "stunnel.conf")]}
