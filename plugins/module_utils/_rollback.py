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

from ansible_collections.postmaster.mail.plugins.module_utils._files import WriteError, commit_files, discard_staged
from ansible_collections.postmaster.mail.plugins.module_utils._files import fsync_directory, reason_of, stage_file

ROLLBACK_DIR = ".postmaster-rollback"
FILES = ("main.cf", "master.cf")


class RollbackError(Exception):
    """A copy could not be saved or put back; the message says which and why."""


def rollback_dir(config_dir):
    return os.path.join(config_dir, ROLLBACK_DIR)


def save(config_dir, name):
    """Keep a copy of config_dir/name unless one is pending; return the copy's path.

    The copy is on disk (fsync of the file and the directory) before this returns, so
    the writer's rename of the new file never reaches the disk before it."""
    directory = rollback_dir(config_dir)
    saved = os.path.join(directory, name)
    if os.path.exists(saved):
        return saved
    created = False
    try:
        if not os.path.isdir(directory):
            os.mkdir(directory, 0o700)
            created = True
            fsync_directory(config_dir)
        _copy(os.path.join(config_dir, name), saved)
    except (OSError, WriteError) as exc:
        if created:
            shutil.rmtree(directory, ignore_errors=True)
        raise RollbackError("cannot save a copy of %s in %s before changing it, nothing was written: %s"
                            % (name, directory, reason_of(exc)))
    return saved


def pending(config_dir):
    """Names of the files that have a saved copy, in FILES order."""
    directory = rollback_dir(config_dir)
    return [name for name in FILES if os.path.isfile(os.path.join(directory, name))]


def restore(config_dir):
    """Put every saved copy back in place, as one unit as far as a file system allows: all
    copies are written next to their targets and synced first (a full disk fails here,
    with no file replaced), then renamed in place one right after the other. Returns the
    names restored; the copies stay until discard()."""
    names = pending(config_dir)
    staged = []
    try:
        for name in names:
            source = os.path.join(rollback_dir(config_dir), name)
            with open(source, "rb") as handle:
                data = handle.read()
            staged.append((stage_file(os.path.join(config_dir, name), data, like=source, keep_times=True),
                           os.path.join(config_dir, name)))
        commit_files(staged)
    except (OSError, WriteError) as exc:
        discard_staged(staged)
        raise RollbackError("cannot put back %s from %s, none was replaced: %s"
                            % (" and ".join(names), rollback_dir(config_dir), reason_of(exc)))
    return names


def discard(config_dir):
    """Forget the saved copies: Postfix now runs on the files in place."""
    shutil.rmtree(rollback_dir(config_dir), ignore_errors=True)


def _copy(source, target):
    """Copy bytes, mode, times and owner to a synced temporary file next to target, then
    rename it and sync the directory."""
    with open(source, "rb") as handle:
        data = handle.read()
    staged = [(stage_file(target, data, like=source, keep_times=True), target)]
    try:
        commit_files(staged)
    except OSError:
        discard_staged(staged)
        raise
