#!/usr/bin/python
# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: postconf_master
short_description: Add, change and remove Postfix master.cf service entries in one step
version_added: 0.1.0
description:
  - Reads every master.cf service entry once with C(postconf -M), works out which of the
    requested services differ, and writes master.cf at most once, atomically.
  - Entries are compared the way Postfix reads them, so line folding, column layout,
    C(-o name=value) versus C(-o { name = value }), the order of the C(-o) overrides,
    C(a,b) versus C(a, b) in lists and C(yes) versus V(true) never cause a change.
  - Changes are made by Postfix's own C(postconf -Me) and C(postconf -MX) in a scratch copy
    of the configuration directory, which Postfix then reads back. Unknown C(-o) parameter
    names are refused with the closest known names, and nothing is written.
  - Only the named entries are touched; comments, other entries and their layout are kept
    byte for byte. A changed entry is rewritten in C(postconf)'s layout.
  - Service entries that are not listed are left alone.
author: postmaster.mail contributors (@postmaster-mail)
extends_documentation_fragment:
  - postmaster.mail.attributes
  - postmaster.mail.attributes.config_dir
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
options:
  services:
    description:
      - The service entries to manage. A service is identified by its O(services[].name)
        and O(services[].type) together.
      - A present entry is made to match exactly, so C(-o) overrides it has that are not in
        O(services[].options) are removed.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - Service name, for example V(smtp), V(submission), V(smtps), V(127.0.0.1:10025) or V(relay).
          - No spaces, control characters, C(/), C(=) or braces, and no leading C(-) or C(#).
          - An V(inet) service is C(port), C(host:port) or C([address]:port); the port is a number
            or a name from C(/etc/services) (V(smtp) is 25, V(submission) 587, V(smtps) 465).
          - Two V(inet) entries on one listener are refused, because Postfix then serves the port
            with only one of them (the last entry for V(587) and V(submission); either one, or
            neither, for V(0.0.0.0:587) and V(submission)). This counts entries already in
            master.cf; change the existing entry instead, or remove it with
            O(services[].state=absent) in the same call.
        type: str
        required: true
      type:
        description:
          - Service type.
        type: str
        required: true
        choices: [inet, unix, unix-dgram, fifo, pass]
      state:
        description:
          - Whether the entry should exist. V(absent) removes every entry with this name and
            type; the other fields are then ignored.
        type: str
        choices: [present, absent]
        default: present
      private:
        description:
          - Whether the service is accessible only by Postfix itself, V(y), V(n) or V(-) (the default, yes).
          - V(true) and V(false) are written as V(y) and V(n).
        type: raw
        default: "-"
      unprivileged:
        description:
          - Whether the service runs as the mail owner rather than root, V(y), V(n) or V(-) (the default, yes).
        type: raw
        default: "-"
      chroot:
        description:
          - Whether the service runs chrooted to the queue directory, V(y), V(n) or V(-) (the default, no).
        type: raw
        default: "-"
      wakeup:
        description:
          - Wake-up time in seconds, optionally followed by C(?), or V(-) for none.
        type: raw
        default: "-"
      maxproc:
        description:
          - Process limit, a number (V(0) means none) or V(-) for C(default_process_limit).
        type: raw
        default: "-"
      command:
        description:
          - The daemon and its arguments, for example V(smtpd) or
            V(pipe flags=Rq user=list argv=/usr/bin/example ${recipient}).
          - Group an argument that holds spaces as C({ words }).
          - Required with O(services[].state=present). Give C(-o) overrides in
            O(services[].options), not here.
        type: str
      options:
        description:
          - "The C(-o) overrides of main.cf parameters, as C(name: value), written in the order given."
          - Booleans become C(yes)/C(no), numbers are written as they are, lists are joined
            with C(,), and V(null) is an empty value (C(-o name=)).
          - Values with spaces are written as C(-o { name = value }). Values must fit on one line;
            control characters and unbalanced braces are refused.
          - Each name must be a parameter Postfix knows, one it derives from a service name,
            or one of your own that another setting references as C($name).
        type: dict
        default: {}
  backup:
    description:
      - Keep a time-stamped copy of master.cf before changing it.
    type: bool
    default: false
notes:
  - Postfix 3.5 or later. Changes to master.cf take effect on C(postfix reload); the
    master process re-reads master.cf then, and opens or closes listeners as needed.
  - Where several entries share a name and type, they are replaced by one, at the end of master.cf.
  - A V(inet) service without a host listens on the addresses of C(inet_interfaces); with
    C(inet_interfaces = all) it covers every address, so it collides with any entry on the same
    port. An entry with a host collides with one without when that address is among them.
seealso:
  - name: master(5)
    description: The master.cf file format.
    link: https://www.postfix.org/master.5.html
  - name: postconf(1)
    description: The C(-M) options this module uses.
    link: https://www.postfix.org/postconf.1.html
  - module: postmaster.mail.postconf
"""

EXAMPLES = r"""
- name: Accept mail from users on the submission port (587) with STARTTLS and SMTP AUTH
  postmaster.mail.postconf_master:
    services:
      - name: submission
        type: inet
        private: n
        chroot: y
        command: smtpd
        options:
          syslog_name: postfix/submission
          smtpd_tls_security_level: encrypt
          smtpd_sasl_auth_enable: true
          smtpd_client_restrictions: [permit_sasl_authenticated, reject]
  register: postfix_master_cf
  notify: Reload postfix

- name: Accept mail on port 465 with TLS from the first byte (smtps)
  postmaster.mail.postconf_master:
    services:
      - name: smtps
        type: inet
        private: n
        chroot: y
        command: smtpd
        options:
          syslog_name: postfix/smtps
          smtpd_tls_wrappermode: true
          smtpd_sasl_auth_enable: true
  notify: Reload postfix

- name: Hand mail to a content filter through a pipe, with a banner that holds spaces
  postmaster.mail.postconf_master:
    services:
      - name: filter
        type: unix
        private: n
        unprivileged: n
        chroot: n
        command: pipe flags=Rq user=filter argv=/usr/local/bin/filter -f ${sender} -- ${recipient}
      - name: 127.0.0.1:10026
        type: inet
        private: n
        command: smtpd
        options:
          smtpd_banner: $myhostname ESMTP filtered
          content_filter: null

- name: Remove the qmqpd service and the uucp transport
  postmaster.mail.postconf_master:
    services:
      - name: "628"
        type: inet
        state: absent
      - name: uucp
        type: unix
        state: absent
    backup: true
"""

RETURN = r"""
changed_services:
  description: The services (as C(name/type)) that were (or in check mode would be) added, changed or removed.
  returned: always
  type: list
  elements: str
  sample: [submission/inet, smtps/inet]
reload_needed:
  description: Whether Postfix must reload to use the change (true whenever master.cf changed).
  returned: always
  type: bool
  sample: true
restart_needed:
  description:
    - Whether the change needs Postfix to be stopped and started. Always V(false), because
      the master process re-reads master.cf on C(postfix reload).
  returned: always
  type: bool
  sample: false
diff:
  description: The changed entries before and after, one line each as C(postconf -M) shows them.
  returned: in diff mode, when something changed
  type: dict
  sample:
    before: ""
    after: "submission inet  n       -       y       -       -       smtpd -o syslog_name=postfix/submission\n"
rollback_file:
  description:
    - The copy of master.cf that M(postmaster.mail.postfix_apply) puts back when Postfix fails on the
      new file. It is made at the first change only, so after several changes it still holds the
      file Postfix last ran with.
  returned: when master.cf changed (not in check mode)
  type: str
  sample: /etc/postfix/.postmaster-rollback/master.cf
backup_file:
  description: Path of the copy of master.cf made before the change.
  returned: when O(backup=true) and master.cf changed
  type: str
  sample: /etc/postfix/master.cf.12345.2026-11-25@12:00:00~
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.postmaster.mail.plugins.module_utils._mastercf import (
    SERVICE_OPTIONS,
    MasterCf,
    MasterCfError,
    desired_entries,
    describe,
    plan,
)
from ansible_collections.postmaster.mail.plugins.module_utils._postfix_tools import PostfixCommandError


def main():
    module = AnsibleModule(
        argument_spec=dict(
            services=dict(type="list", elements="dict", required=True, options=SERVICE_OPTIONS),
            config_dir=dict(type="path"),
            backup=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    master_cf = MasterCf(module, module.params["config_dir"])
    try:
        desired = desired_entries(module.params["services"])
        changes = plan(desired, master_cf.read(), master_cf.interfaces())
        result = dict(
            changed=bool(changes),
            changed_services=[key for key, dummy, dummy in changes],
            reload_needed=bool(changes),
            restart_needed=False,
        )
        if changes:
            data, staged = master_cf.stage(changes)
            if module._diff:
                result["diff"] = describe(changes, staged)
            if not module.check_mode:
                backup_file, result["rollback_file"] = master_cf.write(data, module.params["backup"])
                if backup_file:
                    result["backup_file"] = backup_file
    except (MasterCfError, PostfixCommandError) as exc:
        module.fail_json(msg=str(exc))
    for warning in master_cf.warnings:
        module.warn(warning)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
