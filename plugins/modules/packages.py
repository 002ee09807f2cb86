#!/usr/bin/python
# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: packages
short_description: Install Debian packages with apt, and preview them on a host without python3-apt
version_added: 0.1.0
description:
  - Runs M(ansible.builtin.apt) with the same options, unless every package of O(name) is
    installed already (O(state=present), names without a version). Then dpkg's status file
    answers and apt does not run, so neither its cache is loaded nor O(update_cache) refreshes it.
  - In check mode it reads dpkg's status file instead (read-only), so a preview works on a
    new host, where apt's own check mode would need C(python3-apt) (a real run of apt
    installs it first). It reports the packages a real run would install, with apt's fuller
    answer when C(python3-apt) is there.
  - Its result's RV(missing) lists the packages not installed yet, so a role can end a
    preview where its other tasks need them.
author: postmaster.mail contributors (@postmaster-mail)
extends_documentation_fragment:
  - postmaster.mail.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: partial
    details: In check mode without C(python3-apt), the diff names the packages a real run would install.
  idempotent:
    support: full
options:
  name:
    description: Package names, as M(ansible.builtin.apt) takes them.
    type: list
    elements: str
    required: true
  state:
    description: As for M(ansible.builtin.apt); the roles use V(present).
    type: str
    default: present
  update_cache:
    description: As for M(ansible.builtin.apt).
    type: bool
    default: false
  cache_valid_time:
    description: As for M(ansible.builtin.apt).
    type: int
    default: 0
notes:
  - Any other option of M(ansible.builtin.apt) is passed to it as given.
"""

EXAMPLES = r"""
- name: Install Postfix
  postmaster.mail.packages:
    name: [postfix]
    state: present
    update_cache: true
    cache_valid_time: 86400
"""

RETURN = r"""
missing:
  description: The packages of O(name) that were not installed yet (in check mode, that a real run would install).
  returned: in check mode, and when dpkg's status file was read (O(state=present), names without a version)
  type: list
  elements: str
  sample: [postfix]
"""
