# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""postmaster.mail benchmark suite. Run it with ./benchmarks/run (see benchmarks/README.md).

Starts its own Podman containers (all named bench-*), measures, prints a markdown table,
writes benchmarks/results/latest.json and latest.md, and removes its containers at the
end, also after Ctrl-C or a failure.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import importlib.util
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path


BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
LOGS = RESULTS / "logs"
PKI = RESULTS / "pki"
PODMAN = shutil.which("podman") or "podman"
PODMAN_COUNT = BENCH / "lib" / "podman-count"
MAILBENCH = BENCH / "lib" / "mailbench.py"

NAMES = ["floor", "converge", "noop", "fleet", "mail", "postconf", "mitogen"]
PREFIX = "bench-"
HOSTNAME = "mail.bench.test"
FLEET_SIZES = [1, 2, 4, 8]
MAIL_COUNT = 1000
MAIL_SESSIONS = 10
MAIL_BODY = 1024
MAIL_USER = "carol"


def load_mailbench():
    """benchmarks/lib/mailbench.py as a module: it runs in the container, and its routes
    must match the full mission's relay set-up here."""
    spec = importlib.util.spec_from_file_location("postmaster_mailbench", MAILBENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RELAY_DOMAINS = load_mailbench().RELAY_DOMAINS
TARGETS = {"noop-minimal": 1.3, "noop-full": 1.6, "fleet-8": 2.5, "mail-tunnel": 0.8}

# Minimal site: Postfix, s-nail and a Maildir for one user.
MINIMAL_VARS = {
    "postfix_myhostname": HOSTNAME,
    "postfix_mydomain": "bench.test",
    "maildir_users": ["alice"],
}
USERS = {"minimal": ["alice"], "full": ["alice", "bob", "carol"]}


def full_vars(name):
    """Full mission: TLS on 25/587/465 with a client certificate, two TLS policies, a relay
    through a stunnel tunnel with SASL, three Maildirs. The tunnel leads to this host's own
    port 465, so it is also the tunnel the mail benchmark measures.

    Two loopback listeners and two maps let the mail benchmark relay on this one host:
    mail injected on 10025 skips address mapping, so mail for tunnel.bench.test leaves
    through the relayhost (the tunnel) and mail for plain.bench.test through the transport
    map to 10026, in plaintext; on its way back in (465 or 10026) the virtual alias map
    turns either address into a local user."""
    return {
        "postmaster_mail_tls": True,
        "tls_controller_dir": str(PKI / name),
        "tls_server_names": [HOSTNAME, "localhost"],
        "tls_client_certificate_enabled": True,
        "postfix_myhostname": HOSTNAME,
        "postfix_mydomain": "bench.test",
        "maildir_users": USERS["full"],
        "postfix_tls_policies": [
            {"destination": "example.org", "level": "secure", "match": [".example.org"]},
            {"destination": "[mx.example.net]:25", "level": "encrypt",
             "protocols": ["!SSLv2", "!SSLv3", "!TLSv1", "!TLSv1.1"]},
        ],
        "stunnel_tunnels": [{
            "name": "hub", "accept": "127.0.0.1:10465", "connect": "127.0.0.1:465",
            "ca_file": "/etc/postfix/tls/ca.pem", "check_host": HOSTNAME,
        }],
        "postfix_relay": {
            "host": HOSTNAME, "method": "stunnel", "tunnel_port": 10465,
            "username": "edge@bench.test", "password": "bench-S3cret",
        },
        "postfix_main_cf": {
            "virtual_alias_maps": "inline:{@%s=%s@localhost, @%s=%s@localhost}" % (
                RELAY_DOMAINS["relay-tunnel"], MAIL_USER, RELAY_DOMAINS["relay-plain"], MAIL_USER),
            "transport_maps": "inline:{%s=smtp:[127.0.0.1]:10026}" % RELAY_DOMAINS["relay-plain"],
        },
        "postfix_master_cf_services": [
            {"name": "127.0.0.1:10025", "type": "inet", "private": False, "chroot": True, "command": "smtpd",
             "options": {"syslog_name": "postfix/bench-inject", "receive_override_options": "no_address_mappings",
                         "smtpd_tls_security_level": "none"}},
            {"name": "127.0.0.1:10026", "type": "inet", "private": False, "chroot": True, "command": "smtpd",
             "options": {"syslog_name": "postfix/bench-plain", "smtpd_tls_security_level": "none"}},
        ],
    }


PLAYBOOKS = {
    "floor": BENCH / "playbooks" / "floor.yml",
    "minimal": ROOT / "playbooks" / "site.yml",
    "full": BENCH / "playbooks" / "full.yml",
    "postconf-batch": BENCH / "playbooks" / "postconf_batch.yml",
    "postconf-single": BENCH / "playbooks" / "postconf_single.yml",
}
# 20 main.cf parameters for the postconf benchmark: limits and timeouts, harmless to change.
POSTCONF_BASE = {
    "smtpd_recipient_limit": 1000, "smtpd_timeout": 300, "smtpd_hard_error_limit": 20,
    "smtpd_soft_error_limit": 10, "smtpd_junk_command_limit": 100, "smtpd_history_flush_threshold": 100,
    "smtp_connect_timeout": 30, "smtp_helo_timeout": 300, "smtp_mail_timeout": 300, "smtp_rcpt_timeout": 300,
    "smtp_data_init_timeout": 120, "smtp_data_xfer_timeout": 180, "smtp_data_done_timeout": 600,
    "smtp_quit_timeout": 300, "maximal_queue_lifetime": 5, "bounce_queue_lifetime": 5,
    "header_size_limit": 102400, "line_length_limit": 2048, "duplicate_filter_limit": 1000,
    "queue_run_delay": 300,
}


class BenchError(Exception):
    """A benchmark could not be measured."""


def log(message):
    print("==> %s" % message, file=sys.stderr, flush=True)


def median(values):
    return statistics.median(values) if values else None


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

    def ensure(self, names, kind, template=None):
        """Make sure each container exists and has been converged to kind (not measured).

        With template (a container already converged to kind), the new containers start
        from a snapshot of it instead of the base image, and the caller's first run (a
        warm-up, not measured) shows whether they need any change."""
        missing = [name for name in names if self.converged.get(name) != kind]
        if not missing:
            return
        if template and self.converged.get(template) == kind:
            image = "localhost/%s%s:snapshot" % (PREFIX, kind)
            log("starting %s from a snapshot of %s (not measured)" % (", ".join(missing), template))
            self.images.add(image)
            podman("commit", "-q", template, image)
            self.fresh(missing, image)
            for name in missing:  # checked by the caller's first (warm-up) run
                self.converged[name] = kind
            return
        log("preparing %s (%s converge, not measured)" % (", ".join(missing), kind))
        self.fresh(missing)
        for name in missing:
            self.add_users(name, USERS[kind])
        run = run_playbook(kind, missing, "prepare-%s" % kind)
        if run["rc"]:
            raise BenchError("preparing %s failed, see %s" % (", ".join(missing), run["log"]))
        for name in missing:
            self.converged[name] = kind

    def cleanup(self):
        if self.created:
            log("removing containers: %s" % ", ".join(sorted(self.created)))
            # --ignore: one container already gone must not keep the others.
            podman("rm", "--force", "--ignore", "-t", "0", *sorted(self.created), check=False, timeout=300)
            self.created.clear()
        for image in sorted(self.images):
            podman("rmi", "-f", image, check=False)
        self.images.clear()


def write_inventory(hosts, connection="containers.podman.podman"):
    inventory = {"all": {"hosts": {}}}
    for name, kind in hosts:
        variables = {"ansible_connection": connection,
                     "ansible_python_interpreter": "/usr/bin/python3"}
        if kind == "full":
            variables.update(full_vars(name))
        elif kind != "floor":
            variables.update(MINIMAL_VARS)
        inventory["all"]["hosts"][name] = variables
    # JSON is YAML too, and the YAML inventory plugin reads .json files.
    path = RESULTS / ("inventory-%s%s.json" % ("-".join(sorted({host[1] for host in hosts})),
                                               "-" + connection if "." not in connection else ""))
    path.write_text(json.dumps(inventory, indent=1))
    return path


LABELS = collections.Counter()


def mitogen_strategy_dir():
    spec = importlib.util.find_spec("ansible_mitogen")
    if spec is None:
        raise BenchError("Mitogen is not installed in this Python (it comes from requirements.txt)")
    return str(Path(spec.submodule_search_locations[0]) / "plugins" / "strategy")


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
    calls = collections.Counter()
    if podman_log.exists():
        for line in podman_log.read_text().splitlines():
            words = line.split()
            if not words:
                continue
            target = words[2].split(":")[0] if words[0] == "cp" and len(words) > 2 else (words[1] if len(words) > 1 else "?")
            calls[target] += 1
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


PROFILE_LINE = re.compile(r"^(.*?) -+ ?(\d+\.\d+)s\s*$")


def parse_profile(output):
    """profile_tasks' summary lines (after the play recap) as [name, seconds]."""
    lines = output.split("PLAY RECAP", 1)[-1].splitlines()
    profile = []
    for line in lines:
        match = PROFILE_LINE.match(line.strip())
        if match:
            profile.append([match.group(1).strip(), float(match.group(2))])
    return profile


def per_host(run, key):
    """The largest per-host count of a run; None when the run did not record it."""
    if key not in run:
        return None
    values = list(run[key].values())
    return max(values) if values else 0


class Suite:
    """Runs the selected benchmarks and collects their figures."""

    def __init__(self, args):
        self.args = args
        self.runs = args.runs
        self.lab = Lab("localhost/debian-%s:base" % args.suite)
        self.data = {}
        self.errors = {}

    # 1 and 3: the floor, and the no-change re-runs measured against it, interleaved.
    def bench_floor(self):
        self.lab.ensure(["bench-min"], "minimal")
        samples = []
        run_playbook("floor", ["bench-min"], "floor-warmup", host_kind="floor")
        for index in range(self.runs):
            log("floor run %d/%d" % (index + 1, self.runs))
            samples.append(self.checked(run_playbook("floor", ["bench-min"], "floor", host_kind="floor")))
        self.data["floor"] = {"runs": samples}

    def bench_noop(self):
        self.lab.ensure(["bench-min"], "minimal")
        self.lab.ensure(["bench-full"], "full")
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
        self.lab.ensure(["bench-min"], "minimal")
        self.lab.ensure(["bench-full"], "full")
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
            podman("rm", "--force", "--ignore", "-t", "0", "bench-apt", check=False)
            self.lab.created.discard("bench-apt")
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
        self.lab.ensure(["bench-min"], "minimal")
        self.lab.ensure(hosts[1:], "minimal", template="bench-min")
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
        self.lab.ensure(["bench-full"], "full")
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

    def mail_run(self, mode, count):
        completed = podman("exec", "-i", "bench-full", "python3", "-", mode, str(count), str(MAIL_SESSIONS),
                           str(MAIL_BODY), MAIL_USER, stdin=MAILBENCH.read_text(), check=False)
        if completed.returncode:
            raise BenchError("mail run %s failed: %s" % (mode, completed.stderr[-600:]))
        result = json.loads(completed.stdout.strip().splitlines()[-1])
        result["rate"] = round(result["delivered"] / result["seconds"], 1) if result["seconds"] else 0.0
        return result

    # 6: one postconf call with 20 parameters against 20 postconf -e calls.
    def bench_postconf(self):
        self.lab.ensure(["bench-min"], "minimal")
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


def environment_note(started):
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


def fmt_seconds(value):
    return "-" if value is None else "%.2f s" % value


def fmt_ratio(value):
    return "-" if value is None else "%.2fx" % value


def verdict(value, target, higher_is_better=False):
    if value is None:
        return "not measured"
    good = value >= target if higher_is_better else value <= target
    return "PASS" if good else "MISS"


def summarize(suite):
    """Turn the samples into figures: medians, ratios, verdicts."""
    data = suite.data
    rows = []
    figures = {}

    def secs(runs):
        return median([run["seconds"] for run in runs])

    floor = secs(data["floor"]["runs"]) if "floor" in data else None
    if floor is not None:
        figures["floor"] = floor
        rows.append(["1 floor", "gather_facts + ping, 1 host", fmt_seconds(floor), len(data["floor"]["runs"]),
                     "itself", "1.00x", "", ""])
    if "converge" in data:
        conv = data["converge"]
        apt = secs(conv["apt"])
        figures["converge"] = {"apt": apt}
        rows.append(["2 first converge", "baseline: apt-get update + install postfix s-nail stunnel4",
                     fmt_seconds(apt), conv["runs_used"], "itself", "1.00x", "", ""])
        for kind, text in (("minimal", "minimal site (postfix, s-nail, Maildir)"),
                           ("full", "full mission (TLS, policies, SASL, stunnel, 3 Maildirs)")):
            value = secs(conv[kind])
            figures["converge"][kind] = {"seconds": value, "ratio": value / apt}
            rows.append(["2 first converge", text, fmt_seconds(value), conv["runs_used"], "apt-get",
                         fmt_ratio(value / apt), "", ""])
    if "noop" in data:
        figures["noop"] = {}
        for kind, text, key in (("minimal", "no-change re-run, minimal site", "noop-minimal"),
                                ("full", "no-change re-run, full mission", "noop-full")):
            runs = data["noop"][kind]
            value = secs(runs)
            ratio = value / floor if floor else None
            changed = max(run["changed"] for run in runs)
            target = TARGETS[key]
            result = verdict(ratio, target)
            if changed:
                result += ", changed=%d" % changed
            figures["noop"][kind] = {"seconds": value, "ratio": ratio, "target": target, "verdict": result,
                                     "max_changed": changed,
                                     "first_rerun_changed": data["noop"]["first_rerun_changed"][kind],
                                     "remote_modules": median([per_host(run, "remote_modules_per_host") for run in runs]),
                                     "podman_calls": median([per_host(run, "podman_calls_per_host") for run in runs])}
            rows.append(["3 no-change", "%s (changed=0: %s)" % (text, "yes" if not changed else "NO"),
                         fmt_seconds(value), len(runs), "floor", fmt_ratio(ratio), "<= %.1fx" % target, result])
    if "fleet" in data:
        sizes = data["fleet"]["sizes"]
        one = secs(sizes["1"])
        figures["fleet"] = {}
        for size in FLEET_SIZES:
            runs = sizes[str(size)]
            value = secs(runs)
            ratio = value / one
            changed = max(run["changed"] for run in runs)
            target = TARGETS["fleet-8"] if size == 8 else None
            result = verdict(ratio, target) if target else ""
            if changed:
                result = (result + ", " if result else "") + "changed=%d" % changed
            figures["fleet"][str(size)] = {"seconds": value, "ratio_to_1": ratio,
                                           "ratio_to_floor": value / floor if floor else None,
                                           "max_changed": changed, "verdict": result}
            rows.append(["4 fleet", "no-change minimal site, %d host%s (forks 8)" % (size, "s" if size > 1 else ""),
                         fmt_seconds(value), len(runs), "1 host", fmt_ratio(ratio),
                         "<= %.1fx" % target if target else "", result])
    if "mail" in data:
        modes = data["mail"]["modes"]
        figures["mail"] = {}

        def rate(mode):
            return median([run["rate"] for run in modes[mode]])

        for mode, text, base in (
                ("relay-plain", "Postfix relays in plaintext to 10026 and takes the mail back in",
                 "relay-plain"),
                ("relay-tunnel", "Postfix relays through the stunnel tunnel to 465 and takes the mail back in",
                 "relay-plain"),
                ("source-plain", "smtp-source, plaintext to 25, one connection per message", "source-plain"),
                ("source-tunnel", "smtp-source through the stunnel tunnel to 465, one connection per message",
                 "source-plain"),
                ("source-plain-reuse", "smtp-source, plaintext to 25, one connection per session (-d)",
                 "source-plain-reuse"),
                ("source-tunnel-reuse", "smtp-source through the stunnel tunnel, one connection per session (-d)",
                 "source-plain-reuse"),
                ("python-plain", "Python smtplib, plaintext to 25", "python-plain"),
                ("python-starttls", "Python smtplib, STARTTLS on 25", "python-plain")):
            if mode not in modes:  # a result saved before the mode existed
                continue
            value = rate(mode)
            ratio = value / rate(base) if rate(base) else None
            lost = sum(run["lost"] for run in modes[mode])
            errors = sum(run["sender_errors"] for run in modes[mode])
            result = ""
            if mode == "relay-tunnel":
                result = verdict(ratio, TARGETS["mail-tunnel"], higher_is_better=True)
            elif mode in ("source-tunnel", "source-tunnel-reuse"):
                result = "no target: the tunnel's cost alone"
            if mode != base or lost:
                result = (result + ", " if result else "") + ("0 lost" if not lost else "%d LOST" % lost)
            if errors:
                result += ", %d sender errors" % errors
            figures["mail"][mode] = {"messages_per_second": value, "ratio": ratio, "lost_total": lost,
                                     "sender_errors": errors,
                                     "seconds": median([run["seconds"] for run in modes[mode]])}
            rows.append(["5 mail", "%s, %d msgs" % (text, MAIL_COUNT), "%.0f msg/s" % value, len(modes[mode]),
                         base, fmt_ratio(ratio),
                         ">= %.1fx, 0 lost" % TARGETS["mail-tunnel"] if mode == "relay-tunnel" else "0 lost",
                         result or "0 lost"])
    if "postconf" in data:
        batch = secs(data["postconf"]["batch"])
        single = secs(data["postconf"]["single"])
        figures["postconf"] = {"batch": batch, "single": single, "ratio": single / batch}
        rows.append(["6 postconf", "20 parameters, one postmaster.mail.postconf call", fmt_seconds(batch),
                     len(data["postconf"]["batch"]), "itself", "1.00x", "", ""])
        rows.append(["6 postconf", "20 parameters, a loop of 20 `postconf -e` items", fmt_seconds(single),
                     len(data["postconf"]["single"]), "batch", fmt_ratio(single / batch), "", ""])
    if "mitogen" in data:
        plain = secs(data["mitogen"]["plain-floor"])
        figures["mitogen"] = {"plain_floor": plain}
        rows.append(["7 Mitogen", "floor without Mitogen (baseline of this benchmark)", fmt_seconds(plain),
                     len(data["mitogen"]["plain-floor"]), "itself", "1.00x", "", ""])
        for kind, text in (("floor", "gather_facts + ping"), ("minimal", "no-change re-run, minimal site"),
                           ("full", "no-change re-run, full mission")):
            runs = data["mitogen"][kind]
            value = secs(runs)
            changed = max(run["changed"] for run in runs)
            figures["mitogen"][kind] = {"seconds": value, "ratio": value / plain, "max_changed": changed}
            rows.append(["7 Mitogen", "%s through Mitogen (changed=0: %s)" % (text, "yes" if not changed else "NO"),
                         fmt_seconds(value), len(runs), "plain floor", fmt_ratio(value / plain), "", ""])
    return rows, figures


def render_markdown(suite, rows, env, minutes, selected):
    out = []
    out.append("# postmaster.mail benchmark results\n")
    out.append("Run %s, %s runs per figure%s, benchmarks: %s; took %.1f min.\n" % (
        env["date"], suite.runs, " (first converge: %d)" % min(suite.runs, 2) if "converge" in selected else "",
        ", ".join(selected), minutes))
    out.append("Machine: %s CPUs (%s), %s GiB RAM, kernel %s; load average at start %s, at end %s; "
               "%d other containers running at start (other jobs share this machine). %s; %s; image %s.\n" % (
                   env["cpus"], env["cpu_model"], env["memory_gib"], env["kernel"],
                   " ".join("%.2f" % v for v in env["load_average_start"]),
                   " ".join("%.2f" % v for v in env["load_average_end"]),
                   env["other_containers_running_at_start"], env["ansible_core"], env["podman"], suite.lab.image))
    out.append("Every figure is the median of its runs; each ratio is against a baseline measured in the same run. "
               "Times are wall-clock seconds of the whole `ansible-playbook` process.\n")
    out.append("| # | measurement | median | runs | baseline | ratio | target | result |")
    out.append("|---|---|---|---|---|---|---|---|")
    for row in rows:
        out.append("| " + " | ".join(str(cell) for cell in row) + " |")
    out.append("")
    if suite.errors:
        out.append("Not measured:\n")
        for name, error in suite.errors.items():
            out.append("- %s: %s" % (name, error))
        out.append("")
    data = suite.data
    if set(data) & {"floor", "converge", "noop", "fleet", "postconf"}:
        out.append("## Round trips per host and run\n")
        out.append("Remote module executions: task results and loop items that ran on the managed host "
                   "(the bench_count callback; skipped tasks and controller-only actions such as set_fact "
                   "not counted). Podman calls: `podman exec`, `mount` and `cp` the connection plugin made "
                   "for that host, each a round trip. Delegated: module executions for that host that ran "
                   "on the control node (the tls role's certificate checks); no round trip, but each costs "
                   "a local Python process. Medians per host and run.\n")
        out.append("| run | remote module executions | podman calls | delegated to the control node | changed |")
        out.append("|---|---|---|---|---|")

        def count_row(text, runs):
            if not runs:
                return
            cells = []
            for key in ("remote_modules_per_host", "podman_calls_per_host", "delegated_modules_per_host"):
                values = [per_host(run, key) for run in runs]
                cells.append("-" if None in values else "%g" % median(values))
            out.append("| %s |" % " | ".join([text] + cells + [str(max(run["changed"] for run in runs))]))

        notes = []
        if "floor" in data:
            count_row("floor (gather_facts + ping)", data["floor"]["runs"])
        if "converge" in data:
            count_row("first converge, minimal", data["converge"]["minimal"])
            count_row("first converge, full", data["converge"]["full"])
        if "noop" in data:
            count_row("no-change re-run, minimal", data["noop"]["minimal"])
            count_row("no-change re-run, full", data["noop"]["full"])
            notes.append("First re-run after the converge (unmeasured warm-up): changed=%d (minimal), changed=%d (full)."
                         % (data["noop"]["first_rerun_changed"]["minimal"], data["noop"]["first_rerun_changed"]["full"]))
        if "fleet" in data:
            for size in FLEET_SIZES:
                count_row("fleet, %d host%s (per host)" % (size, "s" if size > 1 else ""), data["fleet"]["sizes"][str(size)])
            notes.append("Fleet warm-up run on all %d hosts (hosts 2-%d are snapshots of bench-min): changed=%d."
                         % (max(FLEET_SIZES), max(FLEET_SIZES), data["fleet"]["first_rerun_changed"]))
        if "postconf" in data:
            count_row("postconf, 1 batch call", data["postconf"]["batch"])
            count_row("postconf, 20 single calls", data["postconf"]["single"])
        out.append("")
        if notes:
            out.append("\n".join(notes) + "\n")
        if "noop" in data:
            for kind in ("minimal", "full"):
                last = data["noop"][kind][-1]
                out.append("### profile_tasks top 15, last no-change run, %s (%.2f s)\n" % (kind, last["seconds"]))
                out.append("| task | seconds |")
                out.append("|---|---|")
                for name, seconds in last["profile_tasks"][:15]:
                    out.append("| %s | %.2f |" % (name.replace("|", "\\|"), seconds))
                out.append("")
    if "mail" in data:
        mail = data["mail"]
        out.append("## Mail runs\n")
        out.append("Postfix %s in bench-full; %d messages per run, %d sessions at a time, one message per SMTP "
                   "session (the -reuse modes: all of a session's messages over one connection), %d-byte "
                   "bodies, all to one local user's Maildir over loopback; time from the first "
                   "connection until the last message is in Maildir/new. smtp-source cannot speak STARTTLS, so "
                   "STARTTLS is measured with a Python smtplib sender and compared with the same sender in "
                   "plaintext. The relay modes hand the mail to Postfix on 10025, whose SMTP client relays "
                   "it (through the tunnel, or in plaintext to 10026) back to this host; the tunnel's target "
                   "is measured there, as Postfix uses the tunnel. The source-tunnel modes measure the "
                   "tunnel's cost alone, with smtp-source as its client.\n"
                   % (mail["postfix"], mail["count"], mail["sessions"], mail["body"]))
        out.append("| mode | msg/s per run | seconds per run | delivered per run | sender errors |")
        out.append("|---|---|---|---|---|")
        for mode, runs in mail["modes"].items():
            out.append("| %s | %s | %s | %s | %s |" % (
                mode, " ".join("%.0f" % run["rate"] for run in runs), " ".join("%.1f" % run["seconds"] for run in runs),
                " ".join(str(run["delivered"]) for run in runs), sum(run["sender_errors"] for run in runs)))
        out.append("")
    if "converge" in data:
        out.append("First converge runs: %s runs (min(N, 2): each run starts fresh containers and installs "
                   "packages from the Debian mirror, so it is slow and depends on the mirror).\n"
                   % data["converge"]["runs_used"])
    return "\n".join(out) + "\n"


def main():
    parser = argparse.ArgumentParser(prog="benchmarks/run", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (default 5; first converge: min(N, 2))")
    parser.add_argument("--only", nargs="+", choices=NAMES, metavar="NAME",
                        help="run only these benchmarks: %s" % ", ".join(NAMES))
    parser.add_argument("--suite", default="bookworm", help="Debian suite of the base image (default bookworm)")
    parser.add_argument("--render", metavar="JSON", type=Path,
                        help="print the markdown report of a saved result (results/*.json) and exit")
    args = parser.parse_args()
    if args.render:
        saved = json.loads(args.render.read_text())
        suite = Suite(argparse.Namespace(runs=saved["runs"], suite=saved.get("suite", "bookworm")))
        suite.data, suite.errors = saved["samples"], saved["errors"]
        suite.lab.image = saved.get("image", suite.lab.image)
        print(render_markdown(suite, summarize(suite)[0], saved["environment"], saved["minutes"], saved["selected"]))
        return 0
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    selected = [name for name in NAMES if name in (args.only or NAMES)]

    for directory in (RESULTS, LOGS, PKI):
        directory.mkdir(parents=True, exist_ok=True)
    for old in LOGS.iterdir():
        if old.is_file():
            old.unlink()

    def terminate(signum, frame):  # pylint: disable=unused-argument
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    started_at = datetime.datetime.now(datetime.timezone.utc)
    started = time.monotonic()
    env = environment_note(started_at)
    suite = Suite(args)
    status = 0
    try:
        suite.run(selected)
    except KeyboardInterrupt:
        log("interrupted: removing the containers, then writing what was measured so far")
        suite.errors["interrupted"] = "the run was interrupted; only the benchmarks above were measured"
        status = 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # let the clean-up finish
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        suite.lab.cleanup()
        for path in RESULTS.glob("inventory-*.json"):
            path.unlink()
    finished = time.monotonic()
    env["load_average_end"] = list(os.getloadavg())
    rows, figures = summarize(suite)
    markdown = render_markdown(suite, rows, env, (finished - started) / 60, selected)
    result = {"environment": env, "runs": args.runs, "suite": args.suite, "image": suite.lab.image,
              "selected": selected, "figures": figures,
              "table": rows, "errors": suite.errors, "samples": suite.data,
              "minutes": round((finished - started) / 60, 2)}
    stamp = started_at.strftime("%Y%m%dT%H%M%SZ")
    for name in ("latest", stamp):
        (RESULTS / ("%s.json" % name)).write_text(json.dumps(result, indent=1, default=str))
        (RESULTS / ("%s.md" % name)).write_text(markdown)
    print(markdown)
    log("written: %s and %s" % (RESULTS / "latest.json", RESULTS / "latest.md"))
    return status or (1 if suite.errors else 0)


if __name__ == "__main__":
    sys.exit(main())
