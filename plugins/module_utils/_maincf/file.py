# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""main.cf on the host, the backend of postmaster.mail.postconf (and of maildir's home_mailbox
and drift_check's main.cf comparison): one read, a staged check, at most one write.

Private to postmaster.mail: no stability promise for other collections.
"""

from __future__ import annotations

import difflib
import os
import shutil
import tempfile

from ansible_collections.postmaster.mail.plugins.module_utils import _postfix_tools
from ansible_collections.postmaster.mail.plugins.module_utils import _rollback as rollback
from ansible_collections.postmaster.mail.plugins.module_utils._files import WriteError, atomic_write
from ansible_collections.postmaster.mail.plugins.module_utils._maincf.text import (
    RESTART_PARAMETERS,
    MainCfError,
    check_main_cf_text,
    check_name,
    format_line,
    references,
    render_value,
    same_value,
)
from ansible_collections.postmaster.mail.plugins.module_utils._maincf.values import check_values
from ansible_collections.postmaster.mail.plugins.module_utils._postfix_tools import (
    PostfixCommandError,
    age_file,
    postconf,
    postmap,
)

# Other modules import it from here; the rule that uses it is _postfix_tools.config_directory().
DEFAULT_CONFIG_DIR = _postfix_tools.DEFAULT_CONFIG_DIR


class MainCf(object):
    def __init__(self, module, config_dir=None):
        self.module = module
        self.list_names = set()
        self.postconf = postconf(module, config_dir)
        # config_dir, else MAIL_CONFIG, else /etc/postfix: the directory postconf reads.
        self.config_dir = self.postconf.directory
        self.path = os.path.join(self.config_dir, "main.cf")

    def read(self):
        """Current explicit settings as Postfix reads them, and the raw file text."""
        if not os.path.isfile(self.path):
            raise MainCfError(
                "%s does not exist: install Postfix first, or point config_dir at the "
                "directory that holds main.cf" % self.path
            )
        # newline="": no universal newlines, so a lone \r is seen, not turned into a line break.
        with open(self.path, encoding="utf-8", errors="surrogateescape", newline="") as handle:
            text = handle.read()
        check_main_cf_text(text, self.path)
        values = self.postconf.parameters()[0]
        if "config_directory" not in _defined_names(text):
            values.pop("config_directory", None)  # postconf -c reports it as explicit
        return text, values

    def plan(self, parameters, state, current):
        """The changes needed, as {name: new rendered value or None to remove}."""
        changes = {}
        self.list_names = set()
        for name in sorted(parameters, key=str):
            check_name(name)
            value = None if state == "absent" else parameters[name]
            if isinstance(value, (list, tuple)):
                self.list_names.add(name)
            desired = render_value(name, value)
            if not same_value(name, current.get(name), desired, name in self.list_names):
                changes[name] = desired
        return changes

    def stage(self, new_text, changes, allow_custom):
        """Check the changed values, then let Postfix read the candidate main.cf in a
        scratch copy of the config directory, so a bad candidate never reaches the live
        file. Every message names the live main.cf, never the scratch copy."""
        referenced = {name: references(name, value) for name, value in sorted(changes.items()) if value}
        check_values(changes, self.postconf.table_types, self.postconf.mail_version)
        stage_dir = tempfile.mkdtemp(prefix="postconf-stage-")
        try:
            staged_main_cf = os.path.join(stage_dir, "main.cf")
            with open(staged_main_cf, "w", encoding="utf-8", errors="surrogateescape", newline="") as handle:
                handle.write(new_text)
            age_file(staged_main_cf)
            master_cf = os.path.join(self.config_dir, "master.cf")
            if os.path.isfile(master_cf):
                shutil.copy(master_cf, os.path.join(stage_dir, "master.cf"))
            try:
                staged, warnings = postconf(self.module, stage_dir).parameters()
            except PostfixCommandError as exc:
                raise MainCfError("Postfix cannot read the new main.cf, nothing was written: %s"
                                  % _live_path(_last_line(exc.stderr or exc.stdout), stage_dir, self.config_dir))
            # postmap reads the global parameters as every daemon does: a bad number or boolean is fatal.
            fatal = postmap(self.module, stage_dir).query("postmaster-check", "texthash:/dev/null", check=False)[1]
        finally:
            shutil.rmtree(stage_dir, ignore_errors=True)
        if not allow_custom:
            unknown = sorted(name for name in warnings["unused"].get("main.cf", {}) if changes.get(name) is not None)
            if unknown:
                raise MainCfError(self._unknown_message(unknown))
            self._check_references(referenced, warnings["undefined"].get("main.cf", {}))
        if "fatal:" in fatal:
            raise MainCfError("Postfix would refuse the new main.cf, nothing was written: %s; fix the value"
                              % _live_path(_last_line(fatal).split("fatal: ", 1)[-1], stage_dir, self.config_dir))
        for name, value in sorted(changes.items()):
            if not same_value(name, staged.get(name), value, name in self.list_names):
                raise MainCfError(
                    "parameter %s: Postfix would read %r instead of %r; write the value "
                    "on one line without '#' comments" % (name, staged.get(name), value)
                )

    def _check_references(self, referenced, undefined):
        """Refuse a changed value that refers to a parameter nothing defines (Postfix
        would expand it to nothing): the first such reference, with the closest names."""
        for name, names in referenced.items():
            missing = [reference for reference in names if reference in undefined]
            if missing:
                close = close_parameter_names(self.postconf, missing[:1])[missing[0]]
                hint = " (did you mean: %s?)" % ", ".join(close) if close else ""
                raise MainCfError(
                    "parameter %s: $%s refers to a parameter that Postfix does not know and main.cf does not "
                    "define%s; fix the name, set that parameter in the same task, or set allow_custom=true when "
                    "another task defines it" % (name, missing[0], hint))

    def _unknown_message(self, unknown):
        close = close_parameter_names(self.postconf, unknown)
        parts = []
        for name in unknown:
            hint = " (did you mean: %s?)" % ", ".join(close[name]) if close[name] else ""
            parts.append("%s%s" % (name, hint))
        return (
            "unknown Postfix parameter %s; fix the name, or set allow_custom=true for a "
            "parameter you define yourself and reference as $name" % "; ".join(parts)
        )

    def write(self, new_text, backup):
        """Replace main.cf atomically; return (backup file or None, rollback copy)."""
        backup_file = self.module.backup_local(self.path) if backup else None
        try:
            rollback_file = rollback.save(self.config_dir, "main.cf")
            # fsync of the file and its directory: after a crash main.cf is the old or the new one.
            atomic_write(self.path, new_text.encode("utf-8", "surrogateescape"))
        except (rollback.RollbackError, WriteError) as exc:
            raise MainCfError(str(exc))
        return backup_file, rollback_file


def _last_line(text):
    lines = (text or "").strip().split("\n")
    return lines[-1].strip() or "no message"


def _live_path(message, stage_dir, config_dir):
    """A Postfix message about the scratch copy, naming the live directory instead."""
    for path in (stage_dir, os.path.realpath(stage_dir)):
        message = message.replace(path, config_dir)
    return message


def _defined_names(text):
    return {line.split("=", 1)[0].strip() for line in text.split("\n")
            if line and not line[0].isspace() and not line.startswith("#") and "=" in line}


def close_parameter_names(tool, names):
    """{name: up to three names Postfix knows (`postconf -d`) that look like it}."""
    known = list(tool.defaults())
    return {name: difflib.get_close_matches(name, known, n=3, cutoff=0.6) for name in names}


def describe(changes, current):
    """Before/after text for --diff: one `name = value` line per changed parameter."""
    before = [format_line(name, current[name]) for name in sorted(changes) if name in current]
    after = [format_line(name, value) for name, value in sorted(changes.items()) if value is not None]
    return {
        "before_header": "main.cf (changed parameters)",
        "after_header": "main.cf (changed parameters)",
        "before": "\n".join(before) + "\n" if before else "",
        "after": "\n".join(after) + "\n" if after else "",
    }


def needs_restart(changes):
    return any(name in RESTART_PARAMETERS for name in changes)
