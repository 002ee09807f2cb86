# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark helper, not part of the collection: counts remote module executions.

Enabled by benchmarks/playbook.py (callbacks_enabled = bench_count). Writes a JSON file
(path in BENCH_COUNT_FILE) with, per host: "remote", the module executions that ran on
the managed host (task results and loop items, retries included; skipped results are not
counted); "delegated", module executions delegated to the control node; "controller",
controller-only actions such as set_fact or assert; and the play recap.
"""

from __future__ import annotations

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: bench_count
type: aggregate
short_description: Count remote module executions per host (postmaster.mail benchmarks)
description:
  - Writes per-host counts of module executions on the managed hosts to BENCH_COUNT_FILE.
requirements:
  - enable in configuration
"""

# Actions that run on the control node only: no round trip to the managed host.
CONTROLLER_ACTIONS = frozenset((
    "add_host", "assert", "debug", "fail", "group_by", "import_role", "import_tasks",
    "include_role", "include_tasks", "include_vars", "meta", "pause", "set_fact", "set_stats",
    "validate_argument_spec",
))
LOCAL_NAMES = frozenset(("localhost", "127.0.0.1", "::1"))


class CallbackModule(CallbackBase):
    """Count module executions on managed hosts."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_count"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._hosts = {}
        self._tasks = {}

    def _host(self, name):
        return self._hosts.setdefault(name, {"remote": 0, "delegated": 0, "controller": 0, "skipped": 0})

    @staticmethod
    def _where(result):
        """remote, delegated (a module run on the control node) or controller (no module)."""
        task = result._task  # pylint: disable=protected-access
        action = (task.action or "").rsplit(".", 1)[-1]
        if action in CONTROLLER_ACTIONS:
            return "controller"
        delegated = result._result.get("_ansible_delegated_vars") or {}  # pylint: disable=protected-access
        target = delegated.get("ansible_delegated_host") or task.delegate_to
        if target and (target in LOCAL_NAMES or delegated.get("ansible_connection") == "local"):
            return "delegated"
        return "remote"

    def _record(self, result):
        host = self._host(result._host.get_name())  # pylint: disable=protected-access
        payload = result._result  # pylint: disable=protected-access
        if "results" in payload and isinstance(payload["results"], list):
            executions = sum(1 for item in payload["results"]
                             if isinstance(item, dict) and not item.get("skipped"))
        else:
            executions = 1
        executions *= max(1, int(payload.get("attempts", 1) or 1))
        where = self._where(result)
        host[where] += executions
        if where != "remote":
            return
        name = result._task.get_name()  # pylint: disable=protected-access
        self._tasks[name] = self._tasks.get(name, 0) + executions

    def v2_runner_on_ok(self, result):
        self._record(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result)

    def v2_runner_on_unreachable(self, result):
        self._record(result)

    def v2_runner_on_skipped(self, result):
        self._host(result._host.get_name())["skipped"] += 1  # pylint: disable=protected-access

    def v2_playbook_on_stats(self, stats):
        path = os.environ.get("BENCH_COUNT_FILE")
        if not path:
            return
        recap = {name: stats.summarize(name) for name in sorted(stats.processed)}
        with open(path, "w", encoding="utf-8") as handle:
            json.dump({"hosts": self._hosts, "recap": recap, "remote_tasks": self._tasks}, handle, indent=1)
