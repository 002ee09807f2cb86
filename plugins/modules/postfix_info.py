#!/usr/bin/python
# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: postfix_info
short_description: Report the installed Postfix version, directories, table types, SASL and TLS support
version_added: 0.1.0
description:
  - Asks the installed Postfix (through C(postconf)) what it is and what it supports, so
    playbooks can gate settings on the version and choose table types the host offers.
  - Returns RV(installed=false) instead of failing when Postfix is not installed.
author: postmaster.mail contributors (@postmaster-mail)
extends_documentation_fragment:
  - postmaster.mail.attributes
  - postmaster.mail.attributes.info_module
  - postmaster.mail.attributes.config_dir
options: {}
seealso:
  - module: postmaster.mail.postconf
"""

EXAMPLES = r"""
- name: Read what Postfix supports
  postmaster.mail.postfix_info:
  register: postfix_facts

- name: Use chain files only where Postfix has them
  ansible.builtin.debug:
    msg: "{{ 'chain files' if postfix_facts.features.smtpd_tls_chain_files else 'cert and key files' }}"

- name: Build tables with the host's default type
  ansible.builtin.debug:
    msg: "hash type: {{ postfix_facts.default_database_type }}"
"""

RETURN = r"""
installed:
  description: Whether C(postconf) was found on the host. When false, nothing else is returned.
  returned: always
  type: bool
  sample: true
version:
  description: The C(mail_version) of the installed Postfix.
  returned: when installed
  type: str
  sample: 3.7.11
version_info:
  description: The version as three numbers, for comparisons.
  returned: when installed
  type: list
  elements: int
  sample: [3, 7, 11]
directories:
  description: Postfix's configuration, command, daemon, data, meta and queue directories.
  returned: when installed
  type: dict
  sample: {config_directory: /etc/postfix, queue_directory: /var/spool/postfix}
default_database_type:
  description: Table type Postfix uses when a map names none (C(postconf -h default_database_type)).
  returned: when installed
  type: str
  sample: hash
compatibility_level:
  description: The effective C(compatibility_level).
  returned: when installed
  type: str
  sample: "3.6"
lookup_table_types:
  description: Lookup table types this Postfix can use (C(postconf -m)).
  returned: when installed
  type: list
  elements: str
  sample: [btree, cidr, hash, regexp, texthash]
sasl_server_types:
  description: SASL server implementations (C(postconf -a)).
  returned: when installed
  type: list
  elements: str
  sample: [cyrus, dovecot]
sasl_client_types:
  description: SASL client implementations (C(postconf -A)).
  returned: when installed
  type: list
  elements: str
  sample: [cyrus]
tls:
  description: TLS support.
  returned: when installed
  type: dict
  sample: {supported: true}
  contains:
    supported:
      description: Whether the TLS manager daemon (C(tlsmgr)) is installed.
      returned: always
      type: bool
      sample: true
features:
  description:
    - Features that came with newer Postfix releases, each named after its parameter and
      true when this Postfix knows that parameter (so backports count).
  returned: when installed
  type: dict
  sample: {smtpd_tls_chain_files: true, smtp_tls_connection_reuse: true, tls_config_file: false}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.postmaster.mail.plugins.module_utils._postfix_facts import gather
from ansible_collections.postmaster.mail.plugins.module_utils._postfix_tools import PostfixCommandError


def main():
    module = AnsibleModule(
        argument_spec=dict(config_dir=dict(type="path")),
        supports_check_mode=True,
    )
    try:
        info = gather(module, module.params["config_dir"])
    except PostfixCommandError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **info)


if __name__ == "__main__":
    main()
