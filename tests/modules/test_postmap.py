"""postmaster.mail.postmap against the real postmap(1), with tables in a scratch directory.

What Postfix reads is checked with `postmap -q`; what was (not) touched is checked on
the files' bytes, modes, inodes and times.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import stat
import subprocess

import pytest

from conftest import assert_failed, assert_ok, query, run_module

HEADER = "# Managed by postmaster.mail.postmap: changes made here are overwritten.\n"
# Every file table type Debian's Postfix offers (lmdb and cdb from postfix-lmdb and
# postfix-cdb, which scripts/bootstrap installs), and what postmap builds for each.
SUFFIXES = {"hash": ".db", "btree": ".db", "lmdb": ".lmdb", "cdb": ".cdb", "texthash": None}
ENTRIES = {
    "[smtp.example.net]:587": "mailer@example.org:Sm7p-Pa55word",
    ".parent.example.org": "smtp:[relay.example.org]",
    "user@example.org": "REJECT    no mail for this user  ",
    "MixedCase@Example.ORG": ["alice@example.org", "bob@example.org"],
    "192.0.2.10": "OK",
    "example.com:2525": "relay:[gateway.example.com]:2525",
}
# As postmap -q returns them.
EXPECTED = {
    "[smtp.example.net]:587": "mailer@example.org:Sm7p-Pa55word",
    ".parent.example.org": "smtp:[relay.example.org]",
    "user@example.org": "REJECT    no mail for this user",
    "MixedCase@Example.ORG": "alice@example.org, bob@example.org",
    "192.0.2.10": "OK",
    "example.com:2525": "relay:[gateway.example.com]:2525",
}
OMIT = object()
SECRETS = {"[smtp.example.net]:587": "mailer@example.org:Sm7p-Pa55word", "[backup.example.net]": "b:B4ckup-Secret"}


def postmap(config_dir, path, entries=None, check_mode=False, diff=False, **options):
    """Run the module; entries default to ENTRIES, and OMIT leaves them out."""
    args = dict(options, path=str(path), config_dir=str(config_dir))
    if entries is not OMIT:
        args["entries"] = ENTRIES if entries is None else entries
    return run_module("postmap", args, check_mode=check_mode, diff=diff)


def snapshot(directory):
    """Every file in the directory with its bytes, mode, owner, inode and time."""
    files = {}
    for path in sorted(directory.iterdir()):
        info = os.lstat(path)
        files[path.name] = (path.read_bytes(), stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid,
                            info.st_ino, info.st_mtime_ns)
    return files


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def age(path, seconds):
    then = os.stat(path).st_mtime - seconds
    os.utime(path, (then, then))


# --- every entry, every type ------------------------------------------------------------

@pytest.mark.parametrize("type_", sorted(SUFFIXES))
def test_postmap_q_finds_every_entry(config_dir, tables, type_):
    path = tables / "map"
    result = postmap(config_dir, path, type=type_)
    assert_ok(result)
    reference = "%s:%s" % (type_, path)
    assert result["changed"] is True
    assert result["rebuilt"] is (SUFFIXES[type_] is not None)
    assert (result["path"], result["type"], result["map_reference"]) == (str(path), type_, reference)
    for key, value in EXPECTED.items():
        assert query(config_dir, key, reference) == value, key
    assert query(config_dir, "sub.parent.example.org", reference) is None  # postmap -q: no parent lookup
    assert query(config_dir, "nothing@example.org", reference) is None
    assert path.read_text() == HEADER + "".join("%s %s\n" % item for item in EXPECTED.items())
    built = [name for name in os.listdir(tables) if name != "map"]
    assert built == ([] if SUFFIXES[type_] is None else ["map" + SUFFIXES[type_]])
    assert mode(path) == 0o644


@pytest.mark.parametrize("type_", sorted(SUFFIXES))
def test_second_run_is_unchanged_and_builds_nothing(config_dir, tables, type_):
    path = tables / "map"
    assert postmap(config_dir, path, type=type_)["changed"] is True
    before = snapshot(tables)
    for check_mode in (True, False):
        result = postmap(config_dir, path, type=type_, check_mode=check_mode, diff=True)
        assert_ok(result)
        assert result["changed"] is False and result["rebuilt"] is False
        assert "diff" not in result
    assert snapshot(tables) == before


def test_list_entries_are_written_in_the_order_given(config_dir, tables):
    path = tables / "virtual"
    entries = [{"key": "z@example.org", "value": "root"}, {"key": "a@example.org", "value": ["x@example.org", 2]},
               {"key": "m@example.org", "value": 25}]
    assert_ok(postmap(config_dir, path, entries, type="hash"))
    assert path.read_text() == HEADER + "z@example.org root\na@example.org x@example.org, 2\nm@example.org 25\n"
    assert query(config_dir, "a@example.org", "hash:%s" % path) == "x@example.org, 2"
    reordered = list(reversed(entries))
    result = postmap(config_dir, path, reordered, type="hash")
    assert result["changed"] is True and result["rebuilt"] is True
    assert path.read_text().splitlines()[1] == "m@example.org 25"


def test_empty_table(config_dir, tables):
    path = tables / "empty"
    result = postmap(config_dir, path, {}, type="lmdb")
    assert_ok(result)
    assert path.read_text() == HEADER
    assert (tables / "empty.lmdb").is_file()
    assert query(config_dir, "anything", result["map_reference"]) is None
    assert postmap(config_dir, path, [], type="lmdb")["changed"] is False


# --- the type -----------------------------------------------------------------------------

def test_default_type_is_the_hosts_default_database_type(config_dir, tables):
    expected = subprocess.run(["postconf", "-c", str(config_dir), "-h", "default_database_type"],
                              capture_output=True, text=True, check=True).stdout.strip()
    result = postmap(config_dir, tables / "a")
    assert_ok(result)
    assert result["type"] == expected
    with open(config_dir / "main.cf", "a") as handle:
        handle.write("default_database_type = lmdb\n")
    for type_ in (None, ""):
        result = postmap(config_dir, tables / "b", type=type_)
        assert_ok(result)
        assert result["type"] == "lmdb" and result["map_reference"] == "lmdb:%s" % (tables / "b")
    assert (tables / "b.lmdb").is_file() and not (tables / "b.db").exists()
    assert query(config_dir, "192.0.2.10", "lmdb:%s" % (tables / "b")) == "OK"


# --- when postmap runs ------------------------------------------------------------------

def test_missing_built_file_is_rebuilt_from_the_unchanged_source(config_dir, tables):
    path = tables / "map"
    postmap(config_dir, path, type="hash")
    source = snapshot(tables)["map"]
    os.unlink(tables / "map.db")
    for check_mode in (True, False):
        result = postmap(config_dir, path, type="hash", check_mode=check_mode, diff=True)
        assert_ok(result)
        assert result["changed"] is True and result["rebuilt"] is True
        assert "diff" not in result  # the source does not change
        assert (tables / "map.db").exists() is not check_mode
    assert snapshot(tables)["map"] == source  # not rewritten: same bytes, inode and time
    assert query(config_dir, "192.0.2.10", "hash:%s" % path) == "OK"
    assert postmap(config_dir, path, type="hash")["changed"] is False


def test_built_file_older_than_the_source_is_rebuilt(config_dir, tables):
    path = tables / "map"
    postmap(config_dir, path, type="btree")
    age(tables / "map.db", 60)  # as if someone edited the source since the last build
    source = snapshot(tables)["map"]
    result = postmap(config_dir, path, type="btree")
    assert result["changed"] is True and result["rebuilt"] is True
    assert os.stat(tables / "map.db").st_mtime_ns >= os.stat(path).st_mtime_ns
    assert snapshot(tables)["map"] == source
    assert postmap(config_dir, path, type="btree")["changed"] is False


def test_source_touched_after_the_build_is_rebuilt_once(config_dir, tables):
    path = tables / "map"
    postmap(config_dir, path, type="cdb")
    future = os.stat(path).st_mtime + 3600  # newer than any build made now
    os.utime(path, (future, future))
    result = postmap(config_dir, path, type="cdb")
    assert result["changed"] is True and result["rebuilt"] is True
    assert os.stat(tables / "map.cdb").st_mtime_ns >= os.stat(path).st_mtime_ns
    result = postmap(config_dir, path, type="cdb")
    assert result["changed"] is False and result["rebuilt"] is False


def test_hand_edited_source_is_rewritten_and_rebuilt(config_dir, tables):
    path = tables / "map"
    postmap(config_dir, path, type="hash")
    with open(path, "a") as handle:
        handle.write("added@example.org by hand\n")
    subprocess.run(["postmap", "-c", str(config_dir), "hash:%s" % path], check=True)
    assert query(config_dir, "added@example.org", "hash:%s" % path) == "by hand"
    result = postmap(config_dir, path, type="hash", diff=True)
    assert result["changed"] is True and result["rebuilt"] is True
    assert result["diff"]["before"].endswith("added@example.org by hand\n")
    assert "added@example.org" not in result["diff"]["after"]
    assert query(config_dir, "added@example.org", "hash:%s" % path) is None


@pytest.mark.parametrize("type_", ["hash", "lmdb"])
def test_changed_table_replaces_the_built_file_by_rename(config_dir, tables, type_):
    """postmap itself rewrites hash and lmdb files in place; the module builds a staged
    copy and renames it, so the live file is a new inode and no temporary file is left."""
    path = tables / "map"
    postmap(config_dir, path, type=type_)
    built = tables / ("map" + SUFFIXES[type_])
    old_inode = os.stat(built).st_ino
    changed = dict(ENTRIES, **{"192.0.2.10": "REJECT"})
    del changed["user@example.org"]
    result = postmap(config_dir, path, changed, type=type_)
    assert result["changed"] is True and result["rebuilt"] is True
    assert os.stat(built).st_ino != old_inode
    assert sorted(os.listdir(tables)) == ["map", built.name]
    reference = result["map_reference"]
    assert query(config_dir, "192.0.2.10", reference) == "REJECT"
    assert query(config_dir, "user@example.org", reference) is None
    assert os.stat(built).st_mtime_ns >= os.stat(path).st_mtime_ns


# --- secrets, mode and owner ----------------------------------------------------------------

@pytest.mark.parametrize("type_", ["hash", "lmdb", "cdb", "texthash"])
def test_secret_table_is_0600_and_never_shows_values(config_dir, tables, type_):
    path = tables / "sasl_passwd"
    result = postmap(config_dir, path, SECRETS, type=type_, secret=True, diff=True)
    assert_ok(result)
    text = json.dumps(result)
    for value in SECRETS.values():
        assert value not in text
    assert result["diff"]["after"] == HEADER + "[smtp.example.net]:587 ********\n[backup.example.net] ********\n"
    assert result["invocation"]["module_args"]["entries"]["[backup.example.net]"] != SECRETS["[backup.example.net]"]
    for name in os.listdir(tables):
        assert mode(tables / name) == 0o600, name
    for key, value in SECRETS.items():
        assert query(config_dir, key, result["map_reference"]) == value
    changed = dict(SECRETS, **{"[backup.example.net]": "b:N3w-Secret"})
    result = postmap(config_dir, path, changed, type=type_, secret=True, diff=True, check_mode=True)
    assert "N3w-Secret" not in json.dumps(result) and "B4ckup-Secret" not in json.dumps(result)
    assert result["diff"]["before"] == HEADER + "[smtp.example.net]:587 ********\n[backup.example.net] ********\n"
    assert result["diff"]["after"] == HEADER + "[smtp.example.net]:587 ********\n[backup.example.net] ******** (changed)\n"


def test_plain_table_shows_keys_and_values(config_dir, tables):
    result = postmap(config_dir, tables / "map", {"a@example.org": "b@example.org"}, type="hash", diff=True)
    assert result["diff"] == {"before_header": str(tables / "map"), "after_header": str(tables / "map"),
                              "before": "", "after": HEADER + "a@example.org b@example.org\n"}
    assert result["invocation"]["module_args"]["entries"] == {"a@example.org": "b@example.org"}


def test_making_a_table_secret_tightens_both_files_without_a_rebuild(config_dir, tables):
    path = tables / "sasl_passwd"
    postmap(config_dir, path, SECRETS, type="hash")
    assert mode(path) == mode(tables / "sasl_passwd.db") == 0o644
    inodes = {name: info[4] for name, info in snapshot(tables).items()}
    result = postmap(config_dir, path, SECRETS, type="hash", secret=True)
    assert result["changed"] is True and result["rebuilt"] is False
    assert mode(path) == mode(tables / "sasl_passwd.db") == 0o600
    assert {name: info[4] for name, info in snapshot(tables).items()} == inodes
    assert postmap(config_dir, path, SECRETS, type="hash", secret=True)["changed"] is False


def test_mode_owner_and_group_apply_to_both_files(config_dir, tables):
    path = tables / "map"
    options = dict(type="lmdb", mode="0640", owner="postfix", group="postfix")
    result = postmap(config_dir, path, **options)
    assert_ok(result)
    postfix_ids = (pwd.getpwnam("postfix").pw_uid, grp.getgrnam("postfix").gr_gid)
    for file in (path, tables / "map.lmdb"):
        info = os.stat(file)
        assert (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid) == (0o640,) + postfix_ids, file
    assert postmap(config_dir, path, **options)["changed"] is False
    # Without owner and group, the existing owner is kept; the mode goes back to 0644.
    result = postmap(config_dir, path, type="lmdb")
    assert result["changed"] is True and result["rebuilt"] is False
    for file in (path, tables / "map.lmdb"):
        assert mode(file) == 0o644 and (os.stat(file).st_uid, os.stat(file).st_gid) == postfix_ids


def test_integer_mode_is_the_mode_itself(config_dir, tables):
    assert_ok(postmap(config_dir, tables / "map", type="hash", mode=0o640))
    assert mode(tables / "map") == mode(tables / "map.db") == 0o640


# --- check mode and removal ----------------------------------------------------------------

def test_check_mode_writes_nothing(config_dir, tables):
    path = tables / "map"
    result = postmap(config_dir, path, type="hash", check_mode=True, diff=True)
    assert_ok(result)
    assert result["changed"] is True and result["rebuilt"] is True
    assert result["diff"]["before"] == "" and result["diff"]["after"].startswith(HEADER)
    assert os.listdir(tables) == []
    postmap(config_dir, path, type="hash")
    before = snapshot(tables)
    for options in (dict(entries={"other": "x"}), dict(secret=True), dict(mode="0600"), dict(state="absent")):
        entries = options.pop("entries", ENTRIES)
        result = postmap(config_dir, path, entries, type="hash", check_mode=True, **options)
        assert_ok(result)
        assert result["changed"] is True, options
    assert snapshot(tables) == before


def test_absent_removes_the_source_and_the_built_file(config_dir, tables):
    path = tables / "map"
    postmap(config_dir, path, SECRETS, type="lmdb", secret=True)
    (tables / "unrelated").write_text("keep me\n")
    result = postmap(config_dir, path, OMIT, type="lmdb", state="absent", secret=True, diff=True)
    assert_ok(result)
    assert result["changed"] is True and result["rebuilt"] is False
    assert result["map_reference"] == "lmdb:%s" % path
    assert result["diff"]["after"] == "" and "********" in result["diff"]["before"]
    assert "Sm7p" not in json.dumps(result)
    assert os.listdir(tables) == ["unrelated"]
    assert postmap(config_dir, path, OMIT, type="lmdb", state="absent")["changed"] is False
    # Only a leftover built file: removed too.
    (tables / "map.lmdb").write_bytes(b"")
    assert postmap(config_dir, path, OMIT, type="lmdb", state="absent")["changed"] is True
    assert os.listdir(tables) == ["unrelated"]
    # Nothing to remove in a directory that does not exist.
    assert postmap(config_dir, tables / "gone" / "map", OMIT, type="lmdb", state="absent")["changed"] is False


# --- bad input: one line, no file changed ----------------------------------------------------

@pytest.mark.parametrize("path, entries, options, fragments", [
    pytest.param("map", ENTRIES, dict(type="nosuch"),
                 ["table type 'nosuch' is not available on this host", "use one of btree, cdb, hash, lmdb, regexp, texthash"],
                 id="unknown-type"),
    pytest.param("map", ENTRIES, dict(type="inline"), ["table type inline does not keep its entries in a file"],
                 id="type-without-file"),
    pytest.param("map", {"bad key": "x"}, {}, ["key 'bad key' has white space"], id="key-with-space"),
    pytest.param("map", {"k": "two\nlines"}, {}, ["the value of key k has a line break"], id="value-with-newline"),
    pytest.param("map", {"k": ["a", "b\nc"]}, {}, ["line break"], id="list-value-with-newline"),
    pytest.param("map", {"k": ""}, {}, ["the value of key k is empty"], id="empty-value"),
    pytest.param("map", {"k": True}, {}, ["is a boolean", "quote it"], id="boolean-value"),
    # Issue 15: control characters and Unicode line breaks reach the source file no more.
    pytest.param("map", {"k": "a\tb"}, {}, ["the value of key k", "control character"], id="value-with-tab"),
    pytest.param("map", {"k": "a\x00b"}, {}, ["the value of key k", "control character"], id="value-with-nul"),
    pytest.param("map", {"k": "a\u2028b"}, {}, ["the value of key k has a line break"], id="value-line-separator"),
    pytest.param("map", {"k\x85": "x"}, {}, ["line break"], id="key-with-nel"),
    pytest.param("map", {" k": "x"}, {}, ["key ' k' has white space", "continues"], id="key-leading-space"),
    pytest.param("map", {"#k": "x"}, {}, ["key '#k' starts with '#'"], id="key-comment"),
    pytest.param("map", {"Straße": "1", "STRASSE": "2"}, {}, ["given twice"], id="casefold-duplicates"),
    pytest.param("map", {"x" * 511: "1"}, dict(type="lmdb"), ["more than the 510 an lmdb table holds"],
                 id="lmdb-key-too-long"),
    pytest.param("map", {"A@x": "1", "a@x": "2"}, {}, ["key a@x is given twice"], id="case-duplicates"),
    pytest.param("map", [{"key": "k"}], {}, ["entries[0]"], id="list-item-without-value"),
    pytest.param("map", "k v", {}, ["entries must be a dictionary"], id="entries-string"),
    pytest.param("relative/map", ENTRIES, {}, ["path 'relative/map' is relative"], id="relative-path"),
    pytest.param("missing/map", ENTRIES, {}, ["/missing does not exist: create it first"], id="missing-parent-dir"),
    pytest.param("map.db", ENTRIES, dict(type="hash"), ["is the file postmap builds", "without .db"],
                 id="path-is-built-file"),
    pytest.param("my map", ENTRIES, {}, ["white space, a comma or a brace"], id="path-with-space"),
    pytest.param("map", ENTRIES, dict(mode="rw-r--r--"), ["invalid mode 'rw-r--r--'"], id="bad-mode"),
    pytest.param("map", ENTRIES, dict(owner="no-such-user"), ["owner 'no-such-user' does not exist"],
                 id="unknown-owner"),
    pytest.param("map", ENTRIES, dict(group="no-such-group"), ["group 'no-such-group' does not exist"],
                 id="unknown-group"),
    pytest.param("map", OMIT, {}, ["state is present but all of the following are missing: entries"],
                 id="no-entries"),
])
def test_bad_input_fails_in_one_line_and_changes_no_file(config_dir, tables, path, entries, options, fragments):
    postmap(config_dir, tables / "map", type="hash")  # an existing table that must stay as it is
    before = snapshot(tables)
    target = path if path.startswith("relative") else str(tables / path)
    for check_mode in (True, False):
        result = postmap(config_dir, target, entries, check_mode=check_mode, **options)
        assert_failed(result, *fragments)
    assert snapshot(tables) == before


def test_secret_values_stay_out_of_error_messages(config_dir, tables):
    result = postmap(config_dir, tables / "map", {"k": "S3cret\nsecond line"}, secret=True)
    assert_failed(result, "the value of key k has a line break")
    assert "S3cret" not in json.dumps(result)


def test_missing_main_cf_fails_clearly(config_dir, tables):
    (config_dir / "main.cf").unlink()
    result = postmap(config_dir, tables / "map")
    assert_failed(result, "postconf", "main.cf")
    assert os.listdir(tables) == []


# --- regexp tables (Dovecot's sender logins) ---------------------------------------------

REGEXP_ENTRIES = [
    {"key": "/^bob(\\+[^@]*)?@example\\.org$/", "value": "bob@example.org"},
    {"key": "/^([^@+]+)(\\+[^@]*)?@example\\.org$/", "value": "${1}"},
]


def test_regexp_table_in_order_read_back_by_postfix(config_dir, tables):
    path = tables / "sender_logins"
    result = postmap(config_dir, path, REGEXP_ENTRIES, type="regexp")
    assert_ok(result)
    assert result["changed"] is True and result["rebuilt"] is False
    assert result["map_reference"] == "regexp:%s" % path
    assert path.read_text() == HEADER + "".join("%(key)s %(value)s\n" % entry for entry in REGEXP_ENTRIES)
    assert sorted(os.listdir(tables)) == ["sender_logins"]
    assert query(config_dir, "bob+x@Example.org", "regexp:%s" % path) == "bob@example.org"
    assert query(config_dir, "alice@example.org", "regexp:%s" % path) == "alice"
    again = postmap(config_dir, path, REGEXP_ENTRIES, type="regexp")
    assert_ok(again)
    assert again["changed"] is False


def test_regexp_table_with_a_bad_pattern_changes_nothing(config_dir, tables):
    path = tables / "sender_logins"
    assert_ok(postmap(config_dir, path, REGEXP_ENTRIES, type="regexp"))
    before = snapshot(tables)
    result = postmap(config_dir, path, [{"key": "/([/", "value": "bob"}], type="regexp")
    assert_failed(result, "postmap cannot read regexp:%s, the live table is unchanged" % path)
    assert "line 2: Invalid regular expression" in result["msg"] and "\n" not in result["msg"]
    assert snapshot(tables) == before


def test_regexp_table_is_removed(config_dir, tables):
    path = tables / "sender_logins"
    assert_ok(postmap(config_dir, path, REGEXP_ENTRIES, type="regexp"))
    result = postmap(config_dir, path, OMIT, type="regexp", state="absent")
    assert_ok(result)
    assert result["changed"] is True and not path.exists()
