# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run Postfix's own command-line tools (postconf, postmap, postfix) from a module.

Private to postmaster.mail: no stability promise for other collections.
"""

from __future__ import annotations

import os
import time

C_LOCALE = {"LANG": "C", "LC_ALL": "C", "LC_MESSAGES": "C"}


class PostfixCommandError(Exception):
    def __init__(self, command, rc, stdout, stderr):
        self.command = command
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        detail = (stderr or stdout or "").strip().splitlines()
        super().__init__(
            "%s failed (rc=%s): %s" % (" ".join(command), rc, detail[-1] if detail else "no output")
        )


class PostfixTool(object):
    """One Postfix binary, run in the C locale against one config directory."""

    def __init__(self, module, name, config_dir=None, required=True):
        self.module = module
        self.path = module.get_bin_path(name, opt_dirs=["/usr/sbin", "/usr/lib/postfix/sbin"])
        if self.path is None and required:
            module.fail_json(
                msg="%s not found: install Postfix on the managed host first "
                "(for example with the postmaster.mail.postfix role)" % name
            )
        self.config_dir = config_dir

    def run(self, args, check=True):
        command = [self.path]
        if self.config_dir:
            command += ["-c", self.config_dir]
        command += list(args)
        rc, stdout, stderr = self.module.run_command(command, environ_update=C_LOCALE)
        if check and rc != 0:
            raise PostfixCommandError(command, rc, stdout, stderr)
        return rc, stdout, stderr


def postconf(module, config_dir=None, required=True):
    return PostfixTool(module, "postconf", config_dir, required)


def postmap(module, config_dir=None):
    return PostfixTool(module, "postmap", config_dir)


def postfix(module, config_dir=None):
    return PostfixTool(module, "postfix", config_dir)


def age_file(path, seconds=60):
    """Set a file's times `seconds` into the past. Postfix re-reads a main.cf younger
    than about two seconds until it stops changing (300 ms a time); a staged copy is
    complete, so age it instead of letting postconf wait."""
    aged = time.time() - seconds
    os.utime(path, (aged, aged))
