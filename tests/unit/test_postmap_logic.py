"""Pure-logic tests of plugins/module_utils/_postmap.py: no Postfix, no processes."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# See tests/unit/test_maincf.py for why sys.path is set here and not in a conftest.py.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".cache" / "collections"))

from ansible_collections.postmaster.mail.plugins.module_utils._postmap import (  # noqa: E402
    BUILT_SUFFIXES,
    FILE_TYPES,
    HEADER,
    REDACTED,
    TableError,
    check_entries_for_type,
    check_key,
    check_path,
    check_type,
    describe,
    parse_source,
    redact,
    render_source,
    render_value,
    reveal_entries,
    table_entries,
    table_mode,
)

HEAD = HEADER % "postmaster.mail.postmap"
DEBIAN_12_TYPES = ["btree", "cidr", "environ", "fail", "hash", "inline", "internal", "memcache", "nis",
                   "pipemap", "proxy", "randmap", "regexp", "socketmap", "static", "tcp", "texthash",
                   "unionmap", "unix"]


# --- entries ------------------------------------------------------------------------------

def test_dict_and_list_give_the_same_pairs_in_the_order_given():
    as_dict = {"[smtp.example.net]:587": "user:secret", ".example.org": "OK", "a@example.org": "b"}
    as_list = [{"key": key, "value": value} for key, value in as_dict.items()]
    expected = [("[smtp.example.net]:587", "user:secret"), (".example.org", "OK"), ("a@example.org", "b")]
    assert table_entries(as_dict) == expected
    assert table_entries(as_list) == expected
    assert table_entries(list(reversed(as_list))) == list(reversed(expected))


@pytest.mark.parametrize("value, text", [
    ("OK", "OK"),
    ("  REJECT go away  ", "REJECT go away"),
    (25, "25"),
    (1.5, "1.5"),
    (["alice@example.org", "bob@example.org"], "alice@example.org, bob@example.org"),
    (["alice", None, ""], "alice"),
    (["x", 2], "x, 2"),
])
def test_render_value(value, text):
    assert render_value("k", value) == text


@pytest.mark.parametrize("key", ["user@example.org", "example.org", ".example.org", "[smtp.example.org]:587",
                                 "[192.0.2.1]", "192.0.2.0", "smtp.example.org:25", "MiXeD@Example.ORG", "a#b"])
def test_keys_postfix_reads_as_one_word_are_accepted(key):
    assert check_key(key) == key


def test_integer_key_becomes_text():
    assert table_entries({25: "smtp"}) == [("25", "smtp")]


@pytest.mark.parametrize("entries, fragments", [
    pytest.param({"a b": "x"}, ["key 'a b' has white space"], id="key-space"),
    pytest.param({"a\tb": "x"}, ["key 'a\\tb'", "control character"], id="key-tab"),
    pytest.param({"a\nb": "x"}, ["key 'a\\nb'", "line break"], id="key-newline"),
    pytest.param({" a": "x"}, ["key ' a'", "white space", "continues the one before"], id="key-leading-space"),
    pytest.param({"a\u00a0b": "x"}, ["white space"], id="key-nbsp"),
    pytest.param({"a\u2028b": "x"}, ["line break"], id="key-line-separator"),
    pytest.param({"a\x85b": "x"}, ["line break"], id="key-nel"),
    pytest.param({"#a": "x"}, ["key '#a'", "comment"], id="key-comment"),
    pytest.param({"": "x"}, ["a key is empty"], id="key-empty"),
    pytest.param({"a\ud800": "x"}, ["lone surrogate"], id="key-surrogate"),
    pytest.param({"a": "b\tc"}, ["value of key a", "control character"], id="value-tab"),
    pytest.param({"a": "b\x00c"}, ["value of key a", "control character"], id="value-nul"),
    pytest.param({"a": "b\x1bc"}, ["value of key a", "control character"], id="value-escape-inner"),
    pytest.param({"a": "b\u2028secret"}, ["value of key a", "line break"], id="value-line-separator"),
    pytest.param({"a": "b\x85c"}, ["value of key a", "line break"], id="value-nel"),
    pytest.param({"a": "b\x9bc"}, ["value of key a", "control character"], id="value-c1"),
    pytest.param({"a": "b\udfffc"}, ["value of key a", "lone surrogate"], id="value-surrogate"),
    pytest.param({"Straße": "x", "STRASSE": "y"}, ["given twice"], id="keys-casefold"),
    pytest.param({"": "x"}, ["a key is empty"], id="key-empty"),
    pytest.param({"#a": "x"}, ["starts with '#'"], id="key-comment"),
    pytest.param({"a\x00": "x"}, ["control character"], id="key-nul"),
    pytest.param([{"key": True, "value": "x"}], ["key True is not a string"], id="key-bool"),
    pytest.param({"a": "x\ny"}, ["the value of key a has a line break"], id="value-newline"),
    pytest.param({"a": "x\r"}, ["line break"], id="value-cr"),
    pytest.param({"a": "x\n"}, ["line break"], id="value-trailing-newline"),
    pytest.param({"a": ["x", "y\nz"]}, ["line break"], id="list-item-newline"),
    pytest.param({"a": "x\x1b"}, ["control character"], id="value-escape"),
    pytest.param({"a": ""}, ["the value of key a is empty"], id="value-empty"),
    pytest.param({"a": "   "}, ["is empty"], id="value-blank"),
    pytest.param({"a": None}, ["is empty"], id="value-null"),
    pytest.param({"a": []}, ["is empty"], id="value-empty-list"),
    pytest.param({"a": True}, ["is a boolean", "quote it"], id="value-bool"),
    pytest.param({"a": {"b": "c"}}, ["is a dict"], id="value-dict"),
    pytest.param({"a": [["b"]]}, ["is a list"], id="value-nested-list"),
    pytest.param({"Key": "x", "key": "y"}, ["key key is given twice", "merge"], id="case-duplicate"),
    pytest.param([{"key": "a", "value": "x"}, {"key": "a", "value": "y"}], ["given twice"], id="list-duplicate"),
    pytest.param([{"key": "a"}], ["entries[0]", "{key: ..., value: ...}"], id="item-without-value"),
    pytest.param([{"key": "a", "value": "b", "state": "absent"}], ["entries[0]"], id="item-extra-field"),
    pytest.param(["a b"], ["entries[0]"], id="item-string"),
    pytest.param("a b", ["entries must be a dictionary"], id="string"),
])
def test_bad_entries_fail_in_one_line(entries, fragments):
    with pytest.raises(TableError) as info:
        table_entries(entries)
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message


def test_errors_never_show_the_value():
    for value in ("s3cret\nline", "s3cret\x01", True):
        with pytest.raises(TableError) as info:
            table_entries({"user": value})
        assert "s3cret" not in str(info.value)


# --- source text --------------------------------------------------------------------------

def test_render_source():
    assert render_source([("a", "1"), ("b", "x, y")], HEAD) == HEAD + "a 1\nb x, y\n"
    assert render_source([], HEAD) == HEAD
    assert render_source([("a", "1")]) == "a 1\n"


def test_parse_source_reads_as_postmap_does():
    text = "# comment\n\nA  one\n  more\nb two\na three\n   # indented comment\nc\n"
    assert parse_source(text) == {"a": "one more", "b": "two", "c": ""}


# --- diff ---------------------------------------------------------------------------------

def test_redact_keeps_keys_and_the_header():
    text = HEAD + "[smtp.example.net]:587 user:s3cret\n#old user:0ld\n  continued s3cret\n\nb x\n"
    assert redact(text, HEAD, {"b"}) == (
        HEAD + "[smtp.example.net]:587 %s\n# %s\n    %s\n\nb %s (changed)\n" % ((REDACTED,) * 4))


def test_describe_plain_shows_the_text():
    diff = describe("/etc/postfix/t", "", HEAD + "a 1\n", False, HEAD)
    assert diff == {"before_header": "/etc/postfix/t", "after_header": "/etc/postfix/t",
                    "before": "", "after": HEAD + "a 1\n"}


def test_describe_secret_marks_changed_values_only():
    before = HEAD + "a s3cret-a\nb s3cret-b\n"
    after = HEAD + "a s3cret-a\nb n3w-b\nc s3cret-c\n"
    diff = describe("/etc/postfix/t", before, after, True, HEAD)
    assert "s3cret" not in str(diff) and "n3w" not in str(diff)
    assert diff["before"] == HEAD + "a %s\nb %s\n" % (REDACTED, REDACTED)
    assert diff["after"] == HEAD + "a %s\nb %s (changed)\nc %s\n" % (REDACTED, REDACTED, REDACTED)


# --- files --------------------------------------------------------------------------------

@pytest.mark.parametrize("value, secret, mode", [
    (None, False, 0o644), (None, True, 0o600), ("0640", False, 0o640), ("640", True, 0o640),
    (0o600, False, 0o600), (384, False, 0o600),
])
def test_table_mode(value, secret, mode):
    assert table_mode(value, secret) == mode


@pytest.mark.parametrize("value", ["u=rw", "0999", "-1", 0o17777, True, "", [1]])
def test_bad_mode(value):
    with pytest.raises(TableError, match="invalid mode"):
        table_mode(value)


def test_check_type_accepts_file_types_the_host_has():
    for type_ in ("hash", "btree", "texthash"):
        check_type(type_, DEBIAN_12_TYPES)
    check_type("lmdb", DEBIAN_12_TYPES + ["lmdb"])


@pytest.mark.parametrize("type_, fragments", [
    ("nosuch", ["table type 'nosuch' is not available on this host", "use one of btree, hash, texthash",
                "(from postconf -m)"]),
    ("lmdb", ["'lmdb' is not available", "install the package postfix-lmdb"]),
    ("cdb", ["install the package postfix-cdb"]),
    ("inline", ["table type inline does not keep its entries in a file", "use one of btree, hash, texthash"]),
    ("regexp", ["regexp does not keep"]),
    ("", ["table type '' is not available"]),
])
def test_check_type_refuses_with_the_usable_types(type_, fragments):
    with pytest.raises(TableError) as info:
        check_type(type_, DEBIAN_12_TYPES)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_every_file_type_has_its_suffixes_or_none():
    assert set(FILE_TYPES) == set(BUILT_SUFFIXES) | {"texthash"}


def test_check_path(tmp_path):
    check_path(str(tmp_path / "sasl_passwd"), "hash")
    (tmp_path / "existing").write_text("a b\n")
    check_path(str(tmp_path / "existing"), "lmdb")
    check_path(str(tmp_path / "missing" / "t"), "hash", removing=True)


@pytest.mark.parametrize("name, type_, fragments", [
    ("relative", "hash", ["is relative", "absolute path"]),
    ("/missing-dir/t", "hash", ["directory /missing-dir does not exist"]),
    ("my table", "hash", ["white space, a comma or a brace", "hash:PATH"]),
    ("a,b", "hash", ["a comma"]),
    ("t.db", "hash", ["is the file postmap builds", "without .db"]),
    ("t.lmdb", "lmdb", ["without .lmdb"]),
    ("dir", "hash", ["is not a regular file"]),
    ("link", "hash", ["symbolic link"]),
    ("dir/", "hash", ["is a directory"]),
])
def test_check_path_refuses(tmp_path, name, type_, fragments):
    (tmp_path / "dir").mkdir()
    (tmp_path / "target").write_text("")
    os.symlink(tmp_path / "target", tmp_path / "link")
    path = name if name == "relative" or name.startswith("/") else "%s/%s" % (tmp_path, name)
    with pytest.raises(TableError) as info:
        check_path(path, type_)
    assert "\n" not in str(info.value)
    for fragment in fragments:
        assert fragment in str(info.value)


# --- no_log ---------------------------------------------------------------------------------

class FakeModule(object):
    def __init__(self, no_log_values):
        self.no_log_values = set(no_log_values)


@pytest.mark.parametrize("entries", [
    {"relay.example": "user:s3cret", "list": ["l1st-a", " l1st-b "], "port": 587},
    [{"key": "relay.example", "value": "user:s3cret"}, {"key": "list", "value": ["l1st-a", " l1st-b "]},
     {"key": "port", "value": 587}],
])
def test_reveal_entries(entries):
    everything = {"relay.example", "user:s3cret", "list", "l1st-a", " l1st-b ", "port", "587", "other"}
    module = FakeModule(everything)
    reveal_entries(module, entries, secret=False)
    assert module.no_log_values == {"other"}
    module = FakeModule(everything)
    reveal_entries(module, entries, secret=True)
    assert module.no_log_values == {"user:s3cret", "l1st-a", " l1st-b ", "l1st-b", "587", "other"}


def test_reveal_entries_of_a_wrong_type():
    module = FakeModule({"s3cret-string", "other"})
    reveal_entries(module, "s3cret-string", secret=True)
    assert module.no_log_values == {"s3cret-string", "other"}
    module = FakeModule({"other"})
    reveal_entries(module, 5, secret=False)
    assert module.no_log_values == {"other"}


def test_lmdb_key_size_limit():
    check_entries_for_type([("x" * 510, "v")], "lmdb")
    check_entries_for_type([("x" * 600, "v")], "hash")
    with pytest.raises(TableError, match="511 bytes, more than the 510 an lmdb table holds"):
        check_entries_for_type([("x" * 511, "v")], "lmdb")


def test_redact_never_splits_a_value_at_a_unicode_line_separator():
    """An old file may hold anything; the diff hides every value of a secret table."""
    text = "# header\nkey first\u2028secret second\x85third\n"
    assert redact(text) == "# ********\nkey ********\n"
    assert parse_source(text) == {"key": "first\u2028secret second\x85third"}


@pytest.mark.parametrize("text", ["", "\n", "a b\n", "a b"])
def test_redact_keeps_the_line_count(text):
    assert redact(text).count("\n") == text.count("\n") + (1 if text and not text.endswith("\n") else 0)
