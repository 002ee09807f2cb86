"""Logic tests of plugins/module_utils/_maincf/values.py: the values `postconf -n` accepts
but Postfix's daemons reject. Only temporary files, no Postfix."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".cache" / "collections"))

from ansible_collections.postmaster.mail.plugins.module_utils._maincf.text import MainCfError  # noqa: E402
from ansible_collections.postmaster.mail.plugins.module_utils._maincf.values import check_values  # noqa: E402

TYPES = ["hash", "btree", "lmdb", "texthash", "regexp", "cidr", "inline", "static", "unionmap", "proxy", "tcp"]


def types():
    return TYPES


@pytest.fixture
def files(tmp_path):
    (tmp_path / "built.db").write_text("")
    (tmp_path / "regexp").write_text("")
    (tmp_path / "chain.pem").write_text("")
    return tmp_path


@pytest.mark.parametrize("name, value, fragments", [
    ("smtpd_tls_security_level", "tight", ["unknown TLS security level 'tight'", "none, may, encrypt"]),
    ("smtp_tls_security_level", "verified", ["'verified'", "dane-only"]),
    ("smtpd_tls_chain_files", "/no/such/chain.pem", ["smtpd_tls_chain_files", "/no/such/chain.pem does not exist"]),
    ("smtp_tls_CAfile", "/no/such/ca.pem", ["/no/such/ca.pem"]),
    ("transport_maps", "hash:/no/such/file", ["hash:/no/such/file is not built", "/no/such/file.db"]),
    ("virtual_alias_maps", "proxy:lmdb:/no/such/file", ["/no/such/file.lmdb"]),
    ("header_checks", "regexp:/no/such/checks", ["/no/such/checks does not exist"]),
    ("transport_maps", "nosuchtype:/etc/x", ["unknown lookup table type 'nosuchtype'", "hash"]),
])
def test_values_postfix_would_reject(name, value, fragments):
    with pytest.raises(MainCfError) as caught:
        check_values({name: value}, types)
    message = str(caught.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message


def test_good_values_pass(files):
    check_values({
        "smtpd_tls_security_level": "may",
        "smtp_tls_security_level": "dane",
        "smtpd_tls_chain_files": "%s, %s" % (files / "chain.pem", files / "chain.pem"),
        "transport_maps": "hash:%s, regexp:%s" % (files / "built", files / "regexp"),
        "virtual_alias_maps": "inline:{ a=b }, static:x, tcp:localhost:1234",
        "smtp_sasl_password_maps": "hash:$config_directory/sasl",  # $names are left to Postfix
        "relayhost": None,
    }, types)


def test_only_changed_values_are_checked_and_types_are_read_lazily():
    calls = []
    check_values({"myhostname": "mail.example.org", "smtpd_tls_chain_files": "relative.pem"},
                 lambda: calls.append(1) or TYPES)
    assert calls == []


# --- next hops (relayhost) -------------------------------------------------------------

@pytest.mark.parametrize("value", [
    "mail.example.com", "[mail.example.com]", "[mail.example.com]:587", "mail.example.com:587",
    "mail.example.com:submission", "[mail.example.com]:", "[192.0.2.1]:25", "192.0.2.1", "[2001:db8::1]",
    "[ipv6:2001:db8::1]:25", "[IPv6:::1]", "mail1.example:587, mail2.example:587", "a.example b.example",
    "_srv.example", "m\u00fcller.example", "x-1.example", "$mydomain", "[$relay_host]:$relay_port", "",
])
def test_nexthops_postfix_can_use(value):
    check_values({"relayhost": value}, types)


@pytest.mark.parametrize("value, fragment", [
    ("[mail.example.com:587", "'[' without ']'"),
    ("[mail.example.com", "'[' without ']'"),
    ("mail.example.com]", "']' without '['"),
    ("[mail.example.com]587", "text after ']'"),
    ("[mail.example.com]]:587", "text after ']'"),
    ("mail.example.com:0", "port 0 is not from 1 to 65535"),
    ("[mail.example.com]:65536", "port 65536 is not from 1 to 65535"),
    ("mail.example.com:5x", "'5x' is not a port number or service name"),
    ("mail.example.com:nosuchservice", "unknown service 'nosuchservice'"),
    ("2001:db8::1", "an IPv6 address needs brackets"),
    ("[ipv6:mail.example.com]", "malformed IPv6 address mail.example.com"),
    ("[mail.example.com.]", "'mail.example.com.' is not a host name or address"),
    ("mail..example.com", "is not a host name or address"),
    ("-mail.example.com", "is not a host name or address"),
    ("mail-.example.com", "is not a host name or address"),
    ("mail!.example.com", "is not a host name or address"),
    ("192.0.2", "is not a host name or address"),
    ("[]:25", "'' is not a host name or address"),
    (":25", "'' is not a host name or address"),
    ("%s.example" % ("a" * 64), "is not a host name or address"),
    ("ok.example, [bad.example", "'[bad.example'"),
])
def test_nexthops_postfix_cannot_use(value, fragment):
    for name in ("relayhost", "smtp_fallback_relay"):
        with pytest.raises(MainCfError) as caught:
            check_values({name: value}, types)
        message = str(caught.value)
        assert message.startswith("parameter %s: " % name) and fragment in message, message
        assert "[host]:port" in message and "\n" not in message


# --- compatibility_level ---------------------------------------------------------------

@pytest.mark.parametrize("version, level", [
    ("3.5.25", "0"), ("3.5.25", "2"),
    ("3.7.11", "0"), ("3.7.11", "2"), ("3.7.11", "3.6"), ("3.7.11", "3.7"), ("3.7.11", "3.7.11"), ("3.7.11", "3.6.4"),
    ("3.10.5", "3.10"), ("3.10.5", "3.9"), ("3.10.5", "3.6"),
])
def test_compatibility_levels_this_postfix_has(version, level):
    check_values({"compatibility_level": level}, types, lambda: version)


@pytest.mark.parametrize("version, level, allowed", [
    ("3.5.25", "3", "use 0, 1 or 2 (Postfix 3.5.25)"),
    ("3.5.25", "3.6", "use 0, 1 or 2"),
    ("3.5.25", "2.0", "use 0, 1 or 2"),
    ("3.7.11", "9999", "use 0, 1, 2, or a Postfix version from 3.6 to 3.7.11"),
    ("3.7.11", "3.10", "3.6 to 3.7.11"),
    ("3.7.11", "3.7.12", "3.6 to 3.7.11"),
    ("3.7.11", "3.6.1024", "3.6 to 3.7.11"),
    ("3.10.5", "3.11", "3.6 to 3.10.5"),
    ("3.10.5", "abc", "3.6 to 3.10.5"),
    ("3.10.5", "3.", "3.6 to 3.10.5"),
    ("3.10.5", "-1", "3.6 to 3.10.5"),
    ("3.10.5", "3.6 ", "3.6 to 3.10.5"),
    ("3.10.5", "$compatibility_level", "3.6 to 3.10.5"),
])
def test_compatibility_levels_this_postfix_does_not_have(version, level, allowed):
    with pytest.raises(MainCfError) as caught:
        check_values({"compatibility_level": level}, types, lambda: version)
    message = str(caught.value)
    assert message.startswith("parameter compatibility_level: %r is not a level this Postfix has" % level)
    assert allowed in message


def test_version_is_read_only_for_a_changed_compatibility_level():
    calls = []
    check_values({"relayhost": "[mail.example.com]:587"}, types, lambda: calls.append(1) or "3.7.11")
    assert calls == []
