# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""File attributes given as module options, read the way ansible.builtin.file reads them
(pure logic), and a crash-safe atomic write.

Private to postmaster.mail: no stability promise for other collections.
"""

from __future__ import annotations

import os
import tempfile


class ModeError(ValueError):
    """A mode that is neither an octal string nor a number from 0 to 0o7777."""


def parse_mode(value, example="'0644'"):
    """The mode `value` gives: an octal string such as '0644', or (as in
    ansible.builtin.file) an integer that is the mode itself, which is what YAML makes
    of an unquoted 0644. `example` is the octal string the error message suggests."""
    if isinstance(value, int) and not isinstance(value, bool):
        mode = value
    else:
        try:
            mode = int(str(value), 8)
        except ValueError:
            mode = -1
    if not 0 <= mode <= 0o7777:
        raise ModeError("invalid mode %r: give an octal string such as %s" % (value, example))
    return mode


class WriteError(Exception):
    """A file could not be written; nothing was replaced. The message names the file and
    the system's reason (for example "No space left on device"), also kept in `reason`."""

    def __init__(self, path, reason):
        super(WriteError, self).__init__("cannot write %s: %s" % (path, reason))
        self.reason = reason


def reason_of(exc):
    """The system's reason in an OSError or WriteError, else the exception's text."""
    return getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc)


def fsync_directory(path):
    """Make a rename or unlink in directory `path` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def stage_file(path, data, like=None, keep_times=False, attributes=None):
    """Write `data` (bytes) to a new temporary file next to `path`, with the mode and (as
    root) the owner and group of the file `like` (default: `path` itself, when it exists),
    or those `attributes` gives, a (uid, gid, mode) tuple, set on the descriptor, and fsync
    it. Returns the temporary file's path, for commit_files; on failure removes it and
    raises WriteError naming `path`."""
    directory, name = os.path.split(path)
    try:
        fd, tmp_path = tempfile.mkstemp(prefix=".%s." % name, dir=directory or ".")
    except OSError as exc:
        raise WriteError(path, reason_of(exc))
    try:
        info = None
        if attributes is None:
            try:
                info = os.stat(like or path)
            except FileNotFoundError:
                pass
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if attributes is not None:
            os.fchown(fd, attributes[0], attributes[1])
            os.fchmod(fd, attributes[2])
        elif info is not None:
            if os.geteuid() == 0:
                os.fchown(fd, info.st_uid, info.st_gid)
            os.fchmod(fd, info.st_mode & 0o7777)
            if keep_times:
                os.utime(fd, ns=(info.st_atime_ns, info.st_mtime_ns))
        os.fsync(fd)
    except BaseException as exc:
        os.close(fd)
        os.unlink(tmp_path)
        if isinstance(exc, OSError):
            raise WriteError(path, reason_of(exc))
        raise
    os.close(fd)
    return tmp_path


def commit_files(staged):
    """Rename each staged (temporary path, path) pair over its path, in order, then fsync
    the directories, so that after a crash each path holds its old or its new bytes."""
    for tmp_path, path in staged:
        os.replace(tmp_path, path)
    for directory in sorted({os.path.dirname(path) or "." for dummy, path in staged}):
        fsync_directory(directory)


def discard_staged(staged):
    """Remove staged temporary files that were not committed."""
    for tmp_path, dummy in staged:
        try:
            os.unlink(tmp_path)
        except FileNotFoundError:
            pass


def atomic_write(path, data, like=None, keep_times=False):
    """Replace `path` with `data` (bytes) so that a crash or a power loss leaves either the
    old or the new bytes, never a truncated file: temporary file in the same directory,
    fsync, rename, fsync of the directory. Attributes as stage_file; WriteError when the
    file cannot be written (the old file is then untouched)."""
    staged = [(stage_file(path, data, like, keep_times), path)]
    try:
        commit_files(staged)
    except OSError as exc:
        discard_staged(staged)
        raise WriteError(path, reason_of(exc))
