# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: postmap_source
short_description: The source file text postmaster.mail.postmap writes for a set of entries
version_added: 0.1.0
description:
  - Renders entries exactly as M(postmaster.mail.postmap) writes the table's source file,
    header included, on the control node.
  - Made for M(postmaster.mail.drift_check), which compares a table by the SHA-256 digest of
    this text, so secret values never leave the control node.
author: postmaster.mail contributors (@postmaster-mail)
options:
  _input:
    description: The entries, as for O(postmaster.mail.postmap#module:entries).
    type: raw
    required: true
"""

EXAMPLES = r"""
- name: Compare the SASL table by digest
  postmaster.mail.drift_check:
    checks:
      relay:
        tables:
          - path: /etc/postfix/sasl_passwd
            type: hash
            sha256: "{{ sasl_entries | postmaster.mail.postmap_source | hash('sha256') }}"
"""

RETURN = r"""
_value:
  description: The source file text.
  type: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.postmaster.mail.plugins.module_utils._postmap import (
    HEADER,
    TableError,
    render_source,
    table_entries,
)


def postmap_source(entries):
    try:
        return render_source(table_entries(entries), HEADER % "postmaster.mail.postmap")
    except TableError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    def filters(self):
        return {"postmap_source": postmap_source}
