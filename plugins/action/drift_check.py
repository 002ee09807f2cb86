# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Runs postmaster.mail.drift_check with one remote command: it is the only remote call of
a re-run that finds nothing to change, so its round trips are most of that run's time.

With role, it also keeps on the control node what the roles of the play need from the
result, as facts of the host, so that no task of their own has to:
postmaster_mail_drift_clean (the other roles' checks that found nothing to change) and
postmaster_mail_postfix_facts; with postfix_facts_cache, the Postfix facts cache file."""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.postmaster.mail.plugins.plugin_utils._drift_record import clean_record, write_facts_cache
from ansible_collections.postmaster.mail.plugins.plugin_utils._one_call import execute_module

# Options for this action only; the module accepts and ignores them.
CONTROLLER_OPTIONS = ("role", "postfix_facts_cache")


class ActionModule(ActionBase):
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        module_args = {key: value for key, value in self._task.args.items() if key not in CONTROLLER_OPTIONS}
        result.update(execute_module(self, task_vars, module_args=module_args))
        role = self._task.args.get("role")
        if result.get("failed") or not role:
            return result
        facts = {"postmaster_mail_drift_clean": clean_record(self._task, role, result)}
        postfix_facts = result.get("postfix_facts")
        if postfix_facts:
            facts["postmaster_mail_postfix_facts"] = postfix_facts
            warning = write_facts_cache(self._task.args.get("postfix_facts_cache") or {}, postfix_facts,
                                        self._task.check_mode)
            if warning:
                result.setdefault("warnings", []).append(warning)
        result["ansible_facts"] = facts
        return result
