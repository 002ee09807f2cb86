"""Pure-logic tests of plugins/module_utils/_rspamd_model.py (rspamd's desired state and the
plan of the DKIM keys) and of the dkim_keys action's key files on a temporary folder: no
rspamd, no Ansible run. The Molecule scenario `mailbox` proves the files against the real rspamd
and real mail."""

from __future__ import annotations

import datetime
import json
import os
import stat
import sys
from pathlib import Path

import pytest

# See tests/unit/test_maincf.py for why sys.path is set here and not in a conftest.py.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".cache" / "collections"))

from ansible_collections.postmaster.mail.plugins.action import dkim_keys  # noqa: E402
from ansible_collections.postmaster.mail.plugins.module_utils._rspamd_model import (  # noqa: E402
    DEFAULTS,
    RspamdSettingsError,
    desired_state,
    dkim_record,
    plan_keys,
    validate,
)

ROOT = Path(__file__).resolve().parents[2]
TODAY = datetime.date(2026, 12, 3)
DOMAIN = "example.org"


def keys_for(*selectors, signing=None, retired=()):
    return {DOMAIN: {"signing": signing or selectors[0], "retired": list(retired),
                     "keys": [{"selector": selector, "sha256": "%064x" % number, "src": "/ctl/%s.key" % selector,
                               "public_key": "PUB%s" % selector} for number, selector in enumerate(selectors, 1)]}}


def test_defaults_match_the_role():
    import yaml
    defaults = yaml.safe_load((ROOT / "roles" / "rspamd" / "defaults" / "main.yml").read_text())
    defaults.pop("rspamd_dkim_controller_dir")  # the control node's, not the model's
    assert defaults == DEFAULTS
    specs = yaml.safe_load((ROOT / "roles" / "rspamd" / "meta" / "argument_specs.yml").read_text())
    options = specs["argument_specs"]["main"]["options"]
    assert {name: option["default"] for name, option in options.items() if "default" in option} == DEFAULTS


# --- the keys' plan -----------------------------------------------------------------------------

@pytest.mark.parametrize("existing, settings, expected", [
    ([], {}, {"new": "20261203", "signing": "20261203", "published": ["20261203"], "retired": []}),
    (["20261101"], {}, {"new": None, "signing": "20261101", "published": ["20261101"], "retired": []}),
    # The signing key is 178 days old: the next one is made to sign in 2 days, published now.
    (["20260606"], {}, {"new": "20261205", "signing": "20260606", "published": ["20260606", "20261205"], "retired": []}),
    (["20260606", "20261205"], {}, {"new": None, "signing": "20260606", "published": ["20260606", "20261205"],
                                    "retired": []}),
    # It signs since 2 days: the old one is still in flight (retired after 7).
    (["20260606", "20261201"], {}, {"new": None, "signing": "20261201", "published": ["20261201", "20260606"],
                                    "retired": []}),
    # 7 days: retired; an even older one too.
    (["20250101", "20260101", "20261126"], {}, {"new": None, "signing": "20261126", "published": ["20261126"],
                                                "retired": ["20250101", "20260101"]}),
    # Forced (a compromised key): signs at once; twice in one day gives -2, then -3.
    (["20261203"], {"rspamd_dkim_force_rotation": True},
     {"new": "20261203-2", "signing": "20261203-2", "published": ["20261203-2", "20261203"], "retired": []}),
    (["20261203", "20261203-2"], {"rspamd_dkim_force_rotation": True},
     {"new": "20261203-3", "signing": "20261203-3", "published": ["20261203-3", "20261203-2", "20261203"], "retired": []}),
    (["20260606", "20261205"], {"rspamd_dkim_force_rotation": True},
     {"new": "20261203", "signing": "20261203", "published": ["20261203", "20261205", "20260606"], "retired": []}),
    # No rotation: a key of any age signs on; no pre-publication: the next key signs today.
    (["20200101"], {"rspamd_dkim_rotate_days": 0},
     {"new": None, "signing": "20200101", "published": ["20200101"], "retired": []}),
    (["20260606"], {"rspamd_dkim_publish_days": 0},
     {"new": "20261203", "signing": "20261203", "published": ["20261203", "20260606"], "retired": []}),
    # Only a key dated later (the clock set back): today's key signs, the later one stays published.
    (["20261210"], {}, {"new": "20261203", "signing": "20261203", "published": ["20261203", "20261210"], "retired": []}),
    # Names this role did not make, and impossible dates, are left alone.
    (["mail", "20261399", "20261101"], {}, {"new": None, "signing": "20261101", "published": ["20261101"],
                                            "retired": []}),
], ids=["first key", "fresh key", "rotation due", "next key waiting", "next key signs", "retired", "forced",
        "forced again", "forced while the next waits", "no rotation", "no pre-publication", "clock set back",
        "foreign names"])
def test_plan_keys(existing, settings, expected):
    plan = plan_keys({DOMAIN: existing}, TODAY, dict(settings, rspamd_dkim_domains=[DOMAIN]))
    assert plan == {DOMAIN: expected}


def test_plan_covers_only_the_configured_domains():
    plan = plan_keys({"other.example": ["20261101"]}, TODAY, {"rspamd_dkim_domains": ["a.example", "b.example"]})
    assert sorted(plan) == ["a.example", "b.example"]
    assert plan_keys({}, TODAY, {}) == {}


def test_record_is_cut_into_zone_file_strings():
    record = dkim_record(DOMAIN, "20261203", "A" * 400, True)
    assert record["name"] == "20261203._domainkey.example.org"
    assert record["value"] == "v=DKIM1; k=rsa; p=" + "A" * 400
    assert "".join(record["strings"]) == record["value"]
    assert [len(part) for part in record["strings"]] == [255, len(record["value"]) - 255]


# --- the desired state --------------------------------------------------------------------------

def files(state):
    return {item["path"].replace("/etc/rspamd/", ""): item["content"] for item in state["files"]}


def test_signing_files_and_records():
    state = desired_state({"rspamd_dkim_domains": [DOMAIN]}, keys_for("20261203", "20260606", retired=["20250101"]))
    assert not state["info_wanted"]
    conf = files(state)["local.d/dkim_signing.conf"]
    assert 'selectors = [{ selector = "20261203"; path = "/var/lib/rspamd/dkim/example.org.20261203.key"; }]' in conf
    assert "20260606" not in conf  # published, but it signs no more
    for line in ("sign_authenticated = true;", "sign_local = true;", "sign_inbound = false;", 'use_domain = "header";',
                 "use_esld = false;", "allow_username_mismatch = true;"):
        assert line in conf
    assert [item["path"] for item in state["key_files"]] == ["/var/lib/rspamd/dkim/example.org.20261203.key",
                                                             "/var/lib/rspamd/dkim/example.org.20260606.key"]
    assert all(item["mode"] == "0640" and item["group"] == "_rspamd" for item in state["key_files"])
    assert state["unused_files"] == ["/var/lib/rspamd/dkim/example.org.20250101.key"]
    assert [(record["selector"], record["signing"]) for record in state["dkim_records"]] == [
        ("20261203", True), ("20260606", False)]


def test_key_digests_are_only_secret():
    state = desired_state({"rspamd_dkim_domains": [DOMAIN]}, keys_for("20261203"))
    spec = json.dumps(state["drift_spec"])
    digest = state["key_files"][0]["sha256"]
    assert digest not in spec and state["secret_digests"] == {state["key_files"][0]["path"]: digest}
    entry = [item for item in state["drift_spec"]["files"] if item["path"] == state["key_files"][0]["path"]][0]
    assert entry == {"path": state["key_files"][0]["path"], "mode": "0640", "owner": "root", "group": "_rspamd",
                     "secret": True}
    assert {"path": "/etc/rspamd/override.d/options.inc", "state": "absent"} not in state["drift_spec"]["files"]


def test_no_domains_signs_nothing_but_checks():
    state = desired_state({}, {})
    assert files(state)["local.d/dkim_signing.conf"].endswith("enabled = false;\n")
    assert state["key_files"] == [] and state["directories"] == [] and state["dkim_records"] == []
    assert "authentication-results" in files(state)["local.d/milter_headers.conf"]


def test_outbound_mail_is_only_signed():
    text = files(desired_state({"rspamd_local_networks": ["127.0.0.0/8", "10.1.0.0/16"]}, {}))["local.d/settings.conf"]
    assert "authenticated = true;" in text and 'ip = ["127.0.0.0/8", "10.1.0.0/16"];' in text
    assert text.count('apply { symbols_enabled = ["DKIM_SIGNED"]; }') == 2


@pytest.mark.parametrize("keys", [None, {}, {DOMAIN: {"signing": "20261203", "keys": []}}],
                         ids=["none", "domain missing", "signing key missing"])
def test_keys_not_made_yet_want_information(keys):
    state = desired_state({"rspamd_dkim_domains": [DOMAIN]}, keys)
    assert state["info_wanted"] and state["drift_spec"] is None and state["files"] == []
    assert state["postfix"]["main_cf"]["smtpd_milters"] == ["inet:127.0.0.1:11332"]


@pytest.mark.parametrize("action, rules", [
    ("reject", {"DMARC_POLICY_QUARANTINE": "add header", "DMARC_POLICY_REJECT": "reject"}),
    ("quarantine", {"DMARC_POLICY_QUARANTINE": "add header", "DMARC_POLICY_REJECT": "add header"}),
    ("none", {}),
])
def test_dmarc_policy_actions(action, rules):
    text = files(desired_state({"rspamd_dmarc_reject_action": action}, {}))["local.d/force_actions.conf"]
    found = dict(zip([line.split('"')[1] for line in text.splitlines() if "expression" in line],
                     [line.split('"')[1] for line in text.splitlines() if "action =" in line]))
    assert found == rules
    assert ("message =" in text) == (action == "reject")


def test_local_networks_proxy_and_disabled_modules():
    state = desired_state({"rspamd_local_networks": ["10.1.2.3/8", "::1"], "rspamd_milter_port": 11400,
                           "rspamd_disabled_modules": ["rbl", "rbl", "neural"]}, {})
    found = files(state)
    assert 'local_addrs = ["10.0.0.0/8", "::1/128"];' in found["override.d/options.inc"]
    assert 'bind_socket = "127.0.0.1:11400";' in found["override.d/worker-proxy.inc"]
    assert 'hosts = "127.0.0.1:11333";' in found["override.d/worker-proxy.inc"]
    assert "self_scan" not in found["override.d/worker-proxy.inc"]
    disabled = found["rspamd.conf.local.override"].splitlines()[2:]
    assert disabled == ["neural { enabled = false; }", "rbl { enabled = false; }"]
    assert state["postfix"]["main_cf"]["smtpd_milters"] == ["inet:127.0.0.1:11400"]


def test_contract_and_service():
    state = desired_state({"rspamd_service_enabled": False, "rspamd_milter_default_action": "accept"}, {})
    assert state["services"] == [{"name": "rspamd", "enabled": False, "active": False}]
    assert state["postfix"]["main_cf"]["milter_default_action"] == "accept"
    assert state["drift_spec"]["packages"] == ["rspamd", "procps"]


@pytest.mark.parametrize("settings, fragments", [
    ({"rspamd_dkim_domains": "example.org"}, ["rspamd_dkim_domains", "list"]),
    ({"rspamd_dkim_domains": ["Example.org"]}, ["rspamd_dkim_domains[0]", "lower case"]),
    ({"rspamd_dkim_domains": ["example"]}, ["rspamd_dkim_domains[0]", "domain name"]),
    ({"rspamd_dkim_domains": ["a.example", "a.example"]}, ["rspamd_dkim_domains[1]", "repeats"]),
    ({"rspamd_dkim_domains": ["a.example\nb"]}, ["rspamd_dkim_domains[0]", "line break"]),
    ({"rspamd_dkim_key_bits": 1024}, ["rspamd_dkim_key_bits", "2048"]),
    ({"rspamd_dkim_rotate_days": -1}, ["rspamd_dkim_rotate_days", "0 or more"]),
    ({"rspamd_dkim_retire_days": 0}, ["rspamd_dkim_retire_days", "1 or more"]),
    ({"rspamd_dkim_rotate_days": 5, "rspamd_dkim_retire_days": 7}, ["rspamd_dkim_rotate_days", "retire"]),
    ({"rspamd_dkim_rotate_days": 10, "rspamd_dkim_publish_days": 10}, ["rspamd_dkim_rotate_days", "publish"]),
    ({"rspamd_dkim_publish_days": "2"}, ["rspamd_dkim_publish_days", "whole number"]),
    ({"rspamd_dkim_force_rotation": "yes"}, ["rspamd_dkim_force_rotation", "true or false"]),
    ({"rspamd_dkim_host_dir": "/var/lib/../etc"}, ["rspamd_dkim_host_dir", "normalised"]),
    ({"rspamd_dmarc_reject_action": "discard"}, ["rspamd_dmarc_reject_action", "reject, quarantine, none"]),
    ({"rspamd_local_networks": ["10.0.0.0/33"]}, ["rspamd_local_networks[0]", "network"]),
    ({"rspamd_milter_port": 70000}, ["rspamd_milter_port", "65535"]),
    ({"rspamd_milter_default_action": "reject"}, ["rspamd_milter_default_action", "tempfail, accept"]),
    ({"rspamd_disabled_modules": ["dkim_signing"]}, ["rspamd_disabled_modules[0]", "needs"]),
    ({"rspamd_disabled_modules": ["rbl; x"]}, ["rspamd_disabled_modules[0]", "module name"]),
    ({"rspamd_packages": ["rspamd\n"]}, ["rspamd_packages[0]", "line break"]),
    ({"rspamd_colour": "blue"}, ["rspamd_colour", "not a setting"]),
], ids=lambda value: json.dumps(value)[:40] if isinstance(value, dict) else None)
def test_refused_in_one_line(settings, fragments):
    with pytest.raises(RspamdSettingsError) as raised:
        validate(settings)
    message = str(raised.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message


# --- the dkim_keys action's files ---------------------------------------------------------------

def test_key_is_made_once_and_read(tmp_path):
    folder = tmp_path / DOMAIN
    assert dkim_keys.make_key(str(folder), "20261203", 2048) is True
    assert dkim_keys.make_key(str(folder), "20261203", 2048) is False  # another host's task made it first
    path = folder / "20261203.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert os.listdir(folder) == ["20261203.key"]
    key = dkim_keys.read_key(str(folder), "20261203")
    assert sorted(key) == ["public_key", "selector", "src"] and key["src"] == str(path)  # nothing secret
    assert key["public_key"].startswith("MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A")  # a 2048-bit RSA SubjectPublicKeyInfo
    assert dkim_keys.existing_selectors(str(folder)) == ["20261203"]
    assert dkim_keys.existing_selectors(str(tmp_path / "none.example")) == []


def test_filter_reads_the_digests_on_the_control_node(tmp_path):
    import hashlib
    from ansible_collections.postmaster.mail.plugins.filter.rspamd_desired_state import rspamd_desired_state
    folder = tmp_path / DOMAIN
    dkim_keys.make_key(str(folder), "20261203", 2048)
    keys = {DOMAIN: {"signing": "20261203", "retired": [], "keys": [dkim_keys.read_key(str(folder), "20261203")]}}
    state = rspamd_desired_state({"rspamd_dkim_domains": [DOMAIN]}, keys)
    digest = hashlib.sha256((folder / "20261203.key").read_bytes()).hexdigest()
    assert state["secret_digests"] == {"/var/lib/rspamd/dkim/example.org.20261203.key": digest}
    (folder / "20261203.key").unlink()
    assert rspamd_desired_state({"rspamd_dkim_domains": [DOMAIN]}, keys)["info_wanted"]


def test_a_linked_key_is_refused(tmp_path):
    folder = tmp_path / DOMAIN
    dkim_keys.make_key(str(folder), "20261203", 2048)
    (folder / "20261204.key").symlink_to(folder / "20261203.key")
    with pytest.raises(OSError):
        dkim_keys.read_key(str(folder), "20261204")


def test_a_reload_left_pending_differs():
    state = desired_state({"rspamd_dkim_domains": [DOMAIN]}, keys_for("20261203"))
    assert state["reload_pending"] == "/run/postmaster-mail/rspamd.reload-pending"
    assert {"path": state["reload_pending"], "state": "absent"} in state["drift_spec"]["files"]
