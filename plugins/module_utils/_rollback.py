# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The rollback area: copies of main.cf and master.cf as Postfix last ran with them.

The writers (postconf, postconf_master) save the file they are about to replace, but
only when no copy is pending, so after several writes in one run the copy is still the
configuration before the run. postfix_apply restores the copies when Postfix rejects
the new files, and discards them once Postfix runs on the new ones.

Private to postmaster.mail: no stability promise for other collections.
"""

from __future__ import annotations

import os
import shutil
import tempfile

ROLLBACK_DIR = ".postmaster-rollback"
FILES = ("main.cf", "master.cf")


def rollback_dir(config_dir):
    return os.path.join(config_dir, ROLLBACK_DIR)


def save(config_dir, name):
    """Keep a copy of config_dir/name unless one is pending; return the copy's path."""
    directory = rollback_dir(config_dir)
    saved = os.path.join(directory, name)
    if os.path.exists(saved):
        return saved
    if not os.path.isdir(directory):
        os.mkdir(directory, 0o700)
    _copy(os.path.join(config_dir, name), saved)
    return saved


def pending(config_dir):
    """Names of the files that have a saved copy, in FILES order."""
    directory = rollback_dir(config_dir)
    return [name for name in FILES if os.path.isfile(os.path.join(directory, name))]


def restore(config_dir):
    """Put every saved copy back in place atomically; return the names restored."""
    names = pending(config_dir)
    for name in names:
        _copy(os.path.join(rollback_dir(config_dir), name), os.path.join(config_dir, name))
    return names


def discard(config_dir):
    """Forget the saved copies: Postfix now runs on the files in place."""
    shutil.rmtree(rollback_dir(config_dir), ignore_errors=True)


def _copy(source, target):
    """Copy bytes, mode, times and owner to a temporary file next to target, then rename."""
    fd, tmp_path = tempfile.mkstemp(prefix=".%s." % os.path.basename(target), dir=os.path.dirname(target))
    try:
        with os.fdopen(fd, "wb") as handle, open(source, "rb") as original:
            shutil.copyfileobj(original, handle)
        shutil.copystat(source, tmp_path)
        if os.geteuid() == 0:
            info = os.stat(source)
            os.chown(tmp_path, info.st_uid, info.st_gid)
        os.replace(tmp_path, target)
    except BaseException:
        if os.path.exists(tmp_path):
            os.unlink(tmp_path)
        raise
