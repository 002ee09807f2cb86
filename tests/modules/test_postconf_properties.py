"""Property of the main.cf writer (postmaster.mail.postconf's backend), against the real
postconf(1): for any values given to a fixed set of real parameters, the writer either
refuses them (main.cf byte-identical), or Postfix reads back exactly the values it reports
(`postconf -n` and `postconf -h NAME`), no other parameter changes, and a second plan
finds nothing to change.

The backend runs in this process with property_support's stand-in for AnsibleModule,
so an example costs a few postconf runs, not a module start."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from conftest import POSTFIX_SHARE, age_files
from property_support import FakeModule  # also puts the collection on sys.path

from ansible_collections.postmaster.mail.plugins.module_utils._maincf.text import MainCfError, edit_main_cf
from ansible_collections.postmaster.mail.plugins.module_utils._maincf.file import MainCf, describe
from ansible_collections.postmaster.mail.plugins.module_utils._postfix_tools import parse_settings


# Pieces that exercise the writer's rules: references (known, unknown, malformed), next-hop
# syntax, list separators, comment and assignment characters, line breaks and other
# control characters, blanks Postfix does and does not see as blanks, non-ASCII text.
PIECES = st.sampled_from([
    "$myhostname", "${mydomain}", "$(mail_name)", "${myhostname?x}", "$my_hostname", "${my_domain}", "$$", "$",
    "${", "[", "]", ":", "587", "[mail.example.com]", "mail.example.com", ":0", ",", ", ", " ", "  ", "#", "=",
    " = ", "\r", "\n", "\t", "\x00", "\x1b", "\x7f", "\u2028", "\u00a0", "\u3000", "\u00e9", "\U0001F4EC",
    "localhost", "yes", "no", "10", "3.6", "ipv4", "permit_mynetworks", "reject",
])
TEXT = st.one_of(
    st.lists(PIECES, max_size=6).map("".join),
    st.text(max_size=12),
)
SCALAR = st.one_of(TEXT, st.booleans(), st.integers(min_value=-10, max_value=10 ** 12), st.none())
VALUE = st.one_of(SCALAR, st.lists(st.one_of(TEXT, st.booleans(), st.integers(0, 99)), max_size=4))

STRATEGIES = {
    "smtpd_banner": VALUE,
    "myorigin": VALUE,
    "mydestination": VALUE,
    "relayhost": VALUE,
    "message_size_limit": VALUE,
    "smtputf8_enable": VALUE,
    "compatibility_level": st.one_of(st.sampled_from(["0", "2", "3.6", "3.7", "9999", "3.99", "2.x"]), VALUE),
    "delay_warning_time": VALUE,
    "smtpd_relay_restrictions": VALUE,
    "home_mailbox": VALUE,
}
# One to three parameters a call, so that most calls are not refused for one bad value.
PARAMETERS = st.sets(st.sampled_from(sorted(STRATEGIES)), min_size=1, max_size=3).flatmap(
    lambda names: st.fixed_dictionaries({name: STRATEGIES[name] for name in names}))


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory):
    if shutil.which("postconf") is None:
        pytest.fail("postconf is not installed: run scripts/bootstrap first")
    directory = tmp_path_factory.mktemp("base")
    main_cf = (POSTFIX_SHARE / "main.cf.debian").read_text()
    main_cf += "myhostname = mail.example.test\nmydestination = $myhostname, localhost\nrelayhost = [relay.example.test]\n"
    (directory / "main.cf").write_text(main_cf)
    shutil.copy(POSTFIX_SHARE / "master.cf.dist", directory / "master.cf")
    return directory


def explicit_settings(config_dir):
    age_files(config_dir)
    output = subprocess.run(["postconf", "-c", str(config_dir), "-n"], capture_output=True, check=True).stdout
    return parse_settings(output.decode("utf-8", "surrogateescape"))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parameters=PARAMETERS)
def test_refused_or_read_back_exactly_as_reported(base_dir, parameters):
    config_dir = Path(tempfile.mkdtemp(prefix="scratch-", dir=base_dir.parent))
    try:
        for name in ("main.cf", "master.cf"):
            shutil.copy(base_dir / name, config_dir / name)
        age_files(config_dir)
        before_bytes = (config_dir / "main.cf").read_bytes()
        before = explicit_settings(config_dir)
        module = FakeModule()
        main_cf = MainCf(module, str(config_dir))
        try:
            text, current = main_cf.read()
            changes = main_cf.plan(parameters, "present", current)
            if changes:
                new_text = edit_main_cf(text, changes)
                main_cf.stage(new_text, changes, allow_custom=False)
                reported = describe(changes, current)
                main_cf.write(new_text, backup=False)
        except MainCfError as exc:
            message = str(exc)
            event("refused: %s" % message.split(":", maxsplit=1)[0][:40])
            assert "\n" not in message and "postconf-stage" not in message, message
            assert (config_dir / "main.cf").read_bytes() == before_bytes
            return
        after = explicit_settings(config_dir)
        if not changes:
            event("unchanged")
            assert (config_dir / "main.cf").read_bytes() == before_bytes
            return
        event("written")
        # What the module reports (the diff's after text) is what Postfix reads.
        assert reported["after"] == "".join("%s = %s\n" % (name, value) if value else "%s =\n" % name
                                            for name, value in sorted(changes.items()) if value is not None)
        for name, value in changes.items():
            assert after.get(name) == value, (name, value, after.get(name))
        set_names = sorted(name for name, value in changes.items() if value is not None)
        if set_names:
            output = subprocess.run(["postconf", "-c", str(config_dir), "-h"] + set_names, capture_output=True,
                                    check=True).stdout.decode("utf-8", "surrogateescape")
            assert output.split("\n")[:-1] == [changes[name] for name in set_names]
        # No other parameter changed.
        assert {name: value for name, value in after.items() if name not in changes} == \
            {name: value for name, value in before.items() if name not in changes}
        # Honest `changed`: a second plan finds nothing to do.
        assert MainCf(module, str(config_dir)).plan(parameters, "present", after) == {}
    finally:
        shutil.rmtree(config_dir, ignore_errors=True)
