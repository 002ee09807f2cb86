# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One timed ansible-playbook run against bench-* containers: its inventory, its wall
time, its recap, its round-trip counts (the bench_count callback, lib/podman-count) and
profile_tasks' slowest tasks."""

from __future__ import annotations

import collections
import importlib.util
import json
import os
import re
import subprocess
import time
from pathlib import Path

from common import BENCH, LOGS, RESULTS, ROOT, BenchError, log
from workloads import PLAYBOOKS, host_vars


PODMAN_COUNT = BENCH / "lib" / "podman-count"
PROFILE_LINE = re.compile(r"^(.*?) -+ ?(\d+\.\d+)s\s*$")
LABELS = collections.Counter()


def write_inventory(hosts, connection="containers.podman.podman"):
    inventory = {"all": {"hosts": {}}}
    for name, kind in hosts:
        variables = {"ansible_connection": connection,
                     "ansible_python_interpreter": "/usr/bin/python3"}
        variables.update(host_vars(name, kind))
        inventory["all"]["hosts"][name] = variables
    # JSON is YAML too, and the YAML inventory plugin reads .json files.
    path = RESULTS / ("inventory-%s%s.json" % ("-".join(sorted({host[1] for host in hosts})),
                                               "-" + connection if "." not in connection else ""))
    path.write_text(json.dumps(inventory, indent=1))
    return path


def mitogen_strategy_dir():
    spec = importlib.util.find_spec("ansible_mitogen")
    if spec is None:
        raise BenchError("Mitogen is not installed in this Python (it comes from requirements.txt)")
    return str(Path(spec.submodule_search_locations[0]) / "plugins" / "strategy")


def count_podman_calls(podman_log):
    """Podman calls per container from lib/podman-count's log (cp names it in its third word)."""
    calls = collections.Counter()
    if podman_log.exists():
        for line in podman_log.read_text().splitlines():
            words = line.split()
            if not words:
                continue
            target = words[2].split(":")[0] if words[0] == "cp" and len(words) > 2 else (words[1] if len(words) > 1 else "?")
            calls[target] += 1
    return calls


def run_playbook(playbook, hosts, label, extra_vars=None, host_kind=None, mitogen=False):
    """Run one ansible-playbook, timed; return its wall time, recap and round-trip counts.
    With mitogen, through Mitogen's strategy and its own podman connection (README,
    "Faster runs with Mitogen"); its calls bypass the podman counter."""
    kind = host_kind or ("minimal" if playbook.startswith("postconf") else playbook)
    inventory = write_inventory([(name, kind) for name in hosts], "podman" if mitogen else "containers.podman.podman")
    LABELS[label] += 1
    stem = "%s-%d" % (label, LABELS[label])
    count_file = LOGS / ("%s.count.json" % stem)
    podman_log = LOGS / ("%s.podman.log" % stem)
    log_file = LOGS / ("%s.log" % stem)
    for path in (count_file, podman_log):
        path.unlink(missing_ok=True)
    env = dict(os.environ, ANSIBLE_CONFIG=str(BENCH / "ansible.cfg"),
               ANSIBLE_CALLBACK_PLUGINS=str(BENCH / "callback_plugins"),
               ANSIBLE_PODMAN_EXECUTABLE=str(PODMAN_COUNT), BENCH_COUNT_FILE=str(count_file),
               BENCH_PODMAN_LOG=str(podman_log), ANSIBLE_NOCOLOR="1", COLUMNS="150")
    if mitogen:
        env.update(ANSIBLE_STRATEGY="mitogen_linear", ANSIBLE_STRATEGY_PLUGINS=mitogen_strategy_dir())
    command = ["ansible-playbook", "-i", str(inventory), str(PLAYBOOKS[playbook])]
    if extra_vars is not None:
        extra_file = LOGS / ("%s.vars.json" % stem)
        extra_file.write_text(json.dumps(extra_vars))
        command += ["-e", "@%s" % extra_file]
    start = time.perf_counter()
    completed = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                               check=False, cwd=str(ROOT))
    seconds = time.perf_counter() - start
    log_file.write_text(completed.stdout)
    counts = json.loads(count_file.read_text()) if count_file.exists() else {"hosts": {}, "recap": {}}
    calls = count_podman_calls(podman_log)
    recap = counts.get("recap", {})
    run = {
        "label": label, "seconds": round(seconds, 3), "rc": completed.returncode, "log": str(log_file.relative_to(BENCH)),
        "hosts": list(hosts),
        "changed": sum(host.get("changed", 0) for host in recap.values()),
        "failed": sum(host.get("failures", 0) + host.get("unreachable", 0) for host in recap.values()),
        "remote_modules_per_host": {name: counts["hosts"].get(name, {}).get("remote", 0) for name in hosts},
        "podman_calls_per_host": {name: calls.get(name, 0) for name in hosts},
        "delegated_modules_per_host": {name: counts["hosts"].get(name, {}).get("delegated", 0) for name in hosts},
        "remote_tasks": counts.get("remote_tasks", {}),
        "profile_tasks": parse_profile(completed.stdout),
    }
    if completed.returncode:
        log("%s failed (rc %d), see %s" % (label, completed.returncode, log_file))
    return run


def parse_profile(output):
    """profile_tasks' summary lines (after the play recap) as [name, seconds]."""
    lines = output.split("PLAY RECAP", 1)[-1].splitlines()
    profile = []
    for line in lines:
        match = PROFILE_LINE.match(line.strip())
        if match:
            profile.append([match.group(1).strip(), float(match.group(2))])
    return profile
