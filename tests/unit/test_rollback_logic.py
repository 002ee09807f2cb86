"""The rollback area (plain files) and how postfix_apply picks Postfix's message."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

# As in test_maincf.py: the collection through the symlink in .cache/collections.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".cache" / "collections"))

from ansible_collections.postmaster.mail.plugins.module_utils import _rollback as rollback  # noqa: E402
from ansible_collections.postmaster.mail.plugins.module_utils._postfix_apply import pick_message  # noqa: E402


def test_first_save_wins_and_restore_is_byte_identical(tmp_path):
    main_cf = tmp_path / "main.cf"
    main_cf.write_bytes(b"myhostname = a\n# \xff kept as bytes\n")
    os.chmod(main_cf, 0o640)
    saved = rollback.save(str(tmp_path), "main.cf")
    assert saved == str(tmp_path / ".postmaster-rollback" / "main.cf")
    assert stat.S_IMODE(os.stat(tmp_path / ".postmaster-rollback").st_mode) == 0o700
    main_cf.write_text("myhostname = b\n")
    rollback.save(str(tmp_path), "main.cf")  # a second change keeps the first copy
    main_cf.write_text("myhostname = c\n")
    assert rollback.pending(str(tmp_path)) == ["main.cf"]
    assert rollback.restore(str(tmp_path)) == ["main.cf"]
    assert main_cf.read_bytes() == b"myhostname = a\n# \xff kept as bytes\n"
    assert stat.S_IMODE(os.stat(main_cf).st_mode) == 0o640
    rollback.discard(str(tmp_path))
    assert rollback.pending(str(tmp_path)) == [] and not (tmp_path / ".postmaster-rollback").exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["main.cf"]  # no temporary files left


def test_restore_without_copies_changes_nothing(tmp_path):
    (tmp_path / "main.cf").write_text("x = 1\n")
    assert rollback.restore(str(tmp_path)) == []
    assert (tmp_path / "main.cf").read_text() == "x = 1\n"


def test_the_cause_is_preferred_to_the_summary():
    lines = [
        "postfix/postfix-script: starting the Postfix mail system",
        "postfix/master: fatal: bind 127.0.0.1 port 2526: Address already in use",
        "postfix/postfix-script: fatal: mail system startup failed",
    ]
    assert pick_message(lines) == "postfix/master: fatal: bind 127.0.0.1 port 2526: Address already in use"
    assert pick_message(lines[::2]) == "postfix/postfix-script: fatal: mail system startup failed"
    assert pick_message(["postfix/smtpd: error: open database /etc/postfix/x.db", "warning: w"]) \
        == "postfix/smtpd: error: open database /etc/postfix/x.db"
    assert pick_message(["postfix/master: warning: something"]) is None
