"""A systemd container that scenario tests converge and probe: Podman's settings for the
ansible-playbook and podman calls, an inventory beside the test's files, and a shell in it."""

from __future__ import annotations

import json
import os
import subprocess

from conftest import PROJECT_ROOT


class ContainerHost:
    def __init__(self, root, name):
        self.root, self.name = root, name
        self.env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
                        CONTAINERS_CONF=str(PROJECT_ROOT / "containers" / "containers.conf"))
        self.inventory = root / "inventory.yml"

    def sh(self, script, check=True, timeout=120):
        """Stdout of a bash script run in the container; with check, it must succeed."""
        completed = subprocess.run(["podman", "exec", self.name, "bash", "-c", script], env=self.env,
                                   capture_output=True, text=True, timeout=timeout, check=False)
        if check:
            assert completed.returncode == 0, "%s\n%s%s" % (script, completed.stdout, completed.stderr)
        return completed.stdout

    def copy_in(self, source, dest):
        subprocess.run(["podman", "cp", str(source), "%s:%s" % (self.name, dest)], env=self.env, check=True)

    def play(self, playbook, extra=None, options=(), timeout=1200):
        """Stdout and stderr of ansible-playbook PLAYBOOK against this host's inventory, with the
        extra variables EXTRA (a dict) and further command-line OPTIONS; the run must succeed."""
        command = ["ansible-playbook", "-i", str(self.inventory), str(playbook)]
        if extra:
            command += ["-e", json.dumps(extra)]
        completed = subprocess.run(command + list(options), cwd=PROJECT_ROOT, env=self.env, capture_output=True,
                                   text=True, timeout=timeout, check=False)
        assert completed.returncode == 0, completed.stdout[-8000:] + completed.stderr[-3000:]
        return completed.stdout + completed.stderr
