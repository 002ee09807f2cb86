# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: postfix_desired_state
short_description: The desired state of the postmaster.mail.postfix role, from its settings and the host's Postfix facts
version_added: 0.1.0
description:
  - Decides, on the control node, everything the postmaster.mail.postfix role writes - packages, the
    service, main.cf parameters, master.cf services, lookup tables - and the desired state it gives
    M(postmaster.mail.drift_check), so the role's slow path and its check take the same values.
  - Checks the rules that tie settings together (the relay's username and password, its ports,
    C(tls_level=fingerprint) with fingerprints, TLS policies) and fails with one line that names the
    role variable.
  - The SASL table holds the relay password. Its source text is in RV(_value.tables); its digest is only
    in RV(_value.secret_digests), never in RV(_value.drift_spec), whose values travel as a logged module
    argument.
author: postmaster.mail contributors (@postmaster-mail)
options:
  _input:
    description:
      - The role's settings, every C(postfix_*) variable of the role's C(defaults/main.yml) as name and value.
    type: dict
    required: true
  facts:
    description:
      - What M(postmaster.mail.postfix_info) returned for the host, when the role ran it.
      - Used when it has the key C(installed), even when Postfix is not installed.
    type: dict
  play_facts:
    description:
      - What an earlier drift check of the play read (the fact C(postmaster_mail_postfix_facts)); used when
        O(facts) is not, and only for an installed Postfix.
    type: dict
  cached_facts:
    description:
      - What the control node cached from an earlier run; used when neither O(facts) nor O(play_facts) is.
        The drift check verifies them on the host.
    type: dict
  cache_file:
    description:
      - A JSON file on the control node that holds the cached facts (see O(cached_facts)), read when
        O(cached_facts) is not given. A missing or unreadable file counts as no cached facts.
    type: path
"""

EXAMPLES = r"""
- name: Configure main.cf as the postfix role would
  postmaster.mail.postconf:
    parameters: "{{ (postfix_settings | postmaster.mail.postfix_desired_state(postfix_facts)).main_cf }}"
  vars:
    postfix_settings:
      postfix_packages: [postfix]
      postfix_myhostname: mail.example.org
      # ... every other postfix_* setting of the role
"""

RETURN = r"""
_value:
  description: The desired state.
  type: dict
  contains:
    packages:
      description: Packages to install.
      type: list
      elements: str
    services:
      description: The C(postfix) service as C({name, enabled, active}).
      type: list
      elements: dict
    main_cf:
      description: main.cf parameters for M(postmaster.mail.postconf); a null value removes the parameter.
      type: dict
    master_cf_services:
      description: master.cf services for M(postmaster.mail.postconf_master); C(state=absent) removes one.
      type: list
      elements: dict
    tables:
      description:
        - "The lookup tables in use, by kind (C(sasl), C(transport), C(tls_policy)), each with C(path), C(type),
          C(mode), C(module) (the module that builds it), C(secret), C(source) (the text the module writes),
          C(sha256) and the module's C(entries) or C(policies)."
        - The C(sasl) table holds the relay password, so pass it only to a task with C(no_log).
      type: dict
    needs_facts:
      description: Whether the settings need what the installed Postfix supports.
      type: bool
    info_wanted:
      description: Whether they need it and none of the facts given say it; read them and ask again.
      type: bool
    unused_tables:
      description: Paths of lookup tables to remove (source and built files) once Postfix runs without them.
      type: list
      elements: str
    facts_cached_part:
      description: What the control node's facts cache keeps of the facts used.
      type: dict
    facts_cache_keys:
      description: The keys of the facts that the cache keeps and the drift check verifies.
      type: list
      elements: str
    drift_spec:
      description:
        - The desired state for M(postmaster.mail.drift_check), or null while RV(_value.info_wanted).
        - Secret tables are in it without their digest.
      type: dict
    facts_cache:
      description:
        - C({path, keys}) for the M(postmaster.mail.drift_check) action's C(postfix_facts_cache) option
          (the file of O(cache_file), empty without it).
      type: dict
    secret_digests:
      description:
        - SHA-256 digest of each secret table's source text, by path, for the O(postmaster.mail.drift_check#module:secret_digests)
          option (never logged) only.
      type: dict
"""

import json

from ansible.errors import AnsibleFilterError

from ansible_collections.postmaster.mail.plugins.module_utils._postfix_model import (
    PostfixSettingsError,
    desired_state,
    select_facts,
)


def postfix_desired_state(settings, facts=None, play_facts=None, cached_facts=None, cache_file=None):
    if cached_facts is None and cache_file:
        cached_facts = read_cache(cache_file)
    try:
        state = desired_state(settings, select_facts(facts, play_facts, cached_facts))
    except PostfixSettingsError as exc:
        raise AnsibleFilterError(str(exc))
    state["facts_cache"] = {"path": cache_file or "", "keys": state["facts_cache_keys"]}
    return state


def read_cache(path):
    """The facts a cache file holds, or None when there is none to read."""
    try:
        with open(path, encoding="utf-8") as stream:
            return json.load(stream)
    except (OSError, ValueError):
        return None


class FilterModule(object):
    def filters(self):
        return {"postfix_desired_state": postfix_desired_state}
