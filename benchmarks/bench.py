# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""postmaster.mail benchmark suite. Run it with ./benchmarks/run (see benchmarks/README.md).

Starts its own Podman containers (all named bench-*), measures, prints a markdown table,
writes benchmarks/results/latest.json and latest.md, and removes its containers at the
end, also after Ctrl-C or a failure.

This file is the entry point only: lab.py holds the containers, runner.py the benchmarks
(playbook.py runs one ansible-playbook, workloads.py says what runs), report.py the figures.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import signal
import sys
import time
from pathlib import Path

from common import LOGS, PKI, RESULTS, log
from lab import base_image, environment_note
from report import render_markdown, summarize
from runner import NAMES, Suite


def render(path):
    """The markdown report of a saved result, its figures recomputed with today's targets."""
    saved = json.loads(path.read_text())
    saved.setdefault("image", base_image(saved.get("suite", "bookworm")))
    return render_markdown(saved, summarize(saved["samples"])[0])


def measure(args, selected):
    """Run the selected benchmarks, clean up, write results/latest.* and a copy named after the start."""
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
    suite = Suite(args.runs, args.suite)
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
    rows, figures = summarize(suite.data)
    result = {"environment": env, "runs": args.runs, "suite": args.suite, "image": suite.lab.image,
              "selected": selected, "figures": figures,
              "table": rows, "errors": suite.errors, "samples": suite.data,
              "minutes": round((finished - started) / 60, 2)}
    markdown = render_markdown(result, rows, (finished - started) / 60)
    stamp = started_at.strftime("%Y%m%dT%H%M%SZ")
    for name in ("latest", stamp):
        (RESULTS / ("%s.json" % name)).write_text(json.dumps(result, indent=1, default=str))
        (RESULTS / ("%s.md" % name)).write_text(markdown)
    print(markdown)
    log("written: %s and %s" % (RESULTS / "latest.json", RESULTS / "latest.md"))
    return status or (1 if suite.errors else 0)


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
        print(render(args.render))
        return 0
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return measure(args, [name for name in NAMES if name in (args.only or NAMES)])


if __name__ == "__main__":
    sys.exit(main())
