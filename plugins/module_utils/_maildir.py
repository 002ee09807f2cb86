# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Maildir directories (cur, new, tmp) for users and /etc/skel, checked before any is made.

Private to postmaster.mail: no stability promise for other collections.
"""

from __future__ import annotations

import os
import pwd
import stat

SUBDIRECTORIES = ("", "cur", "new", "tmp")


class MaildirError(ValueError):
    pass


def check_name(name):
    if not name or "/" in name or name in (".", "..") or "\0" in name:
        raise MaildirError(
            "invalid Maildir name %r: give one directory name inside the home "
            "directory, without '/', such as Maildir or .maildir" % (name,)
        )


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


def plan(targets, name, mode):
    """[(path, uid, gid, action)] with action 'create' or 'fix' for what differs."""
    work = []
    seen = set()
    for home, uid, gid in targets:
        for sub in SUBDIRECTORIES:
            path = os.path.join(home, name, sub) if sub else os.path.join(home, name)
            if path in seen:  # users sharing a home directory
                continue
            seen.add(path)
            try:
                info = os.lstat(path)
            except FileNotFoundError:
                work.append((path, uid, gid, "create"))
                continue
            if not stat.S_ISDIR(info.st_mode):
                raise MaildirError(
                    "%s exists but is not a directory: move it away so a Maildir can be made" % path
                )
            if (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) != (uid, gid, mode):
                work.append((path, uid, gid, "fix"))
    return work


def apply(work, mode):
    for path, uid, gid, action in work:
        if action == "create":
            os.mkdir(path, mode)
        os.chown(path, uid, gid)
        os.chmod(path, mode)
