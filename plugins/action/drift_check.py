# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Runs postmaster.mail.drift_check with one remote command: it is the only remote call of
a re-run that finds nothing to change, so its round trips are most of that run's time.

With role, it also keeps on the control node what the roles of the play need from the
result, as facts of the host, so that no task of their own has to:
postmaster_mail_drift_clean (the other roles' checks that found nothing to change),
postmaster_mail_postfix_facts and postmaster_mail_package_versions (the installed versions of
the packages named in package_versions); with postfix_facts_cache, the Postfix facts cache
file, and with package_versions_cache, the package versions cache file.

It also adds to the module's no_log secret_digests option the digests of the secret files and
tables of each check NAME (the secret_digests of the role's state, __NAME_state), so that no
digest of a secret is ever in `checks`, which Ansible logs on the host.

Given role and no checks, it is the one drift mechanism of this collection's roles: it
gathers the desired states of every role of the play (plugin_utils/_drift_record.py names the
variables), answers without a remote call when an earlier check of the play found this role
unchanged, and returns `differs` (this role has something to change, or was not checked) and
`unchecked` (roles of the play that apply to the host and were not checked) and `nothing_to_do`
(neither)."""

from __future__ import annotations

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase

from ansible_collections.postmaster.mail.plugins.module_utils._drift import secret_digest_problem
from ansible_collections.postmaster.mail.plugins.plugin_utils._drift_record import (
    checked_earlier, clean_record, gather, merged_versions, role_secret_digests, role_state, unchecked_roles,
    write_facts_cache, write_versions_cache)
from ansible_collections.postmaster.mail.plugins.plugin_utils._one_call import execute_module

# Options for this action only; the module accepts and ignores them.
CONTROLLER_OPTIONS = ("role", "postfix_facts_cache", "package_versions_cache")


class ActionModule(ActionBase):
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        role = self._task.args.get("role")
        cache = self._task.args.get("postfix_facts_cache") or {}
        problem = controller_option_problem(role, cache)
        if problem:
            return dict(result, failed=True, msg=problem)
        module_args = {key: value for key, value in self._task.args.items() if key not in CONTROLLER_OPTIONS}
        gathering = role is not None and "checks" not in module_args
        if gathering:
            own = role_state(self._template_secrets, task_vars, role)
            if checked_earlier(self._task, role, task_vars, own.get("drift_spec")):
                return dict(result, changed=False, skipped=True, drift={role: []}, drifted=False, differs=False,
                            unchecked=[], nothing_to_do=False, skip_reason="An earlier check of this play found nothing of %s to change" % role)
            gathered = gather(self._task, role, task_vars, self._template_secrets, {role: own}, self._applies)
            module_args["checks"] = gathered.checks
            module_args.setdefault("postfix_info", gathered.postfix_info)
            cache = cache or gathered.postfix_facts_cache
        checks = module_args.get("checks") or {}
        given = module_args.get("secret_digests") or {}
        problem = secret_digest_problem(checks, given)
        if not problem:
            from_roles = gathered.secret_digests if gathering else role_secret_digests(
                self._template_secrets, task_vars, checks)
            secret_digests = dict(from_roles, **given)
            problem = secret_digest_problem(checks, secret_digests)
        if problem:
            return dict(result, failed=True, msg="drift_check: %s" % problem)
        if secret_digests:
            module_args["secret_digests"] = secret_digests
        result.update(execute_module(self, task_vars, module_args=module_args))
        if result.get("failed"):
            return result
        postfix_facts = result.get("postfix_facts")
        warning = write_facts_cache(cache, postfix_facts, self._task.check_mode) if postfix_facts else None
        if warning:
            result.setdefault("warnings", []).append(warning)
        if gathering:
            result["differs"] = len(result["drift"].get(role, ["unchecked"])) > 0
            result["unchecked"] = unchecked_roles(self._task, result, self._applies)
            result["nothing_to_do"] = not result["drifted"] and not result["unchecked"]
        if role:
            result["ansible_facts"] = {"postmaster_mail_drift_clean": clean_record(self._task, role, result)}
            if postfix_facts:
                result["ansible_facts"]["postmaster_mail_postfix_facts"] = postfix_facts
        if "package_versions" in result:
            asked = module_args.get("package_versions") or []
            known = (task_vars.get("ansible_facts") or {}).get("postmaster_mail_package_versions")
            result.setdefault("ansible_facts", {})["postmaster_mail_package_versions"] = merged_versions(
                known, result["package_versions"], asked)
            warning = write_versions_cache(self._task.args.get("package_versions_cache"), result["package_versions"],
                                           self._task.check_mode, asked)
            if warning:
                result.setdefault("warnings", []).append(warning)
        return result

    def _applies(self, instance):
        """Whether a role instance of the play applies to the host: its own `when` holds."""
        try:
            evaluate = getattr(self._templar, "evaluate_conditional", None)  # ansible-core 2.19 and later
            if evaluate is None:
                return instance.evaluate_conditional(self._templar, self._templar.available_variables)
            return all(evaluate(condition) for condition in instance.when)
        except AnsibleError:
            return True

    def _template_secrets(self, value):
        """The value templated as the task's own arguments are, or None when it cannot be."""
        try:
            return self._templar.template(value)
        except AnsibleError:
            return None


def controller_option_problem(role, cache):
    """A one-line message when the options handled here are malformed, else None."""
    if role is not None and not isinstance(role, str):
        return "drift_check: role must be the name of a check (a string), not %r" % (role,)
    if cache and not (isinstance(cache, dict) and isinstance(cache.get("path", ""), str)
                      and isinstance(cache.get("keys", []), list)
                      and all(isinstance(key, str) for key in cache.get("keys", []))):
        return "drift_check: postfix_facts_cache must be {path: FILE, keys: [KEY, ...]}, not %r" % (cache,)
    return None
