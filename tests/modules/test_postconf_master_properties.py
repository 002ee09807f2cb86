"""Property tests of the master.cf writer (issue 15, deliverable 3), against the real
postconf(1) in a scratch configuration directory.

For any generated service set, either the backend refuses it (MasterCfError), or
`postconf -M` and `postconf -P` read back exactly the entries and -o overrides it
planned, and every other entry is unchanged. The backend of postmaster.mail.postconf_master
is driven directly (property_support.FakeModule): a module process per example would be too slow.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from conftest import POSTFIX_SHARE, age_files
from property_support import FakeModule, mostly

from ansible_collections.postmaster.mail.plugins.module_utils._mastercf import (  # noqa: E402
    MasterCf,
    MasterCfError,
    desired_entries,
    effective_options,
    parse_postconf_m,
    plan,
)

OPTION_NAMES = ["syslog_name", "smtpd_banner", "smtpd_banner", "syslog_name", "smtpd_tls_security_level", "content_filter",
                "smtpd_client_restrictions", "smtpd_sasl_auth_enable", "milter_macro_daemon_name",
                "receive_override_options", "smtpd_recipient_restrictions", "no_such_parameter"]
INET_NAMES = ["smtp", "25", "submission", "587", "0.0.0.0:587", "127.0.0.1:submission", "[::1]:587", "smtps",
              "465", "127.0.0.1:10025", "[::1]:10026", "10027", ":10028", "localhost:10029", "10030", "10031",
              "nosuchservice", "0", "-n", "[x]:25"]
COMMANDS = ["smtpd", "smtpd", "smtp", "smtp", "pipe flags=Rq user=nobody argv=/bin/cat ${recipient}", "error",
            "smtpd -v", "pipe argv=/bin/echo { a b } #x", "smtp -o x=y", "nosuchdaemon", "-v smtpd"]
UNIX_NAMES = ["relay", "filter", "postmaster-smtps", "a.b-c_d", "x:1"]


# Mostly text master.cf can hold (blanks, braces, '#', '=', '$', ','), sometimes what it cannot
# (control characters, line breaks).
PLAIN = st.text(alphabet=st.sampled_from(list("ab Z09_-./:,=$#{}@[]!é")), max_size=12)
HOSTILE = st.text(alphabet=st.sampled_from(list("a {}#-") + ["\t", "\n", "\r", "\x00", "\x7f", "\x85", "\u2028"]),
                  min_size=1, max_size=6)
TEXT = mostly(PLAIN, HOSTILE)
VALUE = st.one_of(TEXT, st.booleans(), st.integers(-5, 100000), st.none(), st.lists(TEXT, max_size=3))
FIELD = mostly(st.sampled_from(["-", "y", "n", True, False]), st.sampled_from([0, 7, "60?", "x", "", -1]))
NUMBER = mostly(st.sampled_from(["-", 0, 7, "60?", "100"]), st.sampled_from(["x", "", -1, "y", True]))
NAME_TYPE = st.one_of(
    st.tuples(mostly(st.sampled_from(INET_NAMES), st.sampled_from(UNIX_NAMES)), st.just("inet")),
    st.tuples(mostly(st.sampled_from(UNIX_NAMES), HOSTILE), st.sampled_from(["unix", "fifo", "pass", "unix-dgram"])),
)
SERVICE = st.builds(lambda name_type, service: dict(service, name=name_type[0], type=name_type[1]), NAME_TYPE, st.fixed_dictionaries(
    {"command": mostly(st.sampled_from(COMMANDS), TEXT),
     "options": st.dictionaries(mostly(st.sampled_from(OPTION_NAMES), HOSTILE), VALUE, max_size=3)},
    optional={"state": st.sampled_from(["present", "present", "absent"]), "private": FIELD, "chroot": FIELD,
              "unprivileged": FIELD, "wakeup": NUMBER, "maxproc": NUMBER},
))


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    directory = tmp_path_factory.mktemp("postfix-template")
    main_cf = (POSTFIX_SHARE / "main.cf.debian").read_text()
    main_cf += "myhostname = mail.example.test\nmydestination = $myhostname, localhost\n"
    (directory / "main.cf").write_text(main_cf)
    master_cf = (POSTFIX_SHARE / "master.cf.dist").read_text()
    # One entry with overrides and one with a grouped value, so "unchanged" means something.
    master_cf += ("submission inet n - y - - smtpd -o syslog_name=postfix/submission\n"
                  "  -o smtpd_tls_security_level=encrypt -o { smtpd_banner = $myhostname ESMTP ready }\n")
    (directory / "master.cf").write_text(master_cf)
    return directory


def postconf(directory, *args):
    age_files(directory)
    return subprocess.run(["postconf", "-c", str(directory), *args], capture_output=True, text=True,
                          check=True).stdout


def read_p(directory, key):
    """{parameter: value} of one service as `postconf -P` prints it."""
    values = {}
    for line in postconf(directory, "-P", key).splitlines():
        name, dummy, value = line.partition(" =")
        values[name.rsplit("/", 1)[1]] = value[1:] if value.startswith(" ") else value
    return values


def check_service_set(template, services):
    """The property: refused with master.cf as it was, or read back as planned."""
    directory = Path(tempfile.mkdtemp(prefix="master-property-"))
    try:
        for name in ("main.cf", "master.cf"):
            shutil.copy(template / name, directory / name)
        age_files(directory)
        before_bytes = (directory / "master.cf").read_bytes()
        before = parse_postconf_m(postconf(directory, "-M"))
        master_cf = MasterCf(FakeModule(), str(directory))
        try:
            desired = desired_entries(services)
            changes = plan(desired, master_cf.read(), master_cf.interfaces())
            if changes:
                data, dummy = master_cf.stage(changes)
                master_cf.write(data, False)
        except MasterCfError as exc:
            event("refused")
            assert "\n" not in str(exc) and str(directory) not in str(exc)
            assert (directory / "master.cf").read_bytes() == before_bytes
            return
        event("written" if changes else "unchanged")
        after = parse_postconf_m(postconf(directory, "-M"))
        named = {key for key, dummy in desired}
        # Every other entry is exactly as it was.
        assert Counter(entry.line for entry in after if entry.key not in named) == \
            Counter(entry.line for entry in before if entry.key not in named)
        for key, wanted in desired:
            found = [entry for entry in after if entry.key == key]
            if wanted is None:
                assert found == []
                continue
            assert len(found) == 1, found
            entry = found[0]
            assert (entry.fields, entry.command) == (wanted.fields, wanted.command)
            assert read_p(directory, key) == effective_options(wanted.options)
        # Planned again, nothing changes.
        assert plan(desired, MasterCf(FakeModule(), str(directory)).read()) == []
    finally:
        shutil.rmtree(directory)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(services=st.lists(SERVICE, min_size=1, max_size=3))
def test_master_cf_is_read_back_as_planned_or_refused(template, services):
    check_service_set(template, services)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(["submission", "10030", "filter"]),
       options=st.dictionaries(st.sampled_from(OPTION_NAMES[:-1]), VALUE, min_size=1, max_size=4))
def test_override_values_are_read_back_or_refused(template, name, options):
    """The -o values alone: blanks, braces, '#', '=', '$', lists, booleans, numbers."""
    check_service_set(template, [{"name": name, "type": "unix" if name == "filter" else "inet",
                                  "command": "smtpd", "options": options}])
