"""Pure-logic tests of plugins/module_utils/_postfix_model.py, the postfix role's desired state:
no Postfix, no files, no Ansible. The cases are data, in test_postfix_model.yaml beside this file."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

# See tests/unit/test_maincf.py for why sys.path is set here and not in a conftest.py.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".cache" / "collections"))

from ansible_collections.postmaster.mail.plugins.filter.postfix_desired_state import postfix_desired_state  # noqa: E402
from ansible_collections.postmaster.mail.plugins.module_utils._postfix_model import (  # noqa: E402
    FACTS_CACHE_KEYS,
    PostfixSettingsError,
    desired_state,
    select_facts,
    sha256,
)
from ansible_collections.postmaster.mail.plugins.module_utils._postmap import parse_source  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CASES = yaml.safe_load((Path(__file__).with_suffix(".yaml")).read_text())
# defaults/main.yml values that Ansible templates, as they come out without the tls role.
TEMPLATED_DEFAULTS = {
    "postfix_smtpd_tls_chain_files": [],
    "postfix_smtp_tls_chain_files": [],
    "postfix_smtp_tls_ca_file": None,
    "postfix_facts_cache_dir": "",
    "postfix_dovecot": None,
    "postfix_milter": None,
}


def role_defaults():
    """The role's defaults as its tasks see them when the tls role did not run."""
    defaults = yaml.safe_load((ROOT / "roles" / "postfix" / "defaults" / "main.yml").read_text())
    templated = sorted(name for name, value in defaults.items() if isinstance(value, str) and "{{" in value)
    assert templated == sorted(TEMPLATED_DEFAULTS), "a new templated default: add it to TEMPLATED_DEFAULTS"
    defaults.update(TEMPLATED_DEFAULTS)
    return defaults


def case_settings(case):
    return dict(role_defaults(), **case["settings"])


def case_facts(case):
    return CASES["facts"][case["facts"]]


def by_id(cases):
    return pytest.mark.parametrize("case", cases, ids=[case["id"] for case in cases])


GOOD = [case for case in CASES["cases"] if "error" not in case]
BAD = [case for case in CASES["cases"] if "error" in case]


def test_case_ids_are_unique():
    ids = [case["id"] for case in CASES["cases"]]
    assert len(ids) == len(set(ids))


@by_id(GOOD)
def test_desired_state(case):
    state = desired_state(case_settings(case), case_facts(case))
    for name in ("needs_facts", "info_wanted", "unused_tables"):
        if name in case:
            assert state[name] == case[name] and type(state[name]) is type(case[name]), name
    for name, value in case.get("main_cf", {}).items():
        assert name in state["main_cf"], "main.cf %s not managed" % name
        assert state["main_cf"][name] == value, "main.cf %s" % name
    for name in case.get("main_cf_absent", []):
        assert name not in state["main_cf"], "main.cf %s should be left as it is" % name
    services = {str(service["name"]): service for service in state["master_cf_services"]}
    assert len(services) == len(state["master_cf_services"]), "a master.cf service is listed twice"
    for name, expected in case.get("master_cf", {}).items():
        if expected == "missing":
            assert name not in services, "master.cf %s should not be managed" % name
            continue
        assert name in services, "master.cf %s not managed" % name
        service = dict(services[name])
        state_of = service.pop("state", "present")
        if isinstance(expected, str):
            assert state_of == expected, "master.cf %s" % name
        else:
            expected = dict(expected)
            assert state_of == expected.pop("state", "present"), "master.cf %s" % name
            options = expected.pop("options", {})
            assert {key: service.get(key) for key in expected} == expected, "master.cf %s" % name
            assert {key: service["options"].get(key) for key in options} == options, "master.cf %s options" % name
    if "tables" in case:
        assert sorted(state["tables"]) == sorted(case["tables"])
        for kind, expected in case["tables"].items():
            table = state["tables"][kind]
            assert {key: table.get(key) for key in expected} == expected, "table %s" % kind
            assert table["sha256"] == sha256(table["source"])


@by_id(GOOD)
def test_drift_spec(case):
    """The drift check compares what the slow path writes; no secret travels in it."""
    state = desired_state(case_settings(case), case_facts(case))
    if state["info_wanted"]:
        assert state["drift_spec"] is None
        return
    spec = state["drift_spec"]
    settings = case_settings(case)
    assert spec["packages"] == settings["postfix_packages"]
    enabled = settings["postfix_service_enabled"]
    assert spec["services"] == [{"name": "postfix", "enabled": enabled, "active": enabled}]
    assert spec["main_cf"] == {"parameters": state["main_cf"], "config_dir": settings["postfix_config_dir"]}
    assert spec["master_cf"] == {"services": state["master_cf_services"], "config_dir": settings["postfix_config_dir"]}
    assert spec["postfix_daemon"] == {"running": enabled, "config_dir": settings["postfix_config_dir"]}
    used = [table for table in spec["tables"] if table.get("state") != "absent"]
    assert [table["path"] for table in used] == [table["path"] for table in state["tables"].values()]
    assert [table["path"] for table in spec["tables"] if table.get("state") == "absent"] == state["unused_tables"]
    for table in used:
        source = next(item for item in state["tables"].values() if item["path"] == table["path"])
        assert {key: table[key] for key in ("type", "mode")} == {key: source[key] for key in ("type", "mode")}
        assert table["owner"] == table["group"] == "root"
        if source["secret"]:
            assert "sha256" not in table and table["secret"] is True
            assert state["secret_digests"][table["path"]] == source["sha256"]
        else:
            assert table["sha256"] == source["sha256"]
    assert len(state["secret_digests"]) == sum(1 for table in state["tables"].values() if table["secret"])
    if state["needs_facts"]:
        facts = case_facts(case)
        expected = {key: value for key, value in facts.items() if key in FACTS_CACHE_KEYS}
        assert spec["postfix_facts"] == {"facts": expected, "config_dir": settings["postfix_config_dir"]}
        assert "changed" not in spec["postfix_facts"]["facts"]
        assert state["facts_cache_keys"] == list(FACTS_CACHE_KEYS)
    else:
        assert "postfix_facts" not in spec
    relay = settings["postfix_relay"] or {}
    text = json.dumps(spec)
    if relay.get("password"):
        assert relay["password"] not in text
        assert state["secret_digests"] and not any(digest in text for digest in state["secret_digests"].values())


@by_id(BAD)
def test_refused(case):
    with pytest.raises(PostfixSettingsError) as raised:
        desired_state(case_settings(case), case_facts(case))
    message = str(raised.value)
    assert "\n" not in message
    for fragment in case["error"]:
        assert fragment in message
    password = (case["settings"].get("postfix_relay") or {}).get("password") if isinstance(
        case["settings"].get("postfix_relay"), dict) else None
    if password:
        assert password not in message


def test_a_missing_setting_is_named():
    settings = role_defaults()
    del settings["postfix_tls_policies"]
    with pytest.raises(PostfixSettingsError, match="postfix_tls_policies is not set"):
        desired_state(settings, {})


def test_settings_not_a_dictionary():
    with pytest.raises(PostfixSettingsError, match="dictionary"):
        desired_state(["postfix_relay"], {})


def test_the_settings_are_not_changed():
    settings = case_settings({"settings": {"postfix_relay": {"host": "hub.example.org"},
                                           "postfix_main_cf": {"biff": False}}})
    before = json.dumps(settings, sort_keys=True)
    state = desired_state(settings, CASES["facts"]["postfix_3_7"])
    state["main_cf"]["biff"] = True
    state["master_cf_services"].append({"name": "x"})
    assert json.dumps(settings, sort_keys=True) == before


@pytest.mark.parametrize("registered, play, cached, expected", [
    ({"installed": False, "changed": False}, {"installed": True, "version": "3.7.11"}, {"installed": True},
     {"installed": False, "changed": False}),
    ({"changed": False, "skipped": True}, {"installed": True, "version": "3.7.11"}, {},
     {"installed": True, "version": "3.7.11"}),
    (None, {"installed": False}, {"installed": True, "version": "3.5.25"}, {"installed": True, "version": "3.5.25"}),
    (None, None, None, {}),
])
def test_select_facts(registered, play, cached, expected):
    """This role's postfix_info result (even "not installed"), else the play's facts of an
    installed Postfix, else the control node's cache."""
    assert select_facts(registered, play, cached) == expected


def test_filter_refuses_in_one_line():
    settings = case_settings({"settings": {"postfix_relay": {"host": "hub.example.org", "port": 0}}})
    with pytest.raises(AnsibleFilterError) as raised:
        postfix_desired_state(settings, CASES["facts"]["postfix_3_7"])
    assert "postfix_relay: port 0 is out of range" in str(raised.value) and "\n" not in str(raised.value)


def test_filter_picks_the_facts():
    settings = case_settings({"settings": {"postfix_smtpd_tls_chain_files": ["/etc/ssl/mail.pem"]}})
    state = postfix_desired_state(settings, None, play_facts={"installed": False},
                                  cached_facts=CASES["facts"]["postfix_3_3"])
    assert state["main_cf"]["smtpd_tls_cert_file"] == "/etc/ssl/mail.pem"
    assert state["info_wanted"] is False


# --- the Dovecot model's contract, taken as it is ----------------------------------------------

HASH = "$6$saltsalt$" + "a" * 86


@pytest.mark.parametrize("dovecot", [
    {},
    {"dovecot_lmtp_enabled": True},
    {"dovecot_lmtp_enabled": True, "dovecot_sender_domains": ["example.org"],
     "dovecot_users": [{"name": "bob@example.org", "password_hash": HASH},
                       {"name": "carol", "password_hash": HASH, "senders": ["@example.net", "c@example.com"]}]},
    {"dovecot_system_users": False, "dovecot_users": [{"name": "dave@example.org", "password_hash": HASH}]},
], ids=["system users", "lmtp", "lmtp and virtual users", "virtual users without lmtp"])
@pytest.mark.parametrize("facts_name", ["postfix_3_5", "postfix_3_7", "postfix_3_10"])
def test_the_dovecot_models_contract(dovecot, facts_name):
    """What _dovecot_model returns for Postfix, taken as the postfix role gets it (the fact
    dovecot_postfix): every main.cf parameter it gives is written (the virtual mailbox table in
    the table type this role builds), its sender login table holds the contract's lines in order,
    and AUTH is on only for 587 and 465, never in main.cf (port 25)."""
    from ansible_collections.postmaster.mail.plugins.module_utils import _dovecot_model
    contract = json.loads(json.dumps(_dovecot_model.desired_state(
        dict(dovecot, dovecot_tls_chain_file="/etc/ssl/mail.pem"), {"version": "2.3.19"})["postfix"]))
    settings = case_settings({"settings": {"postfix_smtpd_tls_chain_files": ["/etc/ssl/mail.pem"],
                                           "postfix_dovecot": contract}})
    facts = CASES["facts"][facts_name]
    state = desired_state(settings, facts)
    maps_type = facts["default_database_type"]
    for name, value in contract["main_cf"].items():
        expected = value
        if name == "virtual_mailbox_maps" and value:
            expected = [item.replace("${default_database_type}", maps_type) for item in value]
        assert state["main_cf"][name] == expected, name
    assert state["main_cf"]["smtpd_sasl_auth_enable"] is None
    sender = state["tables"]["sender_logins"]
    lines = [line for line in contract["tables"]["sender_logins"]["source"].splitlines() if not line.startswith("#")]
    assert [line for line in sender["source"].splitlines() if not line.startswith("#")] == lines
    assert sorted(state["tables"]) == sorted(contract["tables"])
    services = {service["name"]: service for service in state["master_cf_services"]}
    for name in ("submission", "smtps"):
        for option, value in contract["submission_options"].items():
            assert services[name]["options"][option] == value
    spec_tables = {table["path"]: table for table in state["drift_spec"]["tables"]}
    for table in state["tables"].values():
        assert spec_tables[table["path"]]["sha256"] == sha256(table["source"])


@pytest.mark.parametrize("rspamd", [{}, {"rspamd_milter_port": 11400, "rspamd_milter_default_action": "accept"}],
                         ids=["defaults", "other port, accept"])
def test_the_rspamd_models_contract(rspamd):
    """What _rspamd_model returns for Postfix, taken as the postfix role gets it (the fact
    rspamd_postfix): each of its main.cf parameters is written as it is; without it they go."""
    from ansible_collections.postmaster.mail.plugins.module_utils import _rspamd_model
    contract = json.loads(json.dumps(_rspamd_model.desired_state(rspamd, {})["postfix"]))
    state = desired_state(case_settings({"settings": {"postfix_milter": contract}}), CASES["facts"]["postfix_3_7"])
    assert {name: state["main_cf"][name] for name in contract["main_cf"]} == contract["main_cf"]
    assert state["main_cf"]["smtpd_milters"] == state["main_cf"]["non_smtpd_milters"]
    without = desired_state(case_settings({"settings": {}}), CASES["facts"]["postfix_3_7"])
    assert all(without["main_cf"][name] is None for name in contract["main_cf"])


def test_a_postfix_without_dovecot_sasl_is_refused():
    contract = CASES["cases"][[case["id"] for case in CASES["cases"]].index(
        "dovecot without LMTP, AUTH on 587 and 465 only")]["settings"]["postfix_dovecot"]
    facts = dict(CASES["facts"]["postfix_3_7"], sasl_server_types=["cyrus"])
    with pytest.raises(PostfixSettingsError, match="^postfix_dovecot: this host's Postfix has no Dovecot SASL server"):
        desired_state(case_settings({"settings": {"postfix_dovecot": contract}}), facts)


# --- properties (Hypothesis) -----------------------------------------------------------------

DOMAINS = ["example.net", "example.com", "Example.org", "sub.example.net"]


@st.composite
def relays(draw):
    method = draw(st.sampled_from(["smtps", "starttls", "stunnel", None]))
    level = draw(st.sampled_from(["secure", "verify", "fingerprint", "encrypt", None]))
    relay = {"host": draw(st.sampled_from(["hub.example.org", "relay.example.net"])), "method": method,
             "tls_level": level, "fingerprints": [":".join(["AB"] * 32)] if level == "fingerprint" else None,
             "address": draw(st.sampled_from([None, "192.0.2.10", "relay-a.example.net"])),
             "port": draw(st.one_of(st.none(), st.integers(1, 65535))),
             "tunnel_port": draw(st.one_of(st.none(), st.integers(1, 65535))),
             "domains": draw(st.one_of(st.none(), st.lists(st.sampled_from(DOMAINS), unique=True, max_size=3)))}
    if draw(st.booleans()):
        # Any text: a password Postfix cannot read back is refused, the others must stay secret.
        relay.update(username=draw(st.sampled_from(["edge1", "user@example.net"])),
                     password="pw-" + draw(st.text(min_size=4, max_size=20)))
    return relay


@st.composite
def role_settings(draw):
    chain = ["/etc/ssl/postmaster-mail/server.pem"]
    return case_settings({"settings": {
        "postfix_relay": draw(st.one_of(st.none(), st.just({}), relays())),
        "postfix_smtpd_tls_chain_files": draw(st.sampled_from([[], chain])),
        "postfix_smtp_tls_chain_files": draw(st.sampled_from([[], ["/etc/ssl/postmaster-mail/client.pem"]])),
        "postfix_smtp_tls_ca_file": draw(st.sampled_from([None, "/etc/ssl/ca.pem"])),
        "postfix_smtp_tls_connection_reuse": draw(st.booleans()),
        "postfix_tls_policies": draw(st.sampled_from([[], [{"destination": "partner.example", "level": "may"}]])),
        "postfix_maps_type": draw(st.sampled_from([None, "cdb", "lmdb"])),
        "postfix_main_cf": draw(st.sampled_from([{}, {"transport_maps": None}, {"default_transport": "smtp"}])),
    }})


@hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(role_settings(), st.sampled_from(sorted(CASES["facts"])))
def test_properties(settings, facts_name):
    """Any settings are refused in one line that shows no password, or give a state where every
    table main.cf names is built, each table reads back as its entries, the relay routes mail
    one way, and neither the password nor the SASL table's digest is in the drift spec."""
    before = json.dumps(settings, sort_keys=True)
    relay = settings["postfix_relay"] or {}
    password = relay.get("password")
    try:
        state = desired_state(settings, CASES["facts"][facts_name])
    except PostfixSettingsError as exc:
        assert "\n" not in str(exc)
        assert not password or password not in str(exc)
        return
    assert json.dumps(settings, sort_keys=True) == before, "the settings were changed"
    assert state == desired_state(settings, CASES["facts"][facts_name]), "not deterministic"
    built = {table["path"] for table in state["tables"].values()}
    for parameter in ("transport_maps", "smtp_sasl_password_maps", "smtp_tls_policy_maps"):
        if parameter not in settings["postfix_main_cf"] and state["main_cf"].get(parameter):
            (reference,) = state["main_cf"][parameter]
            assert reference.partition(":")[2] in built, parameter
    for table in state["tables"].values():
        if "entries" in table:
            assert parse_source(table["source"]) == {key.casefold(): value for key, value in table["entries"].items()}
        else:
            assert len(parse_source(table["source"])) == len(table["policies"])
    services = {service["name"]: service.get("state", "present") for service in state["master_cf_services"]}
    assert services["postmaster-smtps"] == ("present" if relay and relay.get("method") in ("smtps", None) else "absent")
    if relay:
        routes = [state["main_cf"].get("relayhost"), state["main_cf"].get("default_transport"),
                  state["main_cf"].get("transport_maps")]
        if "default_transport" not in settings["postfix_main_cf"] and "transport_maps" not in settings["postfix_main_cf"]:
            assert sum(1 for route in routes if route) == 1, routes
    if state["drift_spec"] is not None:
        text = json.dumps(state["drift_spec"])
        assert not password or password not in text
        for digest in state["secret_digests"].values():
            assert digest not in text
        assert sorted(state["secret_digests"]) == sorted(table["path"] for table in state["tables"].values()
                                                         if table["secret"])
