"""The collection as users get it: `ansible-galaxy collection build` ships only what users
run, `ansible-galaxy collection install --offline` installs the tarball, and the site
playbook runs from that installed copy against a real Debian container.

Ansible here sees only the installed copy (ANSIBLE_COLLECTIONS_PATH is the temporary
directory) plus the collections of the ansible package (containers.podman, ...), never
this checkout.
"""

from __future__ import annotations

import json
import os
import subprocess
import tarfile

import pytest
import yaml

from conftest import PROJECT_ROOT
from systemd_container import systemd_container

GALAXY = yaml.safe_load((PROJECT_ROOT / "galaxy.yml").read_text())
IMAGE = "localhost/debian-bookworm:base"
EXCLUDED = ["tests", "benchmarks", "molecule", ".cache", ".venv", "scripts", "containers", ".ci", "demo",
            "requirements.txt", "execution-environment.yml", ".ansible-lint", ".yamllint", ".gitignore"]
INCLUDED = ["plugins/modules/postconf.py", "plugins/modules/postfix_info.py", "plugins/modules/maildir.py",
            "plugins/module_utils", "plugins/doc_fragments", "roles/postfix/tasks/main.yml",
            "roles/mail_client/tasks/main.yml", "roles/maildir/tasks/main.yml", "playbooks/site.yml",
            "meta/runtime.yml", "docs/README.md", "README.md", "CHANGELOG.md", "changelogs/changelog.yaml",
            "MANIFEST.json", "FILES.json"]
ANSIBLE_CFG = """\
[defaults]
interpreter_python = auto_silent
host_key_checking = false
retry_files_enabled = false
"""


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """Build the tarball and install it into an empty collections directory."""
    root = tmp_path_factory.mktemp("release")
    collections = root / "collections"
    (root / "ansible.cfg").write_text(ANSIBLE_CFG)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(collections), ANSIBLE_CONFIG=str(root / "ansible.cfg"),
               ANSIBLE_NOCOLOR="1", CONTAINERS_CONF=str(PROJECT_ROOT / "containers" / "containers.conf"))
    env.pop("PYTHONPATH", None)
    run(["ansible-galaxy", "collection", "build", "--output-path", str(root), str(PROJECT_ROOT)], root, env)
    tarball = root / ("%s-%s-%s.tar.gz" % (GALAXY["namespace"], GALAXY["name"], GALAXY["version"]))
    run(["ansible-galaxy", "collection", "install", "--offline", "-p", str(collections), str(tarball)], root, env)
    return {"root": root, "tarball": tarball, "collections": collections, "env": env}


def run(command, cwd, env, timeout=300):
    completed = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False,
                               timeout=timeout)
    assert completed.returncode == 0, "%s\n%s%s" % (command, completed.stdout, completed.stderr)
    return completed.stdout


def test_tarball_ships_only_what_users_run(release):
    with tarfile.open(release["tarball"]) as archive:
        names = archive.getnames()
    for excluded in EXCLUDED:
        leaked = [name for name in names if name == excluded or name.startswith(excluded + "/")]
        assert not leaked, "build_ignore in galaxy.yml misses %s" % leaked
    for included in INCLUDED:
        assert any(name == included or name.startswith(included + "/") for name in names), included
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]


def test_installed_copy_is_the_one_ansible_lists(release):
    output = run(["ansible-galaxy", "collection", "list", "postmaster.mail", "--format", "json"],
                 release["root"], release["env"])
    listed = json.loads(output)
    installed = str(release["collections"] / "ansible_collections")
    assert list(listed) == [installed], listed
    assert listed[installed]["postmaster.mail"]["version"] == GALAXY["version"]


def test_site_playbook_runs_from_the_installed_copy(release):
    env = release["env"]
    name = "postmaster-install-test-%d" % os.getpid()
    inventory = release["root"] / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"all": {
        "hosts": {name: {"ansible_connection": "containers.podman.podman",
                         "ansible_python_interpreter": "/usr/bin/python3"}},
        "vars": {"postfix_myhostname": "mail.install.test", "postfix_mydomain": "install.test"},
    }}))
    with systemd_container(name, IMAGE, env, "mail.install.test"):
        output = run(["ansible-playbook", "-i", str(inventory), "postmaster.mail.site"], release["root"], env,
                     timeout=900)
        recap = [line for line in output.splitlines() if line.startswith(name)]
        assert recap and "failed=0" in recap[-1] and "unreachable=0" in recap[-1], output
        # The roles and modules that ran are the installed ones: nothing else is visible.
        hostname = run(["podman", "exec", name, "postconf", "-h", "myhostname"], release["root"], env)
        assert hostname.strip() == "mail.install.test"
        state = run(["podman", "exec", name, "systemctl", "is-active", "postfix"], release["root"], env)
        assert state.strip() == "active"
