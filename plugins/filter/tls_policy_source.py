# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: tls_policy_source
short_description: The source file text postmaster.mail.tls_policy writes for a list of policies
version_added: 0.1.0
description:
  - Renders policies exactly as M(postmaster.mail.tls_policy) writes the table's source file,
    header included, on the control node.
  - Made for M(postmaster.mail.drift_check), which compares a table by the SHA-256 digest of this text.
author: postmaster.mail contributors (@postmaster-mail)
options:
  _input:
    description: The policies, as for O(postmaster.mail.tls_policy#module:policies).
    type: list
    elements: dict
    required: true
  postfix_version:
    description: The host's Postfix version, for example V(3.7.11) (some options need a recent one).
    type: str
    required: true
  dns_support_level:
    description: The host's C(smtp_dns_support_level).
    type: str
    default: ""
  dnssec_available:
    description: As O(postmaster.mail.tls_policy#module:dnssec_available).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Compare the TLS policy table by digest
  postmaster.mail.drift_check:
    checks:
      relay:
        tables:
          - path: /etc/postfix/tls_policy
            type: hash
            sha256: "{{ policies | postmaster.mail.tls_policy_source(postfix_facts.version) | hash('sha256') }}"
"""

RETURN = r"""
_value:
  description: The source file text.
  type: str
"""

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.postmaster.mail.plugins.module_utils._postfix_facts import parse_version
from ansible_collections.postmaster.mail.plugins.module_utils._postmap import (
    HEADER,
    TableError,
    check_pairs,
    render_source,
)
from ansible_collections.postmaster.mail.plugins.module_utils._tls_policy import (
    POLICY_OPTIONS,
    TlsPolicyError,
    policy_entries,
)

# The module's own argument spec: a string where a list is wanted, "yes" for a boolean or a
# number for a string is converted here exactly as postmaster.mail.tls_policy converts it.
_VALIDATOR = ArgumentSpecValidator(dict(policies=dict(type="list", elements="dict", options=POLICY_OPTIONS)))


def tls_policy_source(policies, postfix_version, dns_support_level="", dnssec_available=False):
    result = _VALIDATOR.validate(dict(policies=policies))
    if result.error_messages:
        raise AnsibleFilterError("tls_policy_source: %s" % "; ".join(result.error_messages))
    try:
        policies = [{name: value for name, value in policy.items() if value is not None}
                    for policy in result.validated_parameters["policies"]]
        entries = check_pairs(policy_entries(policies, dnssec_available, dns_support_level,
                                             parse_version(str(postfix_version))))
        return render_source(entries, HEADER % "postmaster.mail.tls_policy")
    except (TableError, TlsPolicyError) as exc:
        raise AnsibleFilterError("tls_policy_source: %s" % exc)


class FilterModule(object):
    def filters(self):
        return {"tls_policy_source": tls_policy_source}
