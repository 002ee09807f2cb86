"""Logic tests of plugins/module_utils/_maincf_values.py: the values `postconf -n` accepts
but Postfix's daemons reject. Only temporary files, no Postfix."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".cache" / "collections"))

from ansible_collections.postmaster.mail.plugins.module_utils._maincf import MainCfError  # noqa: E402
from ansible_collections.postmaster.mail.plugins.module_utils._maincf_values import check_values  # noqa: E402

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
