"""The drift_check action runs its module with one remote command (plugins/plugin_utils/
_one_call.py): a private copy of the module, run and removed by that command.
Exercised through ansible-playbook with the local connection, whose commands -vvv shows."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import textwrap

from conftest import PROJECT_ROOT

CODE_CACHE = "/var/cache/postmaster-mail/python"

PLAYBOOK = """\
- hosts: localhost
  gather_facts: false
  vars: {play_vars}
  tasks:
    - name: Check one package
      postmaster.mail.drift_check:
        checks: {checks}
      register: checked
    - name: Show the result
      ansible.builtin.copy:
        content: "{{{{ checked | to_json }}}}"
        dest: {result_file}
      check_mode: false
"""


def run_playbook(tmp_path, checks, *options, env=None, play_vars=None):
    """Run the check with an interpreter that records the module file it is given."""
    interpreter = tmp_path / "python"
    interpreter.write_text(textwrap.dedent("""\
        #!/bin/sh
        for module_file; do :; done
        stat -c '%%a %%U %%n' "$module_file" >>%s
        exec %s "$@"
        """ % (tmp_path / "seen", sys.executable)))
    interpreter.chmod(0o755)
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAYBOOK.format(checks=json.dumps(checks), result_file=tmp_path / "result.json",
                                        play_vars=json.dumps(play_vars or {})))
    command = ["ansible-playbook", "-vvv", "-i", "localhost,", "-c", "local",
               "-e", "ansible_python_interpreter=%s" % interpreter, str(playbook), *options]
    completed = subprocess.run(command, cwd=PROJECT_ROOT, env=dict(os.environ, ANSIBLE_NOCOLOR="1", **(env or {})),
                               capture_output=True, text=True, check=False, timeout=300)
    return completed


def check_task_commands(output):
    """The commands the check task ran on the host (the local connection's EXEC lines)."""
    task = output.split("TASK [Check one package]")[1].split("TASK [Show the result]")[0]
    return re.findall(r"^<localhost> EXEC (.*?)(?=^<localhost> |\Z)", task, re.M | re.S)


def test_one_command_runs_a_private_copy_and_removes_it(tmp_path):
    completed = run_playbook(tmp_path, {"base": {"packages": ["dpkg", "no-such-package-here"]}})
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-2000:]
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["drift"] == {"base": ["package no-such-package-here: not installed"]}
    commands = check_task_commands(completed.stdout)
    assert len(commands) == 1, commands
    mode, owner, path = (tmp_path / "seen").read_text().splitlines()[0].split()
    assert re.fullmatch(r"/var/tmp/\.postmaster-mail-drift_check-[0-9a-f]{32}\.py", path)
    assert (mode, owner) == ("600", "root")
    assert path in commands[0] and "rm -f" in commands[0]
    assert not os.path.exists(path)


def cache_entries():
    return set(os.listdir(CODE_CACHE)) if os.path.isdir(CODE_CACHE) else set()


def test_compiled_code_is_kept_private_and_reused(tmp_path):
    # The cache is made by the run, not left over from an earlier one (a stopped run of the
    # next test leaves it open to others, and then it is rightly ignored).
    shutil.rmtree(CODE_CACHE, ignore_errors=True)
    checks = {"base": {"packages": ["dpkg"]}}
    assert run_playbook(tmp_path, checks).returncode == 0
    info = os.stat(CODE_CACHE)
    assert (stat.S_IMODE(info.st_mode), info.st_uid) == (0o700, 0)
    assert not stat.S_IMODE(os.stat(os.path.dirname(CODE_CACHE)).st_mode) & 0o022
    entries = cache_entries()
    assert len(entries) > 20  # ansible.module_utils.basic and what it imports
    completed = run_playbook(tmp_path, checks)
    assert completed.returncode == 0, completed.stdout[-3000:]
    assert json.loads((tmp_path / "result.json").read_text())["drift"] == {"base": []}
    assert cache_entries() == entries  # nothing compiled again


def test_code_cache_others_can_use_is_ignored(tmp_path):
    run_playbook(tmp_path, {"base": {"packages": ["dpkg"]}})
    for name in cache_entries():
        os.unlink(os.path.join(CODE_CACHE, name))
    os.chmod(CODE_CACHE, 0o755)
    try:
        completed = run_playbook(tmp_path, {"base": {"packages": ["dpkg"]}})
        assert completed.returncode == 0, completed.stdout[-3000:]
        assert cache_entries() == set()
    finally:
        os.chmod(CODE_CACHE, 0o700)


def test_check_mode_reaches_the_module(tmp_path):
    completed = run_playbook(tmp_path, {"base": {"packages": ["dpkg"]}}, "--check")
    assert completed.returncode == 0, completed.stdout[-3000:]
    assert json.loads((tmp_path / "result.json").read_text())["drift"] == {"base": []}


def test_module_failure_is_the_task_failure(tmp_path):
    completed = run_playbook(tmp_path, {"base": "not a dictionary"})
    assert completed.returncode != 0
    assert "check base: give the desired state as a dictionary" in completed.stdout
    # The private copy this run made is gone (other test files may run checks of their own meanwhile).
    path = (tmp_path / "seen").read_text().splitlines()[0].split()[2]
    assert path.startswith("/var/tmp/.postmaster-mail-drift_check-") and not os.path.exists(path)


def test_pipelining_keeps_ansible_own_single_command(tmp_path):
    completed = run_playbook(tmp_path, {"base": {"packages": ["dpkg"]}}, env={"ANSIBLE_PIPELINING": "1"})
    assert completed.returncode == 0, completed.stdout[-3000:]
    commands = check_task_commands(completed.stdout)
    assert len(commands) == 1 and "/var/tmp/.postmaster-mail" not in commands[0], commands
    assert not (tmp_path / "seen").exists() or "postmaster-mail" not in (tmp_path / "seen").read_text()


def test_secret_digests_come_from_the_role_variable_and_are_never_shown(tmp_path):
    """A secret file's digest comes from __NAME_state's secret_digests into the no_log option: the check
    compares it, and neither it nor the check's digest (the same for any password) is shown."""
    secret = tmp_path / "secret"
    secret.write_text("user:Pa55-word")
    checks = {"base": {"files": [{"path": str(secret), "secret": True}]}}
    digest = hashlib.sha256(b"user:Pa55-word").hexdigest()
    results = {}
    for password in ("Pa55-word", "0ther-word"):
        play_vars = {"password": password, "__base_state": "{{ {'secret_digests': {'%s': ('user:' ~ password) | hash('sha256')}} }}" % secret}
        completed = run_playbook(tmp_path, checks, play_vars=play_vars)
        assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-2000:]
        results[password] = json.loads((tmp_path / "result.json").read_text())
        output = completed.stdout + completed.stderr
        assert digest not in output and password not in output.replace('"password": "%s"' % password, "")
        assert '"%s": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"' % secret in output
    assert results["Pa55-word"]["drift"] == {"base": []}
    assert results["0ther-word"]["drift"] == {"base": ["file %s: content" % secret]}
    assert results["Pa55-word"]["digests"] == results["0ther-word"]["digests"]


def test_secret_digest_in_checks_is_refused_before_the_host_sees_it(tmp_path):
    secret = tmp_path / "secret"
    checks = {"base": {"files": [{"path": str(secret), "secret": True, "sha256": "ab" * 32}]}}
    completed = run_playbook(tmp_path, checks)
    assert completed.returncode != 0
    assert "drift_check: check base: files[0] (%s) is secret, so its sha256 must not be in checks" % secret in completed.stdout
    assert not (tmp_path / "seen").exists(), "the module ran"


def test_package_versions_set_a_fact_and_the_control_node_cache(tmp_path):
    installed = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "postfix"], capture_output=True, text=True,
                               check=True).stdout
    cache = tmp_path / "versions" / "localhost.json"
    cache.parent.mkdir()
    cache.write_text(json.dumps({"postmaster-no-such-package": "1.0", "dovecot-core": "1:2.3.19.1-2"}))
    playbook = tmp_path / "versions.yml"
    playbook.write_text(textwrap.dedent("""\
        - hosts: localhost
          gather_facts: false
          tasks:
            - name: Read package versions
              postmaster.mail.drift_check:
                package_versions: [postfix, postmaster-no-such-package]
                package_versions_cache: {cache}
              register: read
            - name: Show the fact
              ansible.builtin.copy:
                content: "{{{{ ansible_facts.postmaster_mail_package_versions | to_json }}}}"
                dest: {result}
              check_mode: false
        """.format(cache=cache, result=tmp_path / "fact.json")))
    completed = subprocess.run(["ansible-playbook", "-i", "localhost,", "-c", "local",
                                "-e", "ansible_python_interpreter=%s" % sys.executable, str(playbook)],
                               cwd=PROJECT_ROOT, env=dict(os.environ, ANSIBLE_NOCOLOR="1"), capture_output=True,
                               text=True, check=False, timeout=300)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert json.loads((tmp_path / "fact.json").read_text()) == {"postfix": installed}
    # Merged into what the cache held; a package asked for and not installed leaves it.
    assert json.loads(cache.read_text()) == {"postfix": installed, "dovecot-core": "1:2.3.19.1-2"}
