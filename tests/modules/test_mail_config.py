"""One rule for the configuration directory, in every module that reads Postfix's
configuration: the config_dir option, else MAIL_CONFIG, else /etc/postfix
(`_postfix_tools.config_directory`). Each case runs a module without config_dir and with
MAIL_CONFIG pointing at a scratch directory: it must read and write only that directory,
and a second run must change nothing. (postconf has its own tests in test_postconf.py.)"""

from __future__ import annotations

import hashlib
import os

import pytest

from conftest import age_files, assert_ok, postconf_n, run_module

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="tables and Maildirs chown to root: run as root")


def tree_digest(directory):
    """SHA-256 over every file below directory (names and bytes), to prove it unchanged."""
    digest = hashlib.sha256()
    for root, dirs, files in sorted(os.walk(directory)):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            digest.update(path.encode())
            with open(path, "rb") as handle:
                digest.update(handle.read())
    return digest.hexdigest()


@pytest.fixture
def mail_config(config_dir):
    return {"MAIL_CONFIG": str(config_dir)}


def run_twice(name, args, env, config_dir):
    first = run_module(name, args, env=env)
    assert_ok(first)
    age_files(config_dir)
    second = run_module(name, args, env=env)
    assert_ok(second)
    return first, second


def test_postconf_master(config_dir, mail_config):
    service = {"name": "2525", "type": "inet", "private": "n", "chroot": "n", "command": "smtpd"}
    first, second = run_twice("postconf_master", {"services": [service]}, mail_config, config_dir)
    assert first["changed"] is True and second["changed"] is False
    assert "2525" in (config_dir / "master.cf").read_text()


def test_postmap_reads_the_database_type_there(config_dir, mail_config, tables):
    (config_dir / "main.cf").write_text((config_dir / "main.cf").read_text() + "default_database_type = cdb\n")
    age_files(config_dir)
    path = tables / "aliases"
    first, second = run_twice("postmap", {"path": str(path), "entries": {"a@example.test": "b"}},
                              mail_config, config_dir)
    assert first["changed"] is True and second["changed"] is False
    assert (tables / "aliases.cdb").exists() and not (tables / "aliases.db").exists()


def test_postfix_info(config_dir, mail_config):
    (config_dir / "main.cf").write_text((config_dir / "main.cf").read_text() + "compatibility_level = 2\n")
    age_files(config_dir)
    result = run_module("postfix_info", {}, env=mail_config)
    assert_ok(result)
    assert result["compatibility_level"] == "2"
    assert result["directories"]["config_directory"] == str(config_dir)


def test_maildir_sets_home_mailbox_there(config_dir, mail_config, tmp_path):
    skel = tmp_path / "skel"
    skel.mkdir()
    first, second = run_twice("maildir", {"skel_dir": str(skel), "home_mailbox": True}, mail_config, config_dir)
    assert first["changed"] is True and second["changed"] is False
    assert postconf_n(config_dir)["home_mailbox"] == "Maildir/"


def test_drift_check_compares_that_directory(config_dir, mail_config):
    (config_dir / "main.cf").write_text((config_dir / "main.cf").read_text() + "biff = no\n")
    age_files(config_dir)
    before = tree_digest(config_dir)
    result = run_module("drift_check", {"checks": {"base": {"main_cf": {"parameters": {"biff": False}}},
                                                   "other": {"main_cf": {"parameters": {"biff": True}}}}},
                        env=mail_config)
    assert_ok(result)
    assert result["drift"] == {"base": [], "other": ["main.cf biff"]}
    assert tree_digest(config_dir) == before
