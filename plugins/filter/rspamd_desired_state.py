# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: rspamd_desired_state
short_description: What rspamd (DKIM signing, SPF, DKIM and DMARC checks as Postfix's milter) must look like on a host
version_added: 0.1.0
description:
  - Decides, on the control node, everything the postmaster.mail.rspamd role writes - the package, the
    service, rspamd's configuration files, the DKIM private keys to copy from the control node - and
    the desired state it gives M(postmaster.mail.drift_check).
  - Mail from logged-in users (587, 465) and from the host's own senders is signed with the key of the
    domain of its From header, when that domain is one of C(rspamd_dkim_domains); mail from elsewhere is checked
    (SPF, DKIM, DMARC, ARC) and gets an C(Authentication-Results) header; a C(p=reject) DMARC failure
    is refused at the end of DATA with a reply that says why (C(rspamd_dmarc_reject_action)).
  - Also returns the DKIM records to publish and what Postfix adds (the milter, and
    C(milter_default_action)), as public contracts.
  - Fails with one line that names the role variable, what is wrong and how to fix it.
author: postmaster.mail contributors (@postmaster-mail)
options:
  _input:
    description:
      - "The settings, as C(rspamd_*) variable names and values; a setting not given takes its default
        (see the role's argument specs)."
    type: dict
    required: true
  keys:
    description:
      - The DKIM keys, as M(postmaster.mail.dkim_keys) returns them in RV(postmaster.mail.dkim_keys#module:domains);
        this filter reads each key file on the control node for its digest (RV(_value.secret_digests)).
        Without a key for each domain (check mode before the first key is made) no file is decided
        (RV(_value.info_wanted)).
    type: dict
"""

EXAMPLES = r"""
- name: Show the DKIM records to publish
  ansible.builtin.debug:
    msg: "{{ (rspamd_settings | postmaster.mail.rspamd_desired_state(dkim.domains)).dkim_records }}"
"""

RETURN = r"""
_value:
  description: The desired state (see C(desired_state) in C(plugins/module_utils/_rspamd_model.py)).
  type: dict
  contains:
    packages:
      description: Packages to install.
      type: list
      elements: str
    services:
      description: The C(rspamd) service as C({name, enabled, active}).
      type: list
      elements: dict
    info_wanted:
      description: Whether a domain's key is not made yet; nothing else is decided.
      type: bool
    files:
      description: rspamd's configuration files, each C({path, content, mode, owner, group, secret, sha256}).
      type: list
      elements: dict
    key_files:
      description: The private keys to copy, each C({path, src, mode, owner, group, sha256}); C(src) is on the control node. Only for a task with C(no_log).
      type: list
      elements: dict
    unused_files:
      description: The key files of retired selectors, to remove.
      type: list
      elements: str
    dkim_records:
      description: The TXT records to publish, each C({domain, selector, name, type, value, strings, signing}).
      type: list
      elements: dict
    drift_spec:
      description: The desired state for M(postmaster.mail.drift_check), or null while RV(_value.info_wanted).
      type: dict
    secret_digests:
      description: SHA-256 digest of each key file, by path, for the O(postmaster.mail.drift_check#module:secret_digests) option (never logged) only.
      type: dict
    postfix:
      description: What Postfix adds, C({main_cf}), the public contract the postmaster.mail.postfix role takes as C(postfix_milter).
      type: dict
"""

import hashlib
import os

from ansible.errors import AnsibleFilterError

from ansible_collections.postmaster.mail.plugins.module_utils._rspamd_model import RspamdSettingsError, desired_state


def rspamd_desired_state(settings, keys=None):
    try:
        return desired_state(settings, with_digests(keys))
    except RspamdSettingsError as exc:
        raise AnsibleFilterError(str(exc))


def with_digests(keys):
    """The keys with the SHA-256 digest of each private key file (read here, on the control node,
    so that the dkim_keys task's result holds nothing secret); a file that cannot be read has
    none, and the model then decides nothing (info_wanted)."""
    if not isinstance(keys, dict):
        return keys
    found = {}
    for domain, entry in keys.items():
        if isinstance(entry, dict) and isinstance(entry.get("keys"), list):
            entry = dict(entry, keys=[dict(key, sha256=file_digest(key.get("src"))) for key in entry["keys"]])
        found[domain] = entry
    return found


def file_digest(path):
    """SHA-256 of a file's bytes (a symbolic link is not followed), or None."""
    try:
        handle = os.open(str(path), os.O_RDONLY | os.O_NOFOLLOW)
    except (OSError, TypeError):
        return None
    with os.fdopen(handle, "rb") as source:
        return hashlib.sha256(source.read()).hexdigest()


class FilterModule(object):
    def filters(self):
        return {"rspamd_desired_state": rspamd_desired_state}
