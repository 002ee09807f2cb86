"""The postfix role's desired state from plugins/module_utils/_postfix_model.py is the one the
role's Jinja rendered before the model replaced it: tests/modules/oracle/postfix_vars_jinja.yml,
roles/postfix/vars/main.yml as it was then, kept unchanged as the oracle.

One ansible-playbook run, local and without changing the host, renders every case marked
`oracle: true` in tests/unit/test_postfix_model.yaml: one inventory host per case, with the
role's defaults as group variables, the case's settings and Postfix facts as host variables,
and vars/main.yml as the play's vars file. A set_fact task templates the role's main.cf,
master.cf services, facts flags and drift spec (and the settings as Ansible templated them);
the model must return the same from those settings, called here and through its filter
postmaster.mail.postfix_desired_state in the same play.

Differences on purpose, normalised here:
- session cache type: with both lmdb and btree available the Jinja picks one at random per run
  (`intersect` builds a set, ordered by Python's randomised string hashing), the model lmdb.
- Dovecot (postfix_dovecot, newer than the Jinja): at its default, null, the model removes what a
  Dovecot contract would have written - the main.cf parameters of DOVECOT_MAIN_CF (null) and the
  two tables (absent) - so switching Dovecot off undoes it. Exactly those are taken out of the
  model's state before the comparison; tests/unit/test_postfix_model.py covers them.
- The milter (postfix_milter, newer too): at its default, null, the model removes the parameters
  of MILTER_MAIN_CF; they are taken out the same way.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys

import pytest
import yaml

from conftest import COLLECTIONS_DIR, PROJECT_ROOT

sys.path.insert(0, str(COLLECTIONS_DIR))

from ansible_collections.postmaster.mail.plugins.module_utils._postfix_model import (  # noqa: E402
    DOVECOT_MAIN_CF,
    DOVECOT_TABLES,
    MILTER_MAIN_CF,
    desired_state,
    select_facts,
)

CASES = yaml.safe_load((PROJECT_ROOT / "tests" / "unit" / "test_postfix_model.yaml").read_text())
FINGERPRINT = ":".join(["AB"] * 32)


def generated_cases(count, seed=16):
    """Settings combined at random (the same each run): the features together, in ways the
    hand-written cases do not combine them."""
    rng = random.Random(seed)
    cases = []
    for index in range(count):
        relay = None
        if rng.random() < 0.7:
            relay = {"host": "hub.example.org", "method": rng.choice(["smtps", "starttls", "stunnel", None])}
            level = rng.choice(["secure", "verify", "fingerprint", "encrypt", None])
            relay.update(tls_level=level, fingerprints=[FINGERPRINT] if level == "fingerprint" else None)
            for key, values in (("address", ["192.0.2.10"]), ("port", [2465, 25]), ("tunnel_port", [11465]),
                                ("domains", [[], ["example.net"], ["example.net", "example.com"]])):
                if rng.random() < 0.4:
                    relay[key] = rng.choice(values)
            if rng.random() < 0.5:
                relay.update(username="edge%d" % index, password="secret-%d" % index)
            relay = {key: value for key, value in relay.items() if value is not None}
        settings = {
            "postfix_relay": relay if relay is not None else rng.choice([None, {}]),
            "postfix_smtpd_tls_chain_files": rng.choice([[], ["/etc/ssl/server.pem"], ["/etc/ssl/a.pem", "/etc/ssl/b.pem"]]),
            "postfix_smtp_tls_chain_files": rng.choice([[], ["/etc/ssl/client.pem"]]),
            "postfix_smtp_tls_ca_file": rng.choice([None, "/etc/ssl/ca.pem"]),
            "postfix_smtp_tls_connection_reuse": rng.choice([True, False]),
            "postfix_submission_enabled": rng.choice([True, False]),
            "postfix_smtps_enabled": rng.choice([True, False]),
            "postfix_submission_options": rng.choice([{}, {"smtpd_sasl_auth_enable": True}, {"syslog_name": "own"}]),
            "postfix_maps_type": rng.choice([None, "cdb"]),
            "postfix_config_dir": rng.choice(["/etc/postfix", "/etc/postfix-out"]),
            "postfix_service_enabled": rng.choice([True, False]),
            "postfix_tls_policies": rng.choice([[], [{"destination": "partner.example", "level": "encrypt"}]]),
            "postfix_main_cf": rng.choice([{}, {"default_transport": "smtp"}, {"smtp_tls_security_level": "encrypt"},
                                           {"smtp_sasl_password_maps": "hash:/etc/postfix/postmaster_sasl_passwd"},
                                           {"smtpd_tls_chain_files": None}]),
            "postfix_master_cf_services": rng.choice([[], [{"name": "2525", "type": "inet", "command": "smtpd"}]]),
        }
        facts = rng.choice(sorted(name for name in CASES["facts"] if name != "none"))
        cases.append({"id": "generated %02d" % index, "facts": facts, "settings": settings})
    return cases


ORACLE = [case for case in CASES["cases"] if case.get("oracle")] + generated_cases(10)
ROLE = PROJECT_ROOT / "roles" / "postfix"
ORACLE_VARS = PROJECT_ROOT / "tests" / "modules" / "oracle" / "postfix_vars_jinja.yml"

PLAYBOOK = """\
- name: Render the postfix role's variables for each case
  hosts: all
  gather_facts: false
  vars_files:
    - %(vars)s
  tasks:
    - name: Template the desired state
      ansible.builtin.set_fact:
        oracle_rendered:
          settings: "{{ oracle_settings }}"
          # The model through its filter, as the role will call it.
          model: "{{ oracle_settings | postmaster.mail.postfix_desired_state(postfix_facts) }}"
          main_cf: "{{ __postfix_main_cf }}"
          master_cf_services: "{{ __postfix_master_cf_services }}"
          needs_facts: "{{ __postfix_needs_facts }}"
          info_wanted: "{{ __postfix_info_wanted }}"
          drift_spec: "{{ __postfix_drift_spec }}"
          secret_digests: "{{ lookup('ansible.builtin.vars', '__postfix_drift_secrets', default={}) }}"
          sasl_entries: "{{ __postfix_sasl_entries if __postfix_relay_sasl else none }}"
          transport_entries: "{{ __postfix_transport_entries if __postfix_relay_domains else none }}"
          tls_policies: "{{ __postfix_tls_policies }}"
      vars:
        oracle_names: "{{ query('ansible.builtin.varnames', '^postfix_') | reject('eq', 'postfix_facts') | list }}"
        oracle_settings: "{{ dict(oracle_names | zip(query('ansible.builtin.vars', *oracle_names))) }}"

    - name: Write what each case rendered
      ansible.builtin.copy:
        content: "{{ dict(ansible_play_hosts_all | zip(ansible_play_hosts_all | map('extract', hostvars, 'oracle_rendered'))) | to_json }}"
        dest: %(result)s
        mode: "0600"
      run_once: true
"""


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    return render(ORACLE, tmp_path_factory.mktemp("oracle"))


def render(cases, directory, vars_file=ORACLE_VARS):
    """{case id: what the role's Jinja (vars_file) rendered}, from one ansible-playbook run."""
    hosts = {}
    for index, case in enumerate(cases):
        hosts["case%02d" % index] = dict(case["settings"], postfix_facts=CASES["facts"][case["facts"]],
                                         postfix_facts_cache_dir="", ansible_connection="local",
                                         ansible_python_interpreter=sys.executable)
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    inventory = directory / "inventory.json"
    inventory.write_text(json.dumps({"all": {"vars": defaults, "hosts": hosts}}))
    playbook = directory / "play.yml"
    result = directory / "rendered.json"
    playbook.write_text(PLAYBOOK % {"vars": vars_file, "result": result})
    completed = subprocess.run(
        ["ansible-playbook", "-i", str(inventory), "--forks", "4", str(playbook)],
        cwd=PROJECT_ROOT, env=dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS_DIR)),
        capture_output=True, text=True, check=False, timeout=300)
    assert completed.returncode == 0, completed.stdout[-5000:] + completed.stderr[-5000:]
    return {case["id"]: json.loads(result.read_text())["case%02d" % index] for index, case in enumerate(cases)}


def normalised(value):
    """As JSON would carry it (tuples become lists)."""
    return json.loads(json.dumps(value))


def random_session_cache(jinja, facts):
    """Today's Jinja picks lmdb or btree at random when the host has both; the model, lmdb."""
    if {"lmdb", "btree"} <= set(facts.get("lookup_table_types") or []):
        for name in ("smtp_tls_session_cache_database", "smtpd_tls_session_cache_database"):
            if name in jinja["main_cf"]:
                jinja["main_cf"][name] = jinja["main_cf"][name].replace("btree:", "lmdb:")
        if jinja["drift_spec"]:
            jinja["drift_spec"]["main_cf"]["parameters"] = jinja["main_cf"]


def without_dovecot_removal(state, settings):
    """The state without what the model removes while postfix_dovecot is null (the Jinja knew
    no Dovecot): DOVECOT_MAIN_CF's parameters, each null, and Dovecot's tables, absent."""
    assert settings["postfix_dovecot"] is None and settings["postfix_milter"] is None
    config_dir = settings["postfix_config_dir"]
    paths = ["%s/%s" % (config_dir, DOVECOT_TABLES[kind][1]) for kind in sorted(DOVECOT_TABLES)]
    for name in DOVECOT_MAIN_CF + MILTER_MAIN_CF:
        if name not in settings["postfix_main_cf"]:
            assert state["main_cf"].pop(name) is None, name
    state["unused_tables"] = [path for path in state["unused_tables"] if path not in paths]
    if state["drift_spec"]:
        state["drift_spec"]["main_cf"]["parameters"] = state["main_cf"]
        tables = state["drift_spec"]["tables"]
        assert [table for table in tables if table["path"] in paths] == [{"path": path, "state": "absent"} for path in paths
                                                                         if path not in json.dumps(settings["postfix_main_cf"])]
        state["drift_spec"]["tables"] = [table for table in tables if table["path"] not in paths]
    return state


def test_every_oracle_case_renders(rendered):
    assert sorted(rendered) == sorted(case["id"] for case in ORACLE)
    assert len(ORACLE) >= 26


@pytest.mark.parametrize("case", ORACLE, ids=[case["id"] for case in ORACLE])
def test_model_equals_todays_jinja(rendered, case):
    jinja = rendered[case["id"]]
    facts = CASES["facts"][case["facts"]]
    random_session_cache(jinja, facts)
    state = normalised(desired_state(jinja["settings"], select_facts(facts)))
    # The filter adds where the control node caches the facts (no cache file in these plays).
    filtered = dict(state, facts_cache={"path": "", "keys": state["facts_cache_keys"]})
    assert jinja["model"] == filtered, "the filter returns what the model returns"
    state = without_dovecot_removal(state, jinja["settings"])
    assert state["main_cf"] == jinja["main_cf"]
    assert state["master_cf_services"] == jinja["master_cf_services"]
    assert state["needs_facts"] == jinja["needs_facts"]
    assert state["info_wanted"] == jinja["info_wanted"]
    assert state["drift_spec"] == jinja["drift_spec"]
    assert state["secret_digests"] == jinja["secret_digests"]
    tables = state["tables"]
    assert (tables["sasl"]["entries"] if "sasl" in tables else None) == jinja["sasl_entries"]
    assert (tables["transport"]["entries"] if "transport" in tables else None) == jinja["transport_entries"]
    assert (tables["tls_policy"]["policies"] if "tls_policy" in tables else []) == jinja["tls_policies"]
