# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Installs Debian packages with ansible.builtin.apt, and previews them on any host.

When every package asked for is installed already (state present, no version given), apt is
not run at all: dpkg's status file answers, so a converge of a host that has its packages
neither loads apt's cache nor refreshes it from the mirrors (update_cache) for nothing.

apt's check mode needs python3-apt on the host, which a new Debian host does not have
(a real run installs it first). In check mode this action reads dpkg's status file
instead (ansible.builtin.slurp, read-only) and reports the packages a real run would
install; when some are missing and python3-apt is there, apt's check mode gives its fuller
answer. The result's `missing` lists the packages not installed yet, so a role can
end its preview where the rest needs them."""

from __future__ import annotations

import base64

from ansible.plugins.action import ActionBase

from ansible_collections.postmaster.mail.plugins.module_utils._drift import DPKG_STATUS, installed_packages


class ActionModule(ActionBase):
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        args = dict(self._task.args)
        names = args.get("name") or []
        names = [names] if isinstance(names, str) else list(names)
        if not self._task.check_mode and not answered_by_dpkg(args, names):
            return dict(result, **self._apt(args, task_vars))
        status = self._execute_module(module_name="ansible.builtin.slurp", module_args={"src": DPKG_STATUS},
                                      task_vars=task_vars)
        if status.get("failed"):
            return dict(result, failed=True, msg="cannot read %s: %s (Debian hosts only)" % (DPKG_STATUS, status.get("msg")))
        status_text = base64.b64decode(status["content"]).decode("utf-8", "replace")
        missing = missing_packages(names, status_text)
        if not self._task.check_mode:
            if missing:
                result.update(self._apt(args, task_vars))
            return dict(result, missing=missing)
        result.update(changed=bool(missing), missing=missing)
        if not missing:
            return result
        if not missing_packages(["python3-apt"], status_text):
            apt = self._apt(args, task_vars)
            return dict(apt, missing=missing, changed=not apt.get("failed"))
        note = "a real run would install %s (and what they depend on)" % ", ".join(missing)
        result["msg"] = "Check mode: " + note
        if self._task.diff:
            result["diff"] = {"prepared": note}
        return result

    def _apt(self, args, task_vars):
        return self._execute_module(module_name="ansible.builtin.apt", module_args=args, task_vars=task_vars)


def answered_by_dpkg(args, names):
    """Whether dpkg's status file can tell that nothing is to do: packages asked to be present,
    by name only (a version, a wildcard or a .deb file needs apt's own answer)."""
    return (args.get("state", "present") == "present" and bool(names)
            and not any(mark in name for name in names for mark in ("=", "*", "?", "/")))


def missing_packages(names, status_text):
    """The names not installed per dpkg's status text; "name=version" counts as name."""
    installed = installed_packages(status_text)
    return [name for name in names if name.split("=")[0] not in installed]
