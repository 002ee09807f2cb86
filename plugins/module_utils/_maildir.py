# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Maildir directories (cur, new, tmp) for users and /etc/skel, checked before any is made.

Users own their home directories and can swap any entry in them for a symlink at any
moment, so nothing here acts on a path name. A home directory is opened by walking its
path from `/` one component at a time with O_NOFOLLOW (see `open_directory`); every
Maildir level is then opened with O_NOFOLLOW relative to the descriptor of the level
above, made with `mkdir(dir_fd=)`, and changed with fchown/fchmod on its own descriptor.
`apply` walks again instead of trusting what `plan` saw: a symlink or a non-directory
found at that moment stops the work with one line.

Private to postmaster.mail: no stability promise for other collections.
"""

from __future__ import annotations

import errno
import os
import pwd
import re
import stat
import unicodedata

SUBDIRECTORIES = ("", "cur", "new", "tmp")
DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
MAX_SYMLINKS = 40  # as the kernel's own limit for one path lookup
NAME_MAX = 255  # bytes in one directory entry on Linux file systems
USER = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.-]{0,31}\$?\Z")  # as useradd takes them, and machine accounts


class MaildirError(ValueError):
    pass


def has_control(text):
    """Line breaks of any kind and other control characters (including lone surrogates)."""
    return any(unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp") for char in text)


def name_problem(name):
    """Why `name` cannot be a Maildir directory name Postfix reads back exactly, or ''."""
    if not isinstance(name, str) or not name:
        return "give a non-empty string"
    if has_control(name):
        return "it contains a line break or another control character"
    if name in (".", ".."):
        return "'.' and '..' are not directories of their own"
    if "/" in name:
        return "it contains '/'"
    if "$" in name:
        return "it contains '$', which Postfix expands in home_mailbox"
    if name != name.strip():
        return "it starts or ends with white space, which Postfix drops from home_mailbox"
    if len(name.encode("utf-8")) > NAME_MAX:
        return "it is longer than %d bytes" % NAME_MAX
    return ""


def check_name(name, option="name"):
    problem = name_problem(name)
    if problem:
        raise MaildirError(
            "invalid Maildir name %r in %s (%s): give one directory name inside the home "
            "directory, without '/', such as Maildir or .maildir" % (name, option, problem)
        )


def settings_problem(name, users, config_dir):
    """The first thing wrong with the maildir role's settings, in one line naming the role
    variable, or '' (the role checks on the control node what the module would refuse)."""
    why = name_problem(name)
    if why:
        return ("maildir: maildir_name %r is not a Maildir name (%s): give one directory name inside the "
                "home directory, without '/', such as Maildir or .maildir." % (name, why))
    if not isinstance(users, list):
        return "maildir: maildir_users must be a list of user names, such as [alice, bob], not %r." % (users,)
    for user in users:
        if not isinstance(user, str) or not USER.match(user):
            return ("maildir: maildir_users item %r is not a user name (letters, digits, '.', '_', '-', "
                    "not starting with '-'): give existing local users." % (user,))
    if not isinstance(config_dir, str) or not config_dir.startswith("/") or has_control(config_dir):
        return ("maildir: maildir_postfix_config_dir %r must be an absolute path without line breaks, "
                "such as /etc/postfix." % (config_dir,))
    return ""


def owners(users, skel_dir):
    """[(home, uid, gid)] for each user and for the skeleton directory (root-owned)."""
    targets = []
    for user in dict.fromkeys(users):  # each user once, in the order given
        try:
            entry = pwd.getpwnam(user)
        except KeyError:
            raise MaildirError(
                "user %s does not exist: create it first (ansible.builtin.user) or "
                "remove it from the list" % user
            )
        if not os.path.isdir(entry.pw_dir):
            raise MaildirError(
                "home directory %s of user %s does not exist: create it first "
                "(ansible.builtin.user with create_home: true)" % (entry.pw_dir, user)
            )
        targets.append((entry.pw_dir, entry.pw_uid, entry.pw_gid))
    if skel_dir:
        if not os.path.isdir(skel_dir):
            raise MaildirError(
                "skeleton directory %s does not exist: create it, or set skel_dir to an "
                "empty string to leave skeletons alone" % skel_dir
            )
        targets.append((skel_dir, 0, 0))
    return targets


def trusted_symlink(link, directory):
    """Whether only root could have made, or can change, a symlink: root owns it and the
    directory that holds it, and nobody else can write there (or the directory is sticky,
    so nobody else can remove or rename root's entries). `link` and `directory` are
    os.stat results, the link's own (not followed)."""
    return (link.st_uid == 0 and directory.st_uid == 0
            and (not directory.st_mode & 0o022 or bool(directory.st_mode & stat.S_ISVTX)))


def open_directory(path):
    """A descriptor of the directory `path`, reached from `/` one component at a time
    without following a symlink that a user other than root could have made or changed:
    a root-owned link such as /home -> /srv/home is followed, one a user made is refused."""
    if not os.path.isabs(path):
        raise MaildirError("%s is not an absolute path: give the directory from /" % path)
    parts = [part for part in reversed(path.split("/")) if part not in ("", ".")]
    where = "/"
    links = 0
    fd = os.open("/", DIRECTORY_FLAGS)
    try:
        while parts:
            part = parts.pop()
            here = os.path.join(where, part)
            try:
                child = os.open(part, DIRECTORY_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno == errno.ENOENT:
                    raise MaildirError("%s does not exist (on the way to %s)" % (here, path))
                if exc.errno not in (errno.ENOTDIR, errno.ELOOP):
                    raise
                info = os.stat(part, dir_fd=fd, follow_symlinks=False)
                if not stat.S_ISLNK(info.st_mode):
                    raise MaildirError("%s is not a directory (on the way to %s)" % (here, path))
                if not trusted_symlink(info, os.fstat(fd)):
                    raise MaildirError(
                        "%s is a symlink that someone other than root could have made or can change "
                        "(on the way to %s): refusing to follow it; replace it with a directory or a "
                        "symlink that root owns in a directory only root can write" % (here, path))
                links += 1
                if links > MAX_SYMLINKS:
                    raise MaildirError("too many symlinks on the way to %s" % path)
                target = os.readlink(part, dir_fd=fd)
                if target.startswith("/"):
                    os.close(fd)
                    fd = os.open("/", DIRECTORY_FLAGS)
                    where = "/"
                parts.extend(part for part in reversed(target.split("/")) if part not in ("", "."))
                continue
            os.close(fd)
            fd = child
            where = os.path.normpath(here)
        return fd
    except BaseException:
        os.close(fd)
        raise


def open_entry(parent_fd, name, path):
    """A descriptor of the directory `name` inside `parent_fd`, or None if there is no such
    entry; a symlink or anything else that is not a directory is refused."""
    try:
        return os.open(name, DIRECTORY_FLAGS, dir_fd=parent_fd)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return None
        if exc.errno in (errno.ENOTDIR, errno.ELOOP):
            raise MaildirError(
                "%s exists but is not a directory (a file or a symlink): move it away so a "
                "Maildir can be made; nothing was changed there" % path)
        raise


def _levels(home, name):
    """(path, entry name, index of the parent level) of each Maildir level under home;
    index -1 is the home directory itself."""
    top = os.path.join(home, name)
    return [(os.path.join(top, sub) if sub else top, sub or name, 0 if sub else -1)
            for sub in SUBDIRECTORIES]


def _walk(targets, name, mode, make):
    """What differs ([(path, uid, gid, action)]); with `make`, also make it so."""
    work = []
    seen = set()
    for home, uid, gid in targets:
        fds = []
        home_fd = open_directory(home)
        try:
            for path, entry, parent in _levels(home, name):
                parent_fd = fds[parent] if parent >= 0 else home_fd
                if parent_fd is None:  # the level above is missing (check mode)
                    fds.append(None)
                    if path not in seen:
                        seen.add(path)
                        work.append((path, uid, gid, "create"))
                    continue
                fd = open_entry(parent_fd, entry, path)
                if fd is None and make:
                    try:
                        os.mkdir(entry, 0o700, dir_fd=parent_fd)
                    except FileExistsError:  # made meanwhile: opened and checked below
                        pass
                    fd = open_entry(parent_fd, entry, path)
                    if fd is None:
                        raise MaildirError("%s vanished while it was being made: run again" % path)
                    action = "create"
                else:
                    action = "create" if fd is None else "fix"
                fds.append(fd)
                if path in seen:  # users sharing a home directory: the first one wins
                    continue
                seen.add(path)
                if fd is not None and action == "fix":
                    info = os.fstat(fd)
                    if (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (uid, gid, mode):
                        continue
                work.append((path, uid, gid, action))
                if make:
                    os.fchown(fd, uid, gid)
                    os.fchmod(fd, mode)
        finally:
            for fd in fds + [home_fd]:
                if fd is not None:
                    os.close(fd)
    return work


def plan(targets, name, mode):
    """[(path, uid, gid, action)] with action 'create' or 'fix' for what differs."""
    return _walk(targets, name, mode, make=False)


def apply(targets, name, mode):
    """Make every Maildir level and set its owner and mode, each on the descriptor just
    opened (never by path); returns what it changed, as `plan` does."""
    return _walk(targets, name, mode, make=True)
