# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the drift_check action keeps on the control node after a check: which other roles
of the play need no check of their own, and the Postfix facts cache.

Private to postmaster.mail: no stability promise for other collections."""

from __future__ import annotations

import json
import os
import tempfile


def _play_roles(task):
    """The role instances of the play the task belongs to."""
    parent = task
    while parent is not None:
        play = getattr(parent, "_play", None)
        if play is not None:
            return play.get_roles()
        parent = getattr(parent, "_parent", None)
    return []


def clean_record(task, role, result):
    """postmaster_mail_drift_clean: for each other check of this result that found nothing to
    change, the role instance of this play that owns it and the digest of the desired state
    it was checked with, as "ROLE_UUID:DIGEST". A role skips its own check only when its
    role_uuid and desired state match (and on its first run on the host), so a later play,
    with other role instances, checks again. A check whose role is not in this play exactly
    once is not recorded.

    The digest is of the desired state without the digests of secrets (a digest of those would
    be shown with the facts): a role is recorded only when its secrets matched too, in the
    variables of the task that checked, and every run's first check compares them again."""
    instances = {}
    for instance in _play_roles(task):
        instances.setdefault(instance.get_name(include_role_fqcn=False), []).append(instance)
    record = {}
    for name, digest in (result.get("digests") or {}).items():
        owners = instances.get(name, [])
        if name != role and not result["drift"].get(name) and len(owners) == 1:
            record[name] = "%s:%s" % (owners[0]._uuid, digest)
    return record


def role_secret_digests(template, task_vars, checks):
    """{path: SHA-256} of the secret files and tables of each check NAME of `checks`, from the
    variable __NAME_drift_secrets, templated with `template` (None when it cannot be). A
    variable that is missing or does not render to a dictionary adds nothing: the check then
    counts its secrets as differences, and the role that owns them runs."""
    digests = {}
    if not isinstance(checks, dict):
        return digests
    for name in checks:
        variable = "__%s_drift_secrets" % name
        if variable in task_vars:
            value = template(task_vars[variable])
            if isinstance(value, dict):
                digests.update(value)
    return digests


def write_facts_cache(cache, facts, check_mode):
    """Write the keys cache["keys"] of facts to cache["path"] when they differ from what the
    file holds. A cache, not configuration: returns a warning instead of failing."""
    path = cache.get("path")
    if not path or check_mode or not facts.get("installed"):
        return None
    wanted = {key: facts[key] for key in cache.get("keys", []) if key in facts}
    try:
        with open(path, encoding="utf-8") as stream:
            if json.load(stream) == wanted:
                return None
    except (OSError, ValueError):
        pass
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".postfix-facts-")
    except OSError as error:
        return _not_written(path, error)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            json.dump(wanted, stream, indent=4, sort_keys=True)
            stream.write("\n")
        os.replace(temporary, path)
    except OSError as error:
        if os.path.exists(temporary):
            os.unlink(temporary)
        return _not_written(path, error)
    return None


def _not_written(path, error):
    return "postmaster.mail: the Postfix facts cache %s was not written (%s); the next run checks twice." % (
        path, error.strerror or error)
