# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Many files written, and others removed, in one step: every entry checked before
anything is touched, every changed file staged next to its path, then all renamed.

Private to postmaster.mail: no stability promise for other collections.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat

from ansible_collections.postmaster.mail.plugins.module_utils._files import (
    ModeError, WriteError, commit_files, discard_staged, fsync_directory, parse_mode, reason_of, stage_file)

FILE_KEYS = ("path", "content", "owner", "group", "mode")
# Keys the roles' models put on their file entries for other consumers (the drift check);
# ignored here, so a role can pass its model's entries as they are.
IGNORED_KEYS = ("sha256", "secret", "kind")


class BatchError(ValueError):
    """An entry that cannot be applied; the message is one line naming the option, the
    path and what to do. Nothing was changed when it is raised."""


def _number(name, lookup):
    """The user or group number `name` stands for: a number as it is, else looked up with
    `lookup` (pwd.getpwnam or grp.getgrnam, whose third field is the number). KeyError
    for an unknown name."""
    if isinstance(name, int) and not isinstance(name, bool):
        if name < 0:
            raise KeyError(name)
        return name
    if isinstance(name, str) and name.isdigit():
        return int(name)
    return lookup(name)[2]


def _check_path(where, path):
    """`path` as given when it is an absolute path to a file, else BatchError."""
    if not isinstance(path, str) or not path:
        raise BatchError("%s must be an absolute path (a string), not %r" % (where, path))
    if "\0" in path or not os.path.isabs(path) or path.endswith("/") or os.path.basename(path) in (".", ".."):
        raise BatchError("%s: %r is not an absolute path to a file; give one such as /etc/example.conf" % (where, path))
    return path


def _kind(where, path, need_directory=True):
    """'absent', 'file' or 'link' for what is at `path` (not following a symlink), or 'no
    directory' when the directory above is missing (BatchError if `need_directory`);
    BatchError for a directory or another kind of file."""
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        if not need_directory:
            return "no directory"
        raise BatchError("%s: the directory %s of %s does not exist; create it first (or fix the path)"
                         % (where, directory, path))
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return "absent"
    except OSError as exc:
        raise BatchError("%s: cannot examine %s: %s" % (where, path, reason_of(exc)))
    if stat.S_ISLNK(info.st_mode):
        return "link"
    if stat.S_ISREG(info.st_mode):
        return "file"
    what = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
    raise BatchError("%s: %s is %s; remove it by hand or choose another path" % (where, path, what))


def check_files(files, preview=False):
    """The entries of the `files` option, checked: a list of dicts with path, data (bytes),
    uid, gid, mode, owner, group and kind. BatchError for the first bad one. With
    `preview` (check mode) a missing directory is no error: an earlier task of a real run
    (a package install) may make it; such an entry's kind is 'no directory'."""
    checked = []
    for index, item in enumerate(files):
        where = "files[%d]" % index
        if not isinstance(item, dict):
            raise BatchError("%s must be a dictionary with path and content, not %r" % (where, type(item).__name__))
        path = _check_path(where + ".path", item.get("path"))
        unknown = sorted(set(item) - set(FILE_KEYS) - set(IGNORED_KEYS))
        if unknown:
            raise BatchError("%s (%s) has unknown key(s) %s; use only %s" % (where, path, ", ".join(unknown), ", ".join(FILE_KEYS)))
        content = item.get("content")
        if not isinstance(content, str):
            raise BatchError("%s.content (%s) must be a string; give the file's text" % (where, path))
        owner = "root" if item.get("owner") is None else item["owner"]
        group = "root" if item.get("group") is None else item["group"]
        try:
            uid = _number(owner, pwd.getpwnam)
        except (KeyError, TypeError):
            raise BatchError("%s.owner (%s): %r is not a user on this host; create the user first or name an existing one"
                             % (where, path, owner))
        try:
            gid = _number(group, grp.getgrnam)
        except (KeyError, TypeError):
            raise BatchError("%s.group (%s): %r is not a group on this host; create the group first or name an existing one"
                             % (where, path, group))
        try:
            mode = parse_mode("0644" if item.get("mode") is None else item["mode"])
        except ModeError as exc:
            raise BatchError("%s.mode (%s): %s" % (where, path, exc))
        checked.append(dict(path=path, data=content.encode("utf-8", "surrogateescape"), uid=uid, gid=gid,
                            mode=mode, owner=str(owner), group=str(group), kind=_kind(where + ".path", path, not preview)))
    return checked


def check_absent(absent):
    """The `absent` paths, each with what is there now: a list of (path, kind). A path
    whose directory does not exist is not there ('no directory')."""
    checked = []
    for index, path in enumerate(absent):
        where = "absent[%d]" % index
        checked.append((_check_path(where, path), _kind(where, path, need_directory=False)))
    return checked


def _check_unique(files, absent):
    seen = set()
    for path in [item["path"] for item in files] + [path for path, dummy in absent]:
        if path in seen:
            raise BatchError("files/absent: %s is named twice; name each path once, in files or in absent" % path)
        seen.add(path)


def _read_current(path):
    """(bytes, uid, gid, mode) of the regular file at `path`, or None when none is there
    (a symlink counts as none: it is never followed, and is replaced)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if os.path.islink(path):
            return None
        raise BatchError("files: cannot read %s: %s; nothing was changed" % (path, reason_of(exc)))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise BatchError("files: %s is not a regular file; remove it by hand or choose another path" % path)
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks), info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)


def _name(lookup, number):
    try:
        return lookup(number)[0]
    except KeyError:
        return str(number)


def _attributes(mode, uid, gid):
    return "mode %04o, owner %s, group %s" % (mode, _name(pwd.getpwuid, uid), _name(grp.getgrgid, gid))


def plan(files, absent, preview=False):
    """What a run would change, as a dict: `write` (entries whose content must be written,
    or whose symlink replaced), `fix` (entries whose content is right but attributes are
    not), `changed` (their paths, in the order given), `remove` (absent paths that exist)
    and `diff` (one entry per change). Reads only; BatchError, with nothing changed, for
    any bad entry. `preview`: see check_files; the paths whose directory is missing are
    then also in `missing_directory`."""
    files = check_files(files, preview)
    absent = check_absent(absent)
    _check_unique(files, absent)
    result = dict(write=[], fix=[], changed=[], remove=[], diff=[],
                  missing_directory=[item["path"] for item in files if item["kind"] == "no directory"])
    for item in files:
        current = None if item["kind"] in ("link", "no directory") else _read_current(item["path"])
        wanted = (item["uid"], item["gid"], item["mode"])
        if current is not None and current[0] == item["data"] and current[1:] == wanted:
            continue
        before_header = after_header = item["path"]
        if item["kind"] == "link":
            before_header = "%s (a symlink, replaced by a file)" % item["path"]
        elif current is not None and current[1:] != wanted:
            before_header = "%s (%s)" % (item["path"], _attributes(current[3], current[1], current[2]))
            after_header = "%s (%s)" % (item["path"], _attributes(item["mode"], item["uid"], item["gid"]))
        if current is None or current[0] != item["data"]:
            result["write"].append(item)
        else:
            result["fix"].append(item)
        result["changed"].append(item["path"])
        before = b"" if current is None else current[0]
        result["diff"].append(dict(before=before.decode("utf-8", "replace"), after=item["data"].decode("utf-8", "replace"),
                                   before_header=before_header, after_header=after_header))
    for path, kind in absent:
        if kind in ("file", "link"):
            result["remove"].append(path)
            # What a removed file held is never shown: it may be a retired key.
            result["diff"].append(dict(before=dict(path=path, state="link" if kind == "link" else "file"),
                                       after=dict(path=path, state="absent")))
    return result


def _fix_attributes(item):
    """Set owner, group and mode of the regular file at the entry's path on its descriptor."""
    try:
        fd = os.open(item["path"], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise WriteError(item["path"], reason_of(exc))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise WriteError(item["path"], "not a regular file any more")
        os.fchown(fd, item["uid"], item["gid"])
        os.fchmod(fd, item["mode"])
    except OSError as exc:
        raise WriteError(item["path"], reason_of(exc))
    finally:
        os.close(fd)


def apply(planned):
    """Carry out `planned` (from plan): stage every file to write, rename them all into
    place, fix the others' attributes, then remove the absent paths (a symlink itself,
    never what it points to). WriteError when a file cannot be staged: nothing was then
    changed."""
    staged = []
    try:
        for item in planned["write"]:
            staged.append((stage_file(item["path"], item["data"], attributes=(item["uid"], item["gid"], item["mode"])),
                           item["path"]))
        commit_files(staged)
    except BaseException:
        discard_staged(staged)
        raise
    for item in planned["fix"]:
        _fix_attributes(item)
    for path in planned["remove"]:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise WriteError(path, reason_of(exc))
    for directory in sorted({os.path.dirname(path) for path in planned["remove"]}):
        fsync_directory(directory)


PENDING_TEXT = (b"Written by postmaster.mail: files changed here and the handler that applies them (a reload)\n"
                b"has not finished. The next run's check finds this file and runs that handler again.\n")


def check_pending(path):
    """Whether the marker `path` (checked as an entry of `pending`) is there; BatchError for a
    directory at it."""
    if path is None:
        return False
    return _kind("pending", _check_path("pending", path), need_directory=False) in ("file", "link")


def mark_pending(path):
    """Write the marker `path` (0600 root, its directory 0700) before the changes it stands for,
    so that a run that dies before its handler leaves it behind. A symlink there is replaced."""
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        commit_files([(stage_file(path, PENDING_TEXT, attributes=(0, 0, 0o600)), path)])
    except OSError as exc:
        raise WriteError(path, reason_of(exc))
