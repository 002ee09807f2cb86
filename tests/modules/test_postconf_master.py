"""postmaster.mail.postconf_master against the real postconf(1), in a scratch config dir.

What Postfix reads is checked with `postconf -M`/`-P`; that nothing else moved is
checked on master.cf's bytes.
"""

from __future__ import annotations

import os
import stat
import subprocess

import pytest

from conftest import age_files, assert_failed, assert_ok, run_module

SUBMISSION = {
    "name": "submission",
    "type": "inet",
    "private": "n",
    "chroot": "y",
    "command": "smtpd",
    "options": {
        "syslog_name": "postfix/submission",
        "smtpd_tls_security_level": "encrypt",
        "smtpd_sasl_auth_enable": True,
        "smtpd_client_restrictions": ["permit_sasl_authenticated", "reject"],
    },
}
SUBMISSION_P = {
    "submission/inet/smtpd_client_restrictions": "permit_sasl_authenticated,reject",
    "submission/inet/smtpd_sasl_auth_enable": "yes",
    "submission/inet/smtpd_tls_security_level": "encrypt",
    "submission/inet/syslog_name": "postfix/submission",
}
UUCP_LINES = ("uucp      unix  -       n       n       -       -       pipe\n"
              "  flags=Fqhu user=uucp argv=uux -r -n -z -a$sender - $nexthop!rmail ($recipient)\n")
RELAY_LINES = "relay     unix  -       -       y       -       -       smtp\n        -o syslog_name=postfix/$service_name\n"


def master(config_dir, services, check_mode=False, diff=False, **options):
    args = dict(options, config_dir=str(config_dir), services=services)
    return run_module("postconf_master", args, check_mode=check_mode, diff=diff)


def master_cf_bytes(config_dir):
    return (config_dir / "master.cf").read_bytes()


def append(config_dir, text):
    with open(config_dir / "master.cf", "a") as handle:
        handle.write(text)


def postconf(config_dir, *args):
    age_files(config_dir)
    completed = subprocess.run(["postconf", "-c", str(config_dir), *args], capture_output=True,
                               text=True, check=True)
    return completed.stdout


def params(config_dir, service):
    """`postconf -P` for one service: {"name/type/parameter": value}."""
    values = {}
    for line in postconf(config_dir, "-P", service).splitlines():
        name, dummy, value = line.partition(" =")
        values[name] = value.strip()
    return values


def entries(config_dir, service):
    """`postconf -M` lines of one service."""
    return postconf(config_dir, "-M", service).splitlines()


# --- adding, idempotency, check mode ----------------------------------------------------

def test_adds_service_with_options(config_dir):
    result = master(config_dir, [SUBMISSION])
    assert_ok(result)
    assert result["changed"] is True
    assert result["changed_services"] == ["submission/inet"]
    assert result["reload_needed"] is True and result["restart_needed"] is False
    assert params(config_dir, "submission/inet") == SUBMISSION_P
    assert entries(config_dir, "submission/inet") == [
        "submission inet  n       -       y       -       -       smtpd -o syslog_name=postfix/submission "
        "-o smtpd_tls_security_level=encrypt -o smtpd_sasl_auth_enable=yes "
        "-o smtpd_client_restrictions=permit_sasl_authenticated,reject"]


def test_second_identical_run_is_unchanged(config_dir):
    assert master(config_dir, [SUBMISSION])["changed"] is True
    converged = master_cf_bytes(config_dir)
    for check_mode in (True, False):
        result = master(config_dir, [SUBMISSION], check_mode=check_mode, diff=True)
        assert_ok(result)
        assert result["changed"] is False
        assert result["changed_services"] == []
        assert result["reload_needed"] is False
        assert "diff" not in result
    assert master_cf_bytes(config_dir) == converged


def test_check_mode_writes_nothing_and_reports_diff(config_dir):
    before = master_cf_bytes(config_dir)
    result = master(config_dir, [SUBMISSION], check_mode=True, diff=True)
    assert_ok(result)
    assert result["changed"] is True
    assert result["changed_services"] == ["submission/inet"]
    assert result["diff"]["before"] == ""
    assert result["diff"]["after"].startswith("submission inet  n       -       y       -       -       smtpd ")
    assert "-o smtpd_tls_security_level=encrypt" in result["diff"]["after"]
    assert master_cf_bytes(config_dir) == before
    assert sorted(path.name for path in config_dir.iterdir()) == ["main.cf", "master.cf"]


def test_diff_of_real_run_matches_postconf(config_dir):
    result = master(config_dir, [SUBMISSION], diff=True)
    assert result["diff"]["after"] == postconf(config_dir, "-M", "submission/inet")


# --- changing and removing -------------------------------------------------------------

def test_changing_one_option_changes_only_that_entry(config_dir):
    master(config_dir, [SUBMISSION])
    before = (config_dir / "master.cf").read_text()
    old_lines = postconf(config_dir, "-Mf", "submission/inet")
    assert old_lines in before
    changed = dict(SUBMISSION, options=dict(SUBMISSION["options"], smtpd_tls_security_level="may"))
    unchanged = dict(SUBMISSION, name="smtp", options={})  # already so in Debian's master.cf
    result = master(config_dir, [changed, unchanged], diff=True)
    assert_ok(result)
    assert result["changed_services"] == ["submission/inet"]
    assert result["diff"]["before"].count("\n") == 1 and result["diff"]["after"].count("\n") == 1
    assert "smtpd_tls_security_level=encrypt" in result["diff"]["before"]
    assert "smtpd_tls_security_level=may" in result["diff"]["after"]
    assert params(config_dir, "submission/inet")["submission/inet/smtpd_tls_security_level"] == "may"
    new_lines = postconf(config_dir, "-Mf", "submission/inet")
    assert (config_dir / "master.cf").read_text() == before.replace(old_lines, new_lines)


def test_options_not_listed_are_removed_from_the_entry(config_dir):
    master(config_dir, [SUBMISSION])
    fewer = dict(SUBMISSION, options={"syslog_name": "postfix/submission"})
    assert master(config_dir, [fewer])["changed"] is True
    assert params(config_dir, "submission/inet") == {"submission/inet/syslog_name": "postfix/submission"}


def test_changing_a_field_is_a_change(config_dir):
    result = master(config_dir, [{"name": "smtp", "type": "inet", "private": "n", "chroot": "y",
                                  "maxproc": 20, "command": "smtpd"}])
    assert result["changed"] is True
    assert entries(config_dir, "smtp/inet") == [
        "smtp       inet  n       -       y       -       20      smtpd"]


def test_replaces_entry_in_place_keeping_comments_and_other_entries(config_dir):
    original = (config_dir / "master.cf").read_text()
    assert RELAY_LINES + "#       -o smtp_helo_timeout=5" in original
    relay = {"name": "relay", "type": "unix", "chroot": "y", "command": "smtp",
             "options": {"syslog_name": "postfix/relay", "smtp_helo_timeout": 5}}
    assert_ok(master(config_dir, [relay]))
    expected = original.replace(RELAY_LINES, "relay      unix  -       -       y       -       -       smtp\n"
                                "    -o syslog_name=postfix/relay\n    -o smtp_helo_timeout=5\n")
    assert (config_dir / "master.cf").read_text() == expected


def test_adding_appends_and_keeps_the_rest_byte_for_byte(config_dir):
    with open(config_dir / "master.cf", "ab") as handle:
        handle.write(b"# Gr\xfc\xdfe, a comment that is not UTF-8\n")
    original = master_cf_bytes(config_dir)
    assert_ok(master(config_dir, [SUBMISSION]))
    new = master_cf_bytes(config_dir)
    assert new.startswith(original)
    assert new[len(original):].decode() == postconf(config_dir, "-Mf", "submission/inet")


def test_adding_after_a_last_line_without_newline(config_dir):
    with open(config_dir / "master.cf", "ab") as handle:
        handle.write(b"last      unix  -       -       n       -       -       error")
    original = master_cf_bytes(config_dir)
    assert_ok(master(config_dir, [SUBMISSION]))
    assert master_cf_bytes(config_dir).startswith(original + b"\nsubmission inet ")
    assert entries(config_dir, "last/unix") == ["last       unix  -       -       n       -       -       error"]
    assert params(config_dir, "submission/inet") == SUBMISSION_P


def test_removes_service_and_only_its_lines(config_dir):
    original = (config_dir / "master.cf").read_text()
    result = master(config_dir, [{"name": "uucp", "type": "unix", "state": "absent"}], diff=True)
    assert_ok(result)
    assert result["changed_services"] == ["uucp/unix"]
    assert result["diff"]["before"].startswith("uucp       unix  -       n       n       -       -       pipe flags=")
    assert result["diff"]["after"] == ""
    assert (config_dir / "master.cf").read_text() == original.replace(UUCP_LINES, "")
    assert "uucp" not in postconf(config_dir, "-M")
    assert master(config_dir, [{"name": "uucp", "type": "unix", "state": "absent"}])["changed"] is False


def test_absent_of_missing_service_is_unchanged(config_dir):
    before = master_cf_bytes(config_dir)
    # Same name as an existing entry, other type: a different service.
    for service in ({"name": "submission", "type": "inet"}, {"name": "smtp", "type": "pass"}):
        result = master(config_dir, [dict(service, state="absent")])
        assert_ok(result)
        assert result["changed"] is False
    assert master_cf_bytes(config_dir) == before


def test_add_change_remove_and_keep_in_one_call(config_dir):
    services = [
        SUBMISSION,
        {"name": "pickup", "type": "unix", "private": "n", "chroot": "y", "wakeup": 60, "maxproc": 1,
         "command": "pickup"},  # already so
        {"name": "qmgr", "type": "unix", "private": "n", "chroot": "n", "wakeup": 300, "maxproc": 1,
         "command": "qmgr -v"},
        {"name": "bsmtp", "type": "unix", "state": "absent"},
    ]
    result = master(config_dir, services)
    assert_ok(result)
    assert result["changed_services"] == ["submission/inet", "qmgr/unix", "bsmtp/unix"]
    assert master(config_dir, services)["changed"] is False


def test_duplicate_entries_become_one(config_dir):
    append(config_dir, "smtp inet n - y - - smtpd -v\n")
    service = {"name": "smtp", "type": "inet", "private": "n", "chroot": "y", "command": "smtpd"}
    result = master(config_dir, [service])
    assert_ok(result)
    assert result["changed"] is True
    assert entries(config_dir, "smtp/inet") == ["smtp       inet  n       -       y       -       -       smtpd"]
    assert master(config_dir, [service])["changed"] is False


# --- values and the forms Postfix reads the same ----------------------------------------

def test_option_value_with_spaces_round_trips(config_dir):
    service = dict(SUBMISSION, options={"smtpd_banner": "$myhostname ESMTP  submission ready",
                                        "smtpd_recipient_restrictions": "permit_sasl_authenticated, reject"})
    assert_ok(master(config_dir, [service]))
    assert params(config_dir, "submission/inet") == {  # -P shows runs of spaces as one
        "submission/inet/smtpd_banner": "$myhostname ESMTP submission ready",
        "submission/inet/smtpd_recipient_restrictions": "permit_sasl_authenticated, reject",
    }
    assert "-o {smtpd_banner=$myhostname ESMTP  submission ready}" in entries(config_dir, "submission/inet")[0]
    assert master(config_dir, [service])["changed"] is False


def test_empty_and_null_values(config_dir):
    service = dict(SUBMISSION, options={"smtpd_helo_restrictions": None, "smtpd_sender_restrictions": ""})
    assert_ok(master(config_dir, [service]))
    assert "-o smtpd_helo_restrictions= -o smtpd_sender_restrictions=" in entries(config_dir, "submission/inet")[0]
    assert master(config_dir, [service])["changed"] is False


def test_pipe_command_with_options_and_grouped_argument(config_dir):
    service = {"name": "filter", "type": "unix", "private": "n", "unprivileged": "n", "chroot": "n",
               "command": "pipe flags=Rq user=nobody argv=/bin/echo { two words } ${recipient}",
               "options": {"syslog_name": "postfix/filter"}}
    assert_ok(master(config_dir, [service]))
    assert entries(config_dir, "filter/unix") == [
        "filter     unix  n       n       n       -       -       pipe -o syslog_name=postfix/filter "
        "flags=Rq user=nobody argv=/bin/echo {two words} ${recipient}"]
    assert params(config_dir, "filter/unix") == {"filter/unix/syslog_name": "postfix/filter"}
    assert master(config_dir, [service])["changed"] is False


HAND_WRITTEN = """\
# submission, written by hand
submission inet n - y - - smtpd
  -o smtpd_client_restrictions=permit_sasl_authenticated,
  # a comment inside the entry
  -o { smtpd_tls_security_level = encrypt }
  -o syslog_name=postfix/submission
  -o smtpd_sasl_auth_enable=Yes -o smtpd_client_restrictions=permit_sasl_authenticated,reject
"""


@pytest.mark.parametrize("service", [
    pytest.param(SUBMISSION, id="as-given"),
    pytest.param(dict(SUBMISSION, options=dict(reversed(list(SUBMISSION["options"].items())))), id="other-order"),
    pytest.param(dict(SUBMISSION, options=dict(SUBMISSION["options"], smtpd_sasl_auth_enable="yes",
                                               smtpd_client_restrictions="permit_sasl_authenticated, reject")),
                 id="strings"),
    pytest.param(dict(SUBMISSION, command="  smtpd "), id="command-spaces"),
])
def test_hand_written_equivalent_entry_is_unchanged(config_dir, service):
    append(config_dir, HAND_WRITTEN)
    before = master_cf_bytes(config_dir)
    result = master(config_dir, [service])
    assert_ok(result)
    assert result["changed"] is False, result
    assert master_cf_bytes(config_dir) == before


@pytest.mark.parametrize("service", [
    pytest.param(dict(SUBMISSION, private="-"), id="field"),
    pytest.param(dict(SUBMISSION, command="smtpd -v"), id="command"),
    pytest.param(dict(SUBMISSION, options=dict(SUBMISSION["options"], smtpd_sasl_auth_enable=False)), id="value"),
    pytest.param(dict(SUBMISSION, options=dict(SUBMISSION["options"], smtpd_client_restrictions="reject")),
                 id="list-shorter"),
    pytest.param(dict(SUBMISSION, options=dict(SUBMISSION["options"], milter_macro_daemon_name="ORIGINATING")),
                 id="one-more-option"),
])
def test_different_entry_is_a_change(config_dir, service):
    append(config_dir, HAND_WRITTEN)
    result = master(config_dir, [service])
    assert_ok(result)
    assert result["changed"] is True


# --- parameter names --------------------------------------------------------------------

def test_unknown_option_name_fails_with_close_matches(config_dir):
    before = master_cf_bytes(config_dir)
    service = dict(SUBMISSION, options={"smtpd_tls_security_levl": "encrypt"})
    for check_mode in (True, False):
        result = master(config_dir, [service], check_mode=check_mode)
        assert_failed(result, "unknown Postfix parameter smtpd_tls_security_levl in submission/inet",
                      "did you mean: smtpd_tls_security_level")
    assert master_cf_bytes(config_dir) == before


def test_name_derived_from_a_transport_is_known(config_dir):
    slow = {"name": "slow", "type": "unix", "chroot": "y", "command": "smtp",
            "options": {"slow_destination_concurrency_limit": 2, "relay_destination_rate_delay": "1s"}}
    result = master(config_dir, [slow])
    assert_ok(result)
    assert params(config_dir, "slow/unix")["slow/unix/slow_destination_concurrency_limit"] == "2"


def test_own_parameter_referenced_in_main_cf_is_known(config_dir):
    with open(config_dir / "main.cf", "a") as handle:
        handle.write("mua_client_restrictions = permit_sasl_authenticated, reject\n")
    service = dict(SUBMISSION, options={"smtpd_client_restrictions": "$mua_client_restrictions"})
    assert_ok(master(config_dir, [service]))
    # An -o of your own, referenced from another -o of the same entry.
    service = dict(SUBMISSION, options={"mua_sender": "reject_sender_login_mismatch",
                                        "smtpd_sender_restrictions": "$mua_sender"})
    assert_ok(master(config_dir, [service]))


def test_unreferenced_own_parameter_is_unknown(config_dir):
    result = master(config_dir, [dict(SUBMISSION, options={"mua_sender": "reject"})])
    assert_failed(result, "unknown Postfix parameter mua_sender in submission/inet", "$name")


def test_undefined_reference_is_a_warning(config_dir):
    result = master(config_dir, [dict(SUBMISSION, options={"smtpd_client_restrictions": "$mua_nowhere"})])
    assert_ok(result)
    assert "service submission/inet: $mua_nowhere is not defined" in str(result.get("warnings")), result


# --- bad input: one line, nothing written ----------------------------------------------

def sub(**changes):
    service = dict(SUBMISSION)
    for key, value in changes.items():
        if value is None:
            service.pop(key)
        else:
            service[key] = value
    return [service]


@pytest.mark.parametrize("services, fragments", [
    pytest.param(sub(command=None), ["submission/inet", "command is required", "command: smtpd"], id="no-command"),
    pytest.param(sub(command="  "), ["command is required"], id="blank-command"),
    pytest.param(sub(type="tcp"), ["type", "inet, unix, unix-dgram, fifo, pass", "tcp"], id="bad-type"),
    pytest.param(sub(maxproc="abc"), ["invalid maxproc 'abc'", "use - (the default) or a process count"],
                 id="bad-maxproc"),
    pytest.param(sub(maxproc=-1), ["invalid maxproc -1"], id="negative-maxproc"),
    pytest.param(sub(wakeup="soon"), ["invalid wakeup 'soon'"], id="bad-wakeup"),
    pytest.param(sub(private="yes"), ["invalid private 'yes'", "use y, n or -"], id="bad-private"),
    pytest.param(sub(chroot=""), ["invalid chroot ''"], id="empty-chroot"),
    pytest.param(sub(name="my submission"), ["invalid service name 'my submission'", "without spaces"],
                 id="name-with-space"),
    pytest.param(sub(name="a/b"), ["invalid service name 'a/b'"], id="name-with-slash"),
    pytest.param(sub(name=""), ["invalid service name ''"], id="empty-name"),
    pytest.param(sub(options={"smtpd tls": "x"}), ["invalid option name 'smtpd tls'"], id="option-name-space"),
    pytest.param(sub(options={"smtpd_banner": "two\nlines"}), ["option smtpd_banner", "line break"],
                 id="value-newline"),
    pytest.param(sub(options={"smtpd_client_restrictions": ["permit", "re\nject"]}), ["line break"],
                 id="list-item-newline"),
    pytest.param(sub(options={"smtpd_banner": {"a": 1}}), ["option smtpd_banner", "not supported"],
                 id="value-dict"),
    pytest.param(sub(options={"smtpd_banner": "a { b"}), ["unbalanced"], id="value-brace"),
    pytest.param(sub(command="smtpd -o syslog_name=x"), ["give it under options"], id="command-with-o"),
    pytest.param(sub(command="smtpd\n-v"), ["line break"], id="command-newline"),
    pytest.param(sub(command="pipe argv=/bin/x { y"), ["unbalanced"], id="command-brace"),
    pytest.param(sub(command="pipe argv=/bin/x #y"), ["starts with '#'"], id="command-comment"),
    pytest.param(sub(command="-v smtpd"), ["must start with the daemon name"], id="command-flag-first"),
    pytest.param(sub() + sub(), ["submission/inet is listed twice"], id="listed-twice"),
    # Issue 15, defect 9: a name with a leading '-' reached postconf as an option.
    pytest.param(sub(name="-n"), ["invalid service name '-n'", "a leading '-'"], id="name-leading-dash"),
    pytest.param(sub(name="-c/tmp", type="unix"), ["invalid service name '-c/tmp'"], id="name-dash-unix"),
    pytest.param(sub(name="sub\x01mission"), ["invalid service name", "control character"], id="name-control"),
    pytest.param(sub(name="nosuchservice"), ["nosuchservice/inet", "invalid port 'nosuchservice'",
                                             "/etc/services"], id="unknown-port-name"),
    pytest.param(sub(name="[mail.example.org]:587"), ["is not an IP address"], id="name-bracket-host"),
    pytest.param(sub(name="127.0.0.1:"), ["invalid port ''"], id="name-no-port"),
    pytest.param(sub(options={"smtpd_banner": "a\x00b"}), ["option smtpd_banner", "control character"],
                 id="value-nul"),
    pytest.param(sub(options={"smtpd_banner": "a\u2028b"}), ["option smtpd_banner", "line break"],
                 id="value-unicode-line-separator"),
    pytest.param(sub(options={"smtpd_banner": "a\tb"}), ["option smtpd_banner", "control character"],
                 id="value-tab"),
    pytest.param(sub(command="smtpd\x1b[2J"), ["the command", "control character"], id="command-escape"),
    pytest.param(sub(options={"-v": "x"}), ["invalid option name '-v'"], id="option-name-dash"),
    # Issue 15, defect 8: two items of one call on the same listener.
    pytest.param(sub() + sub(name="587"), ["submission/inet and 587/inet", "port 587", "keep one"],
                 id="same-port-in-one-call"),
    pytest.param(sub(name="smtps") + sub(name="0.0.0.0:465"), ["smtps/inet and 0.0.0.0:465/inet", "port 465"],
                 id="wildcard-and-name-in-one-call"),
])
def test_bad_input_fails_in_one_line_and_writes_nothing(config_dir, services, fragments):
    before = master_cf_bytes(config_dir)
    for check_mode in (True, False):
        result = master(config_dir, services, check_mode=check_mode)
        assert_failed(result, *fragments)
    assert master_cf_bytes(config_dir) == before
    assert sorted(path.name for path in config_dir.iterdir()) == ["main.cf", "master.cf"]


# --- issue 15, defect 8: one listener, two entries -----------------------------------------

@pytest.mark.parametrize("name", ["587", "0.0.0.0:587", "127.0.0.1:submission", ":587", "[::]:587",
                                  "[ipv6:::1]:0587", "localhost:587"])
def test_second_service_on_an_existing_port_is_refused(config_dir, name):
    """master(8) reads "587" as "submission" and keeps only the last entry; an entry with a
    host shares the socket of the wildcard one: either way submission's TLS enforcement
    would be gone."""
    assert_ok(master(config_dir, [SUBMISSION]))
    before = master_cf_bytes(config_dir)
    for check_mode in (True, False):
        result = master(config_dir, [dict(SUBMISSION, name=name, options={})], check_mode=check_mode)
        assert_failed(result, "services: %s/inet and submission/inet" % name, "port 587",
                      "change submission/inet instead", "{name: submission, type: inet, state: absent}")
    assert master_cf_bytes(config_dir) == before


def test_debian_smtp_entry_counts_as_port_25(config_dir):
    result = master(config_dir, [dict(SUBMISSION, name="25")])
    assert_failed(result, "25/inet and smtp/inet", "port 25")


def test_replacing_a_listener_in_one_call(config_dir):
    assert_ok(master(config_dir, [SUBMISSION]))
    result = master(config_dir, [{"name": "submission", "type": "inet", "state": "absent"},
                                 dict(SUBMISSION, name="127.0.0.1:587")])
    assert_ok(result)
    assert result["changed_services"] == ["submission/inet", "127.0.0.1:587/inet"]
    assert entries(config_dir, "submission/inet") == []
    assert len(entries(config_dir, "127.0.0.1:587/inet")) == 1


def test_other_addresses_on_the_same_port_are_allowed(config_dir):
    """With inet_interfaces = 127.0.0.1, a service without a host listens there only."""
    with open(config_dir / "main.cf", "a") as handle:
        handle.write("inet_interfaces = 127.0.0.1\n")
    assert_ok(master(config_dir, [SUBMISSION]))
    result = master(config_dir, [dict(SUBMISSION, name="192.0.2.1:587")])
    assert_ok(result)
    assert result["changed_services"] == ["192.0.2.1:587/inet"]
    assert_failed(master(config_dir, [dict(SUBMISSION, name="127.0.0.1:587")]),
                  "127.0.0.1:587/inet and submission/inet")
    assert_failed(master(config_dir, [dict(SUBMISSION, name="0.0.0.0:587")]),
                  "0.0.0.0:587/inet and submission/inet")


def test_an_existing_collision_is_reported_for_a_listed_service(config_dir):
    """A host that an older version left with two entries on port 587 is not called
    converged: the run fails and says which entry to remove."""
    append(config_dir, "submission inet n - y - - smtpd\n587 inet n - y - - smtpd\n")
    before = master_cf_bytes(config_dir)
    result = master(config_dir, [dict(SUBMISSION, options={})])
    assert_failed(result, "submission/inet and 587/inet", "{name: 587, type: inet, state: absent}")
    assert master_cf_bytes(config_dir) == before
    assert_ok(master(config_dir, [dict(SUBMISSION, options={}), {"name": "587", "type": "inet", "state": "absent"}]))


def test_broken_master_cf_fails_with_postfix_message(config_dir):
    append(config_dir, "broken inet n - y - abc smtpd\n")
    before = master_cf_bytes(config_dir)
    result = master(config_dir, [SUBMISSION])
    assert_failed(result, "cannot read", 'invalid process_limit field "abc"')
    assert master_cf_bytes(config_dir) == before


def test_missing_master_cf_fails_clearly(config_dir):
    (config_dir / "master.cf").unlink()
    result = master(config_dir, [SUBMISSION])
    assert_failed(result, str(config_dir / "master.cf"), "does not exist")
    assert sorted(path.name for path in config_dir.iterdir()) == ["main.cf"]


# --- files -------------------------------------------------------------------------------

def test_write_keeps_file_mode(config_dir):
    os.chmod(config_dir / "master.cf", 0o640)
    assert master(config_dir, [SUBMISSION])["changed"] is True
    assert stat.S_IMODE(os.stat(config_dir / "master.cf").st_mode) == 0o640


def test_backup_keeps_old_content(config_dir):
    before = master_cf_bytes(config_dir)
    result = master(config_dir, [SUBMISSION], backup=True)
    assert_ok(result)
    with open(result["backup_file"], "rb") as handle:
        assert handle.read() == before
    assert os.path.dirname(result["backup_file"]) == str(config_dir)


def test_no_backup_without_change_or_in_check_mode(config_dir):
    master(config_dir, [SUBMISSION])
    assert "backup_file" not in master(config_dir, [SUBMISSION], backup=True)
    result = master(config_dir, [dict(SUBMISSION, maxproc=5)], backup=True, check_mode=True)
    assert result["changed"] is True and "backup_file" not in result
    # Only the rollback copy of the first write, which postmaster.mail.postfix_apply uses.
    assert sorted(path.name for path in config_dir.iterdir()) == [".postmaster-rollback", "main.cf", "master.cf"]


def test_first_write_keeps_a_rollback_copy(config_dir):
    before = master_cf_bytes(config_dir)
    result = master(config_dir, [SUBMISSION], check_mode=True)
    assert "rollback_file" not in result and not (config_dir / ".postmaster-rollback").exists()
    result = master(config_dir, [SUBMISSION])
    assert result["rollback_file"] == str(config_dir / ".postmaster-rollback" / "master.cf")
    assert master(config_dir, [dict(SUBMISSION, maxproc=5)])["changed"] is True
    with open(result["rollback_file"], "rb") as handle:
        assert handle.read() == before  # still the file from before the first write
