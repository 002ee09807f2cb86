"""Pure-logic test of the packages action's check-mode answer (plugins/action/packages.py):
which packages dpkg's status file does not list as installed."""

from __future__ import annotations

import sys
from pathlib import Path

# See tests/unit/test_maincf.py for why sys.path is set here and not in a conftest.py.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".cache" / "collections"))

from ansible_collections.postmaster.mail.plugins.action.packages import answered_by_dpkg, missing_packages  # noqa: E402

STATUS = """Package: python3
Status: install ok installed
Architecture: amd64

Package: postfix
Status: deinstall ok config-files
Architecture: amd64

Package: s-nail
Status: install ok installed
Architecture: amd64
"""


def test_missing_packages():
    assert missing_packages(["postfix", "s-nail", "python3-apt", "python3=3.11.2-1", "s-nail:amd64"], STATUS) == [
        "postfix", "python3-apt"]
    assert missing_packages([], STATUS) == []


def test_only_plain_names_to_be_present_are_answered_by_dpkg():
    assert answered_by_dpkg({}, ["postfix", "s-nail:amd64"])
    assert answered_by_dpkg({"state": "present", "update_cache": True}, ["postfix"])
    assert not answered_by_dpkg({"state": "latest"}, ["postfix"])
    assert not answered_by_dpkg({"state": "absent"}, ["postfix"])
    assert not answered_by_dpkg({}, [])
    for name in ("postfix=3.7.11-0+deb12u1", "postfix*", "./postfix.deb"):
        assert not answered_by_dpkg({}, ["s-nail", name])
