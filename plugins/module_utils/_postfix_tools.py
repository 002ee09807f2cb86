# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run Postfix's own command-line tools (postconf, postmap, postfix) from a module.

One rule picks the configuration directory for every module: the config_dir option,
else the MAIL_CONFIG environment variable, else /etc/postfix (config_directory()).
Each tool is always run with -c and that directory, so the files a module reads and
writes are the ones Postfix's tools read. The queries modules make are named methods
(Postconf.parameters(), .defaults(), .table_types(), ...), not command lines copied
into each caller.

Private to postmaster.mail: no stability promise for other collections.
"""

from __future__ import annotations

import os
import re
import time

C_LOCALE = {"LANG": "C", "LC_ALL": "C", "LC_MESSAGES": "C"}
DEFAULT_CONFIG_DIR = "/etc/postfix"
TOOL_DIRECTORIES = ["/usr/sbin", "/usr/lib/postfix/sbin"]

# One `name = value` line of postconf's output (`postconf -n`, `-d`, plain `postconf`).
_SETTING = re.compile(r"([A-Za-z0-9][A-Za-z0-9_.-]*) =(?: (.*))?")
# postconf's warnings about a configuration file: "postconf: warning: FILE: unused
# parameter: name=value" or "... undefined parameter: name".
_WARNING = re.compile(r"^(?:\S*postconf: )?warning: (?P<file>.*?): (?P<kind>unused|undefined) parameter: "
                      r"(?P<name>[^=\s]+)(?:=(?P<value>.*))?$")


def config_directory(config_dir=None):
    """The Postfix configuration directory a module works on: the config_dir option,
    else MAIL_CONFIG from the module's environment, else /etc/postfix."""
    return config_dir or os.environ.get("MAIL_CONFIG") or DEFAULT_CONFIG_DIR


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
    """One Postfix binary, run in the C locale against one config directory.

    `config_dir` is the option as given (None when not set); `directory` is the
    directory the tool works on, from config_directory()."""

    def __init__(self, module, name, config_dir=None, required=True):
        self.module = module
        self.path = module.get_bin_path(name, opt_dirs=TOOL_DIRECTORIES)
        if self.path is None and required:
            module.fail_json(
                msg="%s not found: install Postfix on the managed host first "
                "(for example with the postmaster.mail.postfix role)" % name
            )
        self.config_dir = config_dir
        self.directory = config_directory(config_dir)

    def command(self, args):
        return [self.path, "-c", self.directory] + list(args)

    def run(self, args, check=True):
        command = self.command(args)
        rc, stdout, stderr = self.module.run_command(command, environ_update=C_LOCALE)
        if check and rc != 0:
            raise PostfixCommandError(command, rc, stdout, stderr)
        return rc, stdout, stderr


class Postconf(PostfixTool):
    """postconf(1) and the questions modules ask it."""

    def __init__(self, module, config_dir=None, required=True):
        super().__init__(module, "postconf", config_dir, required)

    def parameters(self):
        """`postconf -n`: ({name: value} main.cf sets explicitly, including the names
        Postfix does not know, which it leaves out and warns about; its warnings, as
        config_warnings() returns them). Only `name = value` lines are values, whether
        a warning comes on standard error or standard output. Raises
        PostfixCommandError when Postfix cannot read the configuration."""
        dummy, stdout, stderr = self.run(["-n"])
        warnings = config_warnings(stdout + "\n" + stderr)
        values = dict(warnings["unused"].get("main.cf", {}))
        values.update(parse_settings(stdout))
        return values, warnings

    def values(self, names, expand=False):
        """{name: value} as Postfix uses them (`postconf -h`, or `-xh` with $names expanded)."""
        names = list(names)
        if not names:
            return {}
        stdout = self.run(["-xh" if expand else "-h"] + names)[1]
        lines = stdout.split("\n")
        return {name: lines[index] if index < len(lines) else "" for index, name in enumerate(names)}

    def value(self, name, expand=False):
        return self.values([name], expand)[name]

    def defaults(self, names=()):
        """{name: default value} of every parameter this Postfix knows (`postconf -d`)."""
        return parse_settings(self.run(["-d"] + list(names))[1])

    def mail_version(self):
        return self.defaults(["mail_version"]).get("mail_version", "")

    def table_types(self):
        """Lookup table types this Postfix supports (`postconf -m`)."""
        return self.run(["-m"])[1].split()

    def sasl_server_types(self):
        return self.run(["-a"])[1].split()

    def sasl_client_types(self):
        return self.run(["-A"])[1].split()

    def services(self, check=True):
        """`postconf -M`: (rc, master.cf entries one a line, stderr)."""
        return self.run(["-M"], check=check)


class Postmap(PostfixTool):
    def __init__(self, module, config_dir=None, required=True):
        super().__init__(module, "postmap", config_dir, required)

    def query(self, key, table, check=True):
        """What `postmap -q KEY TABLE` finds, or None; (value, stderr)."""
        rc, stdout, stderr = self.run(["-q", key, table], check=False)
        if check and rc not in (0, 1):
            raise PostfixCommandError(self.command(["-q", key, table]), rc, stdout, stderr)
        return (stdout.rstrip("\n") if rc == 0 else None), stderr


class Postfix(PostfixTool):
    def __init__(self, module, config_dir=None, required=True):
        super().__init__(module, "postfix", config_dir, required)

    def check(self):
        """`postfix check`: (rc, stdout, stderr), never raising."""
        return self.run(["check"], check=False)

    def status(self):
        """Whether the Postfix mail system is running (`postfix status`)."""
        return self.run(["status"], check=False)[0] == 0


def postconf(module, config_dir=None, required=True):
    return Postconf(module, config_dir, required)


def postmap(module, config_dir=None, required=True):
    return Postmap(module, config_dir, required)


def postfix(module, config_dir=None, required=True):
    return Postfix(module, config_dir, required)


def parse_settings(text):
    """{name: value} of the `name = value` lines of postconf's output. Lines are split
    on newlines only; warnings and any other line are skipped."""
    values = {}
    for line in text.split("\n"):
        match = _SETTING.fullmatch(line)
        if match:
            values[match.group(1)] = (match.group(2) or "").strip(" ")
    return values


def config_warnings(text):
    """postconf's warnings about parameters, by kind and file name:
    {"unused": {"main.cf": {name: value}, "master.cf": {...}}, "undefined": {"main.cf": {name: ""}}}.

    "unused" is a name set in that file that Postfix does not know; "undefined" a $name
    referenced in that file that nothing defines."""
    found = {"unused": {}, "undefined": {}}
    for line in text.split("\n"):
        match = _WARNING.match(line)
        if match:
            file_name = os.path.basename(match.group("file"))
            found[match.group("kind")].setdefault(file_name, {})[match.group("name")] = (match.group("value") or "").strip()
    return found


def age_file(path, seconds=60):
    """Set a file's times `seconds` into the past. Postfix re-reads a main.cf younger
    than about two seconds until it stops changing (300 ms a time); a staged copy is
    complete, so age it instead of letting postconf wait."""
    aged = time.time() - seconds
    os.utime(path, (aged, aged))
