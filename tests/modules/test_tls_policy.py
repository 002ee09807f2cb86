"""postmaster.mail.tls_policy against the real postmap(1), with tables in a scratch directory.

Every accepted form is written and read back with `postmap -q`; every refused one
fails in one line and leaves the table as it was (or absent).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import assert_failed, assert_ok, query, run_module

# The filters run on the controller: import them as Ansible does.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".cache" / "collections"))

HEADER = "# Managed by postmaster.mail.tls_policy: changes made here are overwritten.\n"
SHA256 = "6E:BD:4C:48:C0:3E:D1:7D:4E:7C:95:E9:C7:2A:4E:61:1D:C3:A0:45:1B:3F:8D:28:9B:63:E5:64:9C:92:E5:EB"
SHA256_2 = SHA256.lower().replace("6e", "7f", 1)
MD5 = "C1:D2:E3:F4:05:16:27:38:49:5A:6B:7C:8D:9E:AF:B0"

# (policy, what postmap -q returns for its destination)
ACCEPTED = [
    ({"destination": "example.edu", "level": "none"}, "none"),
    ({"destination": "example.mil", "level": "may", "ciphers": "medium", "exclude": ["aNULL", "RC4"]},
     "may ciphers=medium exclude=aNULL:RC4"),
    ({"destination": "example.gov", "level": "encrypt", "protocols": [">=TLSv1.2"]}, "encrypt protocols=>=TLSv1.2"),
    ({"destination": "[legacy.example.gov]", "level": "encrypt", "protocols": "!SSLv2:!SSLv3", "ciphers": "high"},
     "encrypt protocols=!SSLv2:!SSLv3 ciphers=high"),
    ({"destination": "example.com", "level": "verify", "ciphers": "high"}, "verify ciphers=high"),
    ({"destination": "example.net", "level": "secure"}, "secure"),
    ({"destination": ".example.net", "level": "secure", "match": [".example.net", "example.net"]},
     "secure match=.example.net:example.net"),
    ({"destination": "[mail.example.org]:587", "level": "secure", "match": ["nexthop"],
      "protocols": ["!SSLv2", "!SSLv3"], "ciphers": "high"},
     "secure match=nexthop protocols=!SSLv2:!SSLv3 ciphers=high"),
    ({"destination": "partner.example:2525", "level": "verify", "match": ["nexthop:dot-nexthop", "hostname"],
      "tafile": "/etc/postfix/partner-ca.pem", "servername": "hostname", "connection_reuse": True},
     "verify match=nexthop:dot-nexthop:hostname tafile=/etc/postfix/partner-ca.pem servername=hostname "
     "connection_reuse=yes"),
    ({"destination": "[thumb.example.org]", "level": "fingerprint", "match": [SHA256, SHA256_2]},
     "fingerprint match=%s|%s" % (SHA256, SHA256_2)),
    ({"destination": "[192.0.2.25]:25", "level": "fingerprint", "match": [SHA256], "exclude": "aNULL:eNULL"},
     "fingerprint match=%s exclude=aNULL:eNULL" % SHA256),
    ({"destination": "[2001:db8::25]", "level": "may", "connection_reuse": False}, "may connection_reuse=no"),
    ({"destination": "dane.example", "level": "dane"}, "dane"),
    ({"destination": "[mx.dane.example]:25", "level": "dane-only", "protocols": ["<=TLSv1.3", ">=TLSv1.2"]},
     "dane-only protocols=<=TLSv1.3:>=TLSv1.2"),
]
POLICIES = [policy for policy, dummy in ACCEPTED]


def tls_policy(config_dir, path, policies=None, check_mode=False, diff=False, **options):
    args = dict(options, path=str(path), config_dir=str(config_dir))
    if policies is not None:
        args["policies"] = policies
    return run_module("tls_policy", args, check_mode=check_mode, diff=diff)


def set_main_cf(config_dir, text):
    with open(config_dir / "main.cf", "a") as handle:
        handle.write(text)


def files(directory):
    return {path.name: (path.read_bytes(), os.stat(path).st_mtime_ns) for path in sorted(directory.iterdir())}


# --- accepted forms -----------------------------------------------------------------------

@pytest.mark.parametrize("type_", ["hash", "lmdb", "texthash"])
def test_every_accepted_form_is_written_and_found(config_dir, tables, type_):
    path = tables / "tls_policy"
    result = tls_policy(config_dir, path, POLICIES, type=type_, dnssec_available=True)
    assert_ok(result)
    assert result["changed"] is True and result["rebuilt"] is (type_ != "texthash")
    assert result["map_reference"] == "%s:%s" % (type_, path)
    for policy, expected in ACCEPTED:
        assert query(config_dir, policy["destination"], result["map_reference"]) == expected, policy
    assert path.read_text() == HEADER + "".join(
        "%s %s\n" % (policy["destination"], expected) for policy, expected in ACCEPTED)
    assert "tafile /etc/postfix/partner-ca.pem does not exist yet" in str(result.get("warnings"))
    for check_mode in (True, False):
        again = tls_policy(config_dir, path, POLICIES, type=type_, dnssec_available=True, check_mode=check_mode)
        assert again["changed"] is False and again["rebuilt"] is False


def test_default_type_and_diff(config_dir, tables):
    path = tables / "tls_policy"
    policies = [{"destination": "[smtp.example.net]:587", "level": "secure", "match": ["nexthop"]}]
    result = tls_policy(config_dir, path, policies, diff=True, check_mode=True)
    assert_ok(result)
    assert result["type"] == "hash" and result["rebuilt"] is True  # Debian 12's default_database_type
    assert result["diff"] == {"before_header": str(path), "after_header": str(path), "before": "",
                              "after": HEADER + "[smtp.example.net]:587 secure match=nexthop\n"}
    assert os.listdir(tables) == []
    assert_ok(tls_policy(config_dir, path, policies))
    assert sorted(os.listdir(tables)) == ["tls_policy", "tls_policy.db"]
    changed = [dict(policies[0], level="verify")]
    result = tls_policy(config_dir, path, changed, diff=True)
    assert result["diff"]["before"].endswith("secure match=nexthop\n")
    assert result["diff"]["after"].endswith("verify match=nexthop\n")
    assert query(config_dir, "[smtp.example.net]:587", result["map_reference"]) == "verify match=nexthop"


def test_dane_with_dnssec_in_main_cf(config_dir, tables):
    set_main_cf(config_dir, "smtp_dns_support_level = dnssec\n")
    result = tls_policy(config_dir, tables / "p", [{"destination": "dane.example", "level": "dane-only"}])
    assert_ok(result)
    assert query(config_dir, "dane.example", result["map_reference"]) == "dane-only"


def test_fingerprint_of_another_digest_is_written_with_a_warning(config_dir, tables):
    policies = [{"destination": "[old.example.org]", "level": "fingerprint", "match": [MD5]}]
    result = tls_policy(config_dir, tables / "p", policies)
    assert_ok(result)
    assert "smtp_tls_fingerprint_digest is sha256 here" in str(result.get("warnings"))
    assert query(config_dir, "[old.example.org]", result["map_reference"]) == "fingerprint match=" + MD5
    set_main_cf(config_dir, "smtp_tls_fingerprint_digest = md5\n")
    assert "warnings" not in tls_policy(config_dir, tables / "p", policies)


def test_absent_removes_the_table(config_dir, tables):
    path = tables / "p"
    tls_policy(config_dir, path, POLICIES[:2], type="lmdb")
    result = tls_policy(config_dir, path, type="lmdb", state="absent")
    assert_ok(result)
    assert result["changed"] is True and os.listdir(tables) == []


# --- refused forms: one line, nothing written -----------------------------------------------

def pol(**changes):
    policy = {"destination": "example.org", "level": "secure"}
    policy.update(changes)
    return [policy]


BAD = [
    pytest.param(pol(level="strict"), ["value of level must be one of: none, may, encrypt, dane"], id="unknown-level"),
    pytest.param(pol(level="export"), ["value of level must be one of"], id="export-is-no-level"),
    pytest.param(pol(level="encrypt", match=["nexthop"]),
                 ["policy for example.org: match does not work with level encrypt, only with fingerprint, verify"],
                 id="match-with-encrypt"),
    pytest.param(pol(level="may", match=["nexthop"]), ["match does not work with level may"], id="match-with-may"),
    pytest.param(pol(level="none", match=["nexthop"]), ["level none turns TLS off", "remove match"],
                 id="match-with-none"),
    pytest.param(pol(level="dane", match=["nexthop"]), ["match does not work with level dane"], id="match-with-dane"),
    pytest.param(pol(level="dane"), ["level dane needs DNSSEC, but smtp_dns_support_level is ''",
                                     "smtp_dns_support_level = dnssec"], id="dane-without-dnssec"),
    pytest.param(pol(level="dane-only"), ["level dane-only needs DNSSEC"], id="dane-only-without-dnssec"),
    pytest.param(pol(level="encrypt", tafile="/etc/ta.pem"), ["tafile does not work with level encrypt"],
                 id="tafile-with-encrypt"),
    pytest.param(pol(tafile="ta.pem"), ["tafile 'ta.pem' is relative"], id="relative-tafile"),
    pytest.param(pol(level="fingerprint", match=["AB:CD:EF"]), ["fingerprint 'AB:CD:EF' has 3 bytes"],
                 id="short-fingerprint"),
    pytest.param(pol(level="fingerprint", match=[SHA256, MD5]), ["different lengths (16, 32 bytes)"],
                 id="mixed-fingerprints"),
    pytest.param(pol(level="fingerprint", match=[SHA256.replace(":", "")]), ["not hex byte pairs separated by ':'"],
                 id="fingerprint-without-colons"),
    pytest.param(pol(match=[SHA256]), ["is a fingerprint, which level secure reads as host names"],
                 id="fingerprint-with-secure"),
    pytest.param(pol(match=["*.example.org"]), ["match '*.example.org' is neither a host name pattern"],
                 id="wildcard-match"),
    pytest.param(pol(protocols=["TLSv1.4"]), ["protocols has 'TLSv1.4'"], id="unknown-protocol"),
    pytest.param(pol(protocols=["!SSLv2 !SSLv3"]), ["white space"], id="protocols-with-space"),
    pytest.param(pol(ciphers="strong"), ["value of ciphers must be one of: export, low, medium, high, null"],
                 id="unknown-cipher-grade"),
    pytest.param(pol(exclude=["aNULL RC4"]), ["exclude 'aNULL RC4' has white space"], id="exclude-with-space"),
    pytest.param(pol(destination="mail example.org"), ["destination 'mail example.org' is not a valid next-hop"],
                 id="destination-with-space"),
    pytest.param(pol(destination="192.0.2.1"), ["write an IP address in brackets, as [192.0.2.1]"],
                 id="unbracketed-ip"),
    pytest.param(pol(destination="[mail.example.org]:99999"), ["invalid port '99999'"], id="bad-port"),
    pytest.param(pol(destination="[mail.example.org"), ["bracket is not closed"], id="unclosed-bracket"),
    pytest.param(pol(destination=".example.org:25"), ["is not a valid next-hop"], id="parent-domain-with-port"),
    pytest.param(pol() + pol(level="may"), ["destination example.org has two policies"], id="duplicate-destination"),
    pytest.param(pol(servername="bad name"), ["servername 'bad name' has white space"], id="servername-space"),
    pytest.param(pol(cipher="high"), ["Unsupported parameters", "policies.cipher"], id="unknown-attribute"),
    pytest.param(None, ["state is present but all of the following are missing: policies"], id="no-policies"),
    # Issue 15: a line break in a destination that Python reads as an IPv6 address with a scope
    # wrote a second policy line ("evil.example none": TLS off for that domain).
    pytest.param(pol(destination="[fe80::1%\nevil.example none\nx]"), ["control character or line break"],
                 id="destination-scope-newline"),
    pytest.param(pol(destination="[fe80::1%eth0]"), ["neither a host name nor an IP address"], id="destination-scope"),
    pytest.param(pol(destination="example.org\x00"), ["destination", "control character"], id="destination-nul"),
    pytest.param(pol(level="may", exclude=["aNULL\x1b"]), ["exclude", "control character"], id="exclude-escape"),
    pytest.param(pol(tafile="/etc/ca\x7f.pem"), ["tafile", "control character"], id="tafile-del"),
    pytest.param(pol(level="may", protocols=["!SSLv2\u2028"]), ["protocols", "control character"],
                 id="protocols-line-separator"),
]


@pytest.mark.parametrize("policies, fragments", BAD)
def test_bad_policy_fails_in_one_line_and_leaves_the_table(config_dir, tables, policies, fragments):
    path = tables / "tls_policy"
    assert_failed(tls_policy(config_dir, path, policies), *fragments)
    assert os.listdir(tables) == []  # absent stays absent
    assert_ok(tls_policy(config_dir, path, POLICIES[:3]))
    before = files(tables)
    bad = None if policies is None else POLICIES[:3] + policies  # good policies first: still refused
    assert_failed(tls_policy(config_dir, path, bad), *fragments)
    assert files(tables) == before  # an existing table stays as it was


def test_bad_policy_fails_in_check_mode_too(config_dir, tables):
    result = tls_policy(config_dir, tables / "p", pol(level="encrypt", match=["nexthop"]), check_mode=True, diff=True)
    assert_failed(result, "match does not work with level encrypt")
    assert "diff" not in result and os.listdir(tables) == []


def test_bad_table_options_fail_in_one_line(config_dir, tables):
    for options, fragment in ((dict(type="nosuch"), "table type 'nosuch' is not available"),
                              (dict(path="relative"), "is relative"),
                              (dict(path=str(tables / "missing" / "p")), "does not exist: create it first")):
        args = dict(dict(path=str(tables / "p")), **options)
        result = run_module("tls_policy", dict(args, config_dir=str(config_dir), policies=POLICIES[:1]))
        assert_failed(result, fragment)
    assert os.listdir(tables) == []


def test_result_has_no_secret_masking(config_dir, tables):
    """Policies are not secret: the result shows them as given."""
    result = tls_policy(config_dir, tables / "p", POLICIES[:2])
    assert json.dumps(result["invocation"]["module_args"]["policies"][1]["exclude"]) == '["aNULL", "RC4"]'


@pytest.mark.parametrize("policies", [
    [{"destination": "example.org", "level": "secure", "match": "nexthop,dot-nexthop"}],
    [{"destination": "example.org", "level": "may", "connection_reuse": "yes", "exclude": "aNULL"}],
    [{"destination": "example.org", "level": "verify", "protocols": "!SSLv2, !SSLv3", "ciphers": "high"}],
])
def test_filter_renders_what_the_module_writes(config_dir, tables, policies):
    """The drift check's digest comes from the tls_policy_source filter on the controller: for
    inputs the module converts (a string for a list, "yes" for a boolean) it must agree."""
    from ansible_collections.postmaster.mail.plugins.filter.tls_policy_source import tls_policy_source
    path = tables / "p"
    assert_ok(tls_policy(config_dir, path, policies))
    version = subprocess.run(["postconf", "-c", str(config_dir), "-h", "mail_version"], capture_output=True,
                             text=True, check=True).stdout.strip()
    assert path.read_text() == tls_policy_source(policies, version)


@pytest.mark.parametrize("policies, fragment", [
    ([{"destination": "example.org", "level": "tight"}], "value of level must be one of"),
    ([{"destination": "example.org", "level": "may", "cipher": "high"}], "policies.cipher"),
    ([{"level": "may"}], "destination"),
])
def test_filter_refuses_what_the_module_refuses(config_dir, tables, policies, fragment):
    from ansible.errors import AnsibleFilterError
    from ansible_collections.postmaster.mail.plugins.filter.tls_policy_source import tls_policy_source
    assert_failed(tls_policy(config_dir, tables / "p", policies), fragment)
    with pytest.raises(AnsibleFilterError, match=fragment):
        tls_policy_source(policies, "3.7.11")
