"""The maildir and mail_client roles' models (plugins/plugin_utils/_maildir_model.py and
_mail_client.py, through their filters): the whole desired state from the roles' settings,
and a drift spec equal to the one each role's vars/main.yml built in Jinja before the model
returned it (the YAML below, kept unchanged as the oracle and rendered by Ansible's own
templar), so the drift digest and the check's behaviour did not change."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

# See tests/unit/test_maincf.py for why sys.path is set here and not in a conftest.py.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".cache" / "collections"))

from ansible.parsing.dataloader import DataLoader  # noqa: E402
from ansible.template import Templar, trust_as_template  # noqa: E402

from ansible_collections.postmaster.mail.plugins.filter import mail_client_desired_state as mail_client_filter  # noqa: E402
from ansible_collections.postmaster.mail.plugins.filter import maildir_desired_state as maildir_filter  # noqa: E402
from ansible_collections.postmaster.mail.plugins.module_utils._drift import digest  # noqa: E402
from ansible_collections.postmaster.mail.plugins.plugin_utils._mail_client import REFUSED, model  # noqa: E402

# The filters as the roles call them.
mail_client_desired_state = mail_client_filter.FilterModule().filters()["mail_client_desired_state"]
maildir_desired_state = maildir_filter.FilterModule().filters()["maildir_desired_state"]
ROLES = Path(__file__).resolve().parents[2] / "roles"

# roles/mail_client/vars/main.yml and roles/maildir/vars/main.yml as they were (the model's
# output of the time is given as __mail_client_model; __maildir_problem is not in the spec).
MAIL_CLIENT_JINJA = """
__mail_client_drift_spec:
  packages: "{{ mail_client_packages }}"
  files:
    - path: /etc/s-nail.rc
      owner: root
      group: root
      mode: "0644"
      block:
        begin: "{{ __mail_client_model.marker | replace('{mark}', 'BEGIN') }}"
        end: "{{ __mail_client_model.marker | replace('{mark}', 'END') }}"
        sha256: "{{ __mail_client_model.block_sha256 }}"
    - path: "{{ __mail_client_model.profile_path }}"
      state: "{{ 'present' if mail_client_export_mail else 'absent' }}"
      owner: root
      group: root
      mode: "0644"
      sha256: "{{ __mail_client_model.profile | hash('sha256') }}"
"""
MAILDIR_JINJA = """
__maildir_drift_spec:
  maildirs:
    users: "{{ maildir_users }}"
    name: "{{ maildir_name }}"
    skel_dir: "{{ '/etc/skel' if maildir_skel else '' }}"
    home_mailbox: "{{ maildir_home_mailbox }}"
    config_dir: "{{ maildir_postfix_config_dir }}"
"""


def defaults(role):
    return yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text())


def trusted(data):
    if isinstance(data, dict):
        return {key: trusted(value) for key, value in data.items()}
    if isinstance(data, list):
        return [trusted(value) for value in data]
    return trust_as_template(data) if isinstance(data, str) else data


def rendered(jinja, variables):
    templar = Templar(loader=DataLoader(), variables=variables)
    return templar.template(trusted(yaml.safe_load(jinja)))


MAIL_CLIENT_CASES = {
    "defaults": {},
    "extra settings": {"mail_client_extra_settings": ["set hold", "set sendwait"]},
    "no MAIL export": {"mail_client_export_mail": False},
    "other folder and packages": {"mail_client_folder": "mail/inbox", "mail_client_packages": ["s-nail=14.9.24-1", "bsd-mailx"]},
    "folder with a quote (refused)": {"mail_client_folder": 'Mail"dir'},
    "folder with a non-ASCII letter (refused)": {"mail_client_folder": "Maïldir"},
    "extra settings not a list (refused)": {"mail_client_extra_settings": "set hold"},
    "extra setting with a line break (refused)": {"mail_client_extra_settings": ["set hold\nset x"]},
    "extra settings null": {"mail_client_extra_settings": None},
    "bad package (refused)": {"mail_client_packages": ["S nail"]},
    "no packages": {"mail_client_packages": []},
}


@pytest.mark.parametrize("case", MAIL_CLIENT_CASES)
def test_mail_client_drift_spec_is_the_one_the_jinja_built(case):
    settings = dict(defaults("mail_client"), **MAIL_CLIENT_CASES[case])
    extra = settings["mail_client_extra_settings"]
    old_model = model(settings["mail_client_folder"], [] if extra is None else extra, settings["mail_client_packages"])
    expected = rendered(MAIL_CLIENT_JINJA, dict(settings, __mail_client_model=old_model))["__mail_client_drift_spec"]
    state = mail_client_desired_state(settings)
    assert state["drift_spec"] == expected
    assert digest(state["drift_spec"]) == digest(expected)
    assert bool(state["problem"]) == ("(refused)" in case)
    assert (state["drift_spec"]["files"][0]["block"]["sha256"] == REFUSED) == bool(state["problem"])


def test_mail_client_state_gives_the_tasks_their_values():
    state = mail_client_desired_state(dict(defaults("mail_client"), mail_client_export_mail=False))
    assert state["problem"] == ""
    assert state["packages"] == ["s-nail"]
    assert state["profile_state"] == "absent"
    assert state["profile_path"] == "/etc/profile.d/postmaster-mail.sh"
    assert state["block"].startswith("set emptystart\nset folder=Maildir\n")
    assert state["files"] == [] and state["unused_files"] == ["/etc/profile.d/postmaster-mail.sh"]
    present = mail_client_desired_state(defaults("mail_client"))
    assert present["profile_state"] == "present" and present["unused_files"] == []
    assert present["files"] == [dict(path="/etc/profile.d/postmaster-mail.sh", content=present["profile"], owner="root",
                                     group="root", mode="0644")]


MAILDIR_CASES = {
    "defaults": {},
    "users": {"maildir_users": ["alice", "bob"]},
    "no skeleton, no home_mailbox": {"maildir_skel": False, "maildir_home_mailbox": False},
    "other name and config_dir": {"maildir_name": ".maildir", "maildir_postfix_config_dir": "/etc/postfix-out"},
    "name with a slash (refused)": {"maildir_name": "a/b"},
    "user with a space (refused)": {"maildir_users": ["al ice"]},
    "users not a list (refused)": {"maildir_users": "alice"},
    "users null": {"maildir_users": None},
    "relative config_dir (refused)": {"maildir_postfix_config_dir": "etc/postfix"},
}


@pytest.mark.parametrize("case", MAILDIR_CASES)
def test_maildir_drift_spec_is_the_one_the_jinja_built(case):
    settings = dict(defaults("maildir"), **MAILDIR_CASES[case])
    expected = rendered(MAILDIR_JINJA, settings)["__maildir_drift_spec"]
    state = maildir_desired_state(settings)
    assert state["drift_spec"] == expected
    assert digest(state["drift_spec"]) == digest(expected)
    assert state["maildirs"] == expected["maildirs"]
    assert bool(state["problem"]) == ("(refused)" in case)


@pytest.mark.parametrize("changes, variable", [
    ({"maildir_name": "a/b"}, "maildir_name"),
    ({"maildir_users": ["al ice"]}, "maildir_users"),
    ({"maildir_users": "alice"}, "maildir_users"),
    ({"maildir_postfix_config_dir": "etc/postfix"}, "maildir_postfix_config_dir"),
])
def test_maildir_problem_names_the_variable_in_one_line(changes, variable):
    problem = maildir_desired_state(dict(defaults("maildir"), **changes))["problem"]
    assert problem.startswith("maildir: %s " % variable) and "\n" not in problem


def test_maildir_good_settings_have_no_problem():
    assert maildir_desired_state(dict(defaults("maildir"), maildir_users=["alice", "bob$"]))["problem"] == ""


@pytest.mark.parametrize("role", ["maildir", "mail_client"])
def test_role_vars_pass_every_setting_and_nothing_else(role):
    role_vars = yaml.safe_load((ROLES / role / "vars" / "main.yml").read_text())
    settings = role_vars["__%s_settings" % role]
    assert settings == {name: "{{ %s }}" % name for name in defaults(role)}
    assert sorted(role_vars) == ["__%s_settings" % role, "__%s_state" % role]
