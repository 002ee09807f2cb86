# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: stunnel_conf
short_description: The postmaster.mail.stunnel role's desired state, or why its settings are refused
version_added: 0.1.0
description:
  - Validates the stunnel role's settings and, when they are valid, renders C(stunnel.conf)
    and the role's systemd units (a socket unit that keeps the tunnels' loopback ports bound,
    the service, and a path unit that reloads stunnel when a CA file or client chain changes)
    on the control node.
  - Every value is checked for the syntax of the file it reaches; a line break or other
    control character is refused, never rewritten.
author: postmaster.mail contributors (@postmaster-mail)
options:
  _input:
    description:
      - The settings, keyed without the C(stunnel_) prefix - C(tunnels), C(tls_min_version),
        C(log_level), C(packages), C(service_name), C(config_file) (as the role's variables).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Refuse bad tunnels in one line
  ansible.builtin.assert:
    that: state.errors == []
    fail_msg: "{{ state.errors | join(' ') }}"
  vars:
    state: "{{ {'tunnels': stunnel_tunnels} | postmaster.mail.stunnel_conf }}"
"""

RETURN = r"""
_value:
  description: The desired state.
  type: dict
  contains:
    errors:
      description: One line per bad setting, naming the role variable (as C(stunnel_tunnels[0].ca_file)); empty when valid.
      type: list
      elements: str
    files:
      description: Each file the role writes - C(path), C(content), C(kind), C(owner), C(group), C(mode), C(sha256). Only when valid.
      type: list
      elements: dict
    services:
      description: The units kept enabled and running (C(name), C(enabled), C(active)). Only when valid.
      type: list
      elements: dict
    drift_spec:
      description: The state for M(postmaster.mail.drift_check) (digests, no file text). Only when valid.
      type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.postmaster.mail.plugins.module_utils._stunnel import stunnel_conf as model


def stunnel_conf(settings):
    if not isinstance(settings, dict):
        raise AnsibleFilterError("stunnel_conf: the settings must be a dictionary, got %s" % type(settings).__name__)
    return model(settings)


class FilterModule(object):
    def filters(self):
        return {"stunnel_conf": stunnel_conf}
