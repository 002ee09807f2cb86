# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: maildir_problem
short_description: The first thing wrong with the postmaster.mail.maildir role's settings
version_added: 0.1.0
description:
  - Checks the role's settings on the control node with the rules M(postmaster.mail.maildir)
    applies, and names the role variable in one line, or returns an empty string.
author: postmaster.mail contributors (@postmaster-mail)
options:
  _input:
    description: The Maildir name, as C(maildir_name) of the postmaster.mail.maildir role.
    type: raw
    required: true
  users:
    description: The users, as C(maildir_users).
    type: raw
    default: []
  config_dir:
    description: The Postfix configuration directory.
    type: raw
    default: /etc/postfix
"""

EXAMPLES = r"""
- name: Stop on bad settings
  ansible.builtin.assert:
    that: problem == ''
    fail_msg: "{{ problem }}"
  vars:
    problem: "{{ maildir_name | postmaster.mail.maildir_problem(users=maildir_users) }}"
"""

RETURN = r"""
_value:
  description: One line naming the role variable, or an empty string.
  type: str
"""

from ansible_collections.postmaster.mail.plugins.module_utils._maildir import settings_problem


def maildir_problem(name, users=None, config_dir="/etc/postfix"):
    return settings_problem(name, [] if users is None else users, config_dir)


class FilterModule(object):
    def filters(self):
        return {"maildir_problem": maildir_problem}
