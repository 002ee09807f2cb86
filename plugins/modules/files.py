#!/usr/bin/python
# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: files
short_description: Write many files from their text, and remove others, in one step
version_added: 0.1.0
description:
  - Writes every file in O(files) whose text, owner, group or mode differs from what is on the host, and removes
    every path in O(absent) that exists, in one module call (one M(ansible.builtin.copy) per file costs a stat,
    a transfer and a copy each).
  - Every entry is checked before anything is touched. A path that is not absolute, an unknown owner or group,
    a bad mode, a missing directory above a path, or a directory at a path fails the task with one line that
    names the entry, and nothing is written. In check mode a missing directory only gives a warning (in a real
    run an earlier task, such as a package install, may make it), and the file counts as changed.
  - Each changed file is written to a temporary file next to it, with its owner, group and mode set on the
    descriptor, and flushed to disk; once all are staged, they are renamed into place. A file whose text is
    right but whose owner, group or mode is not gets them set on its descriptor, without being rewritten.
  - A symbolic link at a path in O(files) is never followed; it is replaced by a regular file, and what it
    points to stays untouched. A symbolic link in O(absent) is removed itself.
  - The result and the diff never hold a removed file's text, and the result never holds any file's text or
    a digest of it. For files that hold secrets, set C(no_log) to true and C(diff) to false on the task.
author: postmaster.mail contributors (@postmaster-mail)
extends_documentation_fragment:
  - postmaster.mail.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: One diff entry per changed file (its text before and after) and per removed path (its state only).
  idempotent:
    support: full
options:
  files:
    description:
      - The files to write. Each is a dictionary with the keys C(path) (required, absolute), C(content) (required,
        the whole text), C(owner) (default C(root)), C(group) (default C(root)) and C(mode) (default C("0644"), an
        octal string; an integer is taken as the mode itself, as M(ansible.builtin.file) does).
      - The keys C(sha256), C(secret) and C(kind), which the roles' models add for the drift check, are ignored;
        any other key is refused.
    type: list
    elements: dict
    default: []
  absent:
    description: Absolute paths to remove when they exist. A directory there fails the task.
    type: list
    elements: str
    default: []
  pending:
    description:
      - An absolute path that stands for changes the task's handler has not applied yet (a reload). When anything
        changes, this file is written first (mode 0600, its directory made with mode 0700 when missing). When it
        is already there, left by an earlier run that stopped before its handler, the task reports a change even
        if no file differs, so that the handler runs again.
      - The handler removes it once it has applied the change; a drift check that wants it absent then finds
        nothing to do.
    type: str
"""

EXAMPLES = r"""
- name: Configure the daemon
  postmaster.mail.files:
    files:
      - path: /etc/example/example.conf
        content: "{{ example_config }}"
      - path: /etc/example/users
        content: "{{ example_users }}"
        group: example
        mode: "0640"
    absent: [/etc/example/old.conf]
    pending: /run/example/reload-pending  # the handler removes it after the reload
  notify: Reload example

- name: Write a file that holds secrets (nothing of it in any output)
  postmaster.mail.files:
    files: "{{ example_secret_files }}"
  no_log: true
  diff: false
"""

RETURN = r"""
changed_paths:
  description: The files written or whose owner, group or mode were set (in check mode, those a real run would change).
  type: list
  elements: str
  returned: success
  sample: [/etc/example/example.conf]
removed:
  description: The paths removed (in check mode, those a real run would remove).
  type: list
  elements: str
  returned: success
  sample: [/etc/example/old.conf]
pending:
  description: Whether the handler has changes to apply - files changed now, or O(pending) was left by an earlier run.
  type: bool
  returned: when O(pending) is given
  sample: true
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.postmaster.mail.plugins.module_utils._file_batch import BatchError, apply, check_pending, mark_pending, plan
from ansible_collections.postmaster.mail.plugins.module_utils._files import WriteError


def main():
    module = AnsibleModule(
        argument_spec=dict(
            files=dict(type="list", elements="dict", default=[]),
            absent=dict(type="list", elements="str", default=[]),
            pending=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    pending = module.params["pending"]
    try:
        planned = plan(module.params["files"], module.params["absent"], preview=module.check_mode)
        left_pending = check_pending(pending)
    except BatchError as exc:
        module.fail_json(msg="files: %s" % exc)
    for path in planned["missing_directory"]:
        module.warn("files: the directory of %s does not exist yet; a real run fails unless an earlier task makes it "
                    "(a package install)" % path)
    changed_paths = planned["changed"]
    changes = bool(changed_paths or planned["remove"])
    if not module.check_mode:
        try:
            if pending and changes:
                mark_pending(pending)
            apply(planned)
        except WriteError as exc:
            module.fail_json(msg="files: %s" % exc)
    result = dict(changed=changes or left_pending, changed_paths=changed_paths, removed=planned["remove"])
    if pending:
        result["pending"] = result["changed"]
    if module._diff:
        result["diff"] = planned["diff"]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
