# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The mail_client role's desired state, decided from its settings: the packages, the block it
keeps in /etc/s-nail.rc, the profile.d file that exports MAIL (or its absence), the drift
check's spec, and the first thing wrong with the settings (in one line naming the role
variable), or ''.

Pure logic (no files, no processes), reached by the postmaster.mail.mail_client_desired_state filter.
Private to postmaster.mail: no stability promise for other collections.
"""

from __future__ import annotations

import hashlib
import json
import re

from ansible_collections.postmaster.mail.plugins.module_utils._maildir import has_control

# ansible.builtin.blockinfile's marker; {mark} becomes BEGIN or END.
MARKER = "# {mark} postmaster.mail managed block"
MARKER_TEXT = "postmaster.mail managed block"
REFUSED = "refused: the settings do not pass the role's checks"
PROFILE_PATH = "/etc/profile.d/postmaster-mail.sh"
# What the block always sets, before the user's own settings. `hold` keeps read mail in the
# Maildir (s-nail would move it to ~/mbox), which is also the mailbox Dovecot's IMAP shows.
FIXED_SETTINGS = ("set emptystart", "set folder=%s", "set record=+sent", "set newfolders=maildir", "set hold")
# A path inside the home directory that s-nail's `set folder=` and a double-quoted shell
# word both read as written: no quotes, no '$', no '\', no white space.
FOLDER = re.compile(r"[A-Za-z0-9_.+-]+(/[A-Za-z0-9_.+-]+)*\Z")
# A Debian package name, optionally with =version, :architecture or /release.
PACKAGE = re.compile(r"[a-z0-9][a-z0-9+.-]*(:[a-z0-9-]+)?([=/][A-Za-z0-9.+~:-]+)?\Z")


def _shown(value):
    try:
        return json.dumps(value, ensure_ascii=True)
    except (TypeError, ValueError):
        return repr(value)


def setting_problem(setting):
    """Why one s-nail.rc line cannot go into the block as written, or ''."""
    if not isinstance(setting, str):
        return "is not a string"
    if not setting.strip():
        return "is empty"
    if has_control(setting):
        return "contains a line break or another control character"
    if MARKER_TEXT in setting:
        return "contains the managed block's marker (%s)" % MARKER_TEXT
    if setting.rstrip().endswith("\\"):
        return "ends with '\\', which s-nail reads as joining the next line to this one"
    return ""


def folder_problem(folder):
    if not isinstance(folder, str) or not FOLDER.match(folder) or set(folder.split("/")) & {".", ".."}:
        return ("mail_client: mail_client_folder %s must be a path inside the home directory (letters, digits, "
                "'.', '_', '+', '-' and '/', no '.' or '..' component), such as Maildir." % _shown(folder))
    return ""


def problem(folder, extra_settings, packages=None):
    """The first thing wrong with the role's settings, in one line naming the variable, or ''."""
    found = folder_problem(folder)
    if found:
        return found
    if not isinstance(extra_settings, list):
        return ("mail_client: mail_client_extra_settings must be a list of s-nail settings, one per item, not %s."
                % _shown(extra_settings))
    for index, setting in enumerate(extra_settings):
        why = setting_problem(setting)
        if why:
            return ("mail_client: mail_client_extra_settings item %d (%s) %s: give one s-nail setting per item, "
                    "such as \"set hold\"." % (index + 1, _shown(setting), why))
    if packages is not None:
        if not isinstance(packages, list):
            return "mail_client: mail_client_packages must be a list of package names, not %s." % _shown(packages)
        for package in packages:
            if not isinstance(package, str) or not PACKAGE.match(package):
                return ("mail_client: mail_client_packages item %s is not a Debian package name "
                        "(such as s-nail, or s-nail=14.9.24-1)." % _shown(package))
    return ""


def block(folder, extra_settings):
    """The lines blockinfile keeps between the markers, as one text ending in a line break.

    Made from whatever it is given, so that a desired state can be compared even for
    settings `problem` refuses (the role stops on those before writing)."""
    settings = extra_settings if isinstance(extra_settings, list) else [extra_settings]
    lines = [line % (folder,) if "%s" in line else line for line in FIXED_SETTINGS]
    return "\n".join(lines + ["%s" % (setting,) for setting in settings]) + "\n"


def profile(folder):
    return ("# Managed by postmaster.mail: local mail is delivered to ~/%s.\n"
            "MAIL=\"$HOME/%s\"\nexport MAIL\n" % (folder, folder))


def model(folder, extra_settings, packages=None):
    """Everything the role writes, and why it must not (`problem`, '' when all is well).

    `block_sha256` is what postmaster.mail.drift_check compares with the block on the host
    (the lines between the markers, joined with line breaks); for refused settings it is
    REFUSED, which no block matches, so the role always reaches its assert and stops there."""
    found = problem(folder, extra_settings, packages)
    text = block(folder, extra_settings)
    return dict(
        problem=found,
        marker=MARKER,
        block=text,
        block_sha256=REFUSED if found else hashlib.sha256("\n".join(text.splitlines()).encode("utf-8")).hexdigest(),
        profile=profile(folder),
        profile_path=PROFILE_PATH,
    )


def desired_state(settings):
    """The role's whole desired state from its settings (its variables, by name): `model`'s
    keys, plus `packages`, `profile_state` (present or absent), `files` and `unused_files` (the
    profile.d file to write or to remove, as postmaster.mail.files takes them, like the other
    roles' states) and `drift_spec`, what postmaster.mail.drift_check compares with the host."""
    packages = settings["mail_client_packages"]
    extra_settings = settings["mail_client_extra_settings"]
    state = model(settings["mail_client_folder"], [] if extra_settings is None else extra_settings, packages)
    profile_state = "present" if settings["mail_client_export_mail"] else "absent"
    owned = dict(owner="root", group="root", mode="0644")
    block_file = dict(path="/etc/s-nail.rc", block=dict(
        begin=MARKER.replace("{mark}", "BEGIN"), end=MARKER.replace("{mark}", "END"), sha256=state["block_sha256"]))
    profile_file = dict(path=PROFILE_PATH, state=profile_state,
                        sha256=hashlib.sha256(state["profile"].encode("utf-8", "surrogateescape")).hexdigest())
    state.update(
        packages=packages,
        profile_state=profile_state,
        files=[dict(path=PROFILE_PATH, content=state["profile"], **owned)] if profile_state == "present" else [],
        unused_files=[PROFILE_PATH] if profile_state == "absent" else [],
        drift_spec=dict(packages=packages, files=[dict(block_file, **owned), dict(profile_file, **owned)]),
    )
    return state
