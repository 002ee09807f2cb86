# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: maildir_desired_state
short_description: The desired state of the postmaster.mail.maildir role, from its settings
version_added: 0.1.0
description:
  - Decides, on the control node, the arguments the postmaster.mail.maildir role gives M(postmaster.mail.maildir),
    the desired state it gives M(postmaster.mail.drift_check), and the first thing wrong with the role's settings,
    with the rules M(postmaster.mail.maildir) applies.
  - Bad settings are reported in RV(_value.problem), never raised, so the role stops on its assert with the message.
author: postmaster.mail contributors (@postmaster-mail)
options:
  _input:
    description:
      - The role's settings, every C(maildir_*) variable of the role's C(defaults/main.yml) as name and value
        (C(maildir_users), C(maildir_name), C(maildir_skel), C(maildir_home_mailbox), C(maildir_postfix_config_dir)).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Make the Maildirs the role would make, unless its settings are refused
  postmaster.mail.maildir:
    users: "{{ maildir_state.maildirs.users }}"
    name: "{{ maildir_state.maildirs.name }}"
    skel_dir: "{{ maildir_state.maildirs.skel_dir }}"
  when: maildir_state.problem == ''
  vars:
    maildir_state: "{{ {'maildir_users': ['alice'], 'maildir_name': 'Maildir', 'maildir_skel': true,
                        'maildir_home_mailbox': false, 'maildir_postfix_config_dir': '/etc/postfix'}
                       | postmaster.mail.maildir_desired_state }}"
"""

RETURN = r"""
_value:
  description: The desired state.
  type: dict
  contains:
    maildirs:
      description:
        - The arguments of M(postmaster.mail.maildir) - C(users), C(name), C(skel_dir) (C(/etc/skel), or empty when
          O(_input.maildir_skel) is false), C(home_mailbox) and C(config_dir).
      type: dict
    drift_spec:
      description: The desired state for M(postmaster.mail.drift_check), the same Maildirs under C(maildirs).
      type: dict
    problem:
      description: The first thing wrong with the role's settings (the module's own rules), in one line naming the role variable, or an empty string.
      type: str
"""

from ansible_collections.postmaster.mail.plugins.plugin_utils._maildir_model import desired_state


class FilterModule(object):
    def filters(self):
        return {"maildir_desired_state": desired_state}
