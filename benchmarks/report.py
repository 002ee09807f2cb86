# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The report: the samples of a run turned into figures (medians, ratios against each
benchmark's baseline, verdicts against TARGETS) and into the markdown report."""

from __future__ import annotations

from common import median
from workloads import FLEET_SIZES, MAIL_COUNT


# Each target is a ratio of medians measured in the same run (issue 16, point 7, for the first three):
# noop-minimal: no-change re-run of the minimal site against the gather_facts+ping floor;
# noop-full: no-change re-run of the full mission against the floor;
# fleet-8: no-change re-run of the minimal site on 8 hosts against 1 host;
# mail-tunnel: mail rate Postfix relays through the stunnel tunnel against relaying in plaintext (at least).
TARGETS = {"noop-minimal": 0.6, "noop-full": 1.3, "fleet-8": 2.0, "mail-tunnel": 0.8}


def per_host(run, key):
    """The largest per-host count of a run; None when the run did not record it."""
    if key not in run:
        return None
    values = list(run[key].values())
    return max(values) if values else 0


def fmt_seconds(value):
    return "-" if value is None else "%.2f s" % value


def fmt_ratio(value):
    return "-" if value is None else "%.2fx" % value


def verdict(value, target, higher_is_better=False):
    if value is None:
        return "not measured"
    good = value >= target if higher_is_better else value <= target
    return "PASS" if good else "MISS"


def summarize(data):
    """Turn the samples into the report's table rows and figures: medians, ratios, verdicts."""
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


def render_markdown(result, rows, minutes=None):
    """The markdown report of result (the dict saved as results/*.json) with its table rows;
    minutes defaults to the saved, rounded duration."""
    env, run_count, selected, errors = result["environment"], result["runs"], result["selected"], result["errors"]
    minutes = result["minutes"] if minutes is None else minutes
    out = []
    out.append("# postmaster.mail benchmark results\n")
    out.append("Run %s, %s runs per figure%s, benchmarks: %s; took %.1f min.\n" % (
        env["date"], run_count, " (first converge: %d)" % min(run_count, 2) if "converge" in selected else "",
        ", ".join(selected), minutes))
    out.append("Machine: %s CPUs (%s), %s GiB RAM, kernel %s; load average at start %s, at end %s; "
               "%d other containers running at start (other jobs share this machine). %s; %s; image %s.\n" % (
                   env["cpus"], env["cpu_model"], env["memory_gib"], env["kernel"],
                   " ".join("%.2f" % v for v in env["load_average_start"]),
                   " ".join("%.2f" % v for v in env["load_average_end"]),
                   env["other_containers_running_at_start"], env["ansible_core"], env["podman"], result["image"]))
    out.append("Every figure is the median of its runs; each ratio is against a baseline measured in the same run. "
               "Times are wall-clock seconds of the whole `ansible-playbook` process.\n")
    out.append("| # | measurement | median | runs | baseline | ratio | target | result |")
    out.append("|---|---|---|---|---|---|---|---|")
    for row in rows:
        out.append("| " + " | ".join(str(cell) for cell in row) + " |")
    out.append("")
    if errors:
        out.append("Not measured:\n")
        for name, error in errors.items():
            out.append("- %s: %s" % (name, error))
        out.append("")
    data = result["samples"]
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
