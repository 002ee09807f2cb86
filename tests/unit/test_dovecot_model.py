"""Pure-logic tests of plugins/module_utils/_dovecot_model.py, Dovecot's desired state: no
Dovecot, no files, no Ansible. The cases are data, in test_dovecot_model.yaml beside this file;
tests/scenarios/test_dovecot_config.py proves the files against the real Dovecot."""

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

from ansible_collections.postmaster.mail.plugins.filter.dovecot_desired_state import dovecot_desired_state  # noqa: E402
from ansible_collections.postmaster.mail.plugins.module_utils._dovecot_model import (  # noqa: E402
    DEFAULTS,
    HEADER,
    DovecotSettingsError,
    desired_state,
    sha256,
)

CASES = yaml.safe_load((Path(__file__).with_suffix(".yaml")).read_text())
DEFAULT_VERSION = "2.3.19"


def case_settings(case):
    return dict(CASES["base"], **case.get("settings", {}))


def case_facts(case):
    version = case.get("version", DEFAULT_VERSION)
    return {} if version is None else {"version": str(version)}


def by_id(cases):
    return pytest.mark.parametrize("case", cases, ids=[case["id"] for case in cases])


def body(text):
    """The lines of a file of ours after its header."""
    assert text.startswith(HEADER)
    return text[len(HEADER):].splitlines()


def files_by_path(state):
    return {item["path"]: item for item in state["files"]}


GOOD = [case for case in CASES["cases"] if "error" not in case]
BAD = [case for case in CASES["cases"] if "error" in case]


def test_case_ids_are_unique():
    ids = [case["id"] for case in CASES["cases"]]
    assert len(ids) == len(set(ids))


@by_id(GOOD)
def test_desired_state(case):
    state = desired_state(case_settings(case), case_facts(case))
    files = files_by_path(state)
    config = files.get(DEFAULTS["dovecot_config_file"])
    if "info_wanted" in case:
        assert state["info_wanted"] is case["info_wanted"]
    if state["info_wanted"]:
        assert state["files"] == [] and state["drift_spec"] is None and state["version_family"] is None
    else:
        assert config is not None and (config["mode"], config["owner"], config["group"]) == ("0644", "root", "root")
        lines = body(config["content"])
        if "first_line" in case:
            assert lines[0] == case["first_line"]
        for line in case.get("config", []):
            assert line in lines, "dovecot.conf lacks %r" % line
        for text in case.get("config_lacks", []):
            assert text not in config["content"], "dovecot.conf has %r" % text
        assert config["content"].count("{") == config["content"].count("}"), "unbalanced sections"
    if "packages" in case:
        assert state["packages"] == case["packages"]
    if "passwd" in case:
        passwd = files.get(DEFAULTS["dovecot_users_file"])
        if case["passwd"] is None:
            assert passwd is None
        else:
            assert body(passwd["content"]) == case["passwd"]
            assert (passwd["mode"], passwd["owner"], passwd["group"], passwd["secret"]) == ("0640", "root", "dovecot",
                                                                                            True)
    if "unused_files" in case:
        assert state["unused_files"] == case["unused_files"]
    postfix = state["postfix"]
    for name, value in case.get("main_cf", {}).items():
        assert postfix["main_cf"][name] == value, "main.cf %s" % name
    if "sender_logins" in case:
        assert body(postfix["tables"]["sender_logins"]["source"]) == case["sender_logins"]
    if "virtual_mailboxes" in case:
        table = postfix["tables"].get("virtual_mailboxes")
        assert (table and table["entries"]) == case["virtual_mailboxes"]
    if "accounts" in case:
        assert state["accounts"] == case["accounts"]


@by_id(GOOD)
def test_drift_spec_and_secrets(case):
    """The drift check compares what the role writes; no hash of a user and no digest of the
    passwd-file travels in it, only in secret_digests."""
    settings = case_settings(case)
    state = desired_state(settings, case_facts(case))
    if state["info_wanted"]:
        return
    spec = state["drift_spec"]
    assert spec["packages"] == state["packages"] and spec["services"] == state["services"]
    written = [item for item in spec["files"] if item.get("state") != "absent"]
    assert [item["path"] for item in written] == [item["path"] for item in state["files"]]
    assert [item["path"] for item in spec["files"] if item.get("state") == "absent"] == (
        state["unused_files"] + ["/run/postmaster-mail/dovecot.reload-pending"])
    for entry, item in zip(written, state["files"]):
        assert item["sha256"] == sha256(item["content"])
        owner = ("mode", "owner", "group")
        assert {key: entry[key] for key in owner} == {key: item[key] for key in owner}
        if item["secret"]:
            assert entry == dict(entry, secret=True) and "sha256" not in entry
            assert state["secret_digests"][item["path"]] == item["sha256"]
        else:
            assert entry["sha256"] == item["sha256"]
    text = json.dumps(spec) + json.dumps(state["postfix"])
    for user in settings.get("dovecot_users", []):
        assert user["password_hash"].rpartition("$")[2] not in text
    for digest in state["secret_digests"].values():
        assert digest not in text
    # The hashes are only in the passwd-file, never in dovecot.conf.
    config = files_by_path(state)[DEFAULTS["dovecot_config_file"]]["content"]
    assert all(user["password_hash"].rpartition("$")[2] not in config for user in settings.get("dovecot_users", []))


@by_id(BAD)
def test_refused(case):
    with pytest.raises(DovecotSettingsError) as raised:
        desired_state(case_settings(case), case_facts(case))
    message = str(raised.value)
    assert "\n" not in message and "\r" not in message
    for fragment in case["error"]:
        assert fragment in message
    if "hidden" in case:
        assert case["hidden"] not in message


def test_the_settings_are_not_changed():
    settings = case_settings({"settings": {"dovecot_users": [{"name": "bob", "password_hash": CASES["hashes"]["blf"]}],
                                           "dovecot_lmtp_enabled": True}})
    before = json.dumps(settings, sort_keys=True)
    state = desired_state(settings, {"version": "2.4.1"})
    state["packages"].append("x")
    state["postfix"]["main_cf"]["x"] = 1
    assert json.dumps(settings, sort_keys=True) == before
    assert desired_state(settings, {"version": "2.4.1"})["packages"] == ["dovecot-core", "dovecot-imapd",
                                                                         "dovecot-lmtpd"]


def test_settings_not_a_dictionary():
    with pytest.raises(DovecotSettingsError, match="dictionary"):
        desired_state(["dovecot_users"], {})


def test_same_settings_same_files():
    """Re-runs write the same bytes: nothing in the files depends on time or order of dicts."""
    settings = case_settings(next(case for case in GOOD if case["id"].startswith("a default quota and a user's own on 2.3")))
    first = desired_state(settings, {"version": "2.3.19"})
    assert first == desired_state(json.loads(json.dumps(settings)), {"version": "2.3.19"})


def test_filter_refuses_in_one_line():
    with pytest.raises(AnsibleFilterError) as raised:
        dovecot_desired_state(case_settings({"settings": {"dovecot_users": [{"name": "bob"}]}}), {"version": "2.3.19"})
    assert "dovecot_users[0].password_hash is missing" in str(raised.value) and "\n" not in str(raised.value)


def test_filter_without_facts_asks_for_them():
    state = dovecot_desired_state(case_settings({}), None)
    assert state["info_wanted"] is True and state["files"] == []


@pytest.mark.parametrize("read, play, cached, family", [
    ({"dovecot-core": "1:2.4.1+dfsg1-6"}, {"dovecot-core": "1:2.3.19.1+dfsg1-2.1+deb12u1"}, None, "2.4"),
    (None, {"dovecot-core": "1:2.3.19.1+dfsg1-2.1+deb12u1"}, {"dovecot-core": "1:2.4.1+dfsg1-6"}, "2.3"),
    (None, {"postfix": "3.7.11-0+deb12u1"}, {"dovecot-core": "1:2.4.1+dfsg1-6"}, "2.4"),
    (None, None, {"dovecot-core": "2.3.13+dfsg1-2+deb11u1"}, "2.3"),
])
def test_filter_takes_the_version_read_else_the_play_s_else_the_cache(tmp_path, read, play, cached, family):
    cache_file = tmp_path / "host.json"
    if cached is not None:
        cache_file.write_text(json.dumps(cached))
    state = dovecot_desired_state(case_settings({}), None, read, play, str(cache_file))
    taken = next(source["dovecot-core"] for source in (read, play, cached) if source and "dovecot-core" in source)
    assert state["version_family"] == family and state["info_wanted"] is False
    # The check verifies on the host that the version the files were written for is installed.
    assert state["drift_spec"]["package_versions"] == {"dovecot-core": taken}


def test_filter_without_any_version_asks_for_it(tmp_path):
    state = dovecot_desired_state(case_settings({}), None, {}, {"postfix": "3.7"}, str(tmp_path / "none.json"))
    assert state["info_wanted"] is True and state["drift_spec"] is None


def test_defaults_write_a_server():
    """The defaults alone (with the tls role's chain file) give IMAP for system users."""
    state = desired_state(dict(CASES["base"]), {"version": "2.4.1"})
    assert [item["path"] for item in state["files"]] == ["/etc/dovecot/dovecot.conf"]


# --- properties (Hypothesis) -----------------------------------------------------------------

@hypothesis_settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.text(min_size=1, max_size=12),
       quota=st.one_of(st.none(), st.text(max_size=6), st.integers(-1, 10 ** 12)),
       home=st.one_of(st.none(), st.text(max_size=12).map(lambda text: "/home/" + text)),
       hashed=st.one_of(st.sampled_from(sorted(CASES["hashes"].values())), st.text(max_size=20)),
       version=st.sampled_from(["2.3.13", "2.3.19", "2.4.1"]))
def test_any_user_is_refused_or_read_back(name, quota, home, hashed, version):
    """Any user is refused in one line that shows no hash, or written as exactly one
    passwd-file line whose fields read back as given."""
    user = {"name": name, "password_hash": hashed, "quota": quota, "home": home}
    settings = case_settings({"settings": {"dovecot_users": [user]}})
    try:
        state = desired_state(settings, {"version": version})
    except DovecotSettingsError as exc:
        assert "\n" not in str(exc) and "\r" not in str(exc)
        if "password_hash" in str(exc) and len(hashed) >= 4:
            assert hashed not in str(exc) and hashed.rpartition("$")[2] not in str(exc)
        return
    (line,) = body(files_by_path(state)[DEFAULTS["dovecot_users_file"]]["content"])
    # Dovecot splits the first seven ':'; the extra fields (a 2.3 quota rule) may hold more.
    fields = line.split(":", 7)
    assert len(fields) == 8
    assert fields[0] == name and fields[1].endswith(hashed.rpartition("}")[2])
    assert fields[5] == (home or "/var/vmail/" + name)
    if quota is None:
        assert fields[7] == ""
    else:
        assert fields[7].endswith("=%s" % str(quota).upper() if version != "2.3" else "")
