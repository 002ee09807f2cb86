#!/usr/bin/python
# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: drift_check
short_description: Compare a mail host with its desired state in one call, changing nothing
version_added: 0.1.0
description:
  - Checks packages, services, files, main.cf parameters, master.cf services, lookup tables
    and Maildirs against a desired state given as data, and reports what differs. It never
    changes the host.
  - Made for the roles of this collection, which run it first and skip their other tasks
    when nothing differs, so a re-run of an unchanged host costs one remote call.
  - Each kind of state is read once per call (the dpkg status file, one C(systemctl show),
    one C(postconf -n) per configuration directory, one C(postconf -M)), and compared the way
    the module that repairs it compares. main.cf differs exactly when
    M(postmaster.mail.postconf) would change it, master.cf when
    M(postmaster.mail.postconf_master) would, Maildirs when M(postmaster.mail.maildir) would.
  - Files are compared by SHA-256 digest, so file contents never travel in the module
    arguments; the digests of secret files travel only in the O(secret_digests) option, which
    is never logged.
  - A desired state the repairing module would refuse (an unknown parameter, a user without
    a home directory) is reported as a difference, so that module runs and says why.
  - Its action plugin runs it with one remote command when the connection does not
    pipeline (for example C(containers.podman.podman)); the module goes to a private
    (mode 0600) file in C(/var/tmp) with a random name, and the command that runs it removes
    it. With pipelining, under Mitogen, with async or when becoming an unprivileged user it
    runs the way Ansible runs any module.
  - On that one-command path the code Python compiles from the module's payload is kept on the
    host in C(/var/cache/postmaster-mail/python), a directory only its owner (the user running
    the module, normally root) can use, and reused while the source is the same; it is not
    used when others could write it. Deleting it is safe.
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
  checks:
    description:
      - "Named checks, as C(name: desired state); the result reports differences per name,
        so each role can ask whether anything of its own differs."
      - "A desired state has any of these keys -
        C(packages) (list of Debian package names that must be installed);
        C(package_versions) (C({name: version}), the installed versions assumed, see O(package_versions));
        C(services) (list of C({name, enabled, active}), booleans, a missing one not checked);
        C(files) (list of C({path, state, sha256, secret, block, mode, owner, group}): C(state=absent)
        means the file must not exist, C(sha256) is the digest of the whole content,
        C(secret=true) means that digest is in O(secret_digests) instead,
        C(block) is C({begin, end, sha256}) for the lines between the marker lines of the block
        M(ansible.builtin.blockinfile) edits (the last one, when a file has two));
        C(main_cf) (C({parameters, state, config_dir}) as for M(postmaster.mail.postconf));
        C(master_cf) (C({services, config_dir}) as for M(postmaster.mail.postconf_master));
        C(tables) (list of C({path, type, state, sha256, secret, mode, owner, group}): the source
        file's digest (in O(secret_digests) with C(secret=true)), and built files that exist, are
        not older than the source and have its mode and owner, as M(postmaster.mail.postmap) sets
        them; C(state=absent) means neither the source nor a built file of any type may exist);
        C(maildirs) (C({users, name, mode, skel_dir, home_mailbox, config_dir}) as for
        M(postmaster.mail.maildir));
        C(postfix_daemon) (C({running, config_dir}): Postfix's master process runs, or not, as
        C(postfix status) sees it, and no C(main.cf) or C(master.cf) is written but not applied, that is,
        has a pending copy in C(.postmaster-rollback/), see M(postmaster.mail.postfix_apply));
        C(postfix_facts) (C({facts, config_dir}): the M(postmaster.mail.postfix_info) result the
        rest of this desired state was computed from, for example one cached on the control
        node; any of its keys that differs from what the host's Postfix reports now counts as drift)."
    type: dict
    default: {}
  secret_digests:
    description:
      - "C(path: SHA-256) for each file and table marked C(secret=true) in O(checks), as 64
        lowercase hexadecimal digits. Never logged, and not part of RV(digests)."
      - A digest of a secret must never be in O(checks), which Ansible logs on the host and shows
        with C(-vvv). The source of a SASL password table is a host and user name an attacker
        knows plus the password, so its digest gives the password to a word list. A secret item
        with C(sha256) in O(checks) is refused before anything runs.
      - The action plugin adds, for each check C(NAME) of O(checks), the digests in the
        C(secret_digests) of the variable C(__NAME_state) when the play defines it (the roles of
        this collection keep their model's result there). A secret item without a digest is a difference.
    type: dict
    default: {}
  postfix_info:
    description:
      - Also return what M(postmaster.mail.postfix_info) returns, as RV(postfix_facts), in the same call.
    type: bool
    default: false
  config_dir:
    description:
      - Postfix configuration directory for O(postfix_info).
    type: path
  package_versions:
    description:
      - Also return the installed version of these Debian packages, as RV(package_versions), read
        from the dpkg status file the package checks read anyway (no other command).
      - "A desired state in O(checks) may hold C(package_versions) (C({name: version})), the versions
        it was computed from (for example ones cached on the control node); a package whose
        installed version differs, or that is not installed, counts as drift."
    type: list
    elements: str
    default: []
  package_versions_cache:
    description:
      - A JSON file on the control node that keeps RV(package_versions) per host, for the roles to
        read on a later run (the check then verifies them). Written by the action plugin when the
        versions it holds differ, never in check mode; a file that cannot be written gives a
        warning. The host never sees it.
    type: path
  role:
    description:
      - The name of the check that belongs to the calling role. Handled by the action plugin
        on the control node; the host never sees it.
      - When set, the result also sets two facts of the host, so the roles of the play need no
        task of their own to keep them. C(postmaster_mail_drift_clean) records, for every other
        check that found nothing to change, the role instance of this play that owns it and the
        digest of its desired state. The roles of this collection skip their own check when both
        match and it is the role's first run on the host, so a later play or a second include of
        the role checks again. C(postmaster_mail_postfix_facts) holds RV(postfix_facts) when returned.
      - A task outside the roles, such as the one before the roles in the C(postmaster.mail.site)
        playbook, gives a name no check has (C(play)), so every check that found nothing to change
        is recorded.
      - "Without O(checks), the action gathers them: the desired state of every role of this
        collection in the play, and of the role O(role), each from the C(drift_spec) of that role's
        variable C(__ROLE_state), templated once; one that is empty or cannot be rendered (a bad
        setting) is left out, and
        that role checks on its own after validating its settings. O(postfix_info) and
        O(postfix_facts_cache) then come from the postfix role of the play. When an earlier check of
        the play found the role's current desired state unchanged and this is the role's first check
        on the host, the action answers without running the module (the task shows as skipped,
        with C(differs=false)). The result then also has
        RV(differs) and RV(unchecked)."
    type: str
  postfix_facts_cache:
    description:
      - "C({path, keys}): when the result has RV(postfix_facts) of an installed Postfix, write
        these keys of them as JSON to this file on the control node, when it does not hold them
        already. Handled by the action plugin; the host never sees it."
      - A file that cannot be written gives a warning, not a failure. Not written in check mode.
    type: dict
seealso:
  - module: postmaster.mail.postconf
  - module: postmaster.mail.postconf_master
  - module: postmaster.mail.maildir
"""

EXAMPLES = r"""
- name: Check the mail host
  postmaster.mail.drift_check:
    checks:
      postfix:
        packages: [postfix]
        services:
          - name: postfix
            enabled: true
            active: true
        main_cf:
          parameters:
            myhostname: mail.example.org
      mail_client:
        files:
          - path: /etc/profile.d/postmaster-mail.sh
            sha256: "{{ profile_text | hash('sha256') }}"
            mode: "0644"
            owner: root
            group: root
  register: mail_drift

- name: Configure main.cf only when it differs
  postmaster.mail.postconf:
    parameters:
      myhostname: mail.example.org
  when: mail_drift.drift.postfix | length > 0
"""

RETURN = r"""
ansible_facts:
  description: Facts of the host the action plugin sets on the control node.
  returned: when O(role) is set or RV(package_versions) is returned, and the check did not fail
  type: dict
  contains:
    postmaster_mail_drift_clean:
      description: For each other check that found nothing to change, C(ROLE_UUID:DIGEST).
      returned: when O(role) is set
      type: dict
      sample: {mail_client: "0242ac11-0002-5c8a-4d3e-000000000012:632a2be87b3fb223e62c939663cea45bc924e64d"}
    postmaster_mail_postfix_facts:
      description: RV(postfix_facts).
      returned: when RV(postfix_facts) is returned
      type: dict
    postmaster_mail_package_versions:
      description: RV(package_versions), added to the ones an earlier task of the play read.
      returned: when RV(package_versions) is returned
      type: dict
      sample: {dovecot-core: "1:2.3.19.1+dfsg1-2.1+deb12u1"}
drift:
  description: For each named check, what differs on the host, one short sentence each; empty when nothing does.
  returned: always
  type: dict
  sample:
    postfix: ["main.cf myhostname", "service postfix: not running"]
    mail_client: []
digests:
  description:
    - For each named check, the SHA-1 digest of its desired state as JSON with sorted keys, as
      C(to_json(sort_keys=true) | hash('sha1')) computes it on the control node, so a later task
      can tell whether a check it would make has already been made with the same desired state.
    - Taken from O(checks) alone, never from O(secret_digests).
  returned: always
  type: dict
  sample: {postfix: 6f1ed002ab5595859014ebf0951522d9c1a0b8e3}
differs:
  description: Whether the check of the role O(role) found a difference, or did not check it.
  returned: when O(role) is set and O(checks) is not
  type: bool
  sample: false
unchecked:
  description:
    - The roles of this collection in the play that apply to the host (their own C(when) holds)
      and that this call did not check. The C(postmaster.mail.site) playbook ends the play of a
      host only when this is empty and nothing drifted.
  returned: when O(role) is set and O(checks) is not
  type: list
  elements: str
  sample: []
nothing_to_do:
  description:
    - Whether nothing drifted and RV(unchecked) is empty, so no role of the play has anything to
      do on this host. The C(postmaster.mail.site) playbook ends the play of the host when it is true.
  returned: when O(role) is set and O(checks) is not
  type: bool
  sample: true
drifted:
  description: Whether any check found a difference.
  returned: always
  type: bool
  sample: true
package_versions:
  description: The installed version of each package of O(package_versions); one that is not installed is left out.
  returned: when O(package_versions) is not empty
  type: dict
  sample: {dovecot-core: "1:2.3.19.1+dfsg1-2.1+deb12u1"}
postfix_facts:
  description:
    - What M(postmaster.mail.postfix_info) returns (version, directories, lookup table types, features).
    - C(installed) is V(false) while Postfix is not installed or has no main.cf yet.
  returned: when O(postfix_info=true) or a check has C(postfix_facts)
  type: dict
  sample: {installed: true, version: 3.7.11, default_database_type: hash}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.postmaster.mail.plugins.module_utils._drift import (
    Checker, DriftError, digest, secret_digest_problem, with_secret_digests)
from ansible_collections.postmaster.mail.plugins.module_utils._postfix_tools import PostfixCommandError


def main():
    module = AnsibleModule(
        argument_spec=dict(
            checks=dict(type="dict", default={}),
            secret_digests=dict(type="dict", default={}, no_log=True),
            postfix_info=dict(type="bool", default=False),
            config_dir=dict(type="path"),
            # Handled by the action plugin on the control node, documented with the module.
            role=dict(type="str"),
            postfix_facts_cache=dict(type="dict"),
            package_versions=dict(type="list", elements="str", default=[]),
            package_versions_cache=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    checker = Checker(module)
    result = dict(changed=False)
    try:
        for name, spec in module.params["checks"].items():
            if not isinstance(spec, dict):
                raise DriftError("check %s: give the desired state as a dictionary" % name)
        problem = secret_digest_problem(module.params["checks"], module.params["secret_digests"])
        if problem:
            raise DriftError(problem)
        result["drift"] = {name: checked(checker, with_secret_digests(spec, module.params["secret_digests"]))
                           for name, spec in module.params["checks"].items()}
        # Of the desired states as given: without the digests of secrets.
        result["digests"] = {name: digest(spec) for name, spec in module.params["checks"].items()}
    except (DriftError, PostfixCommandError) as exc:
        module.fail_json(msg=str(exc))
    if module.params["postfix_info"]:
        result["postfix_facts"] = checker.postfix_facts(module.params["config_dir"])
    elif checker.facts_read:
        result["postfix_facts"] = checker.facts_read[0]
    if module.params["package_versions"]:
        try:
            result["package_versions"] = checker.package_versions(module.params["package_versions"])
        except DriftError as exc:
            module.fail_json(msg=str(exc))
    result["drifted"] = any(result["drift"].values())
    module.exit_json(**result)


def checked(checker, spec):
    """What checker.check finds; a desired state of the wrong shape (a setting of the wrong
    type that reached it) is a difference too, so the role that owns it runs and reports it."""
    try:
        return checker.check(spec)
    except DriftError:
        raise
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        return ["cannot compare: the desired state is malformed (%s)" % exc]


if __name__ == "__main__":
    main()
