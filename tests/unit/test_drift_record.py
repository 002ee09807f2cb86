"""What the drift_check action keeps on the control node: the record of checks another role
need not repeat, scoped to the play's role instances, and the Postfix facts cache."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

# As in test_maincf.py: the collection through the symlink in .cache/collections.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".cache" / "collections"))

from ansible_collections.postmaster.mail.plugins.module_utils._drift import digest  # noqa: E402
from ansible_collections.postmaster.mail.plugins.plugin_utils._drift_record import (  # noqa: E402
    checked_earlier, clean_record, gather, role_secret_digests, unchecked_roles, write_facts_cache,
    write_versions_cache)


class Role:
    def __init__(self, name, uuid, collection="postmaster.mail", applies=True):
        self.name, self._uuid, self._role_collection, self.applies = name, uuid, collection, applies

    def get_name(self, include_role_fqcn=True):
        return ("postmaster.mail." if include_role_fqcn else "") + self.name


class Play:
    def __init__(self, roles):
        self.roles = roles

    def get_roles(self):
        return self.roles


class Node:
    """A task or block: the chain of parents ends at a block that knows its play."""

    def __init__(self, parent=None, play=None):
        self._parent, self._play = parent, play


def task_in(play):
    return Node(parent=Node(parent=Node(play=play)))


RESULT = {"digests": {"tls": "d-tls", "postfix": "d-postfix", "mail_client": "d-mail", "maildir": "d-maildir"},
          "drift": {"tls": [], "postfix": [], "mail_client": ["file /etc/s-nail.rc"], "maildir": []}}


def test_records_the_other_unchanged_checks_with_their_role_instance():
    play = Play([Role("tls", "u1"), Role("postfix", "u2"), Role("mail_client", "u3"), Role("maildir", "u4")])
    assert clean_record(task_in(play), "tls", RESULT) == {"postfix": "u2:d-postfix", "maildir": "u4:d-maildir"}


def template(value):
    """Stands for the action's templar: "broken" cannot render."""
    return None if value == "broken" else value


def role_task(play, role=None, register="__x_drift"):
    task = task_in(play)
    task._role, task.register = role, register
    return task


def state(spec, secrets=None, **more):
    return dict(more, drift_spec=spec, secret_digests=secrets or {})


def test_gathers_each_collection_role_of_the_play_from_its_state_once():
    play = Play([Role("tls", "u1"), Role("postfix", "u2"), Role("other", "u3", collection="someone.else"),
                 Role("maildir", "u4"), Role("mail_client", "u5")])
    cache = {"path": "/c/h.json", "keys": ["installed"]}
    task_vars = {"__tls_state": state(""), "__other_state": state({"packages": ["x"]}), "__maildir_state": "broken",
                 "__postfix_state": state({"packages": ["postfix"]}, {"/etc/postfix/sasl": "ab" * 32},
                                          info_wanted=False, facts_cache=cache),
                 "__stunnel_state": state({"packages": ["stunnel4"]})}
    templated = []

    def counting(value):
        templated.append(value)
        return template(value)
    # Empty (tls), unrenderable (maildir), missing (mail_client) and other collections' roles are left out;
    # the calling role is added even when the play does not list it.
    gathered = gather(task_in(play), "stunnel", task_vars, counting)
    assert gathered.checks == {"postfix": {"packages": ["postfix"]}, "stunnel": {"packages": ["stunnel4"]}}
    assert gathered.secret_digests == {"/etc/postfix/sasl": "ab" * 32}
    assert (gathered.postfix_info, gathered.postfix_facts_cache) == (False, cache)
    assert len(templated) == 4  # tls, postfix, maildir, stunnel: each state once
    known = {"stunnel": state({"packages": ["given"]})}
    assert gather(task_in(play), "stunnel", task_vars, template, known).checks["stunnel"] == {"packages": ["given"]}
    assert gather(task_in(play), "play", task_vars, template).checks == {"postfix": {"packages": ["postfix"]}}
    # A role whose own `when` does not hold on the host is not even templated.
    templated.clear()
    postfix_off = gather(task_in(play), "play", task_vars, counting, applies=lambda instance: instance.name != "postfix")
    assert postfix_off.checks == {} and len(templated) == 2  # tls and maildir; mail_client has no state


def test_postfix_facts_are_read_while_the_postfix_role_wants_them():
    play = Play([Role("postfix", "u2")])
    gathered = gather(task_in(play), "postfix", {"__postfix_state": state(None, info_wanted=True)}, template)
    assert gathered.checks == {} and gathered.postfix_info


def test_a_role_is_answered_on_the_control_node_only_when_its_record_matches():
    postfix = Role("postfix", "u2")
    spec = {"packages": ["postfix"]}
    record = {"postfix": "u2:" + digest(spec)}
    task_vars = {"ansible_facts": {"postmaster_mail_drift_clean": record}}
    task = role_task(Play([postfix]), postfix, "__postfix_drift")
    assert checked_earlier(task, "postfix", task_vars, spec)
    # A second include of the role (its result registered already), another instance, another state.
    assert not checked_earlier(task, "postfix", dict(task_vars, __postfix_drift={}), spec)
    assert not checked_earlier(role_task(Play([postfix]), Role("postfix", "u9")), "postfix", task_vars, spec)
    assert not checked_earlier(task, "postfix", task_vars, {"packages": []})
    assert not checked_earlier(task, "postfix", task_vars, None)
    assert not checked_earlier(role_task(Play([postfix])), "play", task_vars, spec)


def test_unchecked_lists_the_roles_that_apply_and_were_not_checked():
    play = Play([Role("tls", "u1", applies=False), Role("postfix", "u2"), Role("maildir", "u4")])
    result = {"digests": {"postfix": "d"}, "drift": {"postfix": []}}
    assert unchecked_roles(task_in(play), result, lambda instance: instance.applies) == ["maildir"]


def test_leaves_out_roles_not_in_the_play_once():
    play = Play([Role("tls", "u1"), Role("postfix", "u2"), Role("postfix", "u5")])
    assert clean_record(task_in(play), "tls", RESULT) == {}
    assert clean_record(Node(), "tls", RESULT) == {}


def test_cache_is_written_private_and_only_when_it_differs(tmp_path):
    path = tmp_path / "cache" / "host.json"
    cache = {"path": str(path), "keys": ["installed", "version"]}
    facts = {"installed": True, "version": "3.7.11", "changed": False}
    assert write_facts_cache(cache, facts, check_mode=False) is None
    assert json.loads(path.read_text()) == {"installed": True, "version": "3.7.11"}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    before = path.stat().st_mtime_ns
    assert write_facts_cache(cache, dict(facts, changed=True), check_mode=False) is None
    assert path.stat().st_mtime_ns == before
    assert sorted(os.listdir(path.parent)) == ["host.json"]


def test_cache_is_not_written_in_check_mode_or_without_postfix(tmp_path):
    path = tmp_path / "host.json"
    cache = {"path": str(path), "keys": ["installed"]}
    assert write_facts_cache(cache, {"installed": True}, check_mode=True) is None
    assert write_facts_cache(cache, {"installed": False}, check_mode=False) is None
    assert write_facts_cache({}, {"installed": True}, check_mode=False) is None
    assert not path.exists()


def test_unwritable_cache_gives_a_warning(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    warning = write_facts_cache({"path": str(blocker / "host.json"), "keys": ["installed"]}, {"installed": True},
                                check_mode=False)
    assert warning.startswith("postmaster.mail: the Postfix facts cache ") and "not written" in warning


def test_package_versions_cache_keeps_other_packages_and_is_written_only_when_it_differs(tmp_path):
    path = tmp_path / "versions" / "host.json"
    assert write_versions_cache(str(path), {"dovecot-core": "1:2.3.19.1-2"}, check_mode=True) is None
    assert not path.exists()
    assert write_versions_cache(str(path), {"dovecot-core": "1:2.3.19.1-2"}, check_mode=False) is None
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert write_versions_cache(str(path), {"postfix": "3.7.11-0"}, check_mode=False) is None
    assert json.loads(path.read_text()) == {"dovecot-core": "1:2.3.19.1-2", "postfix": "3.7.11-0"}
    before = path.stat().st_mtime_ns
    assert write_versions_cache(str(path), {"postfix": "3.7.11-0"}, check_mode=False) is None
    assert path.stat().st_mtime_ns == before
    assert write_versions_cache(str(path), {"dovecot-core": "1:2.4.1-6"}, check_mode=False) is None
    assert json.loads(path.read_text()) == {"dovecot-core": "1:2.4.1-6", "postfix": "3.7.11-0"}
    # A package asked for and not read (no longer installed) leaves the cache.
    assert write_versions_cache(str(path), {}, check_mode=False, asked=["postfix"]) is None
    assert json.loads(path.read_text()) == {"dovecot-core": "1:2.4.1-6"}
    assert write_versions_cache("", {"postfix": "3.7.11-0"}, check_mode=False) is None
    assert sorted(os.listdir(path.parent)) == ["host.json"]


def test_malformed_controller_options_are_refused_in_one_line():
    from ansible_collections.postmaster.mail.plugins.action.drift_check import controller_option_problem

    assert controller_option_problem(None, {}) is None
    assert controller_option_problem("postfix", {"path": "/tmp/x.json", "keys": ["installed"]}) is None
    for role, cache, words in ((["postfix"], {}, "role must be the name of a check"),
                               ("postfix", "/tmp/x.json", "postfix_facts_cache must be {path: FILE"),
                               ("postfix", {"path": 5, "keys": []}, "postfix_facts_cache must be"),
                               ("postfix", {"path": "/tmp/x.json", "keys": "installed"}, "postfix_facts_cache must be")):
        message = controller_option_problem(role, cache)
        assert words in message and "\n" not in message


def test_secret_digests_come_from_each_checked_role_state():
    """Only the checks given, only states that render to a dictionary."""
    task_vars = {"__postfix_state": "POSTFIX", "__tls_state": "BROKEN", "__stunnel_state": "STUNNEL",
                 "__mail_client_state": "LIST"}
    rendered = {"POSTFIX": state({}, {"/etc/postfix/sasl": "ab" * 32}), "BROKEN": None,
                "STUNNEL": state({}, {"/etc/s": "cd" * 32}), "LIST": ["/etc/x"]}
    checks = {"postfix": {}, "tls": {}, "mail_client": {}, "maildir": {}}
    assert role_secret_digests(rendered.get, task_vars, checks) == {"/etc/postfix/sasl": "ab" * 32}
    assert role_secret_digests(rendered.get, task_vars, "not checks") == {}
