# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Runs postmaster.mail.drift_check with one remote command: it is the only remote call of
a re-run that finds nothing to change, so its round trips are most of that run's time."""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.postmaster.mail.plugins.plugin_utils._one_call import execute_module


class ActionModule(ActionBase):
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        result.update(execute_module(self, task_vars))
        return result
