# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The maildir role's desired state, decided from its settings: the arguments of the
postmaster.mail.maildir module, the drift check's spec (the same Maildirs), and the first thing
wrong with the settings (in one line naming the role variable, with the rules the module
applies), or ''.

Pure logic (no files, no processes), reached by the postmaster.mail.maildir_desired_state filter.
Private to postmaster.mail: no stability promise for other collections.
"""

from __future__ import annotations

from ansible_collections.postmaster.mail.plugins.module_utils._maildir import settings_problem

SKEL_DIR = "/etc/skel"


def desired_state(settings):
    """{problem, maildirs, drift_spec} from the role's variables, by name. `maildirs` are the
    module's arguments; bad settings make the drift check fail to compare them (the module's
    own rules), so the role always reaches its assert on `problem`."""
    maildirs = dict(
        users=settings["maildir_users"],
        name=settings["maildir_name"],
        skel_dir=SKEL_DIR if settings["maildir_skel"] else "",
        home_mailbox=settings["maildir_home_mailbox"],
        config_dir=settings["maildir_postfix_config_dir"],
    )
    users = [] if maildirs["users"] is None else maildirs["users"]
    return dict(
        problem=settings_problem(maildirs["name"], users, maildirs["config_dir"]),
        maildirs=maildirs,
        drift_spec=dict(maildirs=dict(maildirs)),
    )
