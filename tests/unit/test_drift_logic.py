"""Pure parts of postmaster.mail.drift_check: dpkg status, systemctl show, managed blocks."""

from __future__ import annotations

import sys
from pathlib import Path

# As in test_maincf.py: the collection through the symlink in .cache/collections.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".cache" / "collections"))

from ansible_collections.postmaster.mail.plugins.module_utils._drift import (  # noqa: E402
    block_lines,
    digest,
    installed_packages,
    parse_systemctl_show,
    secret_digest_problem,
    service_differences,
    sha256,
    with_secret_digests,
)

STATUS = """\
Package: postfix
Status: install ok installed
Architecture: amd64
Description: mail server
 continued line: with a colon

Package: s-nail
Status: deinstall ok config-files
Architecture: amd64

Package: tzdata
Status: install ok installed
Architecture: all
"""

SHOW = """\
Id=postfix.service
LoadState=loaded
UnitFileState=enabled
ActiveState=active
NeedDaemonReload=no

Id=stunnel-postmaster.service
LoadState=loaded
UnitFileState=disabled
ActiveState=inactive
NeedDaemonReload=yes

Id=nosuch.service
LoadState=not-found
UnitFileState=
ActiveState=inactive
NeedDaemonReload=no
"""


def test_installed_packages_only_counts_installed_ones():
    assert installed_packages(STATUS) == {"postfix", "postfix:amd64", "tzdata"}


def test_systemctl_show_blocks_in_order():
    units = parse_systemctl_show(SHOW)
    assert [unit["Id"] for unit in units] == ["postfix.service", "stunnel-postmaster.service", "nosuch.service"]
    assert units[2]["UnitFileState"] == ""


def test_service_differences():
    wanted = [dict(name="postfix", enabled=True, active=True),
              dict(name="stunnel-postmaster", enabled=True, active=True),
              dict(name="nosuch", enabled=True)]
    assert service_differences(wanted, parse_systemctl_show(SHOW)) == [
        "service stunnel-postmaster: unit file changed, systemd not reloaded",
        "service stunnel-postmaster: not enabled",
        "service stunnel-postmaster: not running",
        "service nosuch: not installed",
    ]


def test_stopped_and_disabled_wanted():
    wanted = [dict(name="postfix", enabled=False, active=False)]
    assert service_differences(wanted, parse_systemctl_show(SHOW)) == [
        "service postfix: enabled", "service postfix: running"]


def test_block_lines_as_blockinfile_writes_them():
    text = "set hold\n# BEGIN m\nset emptystart\nset folder=Maildir\n# END m\nset other\n"
    assert block_lines(text, "# BEGIN m", "# END m") == "set emptystart\nset folder=Maildir"
    assert block_lines(text, "# BEGIN x", "# END m") is None
    assert block_lines("# END m\n# BEGIN m\n", "# BEGIN m", "# END m") is None


def test_block_lines_is_the_last_block_as_blockinfile_edits_it():
    """ansible.builtin.blockinfile takes the last line equal to each marker: with two blocks in
    a file it rewrites the second, so the second is the one compared."""
    text = "# BEGIN m\nold one\n# END m\nbetween\n# BEGIN m\nmanaged\n# END m\n"
    assert block_lines(text, "# BEGIN m", "# END m") == "managed"
    # A stray BEGIN after the last END: blockinfile would replace END..BEGIN, so no block.
    assert block_lines(text + "# BEGIN m\n", "# BEGIN m", "# END m") is None


def test_block_lines_splits_lines_as_blockinfile_does():
    # A marker is a whole line ending in \n; a lone \r ends a line too, \r\n is one line end.
    assert block_lines("# BEGIN m\na\rb\r\nc\n# END m\n", "# BEGIN m", "# END m") == "a\nb\nc"
    assert block_lines("# BEGIN m\r\na\n# END m\n", "# BEGIN m", "# END m") is None
    assert block_lines("# BEGIN m\na\n# END m", "# BEGIN m", "# END m") is None
    assert block_lines("# BEGIN m\n# END m\n", "# BEGIN m", "# END m") == ""


SECRET = "0123456789abcdef" * 4
CHECKS = {"postfix": {"packages": ["postfix"],
                      "tables": [{"path": "/etc/postfix/t", "type": "hash", "sha256": SECRET[::-1]},
                                 {"path": "/etc/postfix/sasl", "type": "hash", "secret": True}]},
          "mail_client": {"files": [{"path": "/etc/f", "secret": True}]}}


def test_secret_digests_fill_in_only_the_secret_items():
    resolved = with_secret_digests(CHECKS["postfix"], {"/etc/postfix/sasl": SECRET})
    assert resolved["tables"] == [CHECKS["postfix"]["tables"][0], dict(CHECKS["postfix"]["tables"][1], sha256=SECRET)]
    assert "sha256" not in CHECKS["postfix"]["tables"][1], "the given desired state is not changed"
    assert with_secret_digests(CHECKS["mail_client"], {})["files"] == [{"path": "/etc/f", "secret": True, "sha256": None}]
    assert with_secret_digests({"packages": ["x"]}, {}) == {"packages": ["x"]}
    # The digest of a desired state, as `digests` reports it, is of the state without them.
    assert digest(CHECKS["postfix"]) == digest(dict(CHECKS["postfix"]))


def test_secret_digest_problems():
    assert secret_digest_problem(CHECKS, {"/etc/postfix/sasl": SECRET}) is None
    assert secret_digest_problem("not checks", {}) is None
    inline = {"postfix": {"tables": [{"path": "/etc/postfix/sasl", "secret": True, "sha256": SECRET}]}}
    assert secret_digest_problem(inline, {}) == (
        "check postfix: tables[0] (/etc/postfix/sasl) is secret, so its sha256 must not be in checks (Ansible logs "
        "them on the host): give it in secret_digests")
    for bad in ({"/p": SECRET.upper()}, {"/p": "password"}, {"/p": None}, ["/p"]):
        assert secret_digest_problem(CHECKS, bad) == (
            "secret_digests must map each secret file's path to its SHA-256 as 64 lowercase hexadecimal digits")


def test_sha256_of_text_and_bytes_agree():
    assert sha256("a\n") == sha256(b"a\n") == "87428fc522803d31065e7bce3cf03fe475096631e5e07bbd7a0fde60c4cf25c7"
