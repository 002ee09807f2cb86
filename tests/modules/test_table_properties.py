"""Property tests of the lookup table writers (issue 15, deliverable 3), against the real
postmap(1) in a scratch directory, for every table type this host's `postconf -m` lists.

For any generated entries, either the backend refuses them (TableError) and writes
nothing, or the source file holds exactly the header and one line per entry, and
`postmap -q` finds exactly the reported value for every key. Types whose entries are not
key/value lines (regexp, pcre, cidr, inline, ...) are refused. The backend of
postmaster.mail.postmap is driven directly (property_support.FakeModule): a module process per
example would be too slow.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from conftest import POSTFIX_SHARE, age_files
from property_support import FakeModule, mostly

from ansible_collections.postmaster.mail.plugins.module_utils._postmap import (  # noqa: E402
    FILE_TYPES,
    HEADER,
    Table,
    TableError,
    check_pairs,
    render_source,
    table_entries,
)
from ansible_collections.postmaster.mail.plugins.module_utils._tls_policy import (  # noqa: E402
    LEVELS,
    TlsPolicyError,
    policy_entries,
)


def host_types():
    """The table types of this host's Postfix (postconf -m needs a main.cf: an empty one)."""
    directory = tempfile.mkdtemp(prefix="postconf-m-")
    try:
        Path(directory, "main.cf").write_text("")
        return subprocess.run(["postconf", "-c", directory, "-m"], capture_output=True, text=True,
                              check=True).stdout.split()
    finally:
        shutil.rmtree(directory)


HOST_TYPES = host_types()
# Every file type this host has, and the pattern and address tables it has too (refused).
TYPES = sorted(set(HOST_TYPES) & (set(FILE_TYPES) | {"regexp", "pcre", "cidr", "inline", "static"}))


KEY_TEXT = st.text(alphabet=st.sampled_from(list("aAbZz09@.[]:-_+=%/é") + ["ß", "İ", "Σ"]), min_size=1, max_size=10)
HOSTILE = st.text(alphabet=st.sampled_from(list("a #") + ["\t", "\n", "\r", "\x00", "\x1b", "\x7f", "\x85",
                                                          "\u2028", "\u00a0"]), max_size=5)
VALUE_TEXT = st.text(alphabet=st.sampled_from(list("aZ09 @.:,=$#{}[]-_/") + ["é", "ß"]), max_size=16)
KEY = mostly(KEY_TEXT, st.one_of(HOSTILE, st.integers(0, 99), st.just("x" * 511)), odds=19)
VALUE = mostly(st.one_of(VALUE_TEXT, st.lists(VALUE_TEXT, max_size=3), st.integers(0, 9999)),
               st.one_of(HOSTILE, st.booleans(), st.none()), odds=19)
ENTRIES = st.one_of(
    st.dictionaries(KEY, VALUE, max_size=4),
    st.lists(st.fixed_dictionaries({"key": KEY, "value": VALUE}), max_size=4),
)


@pytest.fixture(scope="module")
def config_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("postfix-tables")
    main_cf = (POSTFIX_SHARE / "main.cf.debian").read_text()
    (directory / "main.cf").write_text(main_cf + "myhostname = mail.example.test\n")
    shutil.copy(POSTFIX_SHARE / "master.cf.dist", directory / "master.cf")
    age_files(directory)
    return directory


def query_all(config_dir, reference, keys):
    """{key: value} that `postmap -q -` finds for the keys, in one run."""
    completed = subprocess.run(["postmap", "-c", str(config_dir), "-q", "-", reference],
                               input="".join(key + "\n" for key in keys), capture_output=True, text=True, check=False)
    assert completed.returncode in (0, 1), completed.stderr
    found = {}
    for line in completed.stdout.splitlines():
        key, dummy, value = line.partition("\t")
        found[key] = value
    return found


def write_table(config_dir, type_, make_pairs, header):
    """Build the table in a scratch directory. Returns (pairs, source text, found values),
    or None when refused (then the directory holds nothing)."""
    directory = Path(tempfile.mkdtemp(prefix="table-property-"))
    path = directory / "table"
    module = FakeModule(dict(state="present", mode=None, owner=None, group=None))
    try:
        try:
            pairs = make_pairs()
            table = Table(module, str(path), type_, str(config_dir))
            table.manage(pairs, header)
        except (TableError, TlsPolicyError) as exc:
            assert "\n" not in str(exc) and str(directory) not in str(exc)
            assert os.listdir(directory) == []
            event("refused")
            return None
        event("written")
        text = path.read_text(encoding="utf-8")
        return pairs, text, query_all(config_dir, table.reference, [key for key, dummy in pairs])
    finally:
        shutil.rmtree(directory)


def assert_read_back(written, header):
    if written is None:
        return
    pairs, text, found = written
    # The source file holds the header and one line per entry, nothing else.
    assert text == render_source(pairs, header)
    assert text.count("\n") == len(pairs) + header.count("\n")
    for key, value in pairs:
        assert found.get(key) == value, (key, value, found)


@pytest.mark.parametrize("type_", [type_ for type_ in TYPES if type_ in FILE_TYPES])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=ENTRIES)
def test_table_is_read_back_as_written_or_refused(config_dir, type_, entries):
    header = HEADER % "postmaster.mail.postmap"
    assert_read_back(write_table(config_dir, type_, lambda: table_entries(entries), header), header)


@pytest.mark.parametrize("type_", [type_ for type_ in TYPES if type_ not in FILE_TYPES])
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=ENTRIES)
def test_pattern_and_other_tables_are_refused(config_dir, type_, entries):
    """regexp, pcre and cidr tables depend on the order and syntax of patterns, inline and
    static keep no file: the writer refuses them, whatever the entries."""
    assert write_table(config_dir, type_, lambda: table_entries(entries), "") is None


DESTINATION = mostly(st.sampled_from(["example.org", ".example.org", "[mail.example.org]:587", "[192.0.2.1]",
                                      "[2001:db8::1]:25", "Example.ORG", "mx.example:submission", "ß.example"]),
                     st.one_of(HOSTILE, st.just("[fe80::1%\nevil.example none\nx]"), st.just("[fe80::1%eth0]")))
WORD = mostly(st.sampled_from(["nexthop", "dot-nexthop", "hostname", "example.org", "!SSLv2", ">=TLSv1.2", "aNULL",
                               "/etc/ssl/ca.pem", "high"]), HOSTILE)
POLICY = st.fixed_dictionaries(
    {"destination": DESTINATION, "level": mostly(st.sampled_from(LEVELS), st.just("tight"))},
    optional={"match": st.lists(WORD, max_size=2), "protocols": st.sampled_from(["!SSLv2:!SSLv3", ">=TLSv1.2"]),
              "exclude": WORD, "ciphers": st.sampled_from(["high", "medium", "strong"]),
              "servername": st.sampled_from(["hostname", "mx.example.org", "bad name"]),
              "connection_reuse": st.booleans()},
)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(policies=st.lists(POLICY, max_size=3))
def test_tls_policy_table_is_read_back_as_written_or_refused(config_dir, policies):
    header = HEADER % "postmaster.mail.tls_policy"
    written = write_table(config_dir, "hash", lambda: check_pairs(policy_entries(policies, True, "dnssec", (3, 7))),
                          header)
    assert_read_back(written, header)
