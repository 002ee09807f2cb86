"""Pure-logic tests of plugins/module_utils/_maincf/text.py: no Postfix, no files."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

# The collection is importable as ansible_collections.postmaster.mail through the
# symlink in .cache/collections. Put it on sys.path here rather than in a
# tests/unit/conftest.py: a second conftest.py would replace the `conftest` module
# that tests/modules import their helpers from.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".cache" / "collections"))

from ansible_collections.postmaster.mail.plugins.module_utils._maincf.text import (  # noqa: E402
    MainCfError,
    check_main_cf_text,
    check_name,
    edit_main_cf,
    format_line,
    is_list_parameter,
    parse_postconf_output,
    references,
    render_value,
    same_value,
    unused_parameters,
)


# --- render_value -----------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    (None, None),
    (True, "yes"),
    (False, "no"),
    (0, "0"),
    (10240000, "10240000"),
    (1.5, "1.5"),
    ("Maildir/", "Maildir/"),
    ("", ""),
    ("  mail.example.test  ", "mail.example.test"),
    ("$myhostname   ESMTP  $mail_name", "$myhostname ESMTP $mail_name"),
    ("caf\u00e9\u00a0\u3000ESMTP", "caf\u00e9\u00a0\u3000ESMTP"),  # Postfix keeps non-ASCII blanks
    (["$myhostname", "localhost"], "$myhostname, localhost"),
    (("a", "b"), "a, b"),
    ([], ""),
    (["a", None, "", "b"], "a, b"),
    (["a", ["b", "c"]], "a, b, c"),
    ([True, 25], "yes, 25"),
    (["  spaced   item "], "spaced item"),
])
def test_render_value(value, expected):
    assert render_value("some_parameter", value) == expected


@pytest.mark.parametrize("value", [{"a": 1}, {1, 2}, ["ok", {"a": 1}], b"bytes"])
def test_render_value_refuses_unsupported_types(value):
    with pytest.raises(MainCfError, match="some_parameter: value of type"):
        render_value("some_parameter", value)


@pytest.mark.parametrize("value, fragment", [
    ("x\rmynetworks = 0.0.0.0/0", "line break (U+000D)"),
    ("a\nb", "line break (U+000A)"),
    ("a\n", "line break (U+000A)"),
    ("a\r\n", "line break (U+000D)"),
    ("a\x0cb", "line break (U+000C)"),
    ("a\u2029b", "line break (U+2029)"),
    ("a\x00b", "control character (U+0000)"),
    ("a\tb", "control character (U+0009)"),
    ("a\x7fb", "control character (U+007F)"),
    ("a\udcfcb", "control character (U+DCFC)"),
    (["a", "b\nc"], "line break (U+000A)"),
])
def test_render_value_refuses_what_cannot_stand_on_one_line(value, fragment):
    with pytest.raises(MainCfError) as caught:
        render_value("smtpd_banner", value)
    message = str(caught.value)
    assert message.startswith("parameter smtpd_banner: ") and fragment in message and "\n" not in message


# --- references ------------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    ("", []),
    ("no references", []),
    ("$myhostname ESMTP $mail_name", ["myhostname", "mail_name"]),
    ("${myhostname}.x $(mydomain)", ["myhostname", "mydomain"]),
    ("$$literal and $$$mydomain", ["mydomain"]),
    ("${a?{$b}:{$c}} $(d:${e})", ["a", "b", "c", "d", "e"]),
    ("${{$compatibility_level} <level {3.6} ? {x}}", ["compatibility_level"]),
    ("a$b-c", ["b"]),
    ("hash:$config_directory/x", ["config_directory"]),
])
def test_references(value, expected):
    assert references("p", value) == expected


@pytest.mark.parametrize("value, fragment", [
    ("costs 5$", "not followed by a parameter name"),
    ("$ x", "not followed by a parameter name"),
    ("${myhostname", "no closing '}'"),
    ("$(a(b)", "no closing ')'"),
    ("${}", "does not name a parameter"),
    ("$( x)", "does not name a parameter"),
])
def test_references_refuse_what_postfix_cannot_parse(value, fragment):
    with pytest.raises(MainCfError, match=r"^parameter p: .*" + re.escape(fragment)):
        references("p", value)


# --- check_main_cf_text ----------------------------------------------------------------

@pytest.mark.parametrize("text", ["", "biff = no\n", "biff = no\r\nx = 1\r\n", "# \x0c form feed\n", "a = \u2028\n"])
def test_check_main_cf_text_accepts(text):
    check_main_cf_text(text, "/etc/postfix/main.cf")


@pytest.mark.parametrize("text, fragment", [
    ("biff = no\nsmtpd_banner = x\rmynetworks = 0.0.0.0/0\n", "line 2 has a carriage return"),
    ("biff = no\r", "line 1 has a carriage return"),
    ("a = 1\nb = 2\nc = x\x00y\n", "line 3 has a NUL byte"),
])
def test_check_main_cf_text_refuses(text, fragment):
    with pytest.raises(MainCfError, match="^/etc/postfix/main.cf " + fragment):
        check_main_cf_text(text, "/etc/postfix/main.cf")


# --- same_value ---------------------------------------------------------------------

@pytest.mark.parametrize("name, current, desired", [
    ("myhostname", "mail.example.test", "mail.example.test"),
    ("myhostname", "  mail.example.test ", "mail.example.test"),
    ("smtpd_banner", "$myhostname  ESMTP\t$mail_name", "$myhostname ESMTP $mail_name"),
    ("smtputf8_enable", "Yes", "yes"),
    ("biff", "NO", "no"),
    ("message_size_limit", "10240000", "10240000"),
    ("relayhost", "", ""),
    ("mydestination", "$myhostname localhost", "$myhostname, localhost"),
    ("mydestination", "$myhostname,localhost,", "$myhostname, localhost"),
    ("mynetworks", "127.0.0.0/8\t[::1]/128", "127.0.0.0/8, [::1]/128"),
    ("smtpd_banner", "a\tb", "a b"),
    ("inet_protocols", "ipv4 ipv6", "ipv4, ipv6"),
    ("smtpd_recipient_restrictions", "permit_mynetworks reject_unauth_destination",
     "permit_mynetworks, reject_unauth_destination"),
    ("virtual_alias_maps", "hash:/a,hash:/b", "hash:/a, hash:/b"),
    ("authorized_submit_users", "root static:anyone", "root, static:anyone"),
    ("relay_domains", "example.net example.org", "example.net, example.org"),
])
def test_same_value_true(name, current, desired):
    assert same_value(name, current, desired) is True


@pytest.mark.parametrize("name, current, desired", [
    ("myhostname", None, "mail.example.test"),
    ("myhostname", "mail.example.test", None),
    ("relayhost", None, ""),
    ("myhostname", "mail.example.test", "mx.example.test"),
    ("smtpd_banner", "$myhostname ESMTP, $mail_name", "$myhostname ESMTP $mail_name"),
    ("biff", "yes", "no"),
    ("mydestination", "localhost, $myhostname", "$myhostname, localhost"),
    ("mydestination", "$myhostname", "$myhostname, localhost"),
    ("smtpd_banner", "a\u00a0b", "a b"),  # Postfix does not read U+00A0 as a blank
    ("mydestination", "a\u2028b", "a, b"),
])
def test_same_value_false(name, current, desired):
    assert same_value(name, current, desired) is False


def test_same_value_none_is_only_equal_to_none():
    assert same_value("relayhost", None, None) is True


@pytest.mark.parametrize("name", [
    "mydestination", "mynetworks", "inet_interfaces", "inet_protocols",
    "authorized_submit_users", "virtual_alias_maps", "smtpd_recipient_restrictions",
    "relay_domains", "notify_classes", "smtp_tls_protocols",
])
def test_list_parameters(name):
    assert is_list_parameter(name) is True


@pytest.mark.parametrize("name", ["myhostname", "smtpd_banner", "home_mailbox", "relayhost", "biff"])
def test_scalar_parameters(name):
    assert is_list_parameter(name) is False


# --- check_name and format_line -------------------------------------------------------

@pytest.mark.parametrize("name", [
    "myhostname", "relay_destination_concurrency_limit", "a.b-c_d", "2bounce_notice_recipient",
])
def test_check_name_accepts(name):
    check_name(name)


@pytest.mark.parametrize("name", [
    "", "my hostname", "myhostname=x", "-x", "_x", "#x", None, 3,
    "biff\n",
])
def test_check_name_refuses(name):
    with pytest.raises(MainCfError, match="invalid parameter name"):
        check_name(name)


@pytest.mark.parametrize("name, value, expected", [
    ("biff", "no", "biff = no"),
    ("relayhost", "", "relayhost ="),
])
def test_format_line(name, value, expected):
    assert format_line(name, value) == expected


# --- edit_main_cf ---------------------------------------------------------------------

MAIN_CF = """\
# Debian style header
#myorigin = /etc/mailname

smtpd_banner = $myhostname ESMTP
biff = no

# appending .domain is the MUA's job.
append_dot_mydomain = no
mydestination = $myhostname,
    localhost.$mydomain,
\tlocalhost
myhostname = mail.example.test
"""


@pytest.mark.parametrize("changes, expected", [
    pytest.param({"biff": "yes"}, MAIN_CF.replace("biff = no", "biff = yes"), id="replace-in-place"),
    pytest.param({"mydestination": "localhost"},
                 MAIN_CF.replace("$myhostname,\n    localhost.$mydomain,\n\tlocalhost", "localhost"),
                 id="replace-multi-line"),
    pytest.param({"mydestination": None},
                 MAIN_CF.replace("mydestination = $myhostname,\n    localhost.$mydomain,\n\tlocalhost\n", ""),
                 id="remove-multi-line"),
    pytest.param({"smtpd_banner": None}, MAIN_CF.replace("smtpd_banner = $myhostname ESMTP\n", ""),
                 id="remove-single-line"),
    pytest.param({"relayhost": None}, MAIN_CF, id="remove-missing-is-noop"),
    pytest.param({"relayhost": "[smtp.example.net]", "home_mailbox": "Maildir/"},
                 MAIN_CF + "home_mailbox = Maildir/\nrelayhost = [smtp.example.net]\n", id="append-new-sorted"),
    pytest.param({"relayhost": ""}, MAIN_CF + "relayhost =\n", id="append-empty-value"),
    pytest.param({"myorigin": "example.test"}, MAIN_CF + "myorigin = example.test\n",
                 id="commented-out-definition-untouched"),
    pytest.param({}, MAIN_CF, id="no-changes"),
])
def test_edit_main_cf(changes, expected):
    assert edit_main_cf(MAIN_CF, changes) == expected


@pytest.mark.parametrize("text, changes, expected", [
    pytest.param("biff = no\nbiffy = 1\n", {"biff": "yes"}, "biff = yes\nbiffy = 1\n", id="prefix-name-untouched"),
    pytest.param("biff=no\n", {"biff": "yes"}, "biff = yes\n", id="no-spaces-around-equals"),
    pytest.param("biff = no", {"relayhost": "x"}, "biff = no\nrelayhost = x\n", id="missing-final-newline"),
    pytest.param("", {"biff": "no"}, "biff = no\n", id="empty-file-append"),
    pytest.param("biff = no\n", {"biff": None}, "", id="remove-last-parameter"),
    pytest.param("biff = no\n  # indented comment\nx = 1\n", {"biff": None}, "  # indented comment\nx = 1\n",
                 id="indented-comment-is-not-continuation"),
    pytest.param("a = 1\nbiff = no\nb = 2\nbiff = yes\n  still biff\nc = 3\n", {"biff": "no"},
                 "a = 1\nbiff = no\nb = 2\nc = 3\n", id="duplicates-collapse-to-first"),
    pytest.param("a = 1\nbiff = no\nb = 2\nbiff = yes\nc = 3\n", {"biff": None},
                 "a = 1\nb = 2\nc = 3\n", id="duplicates-all-removed"),
])
def test_edit_main_cf_edge_cases(text, changes, expected):
    assert edit_main_cf(text, changes) == expected


# Postfix skips comment lines and blank lines *inside* a multi-line logical line
# (`postconf -n` reads "a,\n# note\n    b" as "a, b"); edit_main_cf stops at them.
INTERRUPTED = "myhostname = mail.example.test\nrelay_domains = example.net,\n{gap}    example.org\nbiff = no\n"


@pytest.mark.parametrize("gap", ["# second domain\n", "\n"], ids=["comment", "blank-line"])
def test_edit_main_cf_removes_continuations_after_comment_or_blank_line(gap):
    text = INTERRUPTED.format(gap=gap)
    assert "example.org" not in edit_main_cf(text, {"relay_domains": None})


@pytest.mark.parametrize("comment", ["# section\x0cbreak\n", "# odd\u2028separator\n"], ids=["form-feed", "u2028"])
def test_edit_main_cf_keeps_comments_byte_for_byte(comment):
    text = "biff = no\n" + comment
    assert edit_main_cf(text, {"biff": "yes"}) == "biff = yes\n" + comment


# --- parse_postconf_output -----------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("biff = no\nmyhostname = mail.example.test\n", {"biff": "no", "myhostname": "mail.example.test"}),
    ("relayhost =\n", {"relayhost": ""}),
    ("smtpd_banner = a = b\n", {"smtpd_banner": "a = b"}),
    ("myhostname = mx   \n", {"myhostname": "mx"}),
    ("mydestination = $myhostname, localhost\n", {"mydestination": "$myhostname, localhost"}),
    ("not a setting\n", {}),
    ("two words = x\n", {}),
    ("postconf: warning: /etc/postfix/main.cf: unused parameter: foo=bar\n", {}),
    ("postconf: warning: /etc/postfix/master.cf: unused parameter: smtpd_x=y = z\n", {}),
    ("warning: /etc/postfix/master.cf: unused parameter: smtpd_x=y = z\n", {}),
    ("smtpd_banner = a\u2028b = c\x0cd\n", {"smtpd_banner": "a\u2028b = c\x0cd"}),
    ("", {}),
])
def test_parse_postconf_output(text, expected):
    assert parse_postconf_output(text) == expected


# --- unused_parameters ---------------------------------------------------------------

@pytest.mark.parametrize("stderr, expected", [
    ("", {}),
    ("postconf: warning: /tmp/stage/main.cf: unused parameter: myhostnam=mx\n", {"myhostnam": "mx"}),
    ("/usr/sbin/postconf: warning: /tmp/s/main.cf: unused parameter: a_b=x=y\n"
     "/usr/sbin/postconf: warning: /tmp/s/main.cf: unused parameter: c.d=\n", {"a_b": "x=y", "c.d": ""}),
    ("postconf: warning: /tmp/s/master.cf: undefined parameter: mua_client_restrictions\n", {}),
    ("postconf: warning: /tmp/s/master.cf: unused parameter: smtpd_x=$baz\n", {}),
    ("postconf: warning: /tmp/s/main.cf: unused parameter: a=1\n"
     "postconf: warning: /tmp/s/master.cf: unused parameter: a=2\n", {"a": "1"}),
])
def test_unused_parameters(stderr, expected):
    assert unused_parameters(stderr) == expected
