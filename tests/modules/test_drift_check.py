"""postmaster.mail.drift_check against the real postconf(1) and postmap(1), in scratch
directories: it reports a difference exactly when the module that repairs it would change
something, and it never changes anything itself."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import assert_ok, run_module

MAIN_CF = {
    "myhostname": "mx.example.test",
    "mydestination": ["$myhostname", "localhost.$mydomain", "localhost"],
    "inet_interfaces": "loopback-only",
    "smtputf8_enable": True,
    "message_size_limit": 20480000,
}
# The same settings written the other ways Postfix reads alike.
MAIN_CF_ALIKE = dict(MAIN_CF, mydestination="$myhostname localhost.$mydomain,localhost",
                     smtputf8_enable="Yes", message_size_limit="20480000")
SUBMISSION = {"name": "submission", "type": "inet", "private": "n", "chroot": "y", "command": "smtpd",
              "options": {"syslog_name": "postfix/submission", "smtpd_tls_security_level": "encrypt"}}


def drift(checks, **options):
    result = run_module("drift_check", dict(options, checks=checks))
    assert_ok(result)
    assert result["changed"] is False
    return result


def snapshot(directory):
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir()) if path.is_file()}


@pytest.mark.parametrize("parameters", [
    MAIN_CF,
    MAIN_CF_ALIKE,
    dict(MAIN_CF, myhostname="other.example.test"),
    dict(MAIN_CF, message_size_limit=None, biff=False, relayhost=None),
    {"mydestination": "$myhostname, localhost"},
])
def test_main_cf_differs_exactly_when_postconf_would_change(config_dir, parameters):
    assert_ok(run_module("postconf", dict(config_dir=str(config_dir), parameters=MAIN_CF)))
    before = snapshot(config_dir)
    predicted = run_module("postconf", dict(config_dir=str(config_dir), parameters=parameters), check_mode=True)
    result = drift({"postfix": {"main_cf": {"parameters": parameters, "config_dir": str(config_dir)}}})
    assert result["drift"]["postfix"] == ["main.cf %s" % name for name in predicted["changed_parameters"]]
    assert result["drifted"] is bool(predicted["changed_parameters"])
    assert snapshot(config_dir) == before


@pytest.mark.parametrize("services", [
    [SUBMISSION],
    [dict(SUBMISSION, options=dict(SUBMISSION["options"], smtpd_tls_security_level="may"))],
    [dict(SUBMISSION, options={"smtpd_tls_security_level": "encrypt", "syslog_name": "postfix/submission"})],
    [{"name": "submission", "type": "inet", "state": "absent"}],
    [{"name": "smtp", "type": "inet", "private": "n", "chroot": "y", "command": "smtpd"}],
])
def test_master_cf_differs_exactly_when_postconf_master_would_change(config_dir, services):
    assert_ok(run_module("postconf_master", dict(config_dir=str(config_dir), services=[SUBMISSION])))
    before = snapshot(config_dir)
    predicted = run_module("postconf_master", dict(config_dir=str(config_dir), services=services), check_mode=True)
    result = drift({"postfix": {"master_cf": {"services": services, "config_dir": str(config_dir)}}})
    assert result["drift"]["postfix"] == ["master.cf %s" % "/".join(key) for key in predicted["changed_services"]]
    assert snapshot(config_dir) == before


def test_files_by_digest_block_mode_and_absence(tmp_path):
    rc_file = tmp_path / "s-nail.rc"
    rc_file.write_text("set hold\n# BEGIN m\nset emptystart\nset folder=Maildir\n# END m\n")
    rc_file.chmod(0o644)
    digest = hashlib.sha256(b"set emptystart\nset folder=Maildir").hexdigest()
    uid, gid = os.geteuid(), os.getegid()
    wanted = [
        {"path": str(rc_file), "mode": "0644", "owner": str(uid), "group": str(gid),
         "block": {"begin": "# BEGIN m", "end": "# END m", "sha256": digest}},
        {"path": str(rc_file), "sha256": hashlib.sha256(rc_file.read_bytes()).hexdigest()},
        {"path": str(tmp_path / "gone"), "state": "absent"},
    ]
    assert drift({"mail_client": {"files": wanted}})["drift"] == {"mail_client": []}

    rc_file.write_text("# BEGIN m\nset emptystart\n# END m\n")
    rc_file.chmod(0o600)
    (tmp_path / "gone").write_text("")
    assert drift({"mail_client": {"files": wanted + [{"path": str(tmp_path / "missing")}]}})["drift"] == {
        "mail_client": ["file %s: managed block" % rc_file, "file %s: mode" % rc_file,
                        "file %s: content" % rc_file, "file %s: present" % (tmp_path / "gone"),
                        "file %s: missing" % (tmp_path / "missing")]}


def test_table_content_and_stale_or_missing_built_file(config_dir, tables):
    path = tables / "transport"
    built = run_module("postmap", dict(config_dir=str(config_dir), path=str(path), type="hash",
                                       entries={"example.org": "smtp:[relay.example.org]"}))
    assert_ok(built)
    wanted = {"path": str(path), "type": "hash", "mode": "0644",
              "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    assert drift({"postfix": {"tables": [wanted]}})["drift"]["postfix"] == []

    os.utime(path)  # source newer than its .db: postmap would rebuild
    os.utime(str(path) + ".db", ns=(1, 1))
    assert drift({"postfix": {"tables": [wanted]}})["drift"]["postfix"] == [
        "table %s: %s.db older than its source" % (path, path)]
    os.unlink(str(path) + ".db")
    path.write_text("example.org smtp:[other.example.org]\n")
    assert drift({"postfix": {"tables": [wanted]}})["drift"]["postfix"] == [
        "file %s: content" % path, "table %s: %s.db missing" % (path, path)]


def test_maildirs_as_the_maildir_module_sees_them(config_dir, tmp_path):
    skel = tmp_path / "skel"
    skel.mkdir()
    spec = {"users": [], "name": "Maildir", "skel_dir": str(skel), "home_mailbox": True, "config_dir": str(config_dir)}
    assert drift({"maildir": {"maildirs": spec}})["drift"]["maildir"] == [
        "maildir %s: create" % (skel / "Maildir")] + ["maildir %s: create" % (skel / "Maildir" / sub)
                                                      for sub in ("cur", "new", "tmp")] + ["main.cf home_mailbox"]
    assert_ok(run_module("maildir", dict(users=[], skel_dir=str(skel), config_dir=str(config_dir))))
    assert drift({"maildir": {"maildirs": spec}})["drifted"] is False
    (skel / "Maildir" / "new").chmod(0o755)
    assert drift({"maildir": {"maildirs": spec}})["drift"]["maildir"] == ["maildir %s: fix" % (skel / "Maildir" / "new")]


def test_packages_and_unreadable_desired_state_are_differences(config_dir):
    result = drift({"postfix": {"packages": ["postfix", "postmaster-no-such-package"],
                                "main_cf": {"parameters": {"bad name": "x"}, "config_dir": str(config_dir)}},
                    "maildir": {"maildirs": {"users": ["postmaster-no-such-user"], "skel_dir": ""}}})
    assert result["drift"]["postfix"][0] == "package postmaster-no-such-package: not installed"
    assert result["drift"]["postfix"][1].startswith("cannot compare: ")
    assert result["drift"]["maildir"] == [
        "cannot compare: user postmaster-no-such-user does not exist: create it first "
        "(ansible.builtin.user) or remove it from the list"]


def test_malformed_desired_state_is_a_difference_of_that_check_only(config_dir):
    result = drift({"maildir": {"maildirs": {"users": 5, "skel_dir": ""}},
                    "mail_client": {"packages": "s-nail", "services": [5]},
                    "postfix": {"main_cf": {"parameters": MAIN_CF, "config_dir": str(config_dir)}}})
    assert result["drift"]["maildir"][0].startswith("cannot compare: the desired state is malformed (")
    assert result["drift"]["mail_client"][0].startswith("cannot compare: the desired state is malformed (")
    assert set(result["digests"]) == {"maildir", "mail_client", "postfix"}
    assert result["drifted"] is True


def test_missing_postfix_is_a_difference_not_a_failure(tmp_path):
    result = drift({"postfix": {"main_cf": {"parameters": MAIN_CF, "config_dir": str(tmp_path)}}})
    assert result["drift"]["postfix"] == ["postfix: %s missing" % (tmp_path / "main.cf")]


def test_postfix_facts_in_the_same_call(config_dir):
    result = drift({}, postfix_info=True, config_dir=str(config_dir))
    assert result["postfix_facts"]["installed"] is True
    assert result["postfix_facts"]["default_database_type"]
    assert result["drift"] == {} and result["drifted"] is False


def test_assumed_postfix_facts_are_verified_on_the_host(config_dir):
    """The roles may compute main.cf from facts cached on the control node: the host's
    Postfix must confirm them in the same call, and any difference is drift."""
    facts = drift({}, postfix_info=True, config_dir=str(config_dir))["postfix_facts"]
    same = drift({"postfix": {"postfix_facts": {"facts": facts, "config_dir": str(config_dir)}}})
    assert same["drift"]["postfix"] == [] and same["postfix_facts"] == facts
    upgraded = dict(facts, version="3.99.0", lookup_table_types=facts["lookup_table_types"] + ["nosuch"])
    stale = drift({"postfix": {"postfix_facts": {"facts": upgraded, "config_dir": str(config_dir)}}})
    assert stale["drift"]["postfix"] == [
        "postfix facts differ from the ones assumed: lookup_table_types, version"]
    assert stale["postfix_facts"] == facts, "the facts read for the check come back for the next one"
    unverified = {key: value for key, value in facts.items() if key != "compatibility_level"}
    changed_setting = drift({"postfix": {"postfix_facts": {
        "facts": dict(unverified, version=facts["version"]), "config_dir": str(config_dir)}}})
    assert changed_setting["drift"]["postfix"] == [], "only the keys given are verified"


def test_filters_render_the_table_text_the_modules_write(config_dir, tables):
    """The digests the roles pass come from these filters: they must match the real files."""
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".cache" / "collections"))
    from ansible_collections.postmaster.mail.plugins.filter.postmap_source import postmap_source
    from ansible_collections.postmaster.mail.plugins.filter.tls_policy_source import tls_policy_source

    entries = {"[smtp.example.net]:587": "mailer@example.org:Sm7p-Pa55word ", "example.com": ["a", "b"]}
    assert_ok(run_module("postmap", dict(config_dir=str(config_dir), path=str(tables / "sasl"), type="hash",
                                         entries=entries, secret=True)))
    assert (tables / "sasl").read_text() == postmap_source(entries)

    policies = [{"destination": "example.org", "level": "secure", "match": [".example.org"]},
                {"destination": "[mx.example.net]:25", "level": "encrypt", "protocols": ["!SSLv2", "!SSLv3"]}]
    assert_ok(run_module("tls_policy", dict(config_dir=str(config_dir), path=str(tables / "policy"), type="hash",
                                            policies=policies)))
    version = run_module("postfix_info", dict(config_dir=str(config_dir)))["version"]
    assert (tables / "policy").read_text() == tls_policy_source(policies, version)


def test_built_table_owner_and_group_as_postmap_sets_them(config_dir, tables):
    """postmap gives the built file the source file's owner (root:root for the roles' tables):
    a .db of another owner is a difference, and postmap puts it right."""
    path = tables / "sasl"
    arguments = dict(config_dir=str(config_dir), path=str(path), type="hash", entries={"[relay]:465": "u:p"},
                     secret=True, owner="root", group="root")
    assert_ok(run_module("postmap", arguments))
    wanted = {"path": str(path), "type": "hash", "mode": "0600", "owner": "root", "group": "root",
              "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    assert drift({"postfix": {"tables": [wanted]}})["drift"]["postfix"] == []
    os.chown(str(path) + ".db", 65534, 65534)
    assert drift({"postfix": {"tables": [wanted]}})["drift"]["postfix"] == [
        "table %s: owner of %s.db" % (path, path), "table %s: group of %s.db" % (path, path)]
    # Without owner and group given, the built file must have the source file's.
    unowned = {key: value for key, value in wanted.items() if key not in ("owner", "group")}
    assert drift({"postfix": {"tables": [unowned]}})["drift"]["postfix"] == [
        "table %s: owner of %s.db" % (path, path), "table %s: group of %s.db" % (path, path)]
    assert run_module("postmap", arguments)["changed"] is True
    assert drift({"postfix": {"tables": [wanted]}})["drift"]["postfix"] == []


def test_absent_table_means_no_source_and_no_built_file_of_any_type(tables):
    path = tables / "sasl"
    absent = {"postfix": {"tables": [{"path": str(path), "state": "absent"}]}}
    assert drift(absent)["drift"]["postfix"] == []
    for name in ("sasl.lmdb", "sasl"):
        (tables / name).write_text("")
        assert drift(absent)["drift"]["postfix"] == ["table %s: present" % path]
        (tables / name).unlink()


def test_secret_table_digest_only_in_the_no_log_option(config_dir, tables):
    """The digest of a secret table travels in secret_digests (no_log), never in checks: the
    module logs checks on the host, and `digests` does not depend on the secret."""
    path = tables / "sasl"
    for password in ("first-Pa55word", "second-Pa55word"):
        assert_ok(run_module("postmap", dict(config_dir=str(config_dir), path=str(path), type="hash",
                                             entries={"[relay]:465": "user:" + password}, secret=True)))
    secret = {"path": str(path), "type": "hash", "mode": "0600", "secret": True}
    checks = {"postfix": {"tables": [secret]}}
    right = {str(path): hashlib.sha256(path.read_bytes()).hexdigest()}
    wrong = {str(path): hashlib.sha256(b"[relay]:465 user:first-Pa55word\n").hexdigest()}
    clean = drift(checks, secret_digests=right)
    assert clean["drift"]["postfix"] == []
    assert right[str(path)] not in json.dumps(clean)
    changed = drift(checks, secret_digests=wrong)
    assert changed["drift"]["postfix"] == ["file %s: content" % path]
    assert changed["digests"] == clean["digests"]
    assert drift(checks)["drift"]["postfix"] == [
        "file %s: no digest given for its secret content (secret_digests)" % path]
    inline = run_module("drift_check", dict(checks={"postfix": {"tables": [dict(secret, sha256=right[str(path)])]}}))
    assert inline["failed"] and "is secret, so its sha256 must not be in checks" in inline["msg"]


def test_package_versions_read_and_assumed_ones_verified():
    installed = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "postfix"], capture_output=True, text=True,
                               check=True).stdout
    result = drift({}, package_versions=["postfix", "postmaster-no-such-package"])
    assert result["package_versions"] == {"postfix": installed}
    assert drift({"dovecot": {"package_versions": {"postfix": installed}}})["drift"]["dovecot"] == []
    assert drift({"dovecot": {"package_versions": {"postfix": "1:0.1-1", "postmaster-no-such-package": "1.0"}}})[
        "drift"]["dovecot"] == ["package postfix: version %s, not 1:0.1-1 as assumed" % installed,
                                "package postmaster-no-such-package: version (not installed), not 1.0 as assumed"]
    assert "package_versions" not in drift({})
