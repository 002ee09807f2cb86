#!/usr/bin/python
# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: postmap
short_description: Write a Postfix lookup table from data and build it with postmap
version_added: 0.1.0
description:
  - Writes the source file of a Postfix lookup table (such as C(/etc/postfix/sasl_passwd))
    from a dictionary or a list of entries, one C(key value) line each, and builds the
    indexed file Postfix reads (C(.db), C(.lmdb), C(.cdb)) with C(postmap).
  - The source file is written only when its content changes. C(postmap) runs only when the
    source changed, or when the built file is missing or older than the source file.
  - Both files are made as staged copies next to the live ones and renamed into place, so
    Postfix sees the old table or the new one, never a half-built one, and a failed build
    changes nothing. The built file gets the same mode and owner as the source file.
  - Every entry is checked before anything is written. Empty keys, keys with white space or a
    leading C(#), keys and values with line breaks (also Unicode line separators), tabs or other
    control characters, and keys that Postfix would read as the same key are refused.
  - Also writes V(regexp) tables (O(type=regexp)), whose keys are patterns, in the order given.
  - Returns RV(map_reference), the C(type:path) to put in main.cf.
author: postmaster.mail contributors (@postmaster-mail)
extends_documentation_fragment:
  - postmaster.mail.attributes
  - postmaster.mail.attributes.config_dir
  - postmaster.mail.attributes.lookup_table
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff shows the lines of the source file; with O(secret=true) the values are
        replaced by C(********).
  idempotent:
    support: full
options:
  path:
    description:
      - Absolute path of the table's source file, for example C(/etc/postfix/sasl_passwd).
        The built file is this path plus the type's suffix.
      - The directory must exist.
    type: path
    required: true
  entries:
    description:
      - "The table's entries, either as a dictionary of C(key: value) or as a list of
        C({key: ..., value: ...}) items. They are written in the order given."
      - A key is one word without white space, for example C(user@example.org),
        C(example.org), C(.example.org), C([smtp.example.org]:587) or C(192.0.2.1).
        Postfix folds keys to lower case (with full Unicode case folding when C(smtputf8_enable)
        is on), so keys that differ only in case, such as C(Straße) and C(STRASSE), are refused.
      - An V(lmdb) key has at most 510 bytes.
      - A value is one line without control characters (a tab included). A list value is joined
        with C(, ) (as in C(virtual) alias tables). Quote C(yes), C(no) and other words YAML reads
        as booleans.
      - Never written to the managed host's log. Values are shown in the result and the
        diff unless O(secret=true).
      - Required with O(state=present). The source file holds exactly these entries; other
        lines are removed.
    type: raw
  secret:
    description:
      - The values are secrets, such as the passwords in C(sasl_passwd). They are never
        shown in the diff or the result (the keys are), and the default O(mode) is C(0600).
    type: bool
    default: false
  mode:
    description:
      - Mode of the source file and the built file, as an octal string such as C("0644").
        An integer is taken as the mode itself, as M(ansible.builtin.file) does.
      - Defaults to C(0600) with O(secret=true) and C(0644) otherwise.
    type: raw
notes:
  - Postfix processes notice a rebuilt C(hash), C(btree), C(lmdb) or C(cdb) table on their
    own. A V(texthash) table is read when a process starts, so run C(postfix reload) after
    changing one.
  - A V(regexp) table is written as the entries say, in their order, each key a pattern
    (C(/^alice[+@]/)); a staged copy is read by C(postmap -q) first, and a line Postfix
    would skip with a warning (an invalid pattern) fails the task with the live table unchanged.
    Postfix reads a V(regexp) table when a process starts, so run C(postfix reload) after changing one.
  - V(pcre) and V(cidr) tables, and tables kept outside a file (V(inline), V(static), V(ldap),
    V(mysql), ...) are not written by this module.
seealso:
  - name: postmap(1)
    description: The tool that builds indexed tables.
    link: https://www.postfix.org/postmap.1.html
  - name: Postfix lookup table types
    description: Which table types there are and what they need.
    link: https://www.postfix.org/DATABASE_README.html
  - module: postmaster.mail.tls_policy
  - module: postmaster.mail.postconf
"""

EXAMPLES = r"""
- name: Credentials for the relay host, readable by root only
  postmaster.mail.postmap:
    path: /etc/postfix/sasl_passwd
    entries:
      "[smtp.example.net]:587": "mailer@example.org:{{ relay_password }}"
    secret: true
  register: postfix_sasl_passwd

- name: Use the table
  postmaster.mail.postconf:
    parameters:
      relayhost: "[smtp.example.net]:587"
      smtp_sasl_auth_enable: true
      smtp_sasl_password_maps: "{{ postfix_sasl_passwd.map_reference }}"
  notify: Reload postfix

- name: Virtual aliases, in this order, as an lmdb table
  postmaster.mail.postmap:
    path: /etc/postfix/virtual
    type: lmdb
    entries:
      - key: postmaster@example.org
        value: root
      - key: team@example.org
        value: [alice@example.org, bob@example.org]

- name: Remove a table that is no longer used
  postmaster.mail.postmap:
    path: /etc/postfix/sender_access
    state: absent
"""

RETURN = r"""
path:
  description: Path of the source file.
  returned: always
  type: str
  sample: /etc/postfix/sasl_passwd
type:
  description: The table type used, O(type) or the host's C(default_database_type).
  returned: always
  type: str
  sample: hash
map_reference:
  description: The table as main.cf refers to it, C(type:path).
  returned: always
  type: str
  sample: hash:/etc/postfix/sasl_passwd
rebuilt:
  description:
    - Whether C(postmap) built the table (in check mode, whether it would). Always V(false)
      for types that need no build, such as V(texthash).
  returned: always
  type: bool
  sample: true
diff:
  description: The source file before and after, values replaced by C(********) with O(secret=true).
  returned: in diff mode, when the source file changes
  type: dict
  sample:
    before: ""
    after: "# Managed by postmaster.mail.postmap: changes made here are overwritten.\n[smtp.example.net]:587 ********\n"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.postmaster.mail.plugins.module_utils._postfix_tools import PostfixCommandError
from ansible_collections.postmaster.mail.plugins.module_utils._postmap import (
    HEADER,
    PATTERN_TYPES,
    TABLE_ARGUMENT_SPEC,
    Table,
    TableError,
    reveal_entries,
    table_entries,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            TABLE_ARGUMENT_SPEC,
            entries=dict(type="raw", no_log=True),
            secret=dict(type="bool", default=False),
        ),
        required_if=[("state", "present", ["entries"])],
        supports_check_mode=True,
    )
    params = module.params
    reveal_entries(module, params["entries"], params["secret"])
    try:
        pairs = table_entries(params["entries"]) if params["state"] == "present" else []
    except TableError as exc:
        module.fail_json(msg="entries: %s" % exc)
    try:
        table = Table.from_params(module, PATTERN_TYPES)
        result = table.manage(pairs, HEADER % "postmaster.mail.postmap", params["secret"])
    except (TableError, PostfixCommandError) as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg="cannot write the table %s: %s" % (params["path"], exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
