# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lab: the bench-* Podman containers and snapshot images of one run, what each
container has been converged to, their clean-up, and a note on the machine they run on."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import time
from pathlib import Path

from common import PKI, BenchError, log
from workloads import HOSTNAME


PODMAN = shutil.which("podman") or "podman"
PREFIX = "bench-"


def base_image(suite):
    """The base image of a Debian suite (scripts/bootstrap builds it)."""
    return "localhost/debian-%s:base" % suite


def podman(*args, check=True, stdin=None, timeout=900):
    completed = subprocess.run([PODMAN, *args], capture_output=True, text=True, check=False, input=stdin,
                               timeout=timeout)
    if check and completed.returncode:
        raise BenchError("podman %s failed: %s" % (" ".join(args[:3]), completed.stderr.strip()[-600:]))
    return completed


class Lab:
    """The bench-* containers of this run, and what each has been converged to."""

    def __init__(self, image):
        self.image = image
        self.created = set()
        self.images = set()
        self.converged = {}

    def fresh(self, names, image=None):
        """(Re)create containers from the base image and wait until systemd has booted."""
        for name in names:
            assert name.startswith(PREFIX)
            podman("rm", "--force", "--ignore", "-t", "0", name, check=False)
            self.converged.pop(name, None)
            shutil.rmtree(PKI / name, ignore_errors=True)
            self.created.add(name)
            podman("run", "-d", "--name", name, "--hostname", HOSTNAME, "--privileged", image or self.image,
                   "/sbin/init")
        for name in names:
            for _attempt in range(240):
                state = podman("exec", name, "systemctl", "is-system-running", check=False).stdout.strip()
                if state in ("running", "degraded"):
                    break
                time.sleep(0.5)
            else:
                raise BenchError("systemd in %s did not finish booting (%s)" % (name, state))

    def add_users(self, name, users):
        script = "for u in %s; do id $u >/dev/null 2>&1 || useradd --create-home --shell /bin/bash $u; done" % (
            " ".join(users))
        podman("exec", name, "sh", "-c", script)

    def from_snapshot(self, names, kind, template):
        """Start names from a snapshot (podman commit) of template, a container converged to
        kind, and count them as converged to kind: the caller's first run (a warm-up, not
        measured) shows whether they need any change."""
        image = "localhost/%s%s:snapshot" % (PREFIX, kind)
        log("starting %s from a snapshot of %s (not measured)" % (", ".join(names), template))
        self.images.add(image)
        podman("commit", "-q", template, image)
        self.fresh(names, image)
        for name in names:
            self.converged[name] = kind

    def remove(self, name):
        """Remove one container now rather than at the clean-up."""
        podman("rm", "--force", "--ignore", "-t", "0", name, check=False)
        self.created.discard(name)

    def cleanup(self):
        if self.created:
            log("removing containers: %s" % ", ".join(sorted(self.created)))
            # --ignore: one container already gone must not keep the others.
            podman("rm", "--force", "--ignore", "-t", "0", *sorted(self.created), check=False, timeout=300)
            self.created.clear()
        for image in sorted(self.images):
            podman("rmi", "-f", image, check=False)
        self.images.clear()


def environment_note(started):
    """The machine: CPUs, memory, kernel, load, other containers, Ansible and Podman versions."""
    def read(command):
        try:
            return subprocess.run(command, capture_output=True, text=True, check=False, timeout=60).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""

    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
    others = [name for name in read([PODMAN, "ps", "--format", "{{.Names}}"]).splitlines()
              if name and not name.startswith(PREFIX)]
    return {
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "host": platform.node(), "kernel": platform.release(), "cpus": os.cpu_count(), "cpu_model": cpu,
        "memory_gib": round(int(memory) / 1024 / 1024, 1),
        "load_average_start": list(os.getloadavg()),
        "other_containers_running_at_start": len(others),
        "ansible_core": read(["ansible", "--version"]).splitlines()[0] if read(["ansible", "--version"]) else "",
        "podman": read([PODMAN, "--version"]),
    }
