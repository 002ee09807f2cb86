#!/usr/bin/python
# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: validate_settings
short_description: Check a role's settings on the control node before anything runs
version_added: 0.1.0
description:
  - Checks the settings of a role of this collection against the rules its argument spec
    cannot state - a string that must not be a list, the syntax of a main.cf value, ranges,
    settings that go together, a risky value that needs an explicit opt-in, the dates of
    supplied certificates.
  - Reads the role's variables from the task's variables; runs only on the control node
    (an action plugin, no remote call), so it costs no round trip.
  - Fails with one line that names the role variable, what is wrong and how to fix it.
    Settings that are legal but need attention (a supplied certificate that expires within
    C(tls_warn_days)) come back as warnings, shown as C([WARNING]) in the play's output.
  - The roles run it as their first task after the argument spec validation.
author: postmaster.mail contributors (@postmaster-mail)
extends_documentation_fragment:
  - postmaster.mail.attributes
  - postmaster.mail.attributes.INFO_MODULE
options:
  role:
    description: The role whose variables to check.
    type: str
    required: true
    choices: [dovecot, postfix, rspamd, tls]
notes:
  - The rules live in C(plugins/module_utils/_postfix_settings.py) and
    C(plugins/module_utils/_tls_settings.py); the dovecot and rspamd roles' in their models, C(plugins/module_utils/_dovecot_model.py)
    and C(plugins/module_utils/_rspamd_model.py).
"""

EXAMPLES = r"""
- name: Check the postfix role's settings
  postmaster.mail.validate_settings:
    role: postfix
"""

RETURN = r"""
warnings:
  description: Settings that are legal but need attention, one line each.
  returned: when there are any
  type: list
  elements: str
  sample: ["tls: tls_supplied_server_certificate /srv/pki/mail.crt expires on 2027-01-02 12:00 UTC, in 9 days"]
"""
