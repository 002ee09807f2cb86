# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in C(check_mode) and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in C(check_mode)), when in diff mode.
  idempotent:
    description:
      - When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
"""

    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details:
      - This action does not modify state.
  diff_mode:
    support: N/A
    details:
      - This action does not modify state.
  idempotent:
    support: full
"""

    CONFIG_DIR = r"""
options:
  config_dir:
    description:
      - Postfix configuration directory, passed to Postfix's tools as C(-c).
      - Defaults to C(/etc/postfix) (or C(MAIL_CONFIG) when set in the module's environment).
    type: path
"""

    # Options every lookup table module (postmap, tls_policy) takes with the same meaning;
    # the backend is plugins/module_utils/_postmap.py (TABLE_ARGUMENT_SPEC). path and mode
    # are documented by each module: their example and default differ.
    LOOKUP_TABLE = r"""
options:
  type:
    description:
      - Table type, one of those C(postconf -m) lists on the managed host that keep their
        entries in a file, for example V(hash), V(btree), V(lmdb), V(cdb) or V(texthash).
      - Defaults to the host's C(default_database_type) (C(postconf -h default_database_type)),
        also when empty.
      - V(lmdb) and V(cdb) need the Debian packages C(postfix-lmdb) and C(postfix-cdb).
    type: str
  state:
    description:
      - Whether the table should exist. V(absent) removes the source file and the file
        built from it for O(type).
    type: str
    choices: [present, absent]
    default: present
  owner:
    description:
      - Owner of the source file and the built file, a user name or number.
      - Defaults to the owner of the existing source file, or the user running the module.
    type: str
  group:
    description:
      - Group of the source file and the built file, a group name or number.
      - Defaults to the group of the existing source file, or the primary group of the user
        running the module.
    type: str
"""
