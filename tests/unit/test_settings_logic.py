"""Pure-logic tests of the roles' settings rules (plugins/module_utils/_postfix_settings.py,
_tls_settings.py) and of the validate_settings action's certificate reading: no Postfix,
no host."""

from __future__ import annotations

import datetime
import sys
from pathlib import Path

import pytest

# See tests/unit/test_maincf.py for why sys.path is set here and not in a conftest.py.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".cache" / "collections"))

from ansible_collections.postmaster.mail.plugins.action.validate_settings import check_tls  # noqa: E402
from ansible_collections.postmaster.mail.plugins.module_utils._postfix_settings import (  # noqa: E402
    SettingsError,
    check_postfix_settings,
)
from ansible_collections.postmaster.mail.plugins.module_utils._tls_settings import (  # noqa: E402
    certificate_dates,
    check_tls_settings,
)

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
POSTFIX_DEFAULTS = {
    "postfix_packages": ["postfix"], "postfix_myhostname": None, "postfix_mydomain": None,
    "postfix_mydestination": ["$myhostname", "localhost.$mydomain", "localhost"],
    "postfix_inet_interfaces": "all", "postfix_mynetworks": ["127.0.0.0/8", "[::1]/128"],
    "postfix_mynetworks_allow_public": False, "postfix_relayhost": "", "postfix_compatibility_level": None,
    "postfix_relay": None, "postfix_tls_protocols": "!SSLv2, !SSLv3",
}
TLS_DEFAULTS = {"tls_ca_mode": "private", "tls_server_names": ["mail.example.org"], "tls_renew_days": 30,
                "tls_certificate_valid_days": 365, "tls_warn_days": 30}


def postfix(**settings):
    return dict(POSTFIX_DEFAULTS, **{"postfix_" + name: value for name, value in settings.items()})


def refused(check, settings, fragments):
    with pytest.raises(SettingsError) as error:
        check(settings)
    message = str(error.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    return message


# --- postfix ------------------------------------------------------------------------------------

@pytest.mark.parametrize("settings", [
    {},
    {"myhostname": "mail.example.org", "mydomain": "example.org", "myorigin": "$mydomain"},
    {"myhostname": "mail.$mydomain"},
    {"myhostname": "localhost"},
    {"compatibility_level": "3.6"}, {"compatibility_level": "2"}, {"compatibility_level": 2},
    {"compatibility_level": "3.10"},
    {"relayhost": "[smtp.example.org]:587"}, {"relayhost": "smtp.example.org"},
    {"relayhost": "mail1.example:587, mail2.example:587"}, {"relayhost": "$mydomain"},
    {"relayhost": "[192.0.2.1]"}, {"relayhost": "[2001:db8::1]:25"}, {"relayhost": "[smtp.example.org]:submission"},
    {"mynetworks": ["127.0.0.0/8", "[::1]/128", "10.0.0.0/8", "192.168.1.0/24", "172.16.0.0/12",
                    "[fe80::]/10", "[fd00::]/8", "169.254.0.0/16", "192.168.1.7"]},
    {"mynetworks": ["!192.0.2.0/24", "hash:/etc/postfix/network_table", "/etc/postfix/networks"]},
    {"mynetworks": ["0.0.0.0/0"], "mynetworks_allow_public": True},
    {"mynetworks": ["8.8.8.0/24", "[2001:4860::]/32"], "mynetworks_allow_public": True},
    {"inet_interfaces": ["127.0.0.1", "192.0.2.25"]}, {"inet_interfaces": "loopback-only"},
    {"relay": {"host": "relay.example.org", "port": 465, "tunnel_port": 10465, "username": "u", "password": "p"}},
    {"relay": {"host": "relay.example.org", "tls_level": "fingerprint", "fingerprints": ["AB:CD"]}},
])
def test_postfix_settings_accepted(settings):
    assert check_postfix_settings(postfix(**settings)) == []


@pytest.mark.parametrize("settings, fragments", [
    ({"myhostname": ["a", "b"]}, ["postfix_myhostname", "not a list", "single value"]),
    ({"mydomain": {"a": 1}}, ["postfix_mydomain", "not a dict"]),
    ({"relayhost": ["a"]}, ["postfix_relayhost", "not a list"]),
    ({"myhostname": "mail example.org"}, ["postfix_myhostname", "'mail example.org'", "not a host"]),
    ({"myhostname": "mail.example.org\nmynetworks = 0.0.0.0/0"}, ["postfix_myhostname", "line break", "\\n"]),
    ({"myorigin": "x\ry"}, ["postfix_myorigin", "control character"]),
    ({"mydomain": "-example.org"}, ["postfix_mydomain", "not a host"]),
    ({"mydestination": "localhost"}, ["postfix_mydestination", "list of strings"]),
    ({"mydestination": ["localhost", 7]}, ["postfix_mydestination", "7", "must be a string"]),
    ({"mydestination": ["local\nhost"]}, ["postfix_mydestination", "line break"]),
    ({"packages": ["postfix\n"]}, ["postfix_packages", "line break"]),
    ({"inet_interfaces": {"a": 1}}, ["postfix_inet_interfaces", "list of strings"]),
    ({"tls_protocols": "!SSLv2\n"}, ["postfix_tls_protocols", "line break"]),
    ({"compatibility_level": "9999"}, ["postfix_compatibility_level", "'9999'", "not a Postfix compatibility level"]),
    ({"compatibility_level": "3.6; x"}, ["postfix_compatibility_level"]),
    ({"compatibility_level": True}, ["postfix_compatibility_level", "boolean"]),
    ({"compatibility_level": 3.1}, ["postfix_compatibility_level", "3.1", "quote"]),
    ({"compatibility_level": ["3.6"]}, ["postfix_compatibility_level", "list"]),
    ({"relayhost": "[mail.example.com:587"}, ["postfix_relayhost", "'[mail.example.com:587'", "bracket",
                                              "[smtp.example.org]:587"]),
    ({"relayhost": "mail.example.com:70000"}, ["postfix_relayhost", "70000"]),
    ({"relayhost": "[mail.example.com]x"}, ["postfix_relayhost", "bracket"]),
    ({"relayhost": "192.0.2.1:25"}, ["postfix_relayhost", "brackets"]),
    ({"relayhost": ".example.com"}, ["postfix_relayhost", "dot"]),
    ({"relayhost": "a.example, b@example"}, ["postfix_relayhost", "'b@example'"]),
    ({"mynetworks": ["0.0.0.0/0"]}, ["postfix_mynetworks", "'0.0.0.0/0'", "open relay",
                                     "postfix_mynetworks_allow_public"]),
    ({"mynetworks": ["127.0.0.0/8", "8.8.8.8"]}, ["postfix_mynetworks", "'8.8.8.8'", "public"]),
    ({"mynetworks": ["[::]/0"]}, ["postfix_mynetworks", "'[::]/0'", "postfix_mynetworks_allow_public"]),
    ({"mynetworks": ["10.0.0.0/7"]}, ["postfix_mynetworks", "'10.0.0.0/7'"]),
    ({"mynetworks": ["[2001:db8::/32"]}, ["postfix_mynetworks", "not a network"]),
    ({"mynetworks": ["::1/128"]}, ["postfix_mynetworks", "brackets"]),
    ({"mynetworks": ["10.0.0.0/33"]}, ["postfix_mynetworks", "not a network"]),
    ({"mynetworks": ["mail.example.org"]}, ["postfix_mynetworks", "not a network"]),
    ({"mynetworks": ["10.0.0.0/8 0.0.0.0/0"]}, ["postfix_mynetworks", "not a network"]),
    ({"relay": {"host": "r.example", "port": 70000}}, ["postfix_relay", "port", "70000"]),
    ({"relay": {"host": "r.example", "tunnel_port": 0}}, ["postfix_relay", "tunnel_port", "0"]),
    ({"relay": {"host": "r.example", "tls_level": "fingerprint"}}, ["postfix_relay", "fingerprints"]),
    ({"relay": {"host": "r.example", "username": "edge"}}, ["postfix_relay", "password"]),
    ({"relay": {"host": "r.example\nx"}}, ["postfix_relay", "host", "line break"]),
])
def test_postfix_settings_refused(settings, fragments):
    refused(check_postfix_settings, postfix(**settings), fragments)


def test_relay_password_is_never_shown():
    message = refused(check_postfix_settings, postfix(relay={"host": "r.example", "password": "Secret\n1"}),
                      ["username and password"])
    assert "Secret" not in message


# --- tls ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("names", [
    ["mail.example.org"], ["mail.example.org", "*.example.org", "192.0.2.25", "2001:db8::25", "localhost"],
    ["xn--bcher-kva.example", "a-b.example", "A.EXAMPLE"],
])
def test_tls_names_accepted(names):
    check_tls_settings(dict(TLS_DEFAULTS, tls_server_names=names))


@pytest.mark.parametrize("names, fragment", [
    (["mail example.org"], "'mail example.org'"), (["mail.example.org\n"], "'mail.example.org\\n'"),
    (["-mail.example.org"], "'-mail.example.org'"), (["mail..example.org"], "'mail..example.org'"),
    (["mail_1.example.org"], "'mail_1.example.org'"), (["*.org"], "'*.org'"), (["a.*.example.org"], "'a.*.example.org'"),
    (["mail.example.org/x"], "mail.example.org/x"), ([""], "''"), (["a" * 64 + ".example"], "aaaa"),
    (["192.0.2.300"], "192.0.2.300"), ([7], "7"), (["mail.example.org", "bad name"], "'bad name'"),
])
def test_tls_names_refused(names, fragment):
    refused(check_tls_settings, dict(TLS_DEFAULTS, tls_server_names=names),
            ["tls_server_names", fragment, "neither a DNS name nor an IP address"])


@pytest.mark.parametrize("settings, fragments", [
    ({"tls_server_names": []}, ["tls_server_names", "non-empty"]),
    ({"tls_server_names": "mail.example.org"}, ["tls_server_names", "list"]),
    ({"tls_renew_days": 400}, ["tls_renew_days", "400", "365"]),
    ({"tls_ca_mode": "supplied", "tls_supplied_ca_certificate": "/ca.pem"},
     ["tls_supplied_server_certificate and tls_supplied_server_key"]),
])
def test_tls_settings_refused(settings, fragments):
    refused(check_tls_settings, dict(TLS_DEFAULTS, **settings), fragments)


def test_expired_certificate_is_refused():
    message = refused(lambda dummy: certificate_dates("tls_supplied_server_certificate", "/pki/mail.crt",
                                                      NOW - datetime.timedelta(days=2), NOW, 30), {},
                      ["tls_supplied_server_certificate", "/pki/mail.crt", "expired on 2026-11-30 12:00 UTC",
                       "renewed certificate"])
    assert message


@pytest.mark.parametrize("days, warned", [(0.5, True), (29, True), (31, False), (400, False)])
def test_certificate_about_to_expire_warns(days, warned):
    warning = certificate_dates("tls_supplied_server_certificate", "/pki/mail.crt",
                                NOW + datetime.timedelta(days=days), NOW, 30)
    assert bool(warning) == warned
    if warned:
        assert "tls_supplied_server_certificate /pki/mail.crt expires on" in warning and "tls_warn_days" in warning


# --- the action's reading of supplied files -----------------------------------------------------

def make_certificate(path, not_before, not_after):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mail.example.org")])
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(not_before)
                   .not_valid_after(not_after).sign(key, hashes.SHA256()))
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return path


def supplied(tmp_path, days_left):
    now = datetime.datetime.now(UTC)
    certificate = make_certificate(tmp_path / "server.crt", now - datetime.timedelta(days=400),
                                   now + datetime.timedelta(days=days_left))
    ca = make_certificate(tmp_path / "ca.crt", now - datetime.timedelta(days=400), now + datetime.timedelta(days=900))
    key = tmp_path / "server.key"
    key.write_text("not read here\n")
    return dict(TLS_DEFAULTS, tls_ca_mode="supplied", tls_supplied_ca_certificate=str(ca),
                tls_supplied_server_certificate=str(certificate), tls_supplied_server_key=str(key),
                tls_supplied_server_intermediates=[])


def test_action_refuses_an_expired_supplied_certificate(tmp_path):
    settings = supplied(tmp_path, -3)
    with pytest.raises(SettingsError, match=r"^tls_supplied_server_certificate .*server\.crt expired on "):
        check_tls(settings)


def test_action_warns_of_a_supplied_certificate_about_to_expire(tmp_path):
    warnings = check_tls(supplied(tmp_path, 10))
    assert len(warnings) == 1 and "tls_supplied_server_certificate" in warnings[0] and "in 9 days" in warnings[0]
    assert check_tls(supplied(tmp_path, 100)) == []


def test_action_names_missing_and_malformed_files(tmp_path):
    settings = dict(supplied(tmp_path, 100), tls_supplied_server_intermediates=[str(tmp_path / "none.pem")])
    with pytest.raises(SettingsError, match="none.pem not found on the control node"):
        check_tls(settings)
    settings = dict(supplied(tmp_path, 100), tls_supplied_server_intermediates=[settings["tls_supplied_server_key"]])
    with pytest.raises(SettingsError, match=r"tls_supplied_server_intermediates\[0\] .* is not a PEM certificate"):
        check_tls(settings)
