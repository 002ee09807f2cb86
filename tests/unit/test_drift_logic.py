"""Pure parts of postmaster.mail.drift_check: dpkg status, systemctl show, managed blocks."""

from __future__ import annotations

import sys
from pathlib import Path

# As in test_maincf.py: the collection through the symlink in .cache/collections.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".cache" / "collections"))

from ansible_collections.postmaster.mail.plugins.module_utils._drift import (  # noqa: E402
    block_lines,
    installed_packages,
    parse_systemctl_show,
    service_differences,
    sha256,
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


def test_sha256_of_text_and_bytes_agree():
    assert sha256("a\n") == sha256(b"a\n") == "87428fc522803d31065e7bce3cf03fe475096631e5e07bbd7a0fde60c4cf25c7"
