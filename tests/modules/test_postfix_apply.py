"""postmaster.mail.postfix_apply against a real Postfix under systemd.

The host has no init system and no syslog, and Postfix's master reports a failed bind
only to syslog, so these tests run a throwaway Debian 12 container with systemd,
journald and the postfix package (the image scripts/build-test-images makes). Modules run in it
through Ansible's podman connection, as a playbook would run them.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import tempfile
import time

import pytest

from conftest import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / ".cache" / "collections"))
sys.path.insert(0, str(PROJECT_ROOT / "tests" / "scenarios"))

from ansible_collections.postmaster.mail.plugins.module_utils import _rollback as rollback  # noqa: E402
from systemd_container import PIPELINED_CONNECTION, mail_packages_image, systemd_container  # noqa: E402

CONTAINER = "postmaster-apply-test-%d" % os.getpid()
ENV = dict(os.environ, CONTAINERS_CONF=str(PROJECT_ROOT / "containers" / "containers.conf"),
           ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
           ANSIBLE_NOCOLOR="1")
ENV.pop("ANSIBLE_CONFIG", None)  # the project's config adds profile_tasks output to the JSON
ROLLBACK = "/etc/postfix/.postmaster-rollback"
SPARE = "192.0.2.1"  # a documentation address, added to the container's loopback only
# Passes the staged checks of postconf, fails `postfix check`.
NOWHERE = "/usr/lib/postfix/nowhere"


def podman(*args, check=True):
    completed = subprocess.run(["podman"] + list(args), env=ENV, capture_output=True, text=True,
                               check=False, timeout=300)
    assert not check or completed.returncode == 0, "%s\n%s%s" % (args, completed.stdout, completed.stderr)
    return completed


def sh(command, check=True):
    """Run a shell command in the container; its stdout."""
    return podman("exec", CONTAINER, "sh", "-c", command, check=check).stdout


def run_module(name, args, check_mode=False):
    command = ["ansible", "all", "-i", CONTAINER + ",", "-c", PIPELINED_CONNECTION,
               "-e", "ansible_python_interpreter=/usr/bin/python3",
               "-m", "postmaster.mail." + name] + (["-a", json.dumps(args)] if args else [])
    if check_mode:
        command.append("--check")
    completed = subprocess.run(command, env=ENV, capture_output=True, text=True, check=False, timeout=300,
                               cwd=str(PROJECT_ROOT / "tests"))
    try:
        output = json.loads(completed.stdout)
    except ValueError:
        raise AssertionError("no JSON from ansible:\n%s\n%s" % (completed.stdout, completed.stderr))
    return output["plays"][0]["tasks"][0]["hosts"][CONTAINER]


def assert_ok(result):
    assert not result.get("failed"), result.get("msg", result)


def assert_failed(result, *fragments):
    assert result.get("failed") is True, result
    assert "\n" not in result["msg"], result["msg"]
    for fragment in fragments:
        assert fragment in result["msg"], result["msg"]


def master_pid():
    return sh("cat /var/spool/postfix/pid/master.pid 2>/dev/null || true").strip()


def running():
    return podman("exec", CONTAINER, "postfix", "status", check=False).returncode == 0


def file_bytes(name):
    return podman("exec", CONTAINER, "cat", "/etc/postfix/" + name).stdout


@pytest.fixture(scope="module")
def container():
    with systemd_container(CONTAINER, mail_packages_image("bookworm", ENV), ENV, "mail.apply.test"):
        sh("postconf -e inet_interfaces=loopback-only inet_protocols=ipv4 && systemctl restart postfix")
        sh("cp -p /etc/postfix/main.cf /etc/postfix/master.cf /root/")
        yield CONTAINER


@pytest.fixture
def postfix(container):
    """Postfix running on the baseline files, no rollback copy pending, no stray listener."""
    sh("systemctl stop postmaster-stray 2>/dev/null; ip addr del %s/32 dev lo 2>/dev/null;"
       " cp -p /root/main.cf /root/master.cf /etc/postfix/ && rm -rf %s" % (SPARE, ROLLBACK), check=False)
    sh("systemctl reset-failed; systemctl restart postfix")
    assert running()
    return container


def occupy(address, port):
    """A listener that is not Postfix on address:port."""
    sh("systemd-run --unit postmaster-stray python3 -c \"import socket, time; s = socket.socket(); "
       "s.bind(('%s', %d)); s.listen(); time.sleep(900)\"" % (address, port))
    for dummy in range(50):
        if ":%d " % port in sh("ss -ltn"):
            return
        time.sleep(0.1)
    pytest.fail("the stray listener did not start")


def postconf(parameters):
    result = run_module("postconf", {"parameters": parameters})
    assert_ok(result)
    assert result["rollback_file"] == ROLLBACK + "/main.cf"
    return result


def test_good_reload_discards_the_saved_copy(postfix):
    pid = master_pid()
    postconf({"message_size_limit": 30720000})
    postconf({"delay_warning_time": "4h"})  # a second write keeps the first copy
    assert file_bytes(".postmaster-rollback/main.cf") == open_baseline("main.cf")
    result = run_module("postfix_apply", {})
    assert_ok(result)
    assert result["changed"] is True and result["performed"] == "reload"
    assert result["pending"] == ["main.cf"]
    assert sh("test -e %s && echo left || echo gone" % ROLLBACK).strip() == "gone"
    assert running() and master_pid() == pid
    assert sh("postconf -h message_size_limit").strip() == "30720000"


def test_good_restart(postfix):
    pid = master_pid()
    assert postconf({"inet_protocols": "all"})["restart_needed"] is True
    result = run_module("postfix_apply", {"restart": True})
    assert_ok(result)
    assert result["performed"] == "restart"
    assert running() and master_pid() != pid


def test_postfix_check_failure_restores_the_files(postfix):
    pid = master_pid()
    postconf({"daemon_directory": NOWHERE})
    result = run_module("postfix_apply", {"restart": True})
    assert_failed(result, "postfix check rejected the configuration",
                  "fatal: chdir(%s): No such file or directory" % NOWHERE, "restored main.cf",
                  "Postfix is running on them")
    assert result["restored"] == ["main.cf"]
    assert file_bytes("main.cf") == open_baseline("main.cf")
    assert running() and master_pid() == pid  # reloaded, never stopped
    assert sh("test -e %s && echo left || echo gone" % ROLLBACK).strip() == "gone"


def test_failed_restart_restores_and_restarts(postfix):
    sh("ip addr add %s/32 dev lo" % SPARE)
    occupy(SPARE, 25)
    postconf({"inet_interfaces": ["127.0.0.1", SPARE]})
    started = time.time()
    result = run_module("postfix_apply", {"restart": True})
    assert_failed(result, "Postfix is not running after the restart",
                  "bind %s port 25: Address already in use" % SPARE, "restored main.cf",
                  "Postfix is running on them")
    assert file_bytes("main.cf") == open_baseline("main.cf")
    assert running()
    assert "127.0.0.1:25" in sh("ss -ltn")
    print("failed restart and recovery: %.1f s" % (time.time() - started))


def test_master_cf_change_that_kills_postfix_on_reload(postfix):
    occupy("127.0.0.1", 2526)
    result = run_module("postconf_master", {"services": [
        {"name": "127.0.0.1:2526", "type": "inet", "private": False, "command": "smtpd"}]})
    assert_ok(result)
    assert result["rollback_file"] == ROLLBACK + "/master.cf"
    result = run_module("postfix_apply", {})
    assert_failed(result, "Postfix is not running after the reload",
                  "bind 127.0.0.1 port 2526: Address already in use", "restored master.cf",
                  "Postfix is running on them")
    assert file_bytes("master.cf") == open_baseline("master.cf")
    assert running()


def test_check_mode_touches_nothing(postfix):
    pid = master_pid()
    postconf({"message_size_limit": 40960000})
    changed = file_bytes("main.cf")
    result = run_module("postfix_apply", {"restart": True}, check_mode=True)
    assert_ok(result)
    assert result["changed"] is True and result["performed"] == "restart" and result["pending"] == ["main.cf"]
    assert master_pid() == pid and file_bytes("main.cf") == changed
    assert sh("ls %s" % ROLLBACK).split() == ["main.cf"]


def test_stopped_postfix_stays_stopped(postfix):
    sh("systemctl stop postfix")
    postconf({"message_size_limit": 40960000})
    result = run_module("postfix_apply", {"running": False})
    assert_ok(result)
    assert result["changed"] is False and result["performed"] == "none"
    assert not running()
    postconf({"daemon_directory": NOWHERE})
    result = run_module("postfix_apply", {"running": False})
    assert_failed(result, "chdir(%s)" % NOWHERE, "restored main.cf", "Postfix stays stopped")
    assert not running()


def test_missing_config_dir_is_one_line(postfix):
    result = run_module("postfix_apply", {"config_dir": "/etc/postfix-nowhere"})
    assert_failed(result, "/etc/postfix-nowhere/main.cf does not exist")


def test_failed_recovery_keeps_the_copies(postfix):
    """When Postfix does not run on the restored copies either, they stay pending (the
    next run's drift check sees them), and the failure says so."""
    sh("ip addr add %s/32 dev lo" % SPARE)
    occupy(SPARE, 25)
    postconf({"inet_interfaces": ["127.0.0.1", SPARE]})
    # The copy fails the same way: it asks for the occupied address too.
    sh("sed -i 's/^inet_interfaces = .*/inet_interfaces = 127.0.0.1, %s/' %s/main.cf" % (SPARE, ROLLBACK))
    result = run_module("postfix_apply", {"restart": True})
    assert_failed(result, "Postfix is not running after the restart", "restored main.cf",
                  "Postfix failed on them too", "the copies stay in %s" % ROLLBACK)
    assert sh("ls %s" % ROLLBACK).split() == ["main.cf"]
    assert file_bytes("main.cf") == file_bytes(".postmaster-rollback/main.cf")


def test_only_if_needed_does_nothing_on_a_running_postfix(postfix):
    pid = master_pid()
    for check_mode in (True, False):
        result = run_module("postfix_apply", {"only_if_needed": True, "restart": True}, check_mode=check_mode)
        assert_ok(result)
        assert result["changed"] is False and result["performed"] == "none"
    assert master_pid() == pid


def test_only_if_needed_starts_a_killed_master(postfix):
    """The postfix unit is a oneshot wrapper that stays active when the master process
    dies: `postfix status` is what counts."""
    sh("kill -KILL %s" % master_pid())
    for dummy in range(50):
        if not running():
            break
        time.sleep(0.1)
    assert "active" == sh("systemctl is-active postfix", check=False).strip()
    result = run_module("postfix_apply", {"only_if_needed": True, "restart": True}, check_mode=True)
    assert result["changed"] is True and not running()
    result = run_module("postfix_apply", {"only_if_needed": True, "restart": True})
    assert_ok(result)
    assert result["changed"] is True and result["performed"] == "restart"
    assert running()


def test_only_if_needed_applies_a_pending_copy(postfix):
    pid = master_pid()
    postconf({"message_size_limit": 20480000})
    result = run_module("postfix_apply", {"only_if_needed": True})
    assert_ok(result)
    assert result["changed"] is True and result["performed"] == "reload" and result["pending"] == ["main.cf"]
    assert master_pid() == pid
    assert sh("test -e %s && echo left || echo gone" % ROLLBACK).strip() == "gone"


def test_only_if_needed_stops_a_postfix_meant_to_be_stopped(postfix):
    result = run_module("postfix_apply", {"only_if_needed": True, "running": False})
    assert_ok(result)
    assert result["changed"] is True and result["performed"] == "stop"
    assert not running()
    result = run_module("postfix_apply", {"only_if_needed": True, "running": False})
    assert result["changed"] is False and result["performed"] == "none"


# --- the rollback area on this machine (no container) ---------------------------------------

@pytest.fixture
def config_dir(tmp_path):
    (tmp_path / "main.cf").write_text("myhostname = old.example\n")
    (tmp_path / "master.cf").write_text("smtp inet n - y - - smtpd\n")
    rollback.save(str(tmp_path), "main.cf")
    rollback.save(str(tmp_path), "master.cf")
    (tmp_path / "main.cf").write_text("myhostname = new.example\n")
    (tmp_path / "master.cf").write_text("smtp inet n - y - - smtpd -v\n")
    return tmp_path


def test_restore_is_one_unit_when_the_disk_fills(config_dir, monkeypatch):
    """Both copies are written before either file is replaced: a full disk on the second
    leaves both files as they were, and no temporary file behind."""
    real_mkstemp = tempfile.mkstemp
    calls = []

    def mkstemp(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_mkstemp(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    with pytest.raises(Exception) as raised:
        rollback.restore(str(config_dir))
    assert "No space left on device" in str(raised.value)
    assert (config_dir / "main.cf").read_text() == "myhostname = new.example\n"
    assert (config_dir / "master.cf").read_text() == "smtp inet n - y - - smtpd -v\n"
    assert sorted(os.listdir(config_dir)) == [".postmaster-rollback", "main.cf", "master.cf"]
    assert rollback.pending(str(config_dir)) == ["main.cf", "master.cf"]


def test_copies_and_restores_reach_the_disk(config_dir, monkeypatch):
    """fsync of each new file before its rename, and of its directory after."""
    synced = []
    real_fsync = os.fsync

    def fsync(fd):
        synced.append(os.readlink("/proc/self/fd/%d" % fd))
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    rollback.discard(str(config_dir))
    rollback.save(str(config_dir), "main.cf")
    copies = str(config_dir / rollback.ROLLBACK_DIR)
    # The new directory's entry, the copy before its rename, the copy's directory entry.
    assert synced[0] == str(config_dir) and synced[2] == copies, synced
    assert os.path.dirname(synced[1]) == copies and os.path.basename(synced[1]).startswith(".main.cf."), synced
    del synced[:]
    (config_dir / "main.cf").write_text("myhostname = newer.example\n")
    assert rollback.restore(str(config_dir)) == ["main.cf"]
    assert len(synced) == 2 and synced[1] == str(config_dir), synced
    assert os.path.basename(synced[0]).startswith(".main.cf."), synced
    assert (config_dir / "main.cf").read_text() == "myhostname = new.example\n"


def open_baseline(name):
    return podman("exec", CONTAINER, "cat", "/root/" + name).stdout
