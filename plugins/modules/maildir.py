#!/usr/bin/python
# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: maildir
short_description: Maildir delivery for local users in one step
version_added: 0.1.0
description:
  - Makes C(~/Maildir) with its C(cur), C(new) and C(tmp) directories for every listed user
    and in the skeleton directory for users created later, with the right owner and mode,
    and repairs owner and mode drift.
  - Optionally sets Postfix's C(home_mailbox) so the local delivery agent writes there,
    through the same staged, validated main.cf update as M(postmaster.mail.postconf).
  - Every user and path is checked before anything is made, so a missing user fails the
    task with nothing changed.
  - Users own their home directories, so nothing is done by path name there. Each home
    directory is opened by walking its path from C(/) without following symlinks, except
    one that only root could have made (root owns it and the directory it is in, which
    nobody else can write to, such as C(/home -> /srv/home)); a home reached through a
    user's symlink is refused. Every Maildir level is then opened, made and changed
    through the descriptor of the level above (C(O_NOFOLLOW), C(fchown), C(fchmod)), and
    checked again at that moment, so a C(~/Maildir) or C(~/Maildir/cur) swapped for a
    symlink or a file after the check stops the task with nothing changed through it.
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
  users:
    description: Existing local users who get a Maildir in their home directory.
    type: list
    elements: str
    default: []
  name:
    description:
      - Name of the Maildir directory inside each home directory, without C(/).
      - Refused when Postfix would not read it back as given in C(home_mailbox) (a C($), white
        space at either end, a line break or another control character), and C(.) or C(..).
    type: str
    default: Maildir
  mode:
    description:
      - Mode of every Maildir directory, as an octal string such as C("0700").
      - An integer is taken as the mode itself, as M(ansible.builtin.file) does.
    type: raw
    default: "0700"
  skel_dir:
    description:
      - Skeleton directory that gets an empty Maildir (owned by root) for users created later.
      - Set to an empty string to leave it alone.
    type: path
    default: /etc/skel
  home_mailbox:
    description: Also set C(home_mailbox = NAME/) in main.cf.
    type: bool
    default: true
notes:
  - The C(home_mailbox) change needs a C(postfix reload); RV(reload_needed) says when.
seealso:
  - module: postmaster.mail.postconf
"""

EXAMPLES = r"""
- name: Deliver local mail to ~/Maildir for two users and for future users
  postmaster.mail.maildir:
    users: [alice, bob]
  register: maildir_result

- name: Only the directories, main.cf managed elsewhere
  postmaster.mail.maildir:
    users: [alice]
    home_mailbox: false
    skel_dir: ""
"""

RETURN = r"""
paths:
  description: Directories that were (or in check mode would be) created or repaired.
  returned: always
  type: list
  elements: str
  sample: [/home/alice/Maildir, /home/alice/Maildir/cur]
reload_needed:
  description: Whether C(home_mailbox) changed, so Postfix must reload.
  returned: always
  type: bool
  sample: false
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.postmaster.mail.plugins.module_utils._files import ModeError, parse_mode
from ansible_collections.postmaster.mail.plugins.module_utils._maildir import (
    MaildirError,
    apply,
    check_name,
    owners,
    plan,
)
from ansible_collections.postmaster.mail.plugins.module_utils._maincf.text import MainCfError, edit_main_cf
from ansible_collections.postmaster.mail.plugins.module_utils._maincf.file import MainCf
from ansible_collections.postmaster.mail.plugins.module_utils._postfix_tools import TOOL_DIRECTORIES, PostfixCommandError


def main():
    module = AnsibleModule(
        argument_spec=dict(
            users=dict(type="list", elements="str", default=[]),
            name=dict(type="str", default="Maildir"),
            mode=dict(type="raw", default="0700"),
            skel_dir=dict(type="path", default="/etc/skel"),
            home_mailbox=dict(type="bool", default=True),
            config_dir=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    main_cf_changes = {}
    note = None
    try:
        mode = parse_mode(params["mode"], "'0700'")
        check_name(params["name"])
        targets = owners(params["users"], params["skel_dir"])
        work = plan(targets, params["name"], mode)
        if params["home_mailbox"] and module.check_mode and not module.get_bin_path("postconf", opt_dirs=TOOL_DIRECTORIES):
            # A preview of a host without Postfix yet (a real run installs it first).
            main_cf_changes, current = {"home_mailbox": params["name"] + "/"}, {}
            note = "Check mode: Postfix is not installed yet; a real run sets home_mailbox once it is"
        elif params["home_mailbox"]:
            main_cf = MainCf(module, params["config_dir"])
            text, current = main_cf.read()
            main_cf_changes = main_cf.plan({"home_mailbox": params["name"] + "/"}, "present", current)
            if main_cf_changes:
                new_text = edit_main_cf(text, main_cf_changes)
                main_cf.stage(new_text, main_cf_changes, allow_custom=False)
        if not module.check_mode:
            apply(targets, params["name"], mode)
            if main_cf_changes:
                main_cf.write(new_text, backup=False)
    except (ModeError, MaildirError, MainCfError, PostfixCommandError) as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg="could not make the Maildir: %s" % exc)

    paths = [path for path, dummy, dummy, dummy in work]
    result = dict(
        changed=bool(work or main_cf_changes),
        paths=paths,
        reload_needed=bool(main_cf_changes),
    )
    if note:
        result["msg"] = note
    if module._diff and result["changed"]:
        before = ["%s: %s" % (path, "missing" if action == "create" else "wrong owner or mode")
                  for path, dummy, dummy, action in work]
        after = ["%s: directory %04o" % (path, mode) for path in paths]
        if main_cf_changes:
            before.append("home_mailbox = %s" % current.get("home_mailbox", ""))
            after.append("home_mailbox = %s" % main_cf_changes["home_mailbox"])
        result["diff"] = dict(before="\n".join(before) + "\n", after="\n".join(after) + "\n")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
