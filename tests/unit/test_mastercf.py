"""Pure-logic tests of plugins/module_utils/_mastercf.py: no Postfix, no files."""

from __future__ import annotations

import ipaddress
import re
import sys
from pathlib import Path

import pytest
import yaml

# See tests/unit/test_maincf.py for why sys.path is set here and not in a conftest.py.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".cache" / "collections"))

from ansible_collections.postmaster.mail.plugins.module_utils._mastercf import (  # noqa: E402
    SERVICE_DEFAULTS,
    SERVICE_OPTIONS,
    Entry,
    MasterCfError,
    balanced,
    describe,
    desired_entries,
    edit_requests,
    extract_group,
    group,
    inet_listener,
    interface_addresses,
    listener_addresses,
    master_cf_warnings,
    overlap,
    parse_entry,
    parse_postconf_m,
    plan,
    references,
    render_entry,
    render_field,
    render_option,
    same_entry,
    split_command,
    split_nameval,
    split_quoted,
    unknown_message,
)

SMTP = "smtp       inet  n       -       y       -       -       smtpd"
RELAY = "relay      unix  -       -       y       -       -       smtp -o syslog_name=postfix/$service_name"
SUBMISSION = ("submission inet  n       -       y       -       -       smtpd -o syslog_name=postfix/submission "
              "-o {smtpd_banner=$myhostname ESMTP  ready} -o smtpd_client_restrictions=")
MAILDROP = ("maildrop   unix  -       n       n       -       -       pipe flags=DRXhu user=vmail "
            "argv=/usr/bin/maildrop -d ${recipient}")
LONG_NAME = "scalemail-backend unix - n       n       -       2       pipe flags=R user=scalemail argv=/x ${user}"


def entry(name="submission", type_="inet", fields=("n", "-", "y", "-", "-"), command=("smtpd",), options=(),
          list_options=()):
    return Entry(name, type_, fields, command, options, list_options=list_options)


# --- tokens -----------------------------------------------------------------------------

@pytest.mark.parametrize("text, tokens", [
    ("a b\tc", ["a", "b", "c"]),
    ("  a  ", ["a"]),
    ("", []),
    ("-o {a = b c} d", ["-o", "{a = b c}", "d"]),
    ("x{a b}y z", ["x{a b}y", "z"]),
    ("{a {b c} d} e", ["{a {b c} d}", "e"]),
    ("a} b", ["a}", "b"]),
])
def test_split_quoted(text, tokens):
    assert split_quoted(text) == tokens


@pytest.mark.parametrize("token, text", [
    ("plain", "plain"),
    ("{ a b }", "a b"),
    ("{a {b} c}", "a {b} c"),
    ("{}", ""),
    ("{{ x }}", "{ x }"),
])
def test_extract_group(token, text):
    assert extract_group(token) == text


@pytest.mark.parametrize("token, message", [("{a", "missing '}'"), ("{a}b", "syntax error after '}'")])
def test_extract_group_errors(token, message):
    with pytest.raises(MasterCfError, match=message):
        extract_group(token)


@pytest.mark.parametrize("text, pair", [
    ("a=b", ("a", "b")),
    (" a = b c ", ("a", "b c")),
    ("a=", ("a", "")),
    ("a==b", ("a", "=b")),
    ("a", ("a", None)),
    ("a b=c", ("a b=c", None)),
])
def test_split_nameval(text, pair):
    assert split_nameval(text) == pair


@pytest.mark.parametrize("text, expected", [
    ("", True), ("a{b}c", True), ("{{}}", True), ("{", False), ("}", False), ("}{", False), ("{}}", False),
])
def test_balanced(text, expected):
    assert balanced(text) is expected


@pytest.mark.parametrize("token, written", [
    ("smtpd", "smtpd"), ("a b", "{ a b }"), ("", "{  }"), ("{x}", "{ {x} }"), ("x{y}", "x{y}"),
])
def test_group_round_trips(token, written):
    assert group(token) == written
    assert extract_group(split_quoted(written)[0]) == token


# --- reading postconf -M ---------------------------------------------------------------

def test_parse_simple_entry():
    parsed = parse_entry(SMTP)
    assert (parsed.name, parsed.type, parsed.fields) == ("smtp", "inet", ("n", "-", "y", "-", "-"))
    assert parsed.command == ("smtpd",) and parsed.options == ()
    assert parsed.key == "smtp/inet" and parsed.line == SMTP


def test_parse_options_with_braces_and_empty_value():
    parsed = parse_entry(SUBMISSION)
    assert parsed.command == ("smtpd",)
    assert parsed.options == (("syslog_name", "postfix/submission"), ("smtpd_banner", "$myhostname ESMTP  ready"),
                              ("smtpd_client_restrictions", ""))


def test_parse_pipe_arguments_are_not_options():
    parsed = parse_entry(MAILDROP)
    assert parsed.command == ("pipe", "flags=DRXhu", "user=vmail", "argv=/usr/bin/maildrop", "-d", "${recipient}")
    assert parsed.options == ()


def test_parse_flags_options_and_grouped_arguments():
    parsed = parse_entry("f unix - n n - - pipe -v -o a=b -D -oc=d flags=R argv=/bin/x {two words} -o e=f")
    assert parsed.command == ("pipe", "-v", "-D", "flags=R", "argv=/bin/x", "two words", "-o", "e=f")
    assert parsed.options == (("a", "b"), ("c", "d"))


def test_parse_trailing_o_without_value_and_option_without_equals():
    assert parse_entry("x unix - - n - - smtp -o").command == ("smtp", "-o")
    assert parse_entry("x unix - - n - - smtp -o foo").options == (("foo", None),)


def test_parse_postconf_m_output():
    parsed = parse_postconf_m("\n".join([SMTP, RELAY, LONG_NAME, ""]) + "\n")
    assert [item.key for item in parsed] == ["smtp/inet", "relay/unix", "scalemail-backend/unix"]
    assert parsed[2].fields == ("-", "n", "n", "-", "2")


def test_parse_bad_field_count():
    with pytest.raises(MasterCfError, match="bad field count"):
        parse_entry("smtp inet n - y -")


def test_master_cf_warnings():
    stderr = (
        "postconf: warning: /tmp/stage/master.cf: unused parameter: smtpd_tls_security_levl=encrypt\n"
        "postconf: warning: /tmp/stage/main.cf: unused parameter: mainonly=1\n"
        "postconf: warning: /tmp/stage/master.cf: undefined parameter: mua_x\n"
        "postconf: warning: /tmp/stage/master.cf: support for parameter smtpd_use_tls has been removed;"
        " instead, specify \"smtpd_tls_security_level\"\n"
        "postconf: warning: /tmp/stage/master.cf: support for parameter \"smtp_tls_per_site\" will be removed;"
        " instead, specify \"smtp_tls_policy_maps\"\n"
    )
    unknown, undefined, deprecated = master_cf_warnings(stderr)
    assert unknown == {"smtpd_tls_security_levl": "",
                       "smtpd_use_tls": "removed from Postfix; instead, specify \"smtpd_tls_security_level\""}
    assert undefined == {"mua_x"}
    assert deprecated == {"smtp_tls_per_site": "specify \"smtp_tls_policy_maps\""}


# --- requested entries --------------------------------------------------------------------

@pytest.mark.parametrize("field, value, text", [
    ("private", "n", "n"), ("private", True, "y"), ("chroot", False, "n"), ("unprivileged", "-", "-"),
    ("private", None, "-"), ("wakeup", 60, "60"), ("wakeup", "1000?", "1000?"), ("wakeup", "-", "-"),
    ("maxproc", 0, "0"), ("maxproc", "100", "100"),
])
def test_render_field(field, value, text):
    assert render_field("x/unix", field, value) == text


@pytest.mark.parametrize("field, value", [
    ("private", "yes"), ("chroot", ""), ("chroot", 1), ("wakeup", "soon"), ("wakeup", "?"), ("wakeup", -1),
    ("maxproc", "abc"), ("maxproc", "10?"), ("maxproc", 1.5), ("maxproc", True),
])
def test_render_field_refuses(field, value):
    with pytest.raises(MasterCfError, match="service x/unix: invalid %s" % field):
        render_field("x/unix", field, value)


@pytest.mark.parametrize("value, text", [
    (True, "yes"), (False, "no"), (25, "25"), (None, ""), ("", ""), ("  a  b ", "a  b"),
    (["permit_sasl_authenticated", "reject"], "permit_sasl_authenticated,reject"),
    (["a", None, "", ["b", True]], "a,b,yes"),
    ("inline:{ a=b }", "inline:{ a=b }"),
])
def test_render_option(value, text):
    assert render_option("x/unix", "some_parameter", value) == text


@pytest.mark.parametrize("value, message", [
    ("a\nb", "line break"), ("a\rb", "line break"), (["a\n"], "line break"),
    ({"a": 1}, "value of type dict is not supported"), (["a", {"b": 1}], "not supported"),
    (b"x", "not supported"), ("a{b", "unbalanced"), ("a}b", "unbalanced"),
])
def test_render_option_refuses(value, message):
    with pytest.raises(MasterCfError, match="service x/unix: option some_parameter: .*" + message):
        render_option("x/unix", "some_parameter", value)


@pytest.mark.parametrize("command, words", [
    ("smtpd", ["smtpd"]),
    ("  smtpd   -v ", ["smtpd", "-v"]),
    ("pipe flags=R argv=/bin/echo { a b } ${recipient}", ["pipe", "flags=R", "argv=/bin/echo", "a b", "${recipient}"]),
    ("pipe flags=R argv=/bin/x -o y", ["pipe", "flags=R", "argv=/bin/x", "-o", "y"]),  # an argument of /bin/x
])
def test_split_command(command, words):
    assert split_command("x/unix", command) == words


@pytest.mark.parametrize("command, message", [
    (None, "command is required"), ("   ", "command is required"), ("smtpd\n-v", "line break"),
    ("pipe {a", "unbalanced"), ("pipe a}", "unbalanced"), ("pipe #x", "starts with '#'"),
    ("pipe { #x y }", "starts with '#'"),
    ("-v smtpd", "must start with the daemon name"), ("smtpd -o a=b", "under options"),
    ("smtpd -vo a=b", "under options"), ("smtpd -oa=b", "under options"),
])
def test_split_command_refuses(command, message):
    with pytest.raises(MasterCfError, match=message):
        split_command("x/unix", command)


SERVICE = {"name": "submission", "type": "inet", "state": "present", "private": "n", "unprivileged": "-",
           "chroot": "y", "wakeup": "-", "maxproc": "-", "command": "smtpd",
           "options": {"syslog_name": "postfix/submission", "smtpd_sasl_auth_enable": True,
                       "smtpd_client_restrictions": ["permit_sasl_authenticated", "reject"]}}


def test_desired_entries():
    (key, wanted), (absent_key, absent) = desired_entries([SERVICE, {"name": "uucp", "type": "unix",
                                                                     "state": "absent", "command": None}])
    assert key == "submission/inet" and absent_key == "uucp/unix" and absent is None
    assert wanted.fields == ("n", "-", "y", "-", "-")
    assert wanted.command == ("smtpd",)
    assert wanted.options == (("syslog_name", "postfix/submission"), ("smtpd_sasl_auth_enable", "yes"),
                              ("smtpd_client_restrictions", "permit_sasl_authenticated,reject"))
    assert wanted.list_options == {"smtpd_client_restrictions"}


@pytest.mark.parametrize("changes, message", [
    ({"name": "a b"}, "invalid service name 'a b'"),
    ({"name": "a/b"}, "invalid service name"),
    ({"name": "#x"}, "invalid service name"),
    ({"name": "a=b"}, "invalid service name"),
    ({"name": None}, "invalid service name None"),
    ({"type": "tcp"}, "invalid type 'tcp': use one of inet, unix, unix-dgram, fifo, pass"),
    ({"command": None}, "submission/inet: command is required"),
    ({"options": {"a b": 1}}, "invalid option name 'a b'"),
    ({"options": {"": 1}}, "invalid option name ''"),
    ({"options": ["a"]}, "options must be a dictionary"),
])
def test_desired_entries_refuses(changes, message):
    with pytest.raises(MasterCfError, match=message):
        desired_entries([dict(SERVICE, **changes)])


def test_desired_entries_refuses_a_service_listed_twice():
    with pytest.raises(MasterCfError, match="submission/inet is listed twice"):
        desired_entries([SERVICE, dict(SERVICE, state="absent")])


def test_absent_service_ignores_other_fields():
    assert desired_entries([{"name": "x", "type": "unix", "state": "absent", "maxproc": "bad"}]) == [("x/unix", None)]


# --- comparing ------------------------------------------------------------------------------

def wanted(**changes):
    return desired_entries([dict(SERVICE, **changes)])[0][1]


@pytest.mark.parametrize("line", [
    "submission inet n - y - - smtpd -o syslog_name=postfix/submission -o smtpd_sasl_auth_enable=yes "
    "-o smtpd_client_restrictions=permit_sasl_authenticated,reject",
    "submission inet n - y - - smtpd -o smtpd_client_restrictions=permit_sasl_authenticated,reject "
    "-o smtpd_sasl_auth_enable=Yes -o syslog_name=postfix/submission",
    "submission inet n - y - - smtpd -o syslog_name=postfix/submission -o smtpd_sasl_auth_enable=yes "
    "-o {smtpd_client_restrictions=permit_sasl_authenticated, reject}",
    "submission inet n - y - - smtpd -o syslog_name=x -o syslog_name=postfix/submission -o smtpd_sasl_auth_enable=yes "
    "-o {smtpd_client_restrictions=permit_sasl_authenticated reject}",
])
def test_same_entry(line):
    assert same_entry(parse_entry(line), wanted()) is True


@pytest.mark.parametrize("line", [
    "submission inet - - y - - smtpd -o syslog_name=postfix/submission -o smtpd_sasl_auth_enable=yes "
    "-o smtpd_client_restrictions=permit_sasl_authenticated,reject",
    "submission inet n - y - - smtpd -v -o syslog_name=postfix/submission -o smtpd_sasl_auth_enable=yes "
    "-o smtpd_client_restrictions=permit_sasl_authenticated,reject",
    "submission inet n - y - - smtpd -o syslog_name=postfix/submission -o smtpd_sasl_auth_enable=no "
    "-o smtpd_client_restrictions=permit_sasl_authenticated,reject",
    "submission inet n - y - - smtpd -o syslog_name=postfix/submission -o smtpd_sasl_auth_enable=yes "
    "-o smtpd_client_restrictions=reject,permit_sasl_authenticated",
    "submission inet n - y - - smtpd -o syslog_name=postfix/submission -o smtpd_sasl_auth_enable=yes",
    "submission inet n - y - - smtpd -o syslog_name=postfix/submission -o smtpd_sasl_auth_enable=yes "
    "-o smtpd_client_restrictions=permit_sasl_authenticated,reject -o smtpd_tls_auth_only=yes",
    "submission inet n - y - - smtpd -o syslog_name=postfix/submission -o smtpd_sasl_auth_enable "
    "-o smtpd_client_restrictions=permit_sasl_authenticated,reject",
])
def test_different_entry(line):
    assert same_entry(parse_entry(line), wanted()) is False


def test_inner_spaces_compare_as_one():
    current = parse_entry("2525 inet - - - - - smtpd -o {smtpd_banner=$myhostname   ESMTP}")
    assert same_entry(current, desired_entries([{"name": "2525", "type": "inet", "command": "smtpd",
                                                 "options": {"smtpd_banner": "$myhostname ESMTP"}}])[0][1])


def test_plan():
    current = parse_postconf_m("\n".join([SMTP, RELAY, SMTP.replace("smtpd", "smtpd -v"), MAILDROP]))
    desired = desired_entries([
        {"name": "relay", "type": "unix", "chroot": "y", "command": "smtp",
         "options": {"syslog_name": "postfix/$service_name"}},                       # unchanged
        {"name": "smtp", "type": "inet", "private": "n", "chroot": "y", "command": "smtpd"},  # duplicated
        {"name": "maildrop", "type": "unix", "state": "absent"},                       # removed
        {"name": "uucp", "type": "unix", "state": "absent"},                           # already absent
        {"name": "smtps", "type": "inet", "command": "smtpd"},                         # added
    ])
    changes = plan(desired, current)
    counts = [(key, len(found)) for key, dummy, found in changes]
    assert counts == [("smtp/inet", 2), ("maildrop/unix", 1), ("smtps/inet", 0)]
    remove, edit = edit_requests(changes)
    assert remove == ["smtp/inet", "maildrop/unix"]
    assert edit == ["smtp/inet = smtp inet n - y - - smtpd", "smtps/inet = smtps inet - - - - - smtpd"]


# --- writing --------------------------------------------------------------------------------

def test_render_entry_puts_overrides_right_after_the_daemon():
    desired = desired_entries([{"name": "f", "type": "unix", "command": "pipe -v flags=R argv=/bin/echo { a b }",
                                "options": {"syslog_name": "postfix/f", "smtpd_banner": "two words",
                                            "content_filter": None}}])[0][1]
    line = render_entry(desired)
    assert line == ("f unix - - - - - pipe -o syslog_name=postfix/f -o { smtpd_banner = two words } "
                    "-o content_filter= -v flags=R argv=/bin/echo { a b }")
    assert same_entry(parse_entry(line), desired)


@pytest.mark.parametrize("value", ["{x}", "{ x }", "a {b c}", "inline:{a=b}", "$name", "a=b", "x,y z"])
def test_render_entry_round_trips_values(value):
    desired = desired_entries([{"name": "2525", "type": "inet", "command": "smtpd",
                                "options": {"smtpd_banner": value}}])[0][1]
    assert parse_entry(render_entry(desired)).options == (("smtpd_banner", value),)


def test_describe():
    current = parse_postconf_m("\n".join([SMTP, SMTP.replace("smtpd", "smtpd -v"), MAILDROP]))
    staged = parse_postconf_m("\n".join([MAILDROP.replace("maildrop", "x"), SMTP.replace("- ", "9 ", 1)]))
    changes = [("smtp/inet", entry(name="smtp"), current[:2]), ("maildrop/unix", None, current[2:]),
               ("new/unix", entry(name="new"), [])]
    diff = describe(changes, staged)
    assert diff["before"] == "%s\n%s\n%s\n" % (SMTP, SMTP.replace("smtpd", "smtpd -v"), MAILDROP)
    assert diff["after"] == SMTP.replace("- ", "9 ", 1) + "\n"


def test_unknown_message_names_service_and_close_names():
    changes = [("submission/inet", entry(options=(("smtpd_tls_security_levl", "encrypt"), ("mua_x", "1"),
                                                  ("smtpd_use_tls", "yes"))), [])]
    unknown = {"smtpd_tls_security_levl": "", "mua_x": "", "smtpd_use_tls": "removed from Postfix; instead, x"}
    message = unknown_message(changes, unknown, {"smtpd_tls_security_levl": ["smtpd_tls_security_level"]})
    assert message == (
        "unknown Postfix parameter smtpd_tls_security_levl in submission/inet (did you mean: "
        "smtpd_tls_security_level?); mua_x in submission/inet; smtpd_use_tls in submission/inet (removed from "
        "Postfix; instead, x); fix the option name (a parameter of your own must be referenced as $name by "
        "another setting in main.cf or master.cf)")


def test_references():
    item = entry(options=(("a", "$x, ${y} $(z)"), ("b", None), ("c", "$other")))
    assert references(item, {"x", "y", "z", "w"}) == {"x", "y", "z"}


def test_overrides_before_a_daemon_option_that_takes_a_value():
    desired = desired_entries([{"name": "s", "type": "unix", "command": "smtp -n other",
                                "options": {"syslog_name": "x"}}])[0][1]
    assert render_entry(desired) == "s unix - - - - - smtp -o syslog_name=x -n other"
    assert same_entry(parse_entry(render_entry(desired)), desired)
    # Written after "-n other", the -o is an argument, not an override: a change.
    assert not same_entry(parse_entry("s unix - - - - - smtp -n other -o syslog_name=x"), desired)


# --- inet listeners (issue 15, defect 8) ----------------------------------------------------

@pytest.mark.parametrize("name, listener", [
    ("smtp", ("", 25)), ("submission", ("", 587)), ("587", ("", 587)), (":587", ("", 587)), ("0587", ("", 587)),
    ("127.0.0.1:submission", ("127.0.0.1", 587)), ("[::1]:10025", ("::1", 10025)),
    ("[ipv6:::1]:10025", ("::1", 10025)), ("localhost:smtps", ("localhost", 465)),
])
def test_inet_listener(name, listener):
    assert inet_listener(name) == listener


@pytest.mark.parametrize("name, message", [
    ("0", "invalid port '0'"), ("70000", "invalid port '70000'"), ("nosuchservice", "invalid port"),
    ("127.0.0.1:", "invalid port ''"), ("[::1]", "invalid port ''"), ("[::1:25", "without its ']'"),
    ("[::1]x:25", "text after ']'"), ("[mail.example.org]:25", "not an IP address"), ("a!b:25", "neither a host"),
    ("25x", "invalid port '25x'"),
])
def test_inet_listener_refuses(name, message):
    with pytest.raises(MasterCfError, match=re.escape(message)):
        inet_listener(name)


def addresses(*texts):
    return {ipaddress.ip_address(text) for text in texts}


@pytest.mark.parametrize("text, expected", [
    ("all", None), ("loopback-only", addresses("127.0.0.1", "::1")), ("127.0.0.1, [::1]", addresses("127.0.0.1", "::1")),
    ("192.0.2.1 all", None), ("no-such-host.invalid", None), ("", None),
])
def test_interface_addresses(text, expected):
    assert interface_addresses(text) == expected


@pytest.mark.parametrize("first, second, shared", [
    ({"*"}, addresses("192.0.2.1"), True), (addresses("0.0.0.0"), addresses("127.0.0.1"), True),
    (addresses("::"), addresses("127.0.0.1"), False), (addresses("::"), addresses("::1"), True),
    (addresses("127.0.0.1"), addresses("127.0.0.2"), False), ({"name"}, {"name"}, True),
    ({"name"}, addresses("0.0.0.0"), False),
])
def test_overlap(first, second, shared):
    pair = [first, second]
    assert overlap(*pair) is shared and overlap(*reversed(pair)) is shared


def test_listener_addresses_without_host():
    assert listener_addresses("", None) == {"*"}
    assert listener_addresses("", addresses("127.0.0.1")) == addresses("127.0.0.1")


def test_plan_refuses_a_second_listener():
    current = parse_postconf_m(SMTP + "\n" + SUBMISSION)
    for name in ("587", "0.0.0.0:587", "127.0.0.1:submission"):
        desired = desired_entries([{"name": name, "type": "inet", "command": "smtpd"}])
        with pytest.raises(MasterCfError, match="%s/inet and submission/inet" % re.escape(name)):
            plan(desired, current)
    desired = desired_entries([{"name": "submission", "type": "inet", "state": "absent"},
                               {"name": "587", "type": "inet", "command": "smtpd"}])
    assert [key for key, dummy, dummy in plan(desired, current)] == ["submission/inet", "587/inet"]
    desired = desired_entries([{"name": "192.0.2.1:587", "type": "inet", "command": "smtpd"}])
    assert len(plan(desired, current, addresses("127.0.0.1"))) == 1
    with pytest.raises(MasterCfError, match="192.0.2.1:587/inet and submission/inet"):
        plan(desired, current)  # without inet_interfaces: every address


def test_plan_leaves_unlisted_collisions_alone():
    current = parse_postconf_m(SMTP + "\n" + SMTP.replace("smtp ", "25  ", 1))
    desired = desired_entries([{"name": "smtps", "type": "inet", "command": "smtpd"}])
    assert len(plan(desired, current)) == 1


@pytest.mark.parametrize("name", ["-n", "-c/x", "--", "a\x00b", "a\u2028b", ".", ".."])
def test_desired_entries_refuses_names(name):
    with pytest.raises(MasterCfError, match="invalid service name"):
        desired_entries([{"name": name, "type": "unix", "command": "smtpd"}])


def test_postconf_master_documents_the_service_options_it_takes():
    """The module's argument_spec is built from SERVICE_OPTIONS, drift_check fills in
    SERVICE_DEFAULTS: DOCUMENTATION must state the same (validate-modules compares it with
    the spec, and readers rely on it)."""
    from ansible_collections.postmaster.mail.plugins.modules import postconf_master

    documented = yaml.safe_load(postconf_master.DOCUMENTATION)["options"]["services"]["suboptions"]
    assert set(documented) == set(SERVICE_OPTIONS)
    for name, option in SERVICE_OPTIONS.items():
        doc = documented[name]
        assert doc.get("default") == option.get("default"), name
        assert doc.get("type", "str") == option["type"], name
        assert bool(doc.get("required")) == bool(option.get("required")), name
        assert doc.get("choices") == option.get("choices"), name


def test_service_defaults_are_the_optional_fields():
    assert SERVICE_DEFAULTS == dict(state="present", private="-", unprivileged="-", chroot="-", wakeup="-",
                                    maxproc="-", command=None, options={})
