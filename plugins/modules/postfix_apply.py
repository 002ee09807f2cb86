#!/usr/bin/python
# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: postfix_apply
short_description: Make Postfix use its new configuration, or roll back to the previous one
version_added: 0.1.0
description:
  - Runs C(postfix check), then reloads or restarts Postfix through systemd and checks with
    C(postfix status) that it is still running a few seconds later.
  - When any step fails, puts back the C(main.cf) and C(master.cf) that
    M(postmaster.mail.postconf), M(postmaster.mail.postconf_master) and
    M(postmaster.mail.maildir) saved before their first change, brings Postfix up on them,
    and fails with one line that says what happened and quotes Postfix's own message (from
    its terminal output, the journal or C(/var/log/mail.log)).
  - On success the saved copies are discarded, so the next change saves the files Postfix
    runs with now.
  - Meant as the handler after those modules; the postmaster.mail.postfix role uses it.
author: postmaster.mail contributors (@postmaster-mail)
extends_documentation_fragment:
  - postmaster.mail.attributes
  - postmaster.mail.attributes.config_dir
attributes:
  check_mode:
    support: full
    details:
      - Reports what it would do and runs nothing, not even C(postfix check), which may
        create missing directories.
  diff_mode:
    support: none
  idempotent:
    support: partial
    details:
      - Every run reloads or restarts Postfix, except with O(only_if_needed) when nothing is needed.
options:
  restart:
    description:
      - Stop and start Postfix instead of reloading it, as changes of C(inet_interfaces) or
        C(inet_protocols) need (the C(restart_needed) result of M(postmaster.mail.postconf)
        says when).
      - Without it Postfix reloads, or starts when it is not running.
    type: bool
    default: false
  running:
    description:
      - Whether Postfix should be running. With V(false) only C(postfix check) runs (and
        the files are rolled back when it fails); Postfix is neither started nor stopped,
        except with O(only_if_needed), which stops a running Postfix.
    type: bool
    default: true
  only_if_needed:
    description:
      - Do nothing, not even C(postfix check), unless a copy of C(main.cf) or C(master.cf) is
        pending (a run changed them and stopped before applying them) or Postfix is not in the
        state O(running) asks for. Postfix counts as running when its master process runs, as
        C(postfix status) reports it; on Debian the C(postfix) unit is a wrapper that stays
        active when the master process dies.
      - Nothing is needed when C(main.cf) does not exist (Postfix not installed yet).
      - When something is needed, works as without it (a pending copy is applied, a stopped
        Postfix started), and with O(running=false) also stops a running Postfix.
      - The postmaster.mail.postfix role runs it this way before it writes anything, so copies
        left by an interrupted run are resolved first and a later failure never goes back to
        them.
    type: bool
    default: false
  service:
    description: The systemd unit that runs Postfix.
    type: str
    default: postfix
  settle_time:
    description:
      - Seconds to wait after the reload or restart before checking that Postfix still runs.
        The master process exits when it cannot bind a listener, shortly after a reload.
    type: float
    default: 2
notes:
  - The saved copies are kept in C(.postmaster-rollback/) inside O(config_dir), readable by
    root only. A copy is made only when none is pending, so after several changes in one
    run it is still the configuration from before the run.
  - A copy stays pending until this module runs. When a run changes the files and stops
    before its handlers, M(postmaster.mail.drift_check) reports the configuration as written
    but not applied, and the postmaster.mail.postfix role applies the files in place (this
    module with O(only_if_needed)) before it writes anything. When Postfix runs on them the
    copy is discarded, when it does not the copy goes back. So a copy never outlives the
    next run, and a later failure never restores a copy older than files Postfix ran with.
  - When Postfix does not run on the restored copies either, the copies are kept, and the
    failure says so.
  - Copies, and the files put back from them, are written to a temporary file, synced to
    disk and renamed; when several are put back, all are written and synced before the
    first rename, so a full disk leaves every file as it was.
  - Lookup tables are separate files and are not rolled back.
seealso:
  - module: postmaster.mail.postconf
  - module: postmaster.mail.postconf_master
  - name: postfix(1)
    description: C(postfix check), C(reload) and C(status).
    link: https://www.postfix.org/postfix.1.html
"""

EXAMPLES = r"""
- name: Change main.cf
  postmaster.mail.postconf:
    parameters:
      inet_interfaces: loopback-only
  register: main_cf
  notify: Apply the Postfix configuration

# In handlers/main.yml
- name: Apply the Postfix configuration
  postmaster.mail.postfix_apply:
    restart: "{{ main_cf.restart_needed }}"

- name: Apply what an interrupted run wrote, or start Postfix when its master process died
  postmaster.mail.postfix_apply:
    only_if_needed: true
    restart: true

- name: Check a configuration while Postfix is meant to stay stopped
  postmaster.mail.postfix_apply:
    running: false
"""

RETURN = r"""
performed:
  description:
    - What was (or in check mode would be) done to the Postfix service - V(reload),
      V(restart), V(start) (a reload while Postfix was down), V(stop) (only with
      O(only_if_needed)) or V(none).
  returned: success
  type: str
  sample: reload
rollback_dir:
  description: Where the copies of the previous main.cf and master.cf are kept.
  returned: always
  type: str
  sample: /etc/postfix/.postmaster-rollback
pending:
  description: The files that had a saved copy when the module started.
  returned: always
  type: list
  elements: str
  sample: [main.cf]
restored:
  description: The files put back from the saved copies after a failure.
  returned: failure
  type: list
  elements: str
  sample: [main.cf, master.cf]
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.postmaster.mail.plugins.module_utils import _rollback as rollback
from ansible_collections.postmaster.mail.plugins.module_utils._postfix_tools import config_directory
from ansible_collections.postmaster.mail.plugins.module_utils._postfix_apply import ApplyError, PostfixApply


def main():
    module = AnsibleModule(
        argument_spec=dict(
            restart=dict(type="bool", default=False),
            running=dict(type="bool", default=True),
            only_if_needed=dict(type="bool", default=False),
            service=dict(type="str", default="postfix"),
            settle_time=dict(type="float", default=2),
            config_dir=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    config_dir = config_directory(params["config_dir"])
    if not os.path.isfile(os.path.join(config_dir, "main.cf")):
        if params["only_if_needed"]:  # not installed yet, as in a preview (check mode) of a new host
            module.exit_json(changed=False, performed="none", rollback_dir=rollback.rollback_dir(config_dir), pending=[])
        module.fail_json(msg="%s/main.cf does not exist: install Postfix first, or point config_dir at the "
                             "directory that holds main.cf and master.cf" % config_dir)
    if params["settle_time"] < 0:
        module.fail_json(msg="settle_time must be 0 or more seconds, not %s" % params["settle_time"])
    result = dict(changed=False, rollback_dir=rollback.rollback_dir(config_dir), pending=rollback.pending(config_dir))
    apply = PostfixApply(module, config_dir, params["service"], params["settle_time"])
    was_running = apply.running() if params["only_if_needed"] or not params["running"] else None
    if params["only_if_needed"] and not result["pending"] and was_running == params["running"]:
        module.exit_json(performed="none", **result)
    action = "restart" if params["restart"] else "reload"
    if module.check_mode:
        performed = action if params["running"] else ("stop" if was_running else "none")
        result.update(changed=performed != "none" or bool(result["pending"]), performed=performed)
        module.exit_json(**result)
    try:
        apply.check()
        if params["running"]:
            performed = apply.apply(action)
        else:
            performed = apply.stop() if params["only_if_needed"] and was_running else "none"
    except ApplyError as exc:
        rollback_and_fail(module, apply, config_dir, str(exc), result)
    rollback.discard(config_dir)
    result.update(changed=performed != "none" or bool(result["pending"] and params["only_if_needed"]),
                  performed=performed)
    module.exit_json(**result)


def rollback_and_fail(module, apply, config_dir, failure, result):
    """Put the saved copies back as one unit and bring Postfix up on them. The copies are
    kept when Postfix does not run on them either, so nothing newer is ever lost and the
    next run sees the configuration as not applied."""
    try:
        restored = rollback.restore(config_dir)
    except rollback.RollbackError as exc:
        module.fail_json(msg="%s; %s" % (failure, exc), restored=[], **result)
    if not restored:
        module.fail_json(msg="%s; no saved main.cf or master.cf in %s to go back to, nothing was restored"
                             % (failure, result["rollback_dir"]), restored=[], **result)
    outcome = "Postfix stays stopped"
    recovered = True
    if module.params["running"]:
        try:
            apply.apply("reload")  # a start when the failed step took Postfix down
            outcome = "Postfix is running on them"
        except ApplyError as exc:
            recovered = False
            outcome = "Postfix failed on them too (%s); the copies stay in %s" % (exc, result["rollback_dir"])
    if recovered:
        rollback.discard(config_dir)
    result.update(changed=True, restored=restored)
    module.fail_json(msg="%s; restored %s as Postfix last ran with them and %s"
                         % (failure, " and ".join(restored), outcome), **result)


if __name__ == "__main__":
    main()
