"""Pure-logic tests of plugins/module_utils/_tls_policy.py: no Postfix, no files."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# See tests/unit/test_maincf.py for why sys.path is set here and not in a conftest.py.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".cache" / "collections"))

from ansible_collections.postmaster.mail.plugins.module_utils._tls_policy import (  # noqa: E402
    LEVELS,
    TlsPolicyError,
    check_destination,
    digest_warnings,
    policy_entries,
    render_policy,
)

SHA256 = ":".join(["AB"] * 32)
SHA256_LOWER = ":".join(["0f"] * 32)
MD5 = ":".join(["C1"] * 16)
SHA1 = ":".join(["5E"] * 20)


def policy(level="secure", destination="example.org", **attributes):
    return dict(attributes, destination=destination, level=level)


# --- destinations -------------------------------------------------------------------------

@pytest.mark.parametrize("destination", [
    "example.org", "EXAMPLE.org", ".example.org", "localhost", "mail_1.example.org", "xn--bcher-kva.example",
    "[mail.example.org]", "[mail.example.org]:587", "[mail.example.org]:submission", "example.org:25",
    "[192.0.2.1]", "[192.0.2.1]:25", "[2001:db8::1]", "[ipv6:2001:db8::1]:25",
])
def test_destinations_accepted(destination):
    check_destination(destination)


@pytest.mark.parametrize("destination, fragment", [
    ("", "has no destination"),
    (None, "has no destination"),
    ("example org", "is not a valid next-hop"),
    ("-example.org", "is not a valid next-hop"),
    ("example..org", "is not a valid next-hop"),
    ("..example.org", "is not a valid next-hop"),
    ("user@example.org", "is not a valid next-hop"),
    (".example.org:25", "is not a valid next-hop"),
    ("192.0.2.1", "write an IP address in brackets, as [192.0.2.1]"),
    ("192.0.2.1:25", "as [192.0.2.1]:25"),
    ("[mail.example.org", "bracket is not closed"),
    ("[mail.example.org]x", "has text after it"),
    ("[mail example]", "is neither a host name nor an IP address"),
    ("[.example.org]", "is neither a host name"),
    ("[mail.example.org]:0", "invalid port '0'"),
    ("[mail.example.org]:65536", "invalid port '65536'"),
    ("[mail.example.org]:", "invalid port ''"),
    ("example.org:2x5", "invalid port"),
    ("example.org:25:26", "invalid port '25:26'"),
])
def test_destinations_refused(destination, fragment):
    with pytest.raises(TlsPolicyError) as info:
        check_destination(destination)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


# --- accepted policies and their table values ---------------------------------------------

@pytest.mark.parametrize("given, value", [
    (policy("none"), "none"),
    (policy("may"), "may"),
    (policy("may", ciphers="medium", exclude=["aNULL", "RC4"], protocols="!SSLv2:!SSLv3"),
     "may protocols=!SSLv2:!SSLv3 ciphers=medium exclude=aNULL:RC4"),
    (policy("encrypt", protocols=[">=TLSv1.2"]), "encrypt protocols=>=TLSv1.2"),
    (policy("encrypt", protocols=[">=TLSv1.2", "<=TLSv1.3"]), "encrypt protocols=>=TLSv1.2:<=TLSv1.3"),
    (policy("encrypt", protocols=["TLSv1.2", "TLSv1.3"], ciphers="high"), "encrypt protocols=TLSv1.2:TLSv1.3 ciphers=high"),
    (policy("dane"), "dane"),
    (policy("dane-only", protocols=["!SSLv2", "!SSLv3"], connection_reuse=True),
     "dane-only protocols=!SSLv2:!SSLv3 connection_reuse=yes"),
    (policy("fingerprint", match=[SHA256]), "fingerprint match=" + SHA256),
    (policy("fingerprint", match=[SHA256, SHA256_LOWER]), "fingerprint match=%s|%s" % (SHA256, SHA256_LOWER)),
    (policy("fingerprint", match="%s|%s" % (MD5, MD5)), "fingerprint match=%s|%s" % (MD5, MD5)),
    (policy("fingerprint", match=[SHA1]), "fingerprint match=" + SHA1),
    (policy("fingerprint"), "fingerprint"),
    (policy("verify", match=["nexthop", "dot-nexthop"], ciphers="high"), "verify match=nexthop:dot-nexthop ciphers=high"),
    (policy("verify", match="hostname:.example.org"), "verify match=hostname:.example.org"),
    (policy("secure", match=["nexthop:dot-nexthop"], protocols=["!SSLv2", "!SSLv3"], ciphers="high"),
     "secure match=nexthop:dot-nexthop protocols=!SSLv2:!SSLv3 ciphers=high"),
    (policy("secure", match=["mail.example.org", ".example.net"], tafile="/etc/postfix/ta.pem",
            servername="mail.example.org", connection_reuse=False, exclude="aNULL:eNULL", ciphers="null"),
     "secure match=mail.example.org:.example.net ciphers=null exclude=aNULL:eNULL tafile=/etc/postfix/ta.pem "
     "servername=mail.example.org connection_reuse=no"),
    (policy("encrypt", servername="hostname"), "encrypt servername=hostname"),
    (policy("may", match=None, tafile="", protocols=[]), "may"),
])
def test_render_policy(given, value):
    assert render_policy(given, dnssec_available=True, postfix_version=(3, 7, 11)) == value


def test_policy_entries_keep_the_order_given():
    policies = [policy("secure", "b.example"), policy("may", ".a.example"), policy("none", "[c.example]:25")]
    assert policy_entries(policies) == [("b.example", "secure"), (".a.example", "may"), ("[c.example]:25", "none")]


def test_dane_with_dnssec_in_main_cf():
    assert render_policy(policy("dane"), dns_support_level="dnssec") == "dane"
    assert render_policy(policy("dane-only"), dnssec_available=True, dns_support_level="") == "dane-only"


def test_range_protocols_without_version_check():
    assert render_policy(policy("encrypt", protocols=">=TLSv1.2")) == "encrypt protocols=>=TLSv1.2"


# --- refused policies: one line each, saying what to fix ------------------------------------

@pytest.mark.parametrize("policies, fragments", [
    pytest.param([policy("strict")], ["invalid level 'strict'", "use one of none, may"], id="level-unknown"),
    pytest.param([policy("export")], ["invalid level 'export'"], id="level-export"),
    pytest.param([policy("Secure")], ["invalid level 'Secure'"], id="level-case"),
    pytest.param([policy(None)], ["invalid level None"], id="level-missing"),
    pytest.param([policy("encrypt", match=["nexthop"])],
                 ["match does not work with level encrypt, only with fingerprint, verify, secure"], id="match-encrypt"),
    pytest.param([policy("may", match=["nexthop"])], ["match does not work with level may"], id="match-may"),
    pytest.param([policy("dane", match=["nexthop"])], ["match does not work with level dane"], id="match-dane"),
    pytest.param([policy("dane-only", match=[SHA256])], ["match does not work with level dane-only"],
                 id="match-dane-only"),
    pytest.param([policy("none", match=["nexthop"])], ["level none turns TLS off", "remove match"], id="match-none"),
    pytest.param([policy("none", ciphers="high")], ["level none", "remove ciphers"], id="ciphers-none"),
    pytest.param([policy("encrypt", tafile="/etc/ta.pem")],
                 ["tafile does not work with level encrypt, only with verify, secure"], id="tafile-encrypt"),
    pytest.param([policy("dane", tafile="/etc/ta.pem")], ["tafile does not work with level dane"], id="tafile-dane"),
    pytest.param([policy("fingerprint", tafile="/etc/ta.pem")], ["tafile does not work with level fingerprint"],
                 id="tafile-fingerprint"),
    pytest.param([policy("secure", tafile="ta.pem")], ["tafile 'ta.pem' is relative"], id="tafile-relative"),
    pytest.param([policy("secure", tafile="/etc/my ta.pem")], ["white space"], id="tafile-space"),
    pytest.param([policy("fingerprint", match=["AB:CD"])], ["has 2 bytes", "32 (sha256)", "16 (md5)"],
                 id="fingerprint-short"),
    pytest.param([policy("fingerprint", match=[SHA256 + ":AB"])], ["has 33 bytes"], id="fingerprint-long"),
    pytest.param([policy("fingerprint", match=[SHA256.replace(":", "")])], ["not hex byte pairs separated by ':'"],
                 id="fingerprint-no-colons"),
    pytest.param([policy("fingerprint", match=[SHA256.replace("AB", "GG", 1)])], ["not hex byte pairs"],
                 id="fingerprint-not-hex"),
    pytest.param([policy("fingerprint", match=[SHA256.replace(":", "-")])], ["not hex byte pairs"],
                 id="fingerprint-dashes"),
    pytest.param([policy("fingerprint", match=[SHA256, MD5])], ["different lengths (16, 32 bytes)", "same digest"],
                 id="fingerprint-mixed-digests"),
    pytest.param([policy("verify", match=["nexthop", "*.example.org"])],
                 ["match '*.example.org' is neither a host name pattern", "nexthop, dot-nexthop, hostname"],
                 id="match-wildcard"),
    pytest.param([policy("verify", match=["next hop"])], ["white space"], id="match-space"),
    pytest.param([policy("secure", match=["nexthop::dot-nexthop"])], ["match has an empty item"], id="match-empty-item"),
    pytest.param([policy("secure", match=[SHA256])], ["is a fingerprint, which level secure reads as host names",
                                                      "use level fingerprint"], id="fingerprint-with-secure"),
    pytest.param([policy("encrypt", protocols=["TLSv1.4"])], ["protocols has 'TLSv1.4'", "TLSv1.3"], id="protocol-unknown"),
    pytest.param([policy("encrypt", protocols=["tlsv1.2"])], ["protocols has 'tlsv1.2'"], id="protocol-case"),
    pytest.param([policy("encrypt", protocols=["=>TLSv1.2"])], ["protocols has '=>TLSv1.2'"], id="protocol-operator"),
    pytest.param([policy("encrypt", protocols=["!SSLv2 !SSLv3"])], ["white space"], id="protocols-space"),
    pytest.param([policy("encrypt", protocols=["!SSLv2,!SSLv3"])], ["a comma"], id="protocols-comma"),
    pytest.param([policy("encrypt", ciphers="strong")], ["invalid ciphers 'strong'", "export, low, medium, high, null"],
                 id="ciphers-unknown"),
    pytest.param([policy("encrypt", ciphers="HIGH")], ["invalid ciphers 'HIGH'"], id="ciphers-case"),
    pytest.param([policy("encrypt", exclude=["aNULL RC4"])], ["exclude 'aNULL RC4' has white space"], id="exclude-space"),
    pytest.param([policy("encrypt", exclude=["{aNULL}"])], ["a brace"], id="exclude-brace"),
    pytest.param([policy("encrypt", exclude=[3])], ["is not a string"], id="exclude-number"),
    pytest.param([policy("encrypt", servername="not a name")], ["white space"], id="servername-space"),
    pytest.param([policy("encrypt", servername="-bad-")], ["servername '-bad-' is not a host name"],
                 id="servername-invalid"),
    pytest.param([policy("encrypt", connection_reuse="yes")], ["connection_reuse must be true or false"],
                 id="connection-reuse-string"),
    pytest.param([policy("encrypt", cipher="high")], ["unknown setting cipher"], id="unknown-setting"),
    pytest.param([policy("secure", "example.org"), policy("may", "Example.ORG")],
                 ["destination Example.ORG has two policies"], id="duplicate-destination"),
    pytest.param([policy("secure", "mail example")], ["'mail example' is not a valid next-hop"], id="bad-destination"),
    pytest.param(["secure"], ["each policy must be a dictionary"], id="policy-string"),
    pytest.param("secure", ["policies must be a list"], id="policies-string"),
])
def test_bad_policies_fail_in_one_line(policies, fragments):
    with pytest.raises(TlsPolicyError) as info:
        policy_entries(policies, dnssec_available=True, postfix_version=(3, 7, 11))
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message


@pytest.mark.parametrize("level", ["dane", "dane-only"])
@pytest.mark.parametrize("dns_support_level", [None, "", "enabled", "disabled"])
def test_dane_needs_dnssec(level, dns_support_level):
    with pytest.raises(TlsPolicyError) as info:
        render_policy(policy(level), dnssec_available=False, dns_support_level=dns_support_level)
    assert "level %s needs DNSSEC, but smtp_dns_support_level is %r" % (level, dns_support_level or "") in str(info.value)
    assert "smtp_dns_support_level = dnssec" in str(info.value) and "dnssec_available: true" in str(info.value)


@pytest.mark.parametrize("level", sorted(set(LEVELS) - {"dane", "dane-only"}))
def test_other_levels_need_no_dnssec(level):
    render_policy(policy(level), dnssec_available=False, dns_support_level="disabled")


@pytest.mark.parametrize("protocols", [">=TLSv1.2", "<=TLSv1.3", "!SSLv2:>=TLSv1"])
def test_protocol_ranges_need_postfix_3_6(protocols):
    with pytest.raises(TlsPolicyError) as info:
        render_policy(policy("encrypt", protocols=protocols), postfix_version=(3, 5, 25))
    assert "needs Postfix 3.6 or later, this host has 3.5.25" in str(info.value)
    assert "!SSLv2:!SSLv3:!TLSv1:!TLSv1.1" in str(info.value)
    assert render_policy(policy("encrypt", protocols=protocols), postfix_version=(3, 6, 0))


# --- fingerprint digests --------------------------------------------------------------------

def test_digest_warnings():
    policies = [policy("fingerprint", "a.example", match=[MD5]), policy("fingerprint", "b.example", match=[SHA256]),
                policy("fingerprint", "c.example"), policy("secure", "d.example", match=["nexthop"])]
    warnings = digest_warnings(policies, "sha256")
    assert len(warnings) == 1
    assert warnings[0].startswith("policy for a.example: the fingerprints have 16 bytes (md5)")
    assert "set smtp_tls_fingerprint_digest = md5 or give sha256 fingerprints" in warnings[0]
    assert digest_warnings(policies[:1], "md5") == []
    assert len(digest_warnings(policies, "md5")) == 1
