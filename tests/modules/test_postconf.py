"""postmaster.mail.postconf against the real postconf(1), in a scratch config dir.

Each behaviour is checked the community.crypto way where it matters: check mode,
real run, then the same two again on the converged directory.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess

import pytest

from conftest import age_files, assert_failed, assert_ok, postconf_n, run_module

MANY = {
    "myhostname": "mx.example.test",
    "mydestination": ["$myhostname", "localhost.$mydomain", "localhost"],
    "inet_interfaces": "loopback-only",
    "home_mailbox": "Maildir/",
    "smtputf8_enable": True,
    "message_size_limit": 20480000,
    "biff": False,  # already "biff = no" in Debian's main.cf
}
MANY_CHANGED = ["home_mailbox", "inet_interfaces", "message_size_limit", "mydestination",
                "myhostname", "smtputf8_enable"]


def postconf(config_dir, parameters, check_mode=False, diff=False, **options):
    args = dict(options, config_dir=str(config_dir), parameters=parameters)
    return run_module("postconf", args, check_mode=check_mode, diff=diff)


def main_cf_bytes(config_dir):
    return (config_dir / "main.cf").read_bytes()


def append(config_dir, text):
    with open(config_dir / "main.cf", "a") as handle:
        handle.write(text)


# --- many parameters, check mode, idempotency -----------------------------------------

def test_check_mode_predicts_change_and_writes_nothing(config_dir):
    before = main_cf_bytes(config_dir)
    result = postconf(config_dir, MANY, check_mode=True)
    assert_ok(result)
    assert result["changed"] is True
    assert result["changed_parameters"] == MANY_CHANGED
    assert main_cf_bytes(config_dir) == before


def test_sets_many_parameters_in_one_call(config_dir):
    result = postconf(config_dir, MANY)
    assert_ok(result)
    assert result["changed"] is True
    assert result["changed_parameters"] == MANY_CHANGED
    values = postconf_n(config_dir)
    assert values["myhostname"] == "mx.example.test"
    assert values["mydestination"] == "$myhostname, localhost.$mydomain, localhost"
    assert values["inet_interfaces"] == "loopback-only"
    assert values["home_mailbox"] == "Maildir/"
    assert values["smtputf8_enable"] == "yes"
    assert values["message_size_limit"] == "20480000"
    assert values["biff"] == "no"


def test_second_identical_run_is_unchanged(config_dir):
    assert postconf(config_dir, MANY)["changed"] is True
    converged = main_cf_bytes(config_dir)
    result = postconf(config_dir, MANY)
    assert_ok(result)
    assert result["changed"] is False
    assert result["changed_parameters"] == []
    assert result["reload_needed"] is False
    assert result["restart_needed"] is False
    assert main_cf_bytes(config_dir) == converged


def test_check_mode_on_converged_dir_is_unchanged(config_dir):
    postconf(config_dir, MANY)
    result = postconf(config_dir, MANY, check_mode=True)
    assert_ok(result)
    assert result["changed"] is False


def test_write_keeps_file_mode(config_dir):
    os.chmod(config_dir / "main.cf", 0o640)
    assert postconf(config_dir, {"biff": True})["changed"] is True
    assert stat.S_IMODE(os.stat(config_dir / "main.cf").st_mode) == 0o640


# --- diff --------------------------------------------------------------------------------

def test_diff_lists_only_changed_parameters(config_dir):
    parameters = {"myhostname": "mail.example.test", "biff": True, "home_mailbox": "Maildir/"}
    result = postconf(config_dir, parameters, diff=True)
    assert result["diff"]["before"] == "biff = no\n"
    assert result["diff"]["after"] == "biff = yes\nhome_mailbox = Maildir/\n"


def test_diff_in_check_mode(config_dir):
    result = postconf(config_dir, {"mydestination": "localhost"}, check_mode=True, diff=True)
    assert result["diff"]["before"] == "mydestination = $myhostname, localhost\n"
    assert result["diff"]["after"] == "mydestination = localhost\n"


def test_diff_of_removal_has_empty_after(config_dir):
    result = postconf(config_dir, {"biff": None, "relayhost": None}, diff=True)
    assert result["changed_parameters"] == ["biff"]
    assert result["diff"]["before"] == "biff = no\n"
    assert result["diff"]["after"] == ""


# --- removing parameters ---------------------------------------------------------------

RESTRICTIONS = ("smtpd_relay_restrictions = permit_mynetworks,\n"
                "    permit_sasl_authenticated,\n"
                "\treject_unauth_destination\n")


def test_state_absent_removes_parameters_and_continuation_lines(config_dir):
    append(config_dir, RESTRICTIONS + "delay_warning_time = 4h\n")
    result = postconf(config_dir, {"smtpd_relay_restrictions": "ignored", "biff": None}, state="absent")
    assert_ok(result)
    assert result["changed_parameters"] == ["biff", "smtpd_relay_restrictions"]
    text = (config_dir / "main.cf").read_text()
    assert "permit_sasl_authenticated" not in text and "reject_unauth_destination" not in text
    values = postconf_n(config_dir)
    assert "smtpd_relay_restrictions" not in values and "biff" not in values
    assert values["delay_warning_time"] == "4h"


def test_state_absent_is_idempotent(config_dir):
    postconf(config_dir, {"biff": None}, state="absent")
    before = main_cf_bytes(config_dir)
    assert postconf(config_dir, {"biff": None}, state="absent", check_mode=True)["changed"] is False
    assert postconf(config_dir, {"biff": None}, state="absent")["changed"] is False
    assert main_cf_bytes(config_dir) == before


def test_null_value_removes_while_others_are_set(config_dir):
    result = postconf(config_dir, {"biff": None, "home_mailbox": "Maildir/"})
    assert result["changed_parameters"] == ["biff", "home_mailbox"]
    values = postconf_n(config_dir)
    assert "biff" not in values
    assert values["home_mailbox"] == "Maildir/"


def test_removing_absent_parameter_is_unchanged(config_dir):
    before = main_cf_bytes(config_dir)
    result = postconf(config_dir, {"relayhost": None, "delay_warning_time": None}, state="absent")
    assert_ok(result)
    assert result["changed"] is False
    assert main_cf_bytes(config_dir) == before


def test_state_absent_removes_an_unknown_parameter_already_in_main_cf(config_dir):
    append(config_dir, "myhostnam = typo.example.test\n")
    result = postconf(config_dir, {"myhostnam": None}, state="absent")
    assert result["changed"] is True
    assert not re.search(r"^myhostnam\s*=", (config_dir / "main.cf").read_text(), re.M)


# Postfix skips comments and blank lines inside a multi-line definition.
INTERRUPTED = "relay_domains = example.net,\n{gap}    example.org\n"
GAPS = pytest.mark.parametrize("gap", ["# second domain\n", "\n"], ids=["comment", "blank-line"])


@GAPS
def test_postfix_reads_through_comments_and_blank_lines(config_dir, gap):
    """The premise of the two tests below, checked against the real postconf."""
    append(config_dir, INTERRUPTED.format(gap=gap))
    assert postconf_n(config_dir)["relay_domains"] == "example.net, example.org"


@GAPS
def test_removing_interrupted_multi_line_definition_keeps_other_values(config_dir, gap):
    append(config_dir, INTERRUPTED.format(gap=gap))
    assert_ok(postconf(config_dir, {"relay_domains": None}))
    values = postconf_n(config_dir)
    assert "relay_domains" not in values
    assert values["mydestination"] == "$myhostname, localhost"  # the line before it


@GAPS
def test_setting_interrupted_multi_line_definition(config_dir, gap):
    append(config_dir, INTERRUPTED.format(gap=gap))
    assert_ok(postconf(config_dir, {"relay_domains": "example.com"}))
    assert postconf_n(config_dir)["relay_domains"] == "example.com"


# --- honest `changed` ------------------------------------------------------------------

@pytest.mark.parametrize("existing, parameters", [
    pytest.param("", {"myhostname": "  mail.example.test  "}, id="surrounding-whitespace"),
    pytest.param("", {"smtpd_banner": "$myhostname   ESMTP $mail_name  (Debian/GNU)"}, id="inner-whitespace"),
    pytest.param("smtpd_banner = $myhostname\tESMTP\n", {"smtpd_banner": "$myhostname ESMTP"}, id="tab-in-main-cf"),
    pytest.param("", {"mydestination": "$myhostname localhost"}, id="list-space-vs-comma"),
    pytest.param("", {"mydestination": ["$myhostname", "localhost"]}, id="list-yaml-vs-comma"),
    pytest.param("mynetworks = 127.0.0.0/8 [::1]/128\n", {"mynetworks": ["127.0.0.0/8", "[::1]/128"]},
                 id="mynetworks-yaml-vs-space"),
    pytest.param("mynetworks = 127.0.0.0/8 [::1]/128\n", {"mynetworks": "127.0.0.0/8,[::1]/128"},
                 id="mynetworks-comma-vs-space"),
    pytest.param("smtputf8_enable = Yes\n", {"smtputf8_enable": True}, id="bool-true-vs-Yes"),
    pytest.param("smtputf8_enable = Yes\n", {"smtputf8_enable": "yes"}, id="yes-vs-Yes"),
    pytest.param("", {"biff": False}, id="bool-false-vs-no"),
    pytest.param("message_size_limit = 10240000\n", {"message_size_limit": 10240000}, id="int"),
    pytest.param("message_size_limit = 10240000\n", {"message_size_limit": "10240000"}, id="int-as-string"),
    pytest.param(RESTRICTIONS, {"smtpd_relay_restrictions": [
        "permit_mynetworks", "permit_sasl_authenticated", "reject_unauth_destination"]}, id="multi-line-list"),
    pytest.param(RESTRICTIONS, {"smtpd_relay_restrictions":
                                "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination"},
                 id="multi-line-string"),
    pytest.param("relayhost = [smtp.example.net]\n  :587\n", {"relayhost": "[smtp.example.net] :587"},
                 id="multi-line-scalar"),
    pytest.param("relayhost =\n", {"relayhost": ""}, id="empty-value"),
    pytest.param("biff = yes\nbiff = no\n", {"biff": False}, id="duplicate-last-wins"),
])
def test_equivalent_value_is_unchanged(config_dir, existing, parameters):
    append(config_dir, existing)
    before = main_cf_bytes(config_dir)
    result = postconf(config_dir, parameters)
    assert_ok(result)
    assert result["changed"] is False, result
    assert main_cf_bytes(config_dir) == before


@pytest.mark.parametrize("parameters", [
    pytest.param({"smtpd_banner": "$myhostname ESMTP, $mail_name (Debian/GNU)"}, id="comma-in-scalar"),
    pytest.param({"mydestination": "localhost, $myhostname"}, id="list-order"),
    pytest.param({"mydestination": "$myhostname"}, id="list-shorter"),
    pytest.param({"biff": True}, id="bool-flip"),
    pytest.param({"relayhost": ""}, id="empty-value-is-a-definition"),
])
def test_different_value_is_a_change(config_dir, parameters):
    result = postconf(config_dir, parameters)
    assert_ok(result)
    assert result["changed"] is True


@pytest.mark.parametrize("name, existing, desired", [
    ("smtpd_sasl_security_options", "noanonymous noplaintext", ["noanonymous", "noplaintext"]),
    ("smtpd_milters", "inet:localhost:8891 inet:localhost:8892", ["inet:localhost:8891", "inet:localhost:8892"]),
    ("alias_database", "hash:/etc/aliases hash:/etc/aliases.local", ["hash:/etc/aliases", "hash:/etc/aliases.local"]),
])
def test_list_separators_of_other_list_parameters(config_dir, name, existing, desired):
    append(config_dir, "%s = %s\n" % (name, existing))
    assert postconf(config_dir, {name: desired})["changed"] is False


def test_capitalised_boolean_string_matches_lower_case(config_dir):
    append(config_dir, "smtputf8_enable = yes\n")
    assert postconf(config_dir, {"smtputf8_enable": "Yes"})["changed"] is False


# --- parameter names -------------------------------------------------------------------

def test_unknown_name_fails_with_close_matches_and_writes_nothing(config_dir):
    before = main_cf_bytes(config_dir)
    result = postconf(config_dir, {"myhostnam": "mx.example.test", "biff": True})
    assert_failed(result, "myhostnam", "did you mean: myhostname", "allow_custom")
    assert main_cf_bytes(config_dir) == before


def test_unknown_name_fails_in_check_mode_too(config_dir):
    result = postconf(config_dir, {"smtpd_bannr": "hello"}, check_mode=True)
    assert_failed(result, "smtpd_bannr", "smtpd_banner")


def test_custom_name_referenced_from_main_cf_is_accepted(config_dir):
    parameters = {"mua_client_restrictions": "permit_sasl_authenticated, reject",
                  "smtpd_client_restrictions": "$mua_client_restrictions"}
    result = postconf(config_dir, parameters, allow_custom=True)
    assert_ok(result)
    assert postconf_n(config_dir)["mua_client_restrictions"] == "permit_sasl_authenticated, reject"
    assert postconf(config_dir, parameters, allow_custom=True)["changed"] is False


def test_allow_custom_accepts_unreferenced_name(config_dir):
    result = postconf(config_dir, {"mua_client_restrictions": "permit_sasl_authenticated, reject"},
                      allow_custom=True)
    assert_ok(result)
    assert "mua_client_restrictions = permit_sasl_authenticated, reject" in (config_dir / "main.cf").read_text()


def test_name_referenced_by_master_cf_is_known(config_dir):
    with open(config_dir / "master.cf", "a") as handle:
        handle.write("submission inet n - y - - smtpd\n"
                     "  -o smtpd_client_restrictions=$mua_client_restrictions\n")
    result = postconf(config_dir, {"mua_client_restrictions": "permit_sasl_authenticated, reject"})
    assert_ok(result)
    assert postconf_n(config_dir)["mua_client_restrictions"] == "permit_sasl_authenticated, reject"


def test_name_derived_from_master_cf_service_is_known(config_dir):
    result = postconf(config_dir, {"relay_destination_concurrency_limit": 5})
    assert_ok(result)
    assert postconf_n(config_dir)["relay_destination_concurrency_limit"] == "5"


@pytest.mark.parametrize("name", ["my hostname", "myhostname=x", "", "-myhostname"])
def test_invalid_name_fails_and_writes_nothing(config_dir, name):
    before = main_cf_bytes(config_dir)
    result = postconf(config_dir, {name: "x", "biff": True})
    assert_failed(result, "invalid parameter name")
    assert main_cf_bytes(config_dir) == before


def test_invalid_name_fails_with_state_absent(config_dir):
    assert_failed(postconf(config_dir, {"my hostname": None}, state="absent"), "invalid parameter name")


def test_name_with_trailing_newline_is_invalid(config_dir):
    assert_failed(postconf(config_dir, {"biff\n": "yes"}), "invalid parameter name")


# --- values --------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [{"a": 1}, ["permit", {"a": 1}]], ids=["dict", "dict-in-list"])
def test_unsupported_value_type_fails_and_writes_nothing(config_dir, value):
    before = main_cf_bytes(config_dir)
    result = postconf(config_dir, {"smtpd_banner": value})
    assert_failed(result, "smtpd_banner", "not supported")
    assert main_cf_bytes(config_dir) == before


# --- values that cannot stand on one main.cf line (issue 15, defects 7 and 8) --------------

@pytest.mark.parametrize("value, fragment", [
    pytest.param("x\rmynetworks = 0.0.0.0/0", "line break (U+000D)", id="carriage-return"),
    pytest.param("$myhostname ESMTP\n  ready", "line break (U+000A)", id="newline"),
    pytest.param("$myhostname ESMTP\n", "line break (U+000A)", id="trailing-newline"),
    pytest.param("a\u2028mynetworks = 0.0.0.0/0", "line break (U+2028)", id="line-separator"),
    pytest.param("a\x0bb", "line break (U+000B)", id="vertical-tab"),
    pytest.param("a\x00b", "control character (U+0000)", id="nul"),
    pytest.param("a\tb", "control character (U+0009)", id="tab"),
    pytest.param("a\x1b[31mb", "control character (U+001B)", id="escape"),
    pytest.param("a\x85b", "line break (U+0085)", id="next-line"),
    pytest.param("a\x9bb", "control character (U+009B)", id="c1-control"),
    pytest.param(["ok", "x\rmynetworks = 0.0.0.0/0"], "line break (U+000D)", id="in-list-item"),
])
def test_value_that_is_not_one_line_is_refused(config_dir, value, fragment):
    before = main_cf_bytes(config_dir)
    for check_mode in (True, False):
        result = postconf(config_dir, {"smtpd_banner": value, "biff": True}, check_mode=check_mode)
        assert_failed(result, "parameter smtpd_banner", fragment)
    assert main_cf_bytes(config_dir) == before
    assert "mynetworks" not in postconf_n(config_dir)


def test_line_break_is_refused_even_when_the_words_are_already_set(config_dir):
    append(config_dir, "smtpd_banner = $myhostname ESMTP ready\n")
    result = postconf(config_dir, {"smtpd_banner": "$myhostname ESMTP\nready"})
    assert_failed(result, "parameter smtpd_banner", "line break", "give a list, or write the value on one line")


def test_line_break_in_name_is_refused_naming_it(config_dir):
    result = postconf(config_dir, {"biff\rmynetworks": "yes"})
    assert_failed(result, "invalid parameter name 'biff\\rmynetworks'")


@pytest.mark.parametrize("raw, what", [
    pytest.param(b"smtpd_banner = x\rmynetworks = 0.0.0.0/0\n", "carriage return", id="lone-carriage-return"),
    pytest.param(b"# note\rmynetworks = 0.0.0.0/0\n", "carriage return", id="carriage-return-in-comment"),
    pytest.param(b"smtpd_banner = x\x00mynetworks = 0.0.0.0/0\n", "NUL byte", id="nul"),
])
def test_main_cf_with_a_character_postfix_reads_differently_is_not_edited(config_dir, raw, what):
    """Postfix reads "x\rmynetworks = ..." as part of smtpd_banner; a rewrite that turned the
    \r into a line break would make mynetworks live (issue 15, defect 7)."""
    with open(config_dir / "main.cf", "ab") as handle:
        handle.write(raw)
    before = main_cf_bytes(config_dir)
    line = before.count(b"\n")
    result = postconf(config_dir, {"biff": True})
    assert_failed(result, "%s line %d has" % (config_dir / "main.cf", line), what, "by hand")
    assert main_cf_bytes(config_dir) == before
    assert "mynetworks" not in postconf_n(config_dir)


def test_crlf_line_ends_are_kept(config_dir):
    with open(config_dir / "main.cf", "ab") as handle:
        handle.write(b"delay_warning_time = 4h\r\n")
    assert_ok(postconf(config_dir, {"biff": True}))
    assert b"\ndelay_warning_time = 4h\r\n" in main_cf_bytes(config_dir)
    assert postconf_n(config_dir)["delay_warning_time"] == "4h"


@pytest.mark.parametrize("value", ["caf\u00e9 \u00a0ESMTP", "mail\u3000server", "\u00e9t\u00e9 \ufeff"])
def test_unicode_that_postfix_keeps_is_written_as_given(config_dir, value):
    result = postconf(config_dir, {"smtpd_banner": value}, diff=True)
    assert_ok(result)
    assert result["diff"]["after"] == "smtpd_banner = %s\n" % value
    assert postconf_n(config_dir)["smtpd_banner"] == value
    assert postconf(config_dir, {"smtpd_banner": value})["changed"] is False


# --- $references (issue 15, defect 8) ---------------------------------------------------------

@pytest.mark.parametrize("value, reference", [
    ("$my_hostname ESMTP", "$my_hostname"),
    ("${my_hostname} ESMTP", "$my_hostname"),
    ("$(my_hostname) ESMTP", "$my_hostname"),
    ("${my_hostname?yes} ESMTP", "$my_hostname"),
    ("${myhostname:$my_domain} ESMTP", "$my_domain"),
])
def test_reference_to_an_undefined_parameter_is_refused(config_dir, value, reference):
    before = main_cf_bytes(config_dir)
    result = postconf(config_dir, {"smtpd_banner": value})
    assert_failed(result, "parameter smtpd_banner", reference, "did you mean: my", "allow_custom=true")
    assert main_cf_bytes(config_dir) == before


def test_reference_is_named_before_postfix_fails_on_the_empty_expansion(config_dir):
    # myorigin = ${my_domain} expands to nothing, which Postfix refuses as "bad string length".
    assert_failed(postconf(config_dir, {"myorigin": "${my_domain}"}), "parameter myorigin", "$my_domain",
                  "did you mean: mydomain")


def test_reference_in_a_list_item_is_checked(config_dir):
    result = postconf(config_dir, {"mydestination": ["$myhostname", "localhost.$my_domain"]})
    assert_failed(result, "parameter mydestination", "$my_domain", "did you mean: mydomain")


@pytest.mark.parametrize("existing, parameters, options", [
    pytest.param("", {"smtpd_banner": "$myhostname ${mail_name} $(mail_version) ${biff?yes}"}, {},
                 id="known-parameters"),
    pytest.param("mua_restrictions = permit_sasl_authenticated, reject\n",
                 {"smtpd_client_restrictions": "$mua_restrictions"}, {}, id="defined-in-main-cf"),
    pytest.param("", {"mua_restrictions": "permit_sasl_authenticated, reject",
                      "smtpd_client_restrictions": "$mua_restrictions"}, {"allow_custom": True},
                 id="defined-in-the-same-call"),
    pytest.param("", {"smtpd_client_restrictions": "$mua_restrictions"}, {"allow_custom": True},
                 id="allow-custom"),
    pytest.param("", {"smtpd_banner": "costs $$5 at $myhostname"}, {}, id="literal-dollar"),
    pytest.param("", {"relay_destination_concurrency_limit": "$default_destination_concurrency_limit"}, {},
                 id="service-derived-name"),
])
def test_reference_to_a_defined_parameter_is_accepted(config_dir, existing, parameters, options):
    append(config_dir, existing)
    assert_ok(postconf(config_dir, parameters, **options))
    assert postconf(config_dir, parameters, **options)["changed"] is False


@pytest.mark.parametrize("value, fragment", [
    ("costs 5$", "a '$' is not followed by a parameter name"),
    ("costs $ 5", "write $name, or $$ for a literal '$'"),
    ("${myhostname ESMTP", "has no closing '}'"),
    ("$(myhostname ESMTP", "has no closing ')'"),
    ("${} ESMTP", "does not name a parameter"),
])
def test_dollar_sign_postfix_cannot_parse_is_refused(config_dir, value, fragment):
    before = main_cf_bytes(config_dir)
    assert_failed(postconf(config_dir, {"smtpd_banner": value}), "parameter smtpd_banner", fragment)
    assert main_cf_bytes(config_dir) == before


# --- values Postfix reads without complaint, then fails on (issue 15, defect 8) ---------------

def installed_version():
    output = subprocess.run(["postconf", "-d", "mail_version"], capture_output=True, text=True, check=True).stdout
    return tuple(int(part) for part in output.split("=")[1].split("."))


@pytest.mark.parametrize("level", ["9999", "3.99", "4", "3.6.1024", "abc", "3.x", "-1", "3.", "$compat"])
def test_compatibility_level_this_postfix_does_not_have_is_refused(config_dir, level):
    before = main_cf_bytes(config_dir)
    result = postconf(config_dir, {"compatibility_level": level})
    assert_failed(result, "parameter compatibility_level", repr(level), "use 0, 1")
    assert main_cf_bytes(config_dir) == before


def test_compatibility_level_up_to_the_installed_version_is_accepted(config_dir):
    major, minor = installed_version()[:2]
    for level in ["2", "3.6", "%d.%d" % (major, minor)]:
        assert_ok(postconf(config_dir, {"compatibility_level": level}))
        assert postconf_n(config_dir)["compatibility_level"] == level


@pytest.mark.parametrize("relayhost, fragment", [
    ("[mail.example.com:587", "'[' without ']'"),
    ("mail.example.com]:587", "']' without '['"),
    ("[mail.example.com]587", "text after ']'"),
    ("[mail.example.com]:0", "port 0 is not from 1 to 65535"),
    ("mail.example.com:65536", "port 65536"),
    ("mail.example.com:58x7", "'58x7' is not a port number"),
    ("[mail.example.com]:nosuchservice", "unknown service 'nosuchservice'"),
    ("2001:db8::1", "an IPv6 address needs brackets"),
    ("[ipv6:2001:db8::zz]:25", "malformed IPv6 address"),
    ("[mail_example..com]", "is not a host name or address"),
    ("-mail.example.com", "is not a host name or address"),
    ("mail.example.com:587, [backup.example.com:587", "'[backup.example.com:587'"),
])
def test_relayhost_postfix_cannot_parse_is_refused(config_dir, relayhost, fragment):
    before = main_cf_bytes(config_dir)
    result = postconf(config_dir, {"relayhost": relayhost})
    assert_failed(result, "parameter relayhost", fragment, "[host]:port")
    assert main_cf_bytes(config_dir) == before


@pytest.mark.parametrize("relayhost", [
    "[mail.example.com]:587", "mail.example.com", "mail.example.com:submission", "[192.0.2.1]",
    "[ipv6:2001:db8::1]:25", "[2001:db8::1]", "mail1.example:587, mail2.example:587", "$mydomain",
    "[$myhostname]:587", "[m\u00fcller.example]:25",
])
def test_relayhost_postfix_can_parse_is_accepted(config_dir, relayhost):
    assert_ok(postconf(config_dir, {"relayhost": relayhost}))
    assert postconf_n(config_dir)["relayhost"] == relayhost


def test_smtp_fallback_relay_is_checked_as_relayhost(config_dir):
    assert_failed(postconf(config_dir, {"smtp_fallback_relay": "[backup.example.com:25"}),
                  "parameter smtp_fallback_relay", "'[' without ']'")


# --- what Postfix says about the staged copy names the live main.cf (issue 15, defect 9) -------

@pytest.mark.parametrize("parameters, fragment", [
    ({"myhostname": "a, b"}, "parameter myhostname: bad parameter value: a, b"),
    ({"syslog_facility": "nope"}, "parameter syslog_facility: unrecognized value: nope"),
])
def test_postfix_errors_name_the_live_main_cf_not_the_staging_copy(config_dir, parameters, fragment):
    result = postconf(config_dir, parameters)
    assert_failed(result, fragment, "file %s" % (config_dir / "main.cf"))
    assert "postconf-stage" not in result["msg"]


def test_master_cf_unused_parameter_warning_is_not_a_main_cf_value(config_dir):
    """postconf warns "master.cf: unused parameter: name=value" for a -o override Postfix does
    not know; that is no main.cf setting (issue 15, defect 9)."""
    with open(config_dir / "master.cf", "a") as handle:
        handle.write("submission inet n - y - - smtpd\n  -o postmaster_custom_x=hello\n")
    result = postconf(config_dir, {"postmaster_custom_x": "hello"}, allow_custom=True)
    assert_ok(result)
    assert result["changed"] is True
    assert "\npostmaster_custom_x = hello\n" in (config_dir / "main.cf").read_text()
    assert postconf(config_dir, {"postmaster_custom_x": "hello"}, allow_custom=True)["changed"] is False
    assert postconf(config_dir, {"postmaster_custom_x": "other"}, allow_custom=True)["changed"] is True


# --- which directory (issue 16, point 5) ------------------------------------------------------

def test_mail_config_picks_the_directory_without_config_dir(config_dir):
    """config_dir, else MAIL_CONFIG, else /etc/postfix: the directory read is the one written."""
    environment = {"MAIL_CONFIG": str(config_dir)}
    result = run_module("postconf", {"parameters": {"biff": True}}, env=environment)
    assert_ok(result)
    assert result["changed"] is True
    assert result["rollback_file"] == str(config_dir / ".postmaster-rollback" / "main.cf")
    assert postconf_n(config_dir)["biff"] == "yes"
    age_files(config_dir)
    assert run_module("postconf", {"parameters": {"biff": True}}, env=environment)["changed"] is False


def test_config_dir_wins_over_mail_config(config_dir, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    result = run_module("postconf", {"parameters": {"biff": True}, "config_dir": str(config_dir)},
                        env={"MAIL_CONFIG": str(other)})
    assert_ok(result)
    assert postconf_n(config_dir)["biff"] == "yes"
    assert list(other.iterdir()) == []


# --- reload and restart ------------------------------------------------------------------

@pytest.mark.parametrize("parameters, restart", [
    ({"inet_interfaces": "loopback-only"}, True),
    ({"inet_protocols": "ipv4"}, True),
    ({"myhostname": "mx.example.test", "biff": True}, False),
])
def test_restart_and_reload_needed(config_dir, parameters, restart):
    result = postconf(config_dir, parameters)
    assert result["reload_needed"] is True
    assert result["restart_needed"] is restart


def test_removing_inet_interfaces_needs_restart(config_dir):
    append(config_dir, "inet_interfaces = loopback-only\n")
    assert postconf(config_dir, {"inet_interfaces": None})["restart_needed"] is True


# --- layout of main.cf ------------------------------------------------------------------

def test_comments_and_unrelated_lines_are_kept(config_dir):
    original = (config_dir / "main.cf").read_text()
    assert_ok(postconf(config_dir, {"biff": True, "home_mailbox": "Maildir/"}))
    expected = original.replace("\nbiff = no\n", "\nbiff = yes\n") + "home_mailbox = Maildir/\n"
    assert (config_dir / "main.cf").read_text() == expected


def test_duplicate_definitions_collapse_to_one(config_dir):
    append(config_dir, "biff = yes\n")
    assert_ok(postconf(config_dir, {"biff": "no"}))
    text = (config_dir / "main.cf").read_text()
    assert [line for line in text.splitlines() if line.startswith("biff")] == ["biff = no"]
    assert postconf_n(config_dir)["biff"] == "no"


def test_duplicate_definitions_are_all_removed(config_dir):
    append(config_dir, "biff = yes\n")
    assert_ok(postconf(config_dir, {"biff": None}))
    assert not [line for line in (config_dir / "main.cf").read_text().splitlines() if line.startswith("biff")]


def test_form_feed_in_comment_is_kept(config_dir):
    append(config_dir, "# section\x0cbreak\n")
    assert_ok(postconf(config_dir, {"biff": True}))
    assert "# section\x0cbreak\n" in (config_dir / "main.cf").read_text()


def test_non_utf8_comment_does_not_crash(config_dir):
    with open(config_dir / "main.cf", "ab") as handle:
        handle.write(b"# Gr\xfc\xdfe\n")
    result = postconf(config_dir, {"biff": True})
    assert_ok(result)
    assert b"# Gr\xfc\xdfe\n" in main_cf_bytes(config_dir)


def test_broken_main_cf_fails_with_postfix_message(config_dir):
    append(config_dir, "this line has no equals sign\n")
    before = main_cf_bytes(config_dir)
    result = postconf(config_dir, {"biff": True})
    assert_failed(result, "missing '=' after attribute name")
    assert main_cf_bytes(config_dir) == before


def test_missing_main_cf_fails_clearly(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = postconf(empty, {"biff": True})
    assert_failed(result, str(empty / "main.cf"), "does not exist")
    assert list(empty.iterdir()) == []


# --- backup --------------------------------------------------------------------------------

def test_backup_keeps_old_content(config_dir):
    before = main_cf_bytes(config_dir)
    result = postconf(config_dir, {"biff": True}, backup=True)
    assert_ok(result)
    backup_file = result["backup_file"]
    assert os.path.dirname(backup_file) == str(config_dir)
    with open(backup_file, "rb") as handle:
        assert handle.read() == before
    assert postconf_n(config_dir)["biff"] == "yes"


def test_no_backup_without_change(config_dir):
    result = postconf(config_dir, {"biff": False}, backup=True)
    assert "backup_file" not in result
    assert sorted(path.name for path in config_dir.iterdir()) == ["main.cf", "master.cf"]


def test_no_backup_in_check_mode(config_dir):
    result = postconf(config_dir, {"biff": True}, backup=True, check_mode=True)
    assert result["changed"] is True
    assert "backup_file" not in result
    assert sorted(path.name for path in config_dir.iterdir()) == ["main.cf", "master.cf"]


def test_first_write_keeps_a_rollback_copy(config_dir):
    before = main_cf_bytes(config_dir)
    result = postconf(config_dir, {"biff": True})
    assert result["rollback_file"] == str(config_dir / ".postmaster-rollback" / "main.cf")
    assert postconf(config_dir, {"biff": False, "delay_warning_time": "4h"})["changed"] is True
    with open(result["rollback_file"], "rb") as handle:
        assert handle.read() == before  # still the file Postfix ran with before the first write
