"""postmaster.mail.drift_specs gathers every __ROLE_drift_spec variable a play can see into
one dictionary for drift_check, and leaves out empty states and states a bad setting keeps
from rendering (that role then validates its settings and reports them itself).
Exercised through ansible-playbook with the local connection."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import PROJECT_ROOT

PLAYBOOK = """\
- hosts: localhost
  gather_facts: false
  vars:
    good_setting: [postfix]
    bad_setting: not a dictionary
    __alpha_drift_spec: {packages: "{{ good_setting }}"}
    __broken_drift_spec: "{{ {'files': []} | combine(bad_setting) }}"
    __undefined_drift_spec: "{{ no_such_variable }}"
    __empty_drift_spec: {}
    __beta_drift_spec: "{{ {'services': [{'name': 'postfix', 'active': true}]} }}"
    not_a_drift_spec_name: {packages: [ignored]}
  tasks:
    - name: Gather the desired states
      ansible.builtin.copy:
        content: "{{ lookup('postmaster.mail.drift_specs') | to_json }}"
        dest: %s
"""


def test_lookup_keeps_renderable_non_empty_specs(tmp_path):
    result = tmp_path / "specs.json"
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAYBOOK % result)
    completed = subprocess.run(
        ["ansible-playbook", "-i", "localhost,", "-c", "local",
         "-e", "ansible_python_interpreter=%s" % sys.executable, str(playbook)],
        cwd=PROJECT_ROOT, env=dict(os.environ, ANSIBLE_NOCOLOR="1"),
        capture_output=True, text=True, check=False, timeout=300)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert json.loads(result.read_text()) == {
        "alpha": {"packages": ["postfix"]},
        "beta": {"services": [{"name": "postfix", "active": True}]},
    }
