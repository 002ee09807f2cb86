# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: drift_specs
short_description: The desired states of every postmaster.mail role a play can see, for one drift check
version_added: 0.1.0
description:
  - Returns one dictionary for the O(postmaster.mail.drift_check#module:checks) option of
    M(postmaster.mail.drift_check), so that one call checks every role of the play.
  - Each role of this collection keeps its desired state in a variable named
    C(__ROLE_drift_spec). The result maps each C(ROLE) to that state, leaving out states that
    are empty (a role with nothing to check yet) and states that cannot be rendered, for
    example because one of the role's settings has the wrong type. A role left out checks
    on its own, after validating its settings, so a bad setting is reported by that role's
    own one-line message.
  - A role keeps the digests of its secret files and tables (marked C(secret=true) in its
    desired state, without C(sha256)) apart, in C(__ROLE_drift_secrets) as path and digest;
    the action of M(postmaster.mail.drift_check) reads that variable itself and sends it in its
    C(no_log) option, so no digest of a secret is in the desired states this lookup returns.
author: postmaster.mail contributors (@postmaster-mail)
options: {}
"""

EXAMPLES = r"""
- name: Check the host against every role of the play in one call
  postmaster.mail.drift_check:
    checks: "{{ lookup('postmaster.mail.drift_specs') }}"
"""

RETURN = r"""
_raw:
  description: One dictionary, role name to desired state.
  type: list
  elements: dict
"""

import re

from ansible.errors import AnsibleError
from ansible.plugins.lookup import LookupBase

SPEC_NAME = re.compile(r"^__([a-z_]+)_drift_spec$")


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        specs = {}
        for name in sorted(variables or {}):
            match = SPEC_NAME.match(name)
            if not match:
                continue
            try:
                spec = self._templar.template(variables[name], fail_on_undefined=True)
            except AnsibleError:
                continue
            if spec:
                specs[match.group(1)] = spec
        return [specs]
