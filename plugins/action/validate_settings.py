# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Checks a role's settings on the control node, with no remote call: the role variables
are read from the task's variables, the rules live in module_utils (_postfix_settings.py,
_tls_settings.py, and the validate of the Dovecot and rspamd models). Fails with one line that names the role variable; returns warnings
(shown as [WARNING] in the play's output) for settings that are legal but need attention."""

from __future__ import annotations

import datetime
import os

from ansible.plugins.action import ActionBase

from ansible_collections.postmaster.mail.plugins.module_utils._dovecot_model import DEFAULTS as DOVECOT_DEFAULTS
from ansible_collections.postmaster.mail.plugins.module_utils._dovecot_model import DovecotSettingsError
from ansible_collections.postmaster.mail.plugins.module_utils._dovecot_model import validate as check_dovecot_settings
from ansible_collections.postmaster.mail.plugins.module_utils._postfix_model import check_dovecot_contract, check_milter_contract
from ansible_collections.postmaster.mail.plugins.module_utils._postfix_settings import (
    LISTS,
    SINGLE_VALUED,
    SettingsError,
    check_postfix_settings,
)
from ansible_collections.postmaster.mail.plugins.module_utils._rspamd_model import DEFAULTS as RSPAMD_DEFAULTS
from ansible_collections.postmaster.mail.plugins.module_utils._rspamd_model import RspamdSettingsError
from ansible_collections.postmaster.mail.plugins.module_utils._rspamd_model import validate as check_rspamd_settings
from ansible_collections.postmaster.mail.plugins.module_utils._tls_settings import (
    SUPPLIED_FILES,
    certificate_dates,
    check_tls_settings,
)

SETTINGS = {
    "postfix": SINGLE_VALUED + LISTS + ("postfix_inet_interfaces", "postfix_compatibility_level", "postfix_relay",
                                        "postfix_mynetworks_allow_public", "postfix_dovecot",
                                        "postfix_milter"),
    "tls": ("tls_ca_mode", "tls_server_names", "tls_renew_days", "tls_certificate_valid_days", "tls_warn_days",
            "tls_supplied_server_intermediates") + SUPPLIED_FILES,
    "dovecot": tuple(DOVECOT_DEFAULTS),
    "rspamd": tuple(RSPAMD_DEFAULTS),
}


class ActionModule(ActionBase):
    _supports_check_mode = True
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        role = self._task.args.get("role")
        if role not in SETTINGS:
            return dict(result, failed=True, msg="validate_settings: role must be one of %s, not %r"
                        % (", ".join(sorted(SETTINGS)), role))
        task_vars = task_vars or {}
        settings = {name: self._templar.template(task_vars[name]) for name in SETTINGS[role] if name in task_vars}
        try:
            if role == "postfix":
                warnings = check_postfix_settings(settings)
                check_dovecot_contract(settings.get("postfix_dovecot"))
                check_milter_contract(settings.get("postfix_milter"))
            elif role == "dovecot":
                check_dovecot_settings(settings, {})
                warnings = []
            elif role == "rspamd":
                check_rspamd_settings(settings)
                warnings = []
            else:
                warnings = check_tls(settings)
        except (SettingsError, DovecotSettingsError, RspamdSettingsError) as error:
            return dict(result, failed=True, msg="%s: %s" % (role, error))
        if warnings:
            result["warnings"] = ["%s: %s" % (role, warning) for warning in warnings]
        return dict(result, changed=False)


def check_tls(settings, now=None):
    """The tls role's rules, then the supplied certificates' dates, read from the control node."""
    check_tls_settings(settings)
    if settings.get("tls_ca_mode") != "supplied":
        return []
    files = [(name, settings[name]) for name in SUPPLIED_FILES]
    files += [("tls_supplied_server_intermediates[%d]" % number, path)
              for number, path in enumerate(settings.get("tls_supplied_server_intermediates") or [])]
    files = [(name, os.path.expanduser(str(path))) for name, path in files]
    missing = [path for dummy, path in files if not os.path.isfile(path)]
    if missing:
        raise SettingsError("%s not found on the control node; fix the tls_supplied_* paths (they name files on the "
                            "control node, not on the hosts)" % ", ".join(missing))
    now = now or datetime.datetime.now(datetime.timezone.utc)
    warnings = []
    for name, path in files:
        if name == "tls_supplied_server_key":
            continue
        warning = certificate_dates(name, path, not_after(name, path), now, settings.get("tls_warn_days", 30))
        if warning:
            warnings.append(warning)
    return warnings


def not_after(name, path):
    """The end date (aware, UTC) of the first certificate in the PEM file at `path`."""
    from cryptography import x509  # community.crypto, which the role uses, needs it on the control node

    with open(path, "rb") as handle:
        data = handle.read()
    try:
        certificate = x509.load_pem_x509_certificate(data)
    except ValueError:
        raise SettingsError("%s %s is not a PEM certificate: give the certificate file (BEGIN CERTIFICATE)"
                            % (name, path))
    if hasattr(certificate, "not_valid_after_utc"):
        return certificate.not_valid_after_utc
    return certificate.not_valid_after.replace(tzinfo=datetime.timezone.utc)
