#!/usr/bin/python
# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: dkim_keys
short_description: Make and rotate each domain's DKIM keys on the control node
version_added: 0.1.0
description:
  - Keeps one folder per domain under O(directory) on the control node, with one RSA private key
    (mode 0600) per selector, C(SELECTOR.key); selectors are named by the date their key was
    made (V(20261203), then V(20261203-2) for a second key the same day).
  - Makes today's key when a domain has none, when its newest key is C(rspamd_dkim_rotate_days)
    old, or with C(rspamd_dkim_force_rotation). The newest key signs; an older one stays
    published for C(rspamd_dkim_retire_days) after the next one was made, so mail it signed
    still verifies, then it is retired (the control node keeps its file).
  - Hosts that sign the same domain share its keys; two hosts of one run making the same key
    cannot both win (the file is linked into place, which fails once it exists).
  - Runs only on the control node (an action plugin). Its result holds nothing secret (selectors,
    public keys, paths); the private keys reach the hosts only through the rspamd role's no_log
    copy task. The public records are in the role's fact C(rspamd_dkim_records).
  - In check mode no key is made; RV(pending) names the keys a real run would make.
author: postmaster.mail contributors (@postmaster-mail)
extends_documentation_fragment:
  - postmaster.mail.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  directory:
    description: The folder on the control node that holds the domains' key folders (C(rspamd_dkim_controller_dir)).
    type: path
    required: true
  settings:
    description:
      - The rspamd role's settings (C(rspamd_*) variables); this module reads C(rspamd_dkim_domains),
        C(rspamd_dkim_key_bits), C(rspamd_dkim_rotate_days), C(rspamd_dkim_retire_days) and
        C(rspamd_dkim_force_rotation), and refuses a bad one in one line naming it.
    type: dict
    required: true
notes:
  - The decisions (which key signs, which are published, when to make one) are the rspamd model's
    C(plan_keys) in C(plugins/module_utils/_rspamd_model.py).
"""

EXAMPLES = r"""
- name: Make or rotate the DKIM keys on the control node
  postmaster.mail.dkim_keys:
    directory: /srv/postmaster-mail/dkim
    settings:
      rspamd_dkim_domains: [example.org]
  register: dkim
"""

RETURN = r"""
domains:
  description:
    - Per domain, the selector that signs, the published keys (C(selector), C(public_key) in base64,
      C(sha256) of the private key file, C(src) its path on the control node) and the retired selectors.
  returned: always
  type: dict
made:
  description: The keys this run made, as V(DOMAIN SELECTOR).
  returned: always
  type: list
  elements: str
pending:
  description: In check mode, the keys a real run would make; their domains are not in RV(domains).
  returned: always
  type: list
  elements: str
"""
