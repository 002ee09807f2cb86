# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What every part of the benchmark suite shares: its paths, its error and its log line."""

from __future__ import annotations

import statistics
import sys
from pathlib import Path


BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
LOGS = RESULTS / "logs"
PKI = RESULTS / "pki"


class BenchError(Exception):
    """A benchmark could not be measured."""


def log(message):
    print("==> %s" % message, file=sys.stderr, flush=True)


def median(values):
    return statistics.median(values) if values else None
