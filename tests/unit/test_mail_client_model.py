"""plugins/plugin_utils/_mail_client.py: the mail_client role's settings check and the block
it keeps in /etc/s-nail.rc, written here by the real ansible.builtin.blockinfile (run in
this process) into scratch files."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# See tests/unit/test_maincf.py for why sys.path is set here and not in a conftest.py.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".cache" / "collections"))

from ansible.module_utils import basic  # noqa: E402
from ansible.modules import blockinfile  # noqa: E402

from ansible_collections.postmaster.mail.plugins.module_utils._drift import block_lines, sha256  # noqa: E402
from ansible_collections.postmaster.mail.plugins.plugin_utils._mail_client import (  # noqa: E402
    FIXED_SETTINGS,
    MARKER,
    REFUSED,
    model,
    problem,
)

BEGIN = MARKER.replace("{mark}", "BEGIN")
END = MARKER.replace("{mark}", "END")
DEBIAN_RC = "# s-nail(1): v14.9\n# Only a skeleton: see /usr/share/doc/s-nail\nset hold\nset ask askcc\n"


def write_block(path, state):
    """Run ansible.builtin.blockinfile as the role's task does; its result."""
    basic._ANSIBLE_ARGS = json.dumps({"ANSIBLE_MODULE_ARGS": dict(
        path=str(path), marker=state["marker"], block=state["block"], create=True)}).encode()
    basic._ANSIBLE_PROFILE = "legacy"
    output = io.StringIO()
    with contextlib.redirect_stdout(output), pytest.raises(SystemExit):
        blockinfile.main()
    return json.loads(output.getvalue())


def expected_lines(folder, extra):
    return [line % folder if "%s" in line else line for line in FIXED_SETTINGS] + list(extra)


# --- the settings check ---------------------------------------------------------------------

def test_defaults_are_fine():
    state = model("Maildir", [], ["s-nail"])
    assert state["problem"] == ""
    assert state["block"] == "set emptystart\nset folder=Maildir\nset record=+sent\nset newfolders=maildir\nset hold\n"
    assert state["profile"] == ('# Managed by postmaster.mail: local mail is delivered to ~/Maildir.\n'
                                'MAIL="$HOME/Maildir"\nexport MAIL\n')
    assert model("Mail/inbox", ["set hold", "  set sendwait", "# a comment"], ["s-nail=14.9.24-1"])["problem"] == ""


@pytest.mark.parametrize("folder", [
    "", "/Maildir", "Maildir/", "../Maildir", "a/./b", "Mail dir", 'Maildir"; touch /tmp/x; "', "$HOME",
    "Mail\ndir", "Mail`id`", ["Maildir"], None, 7,
])
def test_bad_folder_names_the_variable(folder):
    message = problem(folder, [])
    assert message.startswith("mail_client: mail_client_folder ") and "\n" not in message


@pytest.mark.parametrize("setting, why", [
    (BEGIN, "marker"), (END, "marker"), ("set x " + END, "marker"), ("#  END postmaster.mail managed block", "marker"),
    ("set hold\n!reboot", "line break"), ("set hold\r!reboot", "line break"), ("set a\x85b", "line break"),
    ("set a\u2028b", "line break"), ("set a\x00", "control"), ("set a\x1b[31m", "control"), ("set a\tb", "control"),
    ("set hold\\", "joining the next line"), ("set hold\\  ", "joining the next line"), ("", "empty"), ("   ", "empty"),
    (["set hold"], "not a string"), ({"set": "hold"}, "not a string"), (1, "not a string"),
])
def test_bad_setting_names_the_variable_and_the_item(setting, why):
    message = problem("Maildir", ["set hold", setting])
    assert message.startswith("mail_client: mail_client_extra_settings item 2 ")
    assert why in message and "\n" not in message


@pytest.mark.parametrize("settings_value", ["set hold", {"set": "hold"}, None, 3])
def test_settings_must_be_a_list(settings_value):
    assert "mail_client_extra_settings must be a list" in problem("Maildir", settings_value)


@pytest.mark.parametrize("packages", ["s-nail", [""], ["-o=Dpkg::Options"], ["s nail"], ["s-nail\n"], [None]])
def test_bad_packages(packages):
    assert "mail_client: mail_client_packages" in problem("Maildir", [], packages)


def test_a_refused_state_still_renders_and_never_matches_a_host():
    state = model(["Maildir"], "set hold", ("s-nail",))
    assert state["problem"] and state["block"] and state["profile"]
    assert state["block_sha256"] == REFUSED


# --- the writer, for real -------------------------------------------------------------------

def test_marker_setting_leaves_residue_with_blockinfile(tmp_path):
    """Why a marker is refused: blockinfile takes the last BEGIN line, so a BEGIN marker
    among the settings leaves the block's first half outside it, and it grows each run."""
    path = tmp_path / "s-nail.rc"
    state = model("Maildir", [BEGIN])
    assert state["problem"]
    write_block(path, state)
    write_block(path, state)
    assert path.read_text().count("set emptystart") == 2


def test_block_replaces_only_itself_and_reruns_change_nothing(tmp_path):
    path = tmp_path / "s-nail.rc"
    path.write_text(DEBIAN_RC)
    assert write_block(path, model("Maildir", ["set hold"]))["changed"] is True
    assert write_block(path, model("Mail", []))["changed"] is True
    assert write_block(path, model("Mail", []))["changed"] is False
    assert path.read_text() == DEBIAN_RC + BEGIN + "\n" + "\n".join(expected_lines("Mail", [])) + "\n" + END + "\n"


SETTING = st.one_of(
    st.text(max_size=25),
    st.sampled_from([BEGIN, END, "set x " + END, "set hold", "set hold\\", "a\nb", "a\rb", "a\x85b", "", " "]),
    st.builds("set {}={}".format, st.from_regex(r"[a-z-]{1,10}", fullmatch=True), st.text(max_size=15)),
)
FOLDER = st.one_of(st.from_regex(r"[A-Za-z0-9_.+-]{1,8}(/[A-Za-z0-9_.+-]{1,8}){0,2}", fullmatch=True), st.text(max_size=12))
OTHER_LINE = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=20).filter(
    lambda line: "postmaster.mail managed block" not in line)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(folder=FOLDER, extra=st.lists(SETTING, max_size=4), before=st.lists(OTHER_LINE, max_size=4),
       previous=st.lists(st.sampled_from(["set hold", "set folder=Old"]), max_size=2))
def test_any_settings_are_refused_or_written_exactly(tmp_path_factory, folder, extra, before, previous):
    """Either the role refuses the settings in one line naming the variable (and the drift check
    can never find them on a host), or the file holds exactly one block with the given settings
    as separate lines, no line outside changes, and the drift check finds the block unchanged."""
    state = model(folder, extra, ["s-nail"])
    if state["problem"]:
        assert state["block_sha256"] == REFUSED
        assert "\n" not in state["problem"]
        assert state["problem"].startswith(("mail_client: mail_client_folder ", "mail_client: mail_client_extra_settings "))
        return
    path = tmp_path_factory.mktemp("rc") / "s-nail.rc"
    outside = before + [""]
    # A block an earlier run wrote, with other settings, sits among the user's lines.
    old = [BEGIN] + list(previous) + [END] if previous else []
    path.write_text("\n".join(before[:1] + old + before[1:] + [""]))
    write_block(path, state)
    lines = path.read_text().split("\n")
    assert lines.count(BEGIN) == 1 and lines.count(END) == 1
    start, end = lines.index(BEGIN), lines.index(END)
    assert lines[start + 1:end] == expected_lines(folder, extra)
    assert lines[:start] + lines[end + 1:] == outside
    assert write_block(path, state)["changed"] is False
    assert sha256(block_lines(path.read_text(), BEGIN, END)) == state["block_sha256"]


# --- read back by s-nail itself (when it is installed on this machine) ----------------------

def snail_variables(path, names, home):
    """What s-nail holds for each variable after reading `path` as its resource file
    (`varshow` prints `set NAME=VALUE`, `set NAME` for a flag, `#variable not set: NAME`)."""
    completed = subprocess.run(
        ["s-nail", "-:/", "-#", "-X", "source %s" % path, "-X", "varshow %s" % " ".join(names), "-X", "xit"],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False, timeout=30,
        env=dict(os.environ, HOME=str(home), LC_ALL="C.UTF-8"))
    assert completed.returncode == 0, completed.stderr
    values = {}
    for line in completed.stdout.splitlines():
        if line.startswith("set "):
            name, equals, value = line[4:].partition("=")
            values[name] = value if equals else True
    return values


needs_snail = pytest.mark.skipif(shutil.which("s-nail") is None, reason="s-nail is not installed here")
GOOD_FOLDER = st.from_regex(r"[A-Za-z0-9_.+-]{1,8}(/[A-Za-z0-9_.+-]{1,8}){0,2}", fullmatch=True).filter(
    lambda folder: not set(folder.split("/")) & {".", ".."})
SNAIL_VALUE = st.text(st.sampled_from("abcXYZ019_.+-/:@,%"), min_size=1, max_size=12)


@needs_snail
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(folder=GOOD_FOLDER, values=st.lists(SNAIL_VALUE, max_size=4))
def test_snail_reads_the_block_back(tmp_path_factory, folder, values):
    """s-nail, reading the file blockinfile wrote, holds the block's settings and each extra
    setting's value exactly, and Debian's own settings outside the block still apply."""
    extra = ["set pm_extra%d=%s" % (number, value) for number, value in enumerate(values)]
    state = model(folder, extra, ["s-nail"])
    assert state["problem"] == ""
    directory = tmp_path_factory.mktemp("snail")
    path = directory / "s-nail.rc"
    path.write_text(DEBIAN_RC)
    write_block(path, state)
    names = ["emptystart", "folder", "record", "newfolders", "hold"] + ["pm_extra%d" % n for n in range(len(values))]
    expected = {"emptystart": True, "folder": folder, "record": "+sent", "newfolders": "maildir", "hold": True}
    expected.update(("pm_extra%d" % number, value) for number, value in enumerate(values))
    assert snail_variables(path, names, directory) == expected


@needs_snail
def test_snail_joins_a_line_that_ends_in_a_backslash(tmp_path):
    """Why a trailing backslash is refused: s-nail reads the next line as part of it."""
    path = tmp_path / "s-nail.rc"
    path.write_text("set pm_a=x\\\nset pm_b=1\n")
    assert snail_variables(path, ["pm_a", "pm_b"], tmp_path)["pm_a"] != "x"
    assert problem("Maildir", ["set pm_a=x\\"])
