# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the drift_check action reads and keeps on the control node: the desired states of the
play's roles (gathered for one check), which other roles of the play need no check of their
own, and the Postfix facts cache.

The contract between the roles of this collection and this action: each role ROLE keeps what
its model returns in its variable __ROLE_state, a dictionary with drift_spec (the desired state
for drift_check; empty or null while none is ready, for example while the Postfix facts it
needs are unknown) and secret_digests (the digests of its secret files and tables, {path:
SHA-256}); the postfix role's also has info_wanted (the check must read Postfix's own facts)
and facts_cache ({path, keys}: where the control node caches them). The action templates each
role's state once per check. Only this file names those variables. The package versions a
role reads (drift_check's package_versions) are kept in the fact
postmaster_mail_package_versions and in the cache file the reading task names.

Private to postmaster.mail: no stability promise for other collections."""

from __future__ import annotations

import json
import os
import tempfile

from ansible_collections.postmaster.mail.plugins.module_utils._drift import digest

COLLECTION = "postmaster.mail"
STATE_VARIABLE = "__%s_state"


def _play_roles(task):
    """The role instances of the play the task belongs to."""
    parent = task
    while parent is not None:
        play = getattr(parent, "_play", None)
        if play is not None:
            return play.get_roles()
        parent = getattr(parent, "_parent", None)
    return []


def collection_roles(task):
    """{name: [instances]} of this collection's roles in the task's play, by short name."""
    found = {}
    for instance in _play_roles(task):
        if getattr(instance, "_role_collection", None) == COLLECTION:
            found.setdefault(instance.get_name(include_role_fqcn=False), []).append(instance)
    return found


def role_state(template, task_vars, name):
    """The role's __ROLE_state templated, or {} when it is not defined or cannot be rendered (a
    bad setting: that role validates its settings before its own check and reports them in its
    own words)."""
    variable = STATE_VARIABLE % name
    state = template(task_vars[variable]) if variable in task_vars else None
    return state if isinstance(state, dict) else {}


class Gathered:
    """What one drift_check call takes from the roles of the play: checks ({name: desired
    state}), secret_digests ({path: SHA-256}), postfix_info and postfix_facts_cache."""

    def __init__(self):
        self.checks, self.secret_digests = {}, {}
        self.postfix_info, self.postfix_facts_cache = False, {}


def gather(task, role, task_vars, template, known=None, applies=lambda instance: True):
    """The checks of every role of this collection in the task's play that applies to the host
    (`applies(instance)`: its own `when` holds), and of `role`, from each role's state (`known`
    holds states templated already, by name); a role whose state has no desired state ready is
    left out and checks on its own."""
    gathered = Gathered()
    names = {name for name, instances in collection_roles(task).items() if any(map(applies, instances))}
    names |= {role} if role else set()
    for name in sorted(names):
        state = (known or {}).get(name)
        if state is None:
            state = role_state(template, task_vars, name)
        if state.get("drift_spec"):
            gathered.checks[name] = state["drift_spec"]
            gathered.secret_digests.update(state.get("secret_digests") or {})
        if name == "postfix":
            gathered.postfix_info = bool(state.get("info_wanted"))
            gathered.postfix_facts_cache = state.get("facts_cache") or {}
    return gathered


def checked_earlier(task, role, task_vars, spec):
    """Whether an earlier check of this play found the role's desired state (`spec`) unchanged:
    the record names this role instance and the digest of that state, and this is the role's
    first check on the host (a second include of the role, whose check registered a result
    already, checks again)."""
    record = (task_vars.get("ansible_facts") or {}).get("postmaster_mail_drift_clean") or {}
    instance = getattr(task, "_role", None)
    if role not in record or instance is None or (task.register and task.register in task_vars):
        return False
    return bool(spec) and record[role] == "%s:%s" % (instance._uuid, digest(spec))


def unchecked_roles(task, result, applies):
    """The roles of this collection in the play that apply to the host (`applies(instance)`:
    its own `when` holds) and that this result did not check."""
    checked = result.get("digests") or {}
    return sorted(name for name, instances in collection_roles(task).items()
                  if name not in checked and any(applies(instance) for instance in instances))


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
    for name, value in (result.get("digests") or {}).items():
        owners = instances.get(name, [])
        if name != role and not result["drift"].get(name) and len(owners) == 1:
            record[name] = "%s:%s" % (owners[0]._uuid, value)
    return record


def role_secret_digests(template, task_vars, checks):
    """{path: SHA-256} of the secret files and tables of each check NAME of `checks` given
    explicitly, from that role's state (its secret_digests). A state that is missing or cannot
    be rendered adds nothing: the check then counts its secrets as differences, and the role
    that owns them runs."""
    digests = {}
    for name in checks if isinstance(checks, dict) else ():
        digests.update(role_state(template, task_vars, name).get("secret_digests") or {})
    return digests


def write_facts_cache(cache, facts, check_mode):
    """Write the keys cache["keys"] of facts to cache["path"] when they differ from what the
    file holds. A cache, not configuration: returns a warning instead of failing."""
    path = cache.get("path")
    if not path or check_mode or not facts.get("installed"):
        return None
    wanted = {key: facts[key] for key in cache.get("keys", []) if key in facts}
    return _write_json(path, lambda held: wanted, "the Postfix facts cache")


def merged_versions(held, versions, asked):
    """The versions HELD ({name: version}) updated with the ones just read; a package asked for
    and not read (not installed) leaves."""
    held = held if isinstance(held, dict) else {}
    return dict({name: version for name, version in held.items() if name not in asked and name not in versions},
                **versions)


def write_versions_cache(path, versions, check_mode, asked=()):
    """Merge the package versions read on a host ({name: version}, of the packages ASKED) into its
    cache file PATH on the control node, when the file does not hold them already. A cache:
    returns a warning instead of failing."""
    if not path or check_mode or not isinstance(versions, dict):
        return None
    return _write_json(os.path.expanduser(path), lambda held: merged_versions(held, versions, asked),
                       "the package versions cache")


def _write_json(path, wanted_from, what):
    """Write wanted_from(what PATH holds, None when it holds nothing readable) to PATH as JSON,
    atomically, unless the file holds it already; a warning naming WHAT when it cannot."""
    try:
        with open(path, encoding="utf-8") as stream:
            held = json.load(stream)
    except (OSError, ValueError):
        held = None
    wanted = wanted_from(held)
    if held == wanted:
        return None
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".postmaster-cache-")
    except OSError as error:
        return _not_written(what, path, error)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            json.dump(wanted, stream, indent=4, sort_keys=True)
            stream.write("\n")
        os.replace(temporary, path)
    except OSError as error:
        if os.path.exists(temporary):
            os.unlink(temporary)
        return _not_written(what, path, error)
    return None


def _not_written(what, path, error):
    return "postmaster.mail: %s %s was not written (%s); the next run checks twice." % (
        what, path, error.strerror or error)
