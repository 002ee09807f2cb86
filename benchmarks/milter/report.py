"""Turn the raw lines of benchmarks/milter/run into a Markdown report: python3 report.py RAW.txt"""

from __future__ import annotations

import collections
import statistics
import sys

LABELS = {
    "none": "(a) no milter",
    "role": "(r) rspamd as the rspamd role configures it: DKIM signing, DKIM/SPF/DMARC checks",
    "rspamd": "(b) rspamd configured by hand (the first comparison)",
    "opendkim": "(c) OpenDKIM + OpenDMARC + policyd-spf",
}
HEADLINE = "role"
TARGET = 0.7


def fields(line):
    return dict(word.split("=", 1) for word in line.split()[1:] if "=" in word)


def main(path):
    results = collections.defaultdict(dict)
    packages, headers, down, installed, load = [], [], [], [], []
    with open(path, encoding="utf-8") as raw:
        for line in raw:
            line = line.rstrip("\n")
            if line.startswith("RESULT "):
                f = fields(line)
                results[int(f["run"])][f["mode"]] = f
            elif line.startswith("PACKAGE "):
                packages.append(line.split()[1:])
            elif line.startswith("HEADER "):
                headers.append(line[len("HEADER "):])
            elif line.startswith("LOAD "):
                load.append(line[len("LOAD "):])
            elif line.startswith("FORGED "):
                down.append(line)
            elif line.startswith("DOWN "):
                down.append(line[len("DOWN "):])
            elif line.startswith("VERSION "):
                installed.append(line.split()[1:])

    out = []
    if packages:
        suites = list(dict.fromkeys(p[0] for p in packages))
        names = list(dict.fromkeys(p[1] for p in packages))
        version = {(p[0], p[1]): (p[2] if len(p) > 2 else "none") for p in packages}
        out.append("| package | " + " | ".join(suites) + " |")
        out.append("|---|" + "---|" * len(suites))
        for name in names:
            out.append("| %s | %s |" % (name, " | ".join(version[(s, name)] for s in suites)))
        out.append("")
    if installed:
        out.append("Measured with (bookworm): " + ", ".join("%s %s" % tuple(v) for v in installed) + ".")
        out.append("")

    runs = sorted(results)
    details = []
    modes = [m for m in LABELS if any(m in results[r] for r in runs)]
    headline = []
    out.append("| path | msg/s per run | median msg/s | median ratio to (a) | delivered (of sent) | "
               "memory after the run, MiB: RSS summed / PSS |")
    out.append("|---|---|---|---|---|---|")
    for mode in modes:
        rates, ratios, delivered, rss, detail = [], [], [], [], ""
        for run in runs:
            f = results[run].get(mode)
            if not f:
                continue
            rate = int(f["delivered"]) / float(f["seconds"])
            rates.append(rate)
            delivered.append("%s/%s" % (f["delivered"], f["count"]))
            rss.append("%s / %s" % (f["rss_mib"], f.get("pss_mib", "?")))
            detail = f.get("memory", "")
            base = results[run].get("none")
            if base:
                ratios.append(rate / (int(base["delivered"]) / float(base["seconds"])))
        ratio = statistics.median(ratios) if ratios else float("nan")
        if mode == HEADLINE:
            lost = sum(int(results[run][mode]["count"]) - int(results[run][mode]["delivered"])
                       for run in runs if mode in results[run])
            headline.append("**%s: %.2f× the path without a milter** (median of %d runs: %s; target ≥ %.1f: %s), "
                            "%d lost." % (LABELS[mode], ratio, len(ratios), ", ".join("%.2f" % r for r in ratios),
                                          TARGET, "met" if ratio >= TARGET else "missed", lost))
        verdict = "" if mode == "none" else (" (target ≥ %.1f: %s)" % (TARGET, "met" if ratio >= TARGET else "missed"))
        out.append("| %s | %s | %.0f | %.2f%s | %s | %s |" % (
            LABELS[mode], ", ".join("%.0f" % r for r in rates), statistics.median(rates), ratio, verdict,
            ", ".join(delivered), "-" if mode == "none" else ", ".join(rss)))
        if detail:
            details.append("- %s, last run, per daemon (processes: RSS/PSS MiB): %s" % (LABELS[mode], detail.replace(",", ", ")))
    out.append("")
    if headline:
        out[out.index("| path | msg/s per run | median msg/s | median ratio to (a) | delivered (of sent) | "
                      "memory after the run, MiB: RSS summed / PSS |"):0] = headline + [""]
    if load:
        out.append("Machine load average (1, 5, 15 min) " + "; ".join(load) + ".")
        out.append("")
    if details:
        out.extend(details)
        out.append("")
    if headers:
        out.append("Headers of one delivered message per candidate (hop 2 checked what hop 1 signed):")
        out.append("")
        out.append("```")
        out.extend(headers)
        out.append("```")
        out.append("")
    if down:
        out.append("Forged sender (p=reject) and milter stopped:")
        out.append("")
        out.append("```")
        out.extend(down)
        out.append("```")
    print("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1])
