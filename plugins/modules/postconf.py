#!/usr/bin/python
# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: postconf
short_description: Set and remove many Postfix main.cf parameters in one step
version_added: 0.1.0
description:
  - Reads the current main.cf settings once with C(postconf -n), works out which of the
    requested parameters differ, and writes main.cf at most once, atomically.
  - Values are compared the way Postfix reads them, so white space, line folding,
    C(a, b) versus C(a b) in lists, and C(Yes) versus C(yes) never cause a change.
  - Before the live file is replaced, Postfix reads the candidate main.cf in a scratch
    copy of the configuration directory. Unknown parameter names (those Postfix reports
    as unused) are refused with the closest known names, and nothing is written.
  - Every value must fit on one main.cf line. A line break (also a carriage return or
    U+2028), a tab or any other control character in a value or a name is refused, never
    turned into a space; give a list instead of a multi-line string.
  - A C($name), C(${name}) or C($(name)) reference to a parameter that Postfix does not know
    and main.cf does not define is refused with the closest known names (Postfix would expand
    it to nothing), unless O(allow_custom=true). Write C($$) for a literal C($).
  - Values Postfix reads without complaint but fails on later are refused too, such as a
    C(relayhost) or C(smtp_fallback_relay) that is not C(host), C(host:port), C([host]) or
    C([host]:port) with a port from 1 to 65535 (IPv6 addresses as C([2001:db8::1]) or
    C([ipv6:2001:db8::1])); a C(compatibility_level) higher than the installed Postfix
    (0, 1 or 2 on Postfix 3.5; also 3.6 up to the installed version on Postfix 3.6 and later);
    TLS security levels, TLS files and lookup tables that do not exist.
  - A main.cf that holds a carriage return that does not end a line, or a NUL byte, is not
    edited, because Postfix reads such a line differently from other tools. Remove the character by hand.
  - Reports whether the change needs a C(postfix reload) or a full restart.
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
  parameters:
    description:
      - "Parameters to manage, as C(name: value)."
      - Booleans become C(yes)/C(no), numbers are written as they are, lists are joined with C(, ).
      - With O(state=present), a V(null) value removes that parameter, so one task can set
        some parameters and remove others.
      - With O(state=absent), the values are ignored and every named parameter is removed.
    type: dict
    required: true
  state:
    description:
      - Whether the parameters should be set in main.cf or removed from it (so Postfix uses its defaults).
    type: str
    choices: [present, absent]
    default: present
  allow_custom:
    description:
      - Accept parameter names that Postfix does not know, for your own parameters that
        other settings reference as C($name), and C($name) references to parameters that
        neither Postfix nor main.cf defines yet (another task sets them).
    type: bool
    default: false
  backup:
    description:
      - Keep a time-stamped copy of main.cf before changing it.
    type: bool
    default: false
notes:
  - Names Postfix derives from C(master.cf) service names (for example
    C(relay_destination_concurrency_limit)) and parameters that C(master.cf) references with
    C(-o name=$custom) are known to Postfix and accepted.
seealso:
  - name: postconf(5)
    description: Postfix configuration parameters.
    link: https://www.postfix.org/postconf.5.html
  - module: postmaster.mail.postfix_info
"""

EXAMPLES = r"""
- name: Configure a local mail server
  postmaster.mail.postconf:
    parameters:
      myhostname: mail.example.org
      mydestination: [$myhostname, localhost.$mydomain, localhost]
      inet_interfaces: loopback-only
      home_mailbox: Maildir/
      smtputf8_enable: true
      relayhost: null   # removed from main.cf
  register: postfix_main_cf
  notify: Reload postfix

- name: Go back to Postfix's defaults for two parameters
  postmaster.mail.postconf:
    parameters:
      smtpd_banner:
      delay_warning_time:
    state: absent

- name: Define a parameter of your own, referenced from master.cf
  postmaster.mail.postconf:
    parameters:
      mua_client_restrictions: permit_sasl_authenticated, reject
    allow_custom: true

- name: Work on a second Postfix instance
  postmaster.mail.postconf:
    config_dir: /etc/postfix-out
    parameters:
      inet_interfaces: 192.0.2.25
"""

RETURN = r"""
changed_parameters:
  description: Names of the parameters that were (or in check mode would be) set or removed.
  returned: always
  type: list
  elements: str
  sample: [home_mailbox, myhostname]
reload_needed:
  description: Whether Postfix must reload to use the change.
  returned: always
  type: bool
  sample: true
restart_needed:
  description:
    - Whether the change needs Postfix to be stopped and started, not just reloaded
      (for example C(inet_interfaces) or C(inet_protocols)).
  returned: always
  type: bool
  sample: false
rollback_file:
  description:
    - The copy of main.cf that M(postmaster.mail.postfix_apply) puts back when Postfix fails on the
      new file. It is made at the first change only, so after several changes it still holds the
      file Postfix last ran with.
  returned: when main.cf changed (not in check mode)
  type: str
  sample: /etc/postfix/.postmaster-rollback/main.cf
backup_file:
  description: Path of the copy of main.cf made before the change.
  returned: when O(backup=true) and main.cf changed
  type: str
  sample: /etc/postfix/main.cf.12345.2026-11-25@12:00:00~
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.postmaster.mail.plugins.module_utils._maincf.text import MainCfError, edit_main_cf
from ansible_collections.postmaster.mail.plugins.module_utils._maincf.file import MainCf, describe, needs_restart
from ansible_collections.postmaster.mail.plugins.module_utils._postfix_tools import PostfixCommandError


def main():
    module = AnsibleModule(
        argument_spec=dict(
            parameters=dict(type="dict", required=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            config_dir=dict(type="path"),
            allow_custom=dict(type="bool", default=False),
            backup=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    main_cf = MainCf(module, module.params["config_dir"])
    try:
        text, current = main_cf.read()
        changes = main_cf.plan(module.params["parameters"], module.params["state"], current)
        result = dict(
            changed=bool(changes),
            changed_parameters=sorted(changes),
            reload_needed=bool(changes),
            restart_needed=needs_restart(changes),
        )
        if changes:
            new_text = edit_main_cf(text, changes)
            main_cf.stage(new_text, changes, module.params["allow_custom"])
            if module._diff:
                result["diff"] = describe(changes, current)
            if not module.check_mode:
                backup_file, result["rollback_file"] = main_cf.write(new_text, module.params["backup"])
                if backup_file:
                    result["backup_file"] = backup_file
    except (MainCfError, PostfixCommandError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
