# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: mail_client_model
short_description: What the postmaster.mail.mail_client role writes, and whether its settings may be written
version_added: 0.1.0
description:
  - Decides, on the control node, the block the role keeps in C(/etc/s-nail.rc), the C(profile.d)
    file that exports C(MAIL), and the first thing wrong with the role's settings.
  - Every value is checked for what reads it, a folder that s-nail's C(set folder=) and a
    double-quoted shell word read as written; settings that are one s-nail.rc line each, with
    no line break or other control character, no managed-block marker and no trailing C(\).
  - Bad settings are reported, never raised, so the role's drift check still sees a difference
    and the role stops on its assert with the message.
author: postmaster.mail contributors (@postmaster-mail)
options:
  _input:
    description: The folder relative to the home directory, as C(mail_client_folder) of the postmaster.mail.mail_client role.
    type: raw
    required: true
  extra_settings:
    description: Extra s-nail settings, one line each.
    type: raw
    default: []
  packages:
    description: Packages to install; checked only when given.
    type: raw
"""

EXAMPLES = r"""
- name: Stop on bad settings
  ansible.builtin.assert:
    that: model.problem == ''
    fail_msg: "{{ model.problem }}"
  vars:
    model: "{{ mail_client_folder | postmaster.mail.mail_client_model(extra_settings=mail_client_extra_settings) }}"
"""

RETURN = r"""
_value:
  description: The desired state.
  type: dict
  contains:
    problem:
      description: The first thing wrong with the settings, in one line naming the role variable, or an empty string.
      type: str
    marker:
      description: The block's marker for ansible.builtin.blockinfile, with C({mark}).
      type: str
    block:
      description: The lines between the markers, ending in a line break.
      type: str
    profile:
      description: The text of the C(profile.d) file.
      type: str
    profile_path:
      description: Where the C(profile.d) file goes.
      type: str
"""

from ansible_collections.postmaster.mail.plugins.plugin_utils._mail_client import model


def mail_client_model(folder, extra_settings=None, packages=None):
    return model(folder, [] if extra_settings is None else extra_settings, packages)


class FilterModule(object):
    def filters(self):
        return {"mail_client_model": mail_client_model}
