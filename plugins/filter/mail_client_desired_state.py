# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: mail_client_desired_state
short_description: The desired state of the postmaster.mail.mail_client role, from its settings
version_added: 0.1.0
description:
  - Decides, on the control node, what the postmaster.mail.mail_client role writes - the packages, the block it
    keeps in C(/etc/s-nail.rc), the C(profile.d) file that exports C(MAIL) (or its absence) - the desired state
    it gives M(postmaster.mail.drift_check), and the first thing wrong with the role's settings.
  - Every value is checked for what reads it, a folder that s-nail's C(set folder=) and a
    double-quoted shell word read as written; settings that are one s-nail.rc line each, with
    no line break or other control character, no managed-block marker and no trailing C(\);
    package names as Debian writes them.
  - Bad settings are reported in RV(_value.problem), never raised, so the role's drift check still sees a
    difference and the role stops on its assert with the message.
author: postmaster.mail contributors (@postmaster-mail)
options:
  _input:
    description:
      - The role's settings, every C(mail_client_*) variable of the role's C(defaults/main.yml) as name and value
        (C(mail_client_packages), C(mail_client_folder), C(mail_client_extra_settings), C(mail_client_export_mail)).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Stop on bad settings
  ansible.builtin.assert:
    that: state.problem == ''
    fail_msg: "{{ state.problem }}"
  vars:
    state: "{{ mail_client_settings | postmaster.mail.mail_client_desired_state }}"
    mail_client_settings:
      mail_client_packages: [s-nail]
      mail_client_folder: Maildir
      mail_client_extra_settings: ["set hold"]
      mail_client_export_mail: true
"""

RETURN = r"""
_value:
  description: The desired state.
  type: dict
  contains:
    problem:
      description: The first thing wrong with the settings, in one line naming the role variable, or an empty string.
      type: str
    packages:
      description: The packages to install, as given.
      type: list
      elements: str
    marker:
      description: The block's marker for ansible.builtin.blockinfile, with C({mark}).
      type: str
    block:
      description: The lines between the markers, ending in a line break.
      type: str
    block_sha256:
      description:
        - SHA-256 of the block's lines joined with line breaks, as M(postmaster.mail.drift_check) reads them between
          the markers; a text no digest matches when RV(_value.problem) is not empty.
      type: str
    profile:
      description: The text of the C(profile.d) file.
      type: str
    profile_path:
      description: Where the C(profile.d) file goes.
      type: str
    profile_state:
      description: C(present) when the role exports C(MAIL), else C(absent).
      type: str
    drift_spec:
      description: The desired state for M(postmaster.mail.drift_check) - the packages and both files with owner, group, mode and digest.
      type: dict
"""

from ansible_collections.postmaster.mail.plugins.plugin_utils._mail_client import desired_state


class FilterModule(object):
    def filters(self):
        return {"mail_client_desired_state": desired_state}
