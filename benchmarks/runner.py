# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The benchmarks themselves: each prepares its containers in the lab, runs its warm-up,
then its measured runs, interleaved with its baseline where it has one, and keeps every
sample in Suite.data (the report turns them into figures)."""

from __future__ import annotations

import json
import time

from common import BenchError, log
from lab import Lab, base_image, podman
from playbook import run_playbook
from workloads import FLEET_SIZES, MAIL_BODY, MAIL_COUNT, MAIL_SESSIONS, MAIL_USER, MAILBENCH, POSTCONF_BASE, USERS


NAMES = ["floor", "converge", "noop", "fleet", "mail", "postconf", "mitogen"]


class Suite:
    """Runs the selected benchmarks and collects their samples."""

    def __init__(self, runs, suite):
        self.runs = runs
        self.lab = Lab(base_image(suite))
        self.data = {}
        self.errors = {}

    def ensure(self, names, kind, template=None):
        """Make sure each container exists and has been converged to kind (not measured).

        With template (a container already converged to kind), the new containers start
        from a snapshot of it instead of the base image, and the caller's first run (a
        warm-up, not measured) shows whether they need any change."""
        lab = self.lab
        missing = [name for name in names if lab.converged.get(name) != kind]
        if not missing:
            return
        if template and lab.converged.get(template) == kind:
            lab.from_snapshot(missing, kind, template)
            return
        log("preparing %s (%s converge, not measured)" % (", ".join(missing), kind))
        lab.fresh(missing)
        for name in missing:
            lab.add_users(name, USERS[kind])
        run = run_playbook(kind, missing, "prepare-%s" % kind)
        if run["rc"]:
            raise BenchError("preparing %s failed, see %s" % (", ".join(missing), run["log"]))
        for name in missing:
            lab.converged[name] = kind

    # 1 and 3: the floor, and the no-change re-runs measured against it, interleaved.
    def bench_floor(self):
        self.ensure(["bench-min"], "minimal")
        samples = []
        run_playbook("floor", ["bench-min"], "floor-warmup", host_kind="floor")
        for index in range(self.runs):
            log("floor run %d/%d" % (index + 1, self.runs))
            samples.append(self.checked(run_playbook("floor", ["bench-min"], "floor", host_kind="floor")))
        self.data["floor"] = {"runs": samples}

    def bench_noop(self):
        self.ensure(["bench-min"], "minimal")
        self.ensure(["bench-full"], "full")
        measure_floor = "floor" not in self.data
        warmup = {"minimal": run_playbook("minimal", ["bench-min"], "noop-minimal-warmup"),
                  "full": run_playbook("full", ["bench-full"], "noop-full-warmup")}
        if measure_floor:
            run_playbook("floor", ["bench-min"], "floor-warmup", host_kind="floor")
        samples = {"floor": [], "minimal": [], "full": []}
        for index in range(self.runs):
            log("no-change run %d/%d (floor, minimal, full)" % (index + 1, self.runs))
            if measure_floor:
                samples["floor"].append(self.checked(run_playbook("floor", ["bench-min"], "floor", host_kind="floor")))
            samples["minimal"].append(self.checked(run_playbook("minimal", ["bench-min"], "noop-minimal")))
            samples["full"].append(self.checked(run_playbook("full", ["bench-full"], "noop-full")))
        if measure_floor:
            self.data["floor"] = {"runs": samples["floor"]}
        self.data["noop"] = {
            "first_rerun_changed": {kind: run["changed"] for kind, run in warmup.items()},
            "minimal": samples["minimal"], "full": samples["full"],
        }

    # 7: the floor and the no-change re-runs through Mitogen, against the plain floor, interleaved.
    def bench_mitogen(self):
        self.ensure(["bench-min"], "minimal")
        self.ensure(["bench-full"], "full")
        run_playbook("floor", ["bench-min"], "mitogen-floor-plain-warmup", host_kind="floor")
        for kind in ("floor", "minimal", "full"):
            run_playbook(kind, ["bench-full" if kind == "full" else "bench-min"], "mitogen-%s-warmup" % kind,
                         host_kind=kind, mitogen=True)
        samples = {"plain-floor": [], "floor": [], "minimal": [], "full": []}
        for index in range(self.runs):
            log("Mitogen run %d/%d (plain floor, then floor, minimal, full through Mitogen)" % (index + 1, self.runs))
            samples["plain-floor"].append(self.checked(run_playbook("floor", ["bench-min"], "mitogen-plain-floor",
                                                                    host_kind="floor")))
            for kind in ("floor", "minimal", "full"):
                samples[kind].append(self.checked(run_playbook(
                    kind, ["bench-full" if kind == "full" else "bench-min"], "mitogen-%s" % kind,
                    host_kind=kind, mitogen=True)))
        self.data["mitogen"] = samples

    # 2: first converge from the base image, against a bare apt-get install.
    def bench_converge(self):
        runs = min(self.runs, 2)
        samples = {"apt": [], "minimal": [], "full": []}
        for index in range(runs):
            log("first converge run %d/%d: apt-get baseline" % (index + 1, runs))
            self.lab.fresh(["bench-apt"])
            start = time.perf_counter()
            completed = podman("exec", "-e", "DEBIAN_FRONTEND=noninteractive", "bench-apt", "sh", "-c",
                               "apt-get update -qq && apt-get install -y -qq postfix s-nail stunnel4 >/dev/null",
                               check=False)
            seconds = time.perf_counter() - start
            if completed.returncode:
                raise BenchError("apt-get install in bench-apt failed: %s" % completed.stderr[-400:])
            samples["apt"].append({"label": "apt", "seconds": round(seconds, 3), "rc": 0})
            self.lab.remove("bench-apt")
            for kind, name in (("minimal", "bench-min"), ("full", "bench-full")):
                log("first converge run %d/%d: %s" % (index + 1, runs, kind))
                self.lab.fresh([name])
                self.lab.add_users(name, USERS[kind])
                run = run_playbook(kind, [name], "converge-%s" % kind)
                if run["rc"]:
                    raise BenchError("first converge (%s) failed, see %s" % (kind, run["log"]))
                self.lab.converged[name] = kind
                samples[kind].append(run)
        self.data["converge"] = dict(samples, runs_used=runs)

    # 4: fleet scaling.
    def bench_fleet(self):
        hosts = ["bench-min"] + ["bench-fleet-%d" % number for number in range(2, max(FLEET_SIZES) + 1)]
        self.ensure(["bench-min"], "minimal")
        self.ensure(hosts[1:], "minimal", template="bench-min")
        warmup = run_playbook("minimal", hosts, "fleet-warmup")
        samples = {size: [] for size in FLEET_SIZES}
        for index in range(self.runs):
            log("fleet run %d/%d (%s hosts)" % (index + 1, self.runs, ", ".join(map(str, FLEET_SIZES))))
            for size in FLEET_SIZES:
                samples[size].append(self.checked(run_playbook("minimal", hosts[:size], "fleet-%d" % size)))
        self.data["fleet"] = {"first_rerun_changed": warmup["changed"],
                              "sizes": {str(size): runs for size, runs in samples.items()}}

    # 5: mail throughput on one host.
    def bench_mail(self):
        self.ensure(["bench-full"], "full")
        modes = ["relay-plain", "relay-tunnel", "source-plain", "source-tunnel", "source-plain-reuse",
                 "source-tunnel-reuse", "python-plain", "python-starttls"]
        for mode in modes:  # warm-up: proves each path delivers before anything is timed
            result = self.mail_run(mode, 20)
            if result["lost"]:
                raise BenchError("warm-up %s lost %d of 20 messages: %s" % (mode, result["lost"], result))
        samples = {mode: [] for mode in modes}
        for index in range(self.runs):
            for mode in modes:
                log("mail run %d/%d: %s, %d messages" % (index + 1, self.runs, mode, MAIL_COUNT))
                samples[mode].append(self.mail_run(mode, MAIL_COUNT))
        version = podman("exec", "bench-full", "postconf", "-h", "mail_version", check=False).stdout.strip()
        self.data["mail"] = {"postfix": version, "count": MAIL_COUNT, "sessions": MAIL_SESSIONS, "body": MAIL_BODY,
                             "modes": samples}

    @staticmethod
    def mail_run(mode, count):
        completed = podman("exec", "-i", "bench-full", "python3", "-", mode, str(count), str(MAIL_SESSIONS),
                           str(MAIL_BODY), MAIL_USER, stdin=MAILBENCH.read_text(), check=False)
        if completed.returncode:
            raise BenchError("mail run %s failed: %s" % (mode, completed.stderr[-600:]))
        result = json.loads(completed.stdout.strip().splitlines()[-1])
        result["rate"] = round(result["delivered"] / result["seconds"], 1) if result["seconds"] else 0.0
        return result

    # 6: one postconf call with 20 parameters against 20 postconf -e calls.
    def bench_postconf(self):
        self.ensure(["bench-min"], "minimal")
        samples = {"batch": [], "single": []}
        for index in range(self.runs):
            log("postconf run %d/%d (batch, single)" % (index + 1, self.runs))
            for offset, kind in ((1, "batch"), (2, "single")):
                # New values every run, so both variants really write main.cf.
                values = {name: value + 2 * index + offset for name, value in POSTCONF_BASE.items()}
                run = run_playbook("postconf-%s" % kind, ["bench-min"], "postconf-%s" % kind,
                                   extra_vars={"bench_parameters": values})
                if run["rc"]:
                    raise BenchError("postconf %s failed, see %s" % (kind, run["log"]))
                samples[kind].append(run)
        self.data["postconf"] = samples

    @staticmethod
    def checked(run):
        if run["rc"]:
            raise BenchError("%s failed, see %s" % (run["label"], run["log"]))
        return run

    def run(self, selected):
        order = [name for name in NAMES if name in selected]
        if "noop" in order and "floor" in order:
            order.remove("floor")  # measured inside noop, interleaved with the re-runs
        for name in order:
            log("benchmark: %s" % name)
            try:
                getattr(self, "bench_%s" % name)()
            except BenchError as error:
                log("benchmark %s not measured: %s" % (name, error))
                self.errors[name] = str(error)
