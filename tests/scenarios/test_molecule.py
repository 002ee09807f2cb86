"""Every Molecule scenario in molecule/ runs in full (create, converge, idempotence,
verify, destroy) on real Podman containers."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conftest import PROJECT_ROOT

SCENARIOS = sorted(path.parent.name for path in (PROJECT_ROOT / "molecule").glob("*/molecule.yml"))
LOG_DIR = PROJECT_ROOT / ".cache" / "logs"


# scripts/test runs pytest-xdist with `--dist loadscope`: a test file's functions stay on one
# worker (its module-scoped container is converged once), and each class runs on a worker of
# its own, so each Molecule scenario is a class and the scenarios run side by side, the longest
# first (tests/conftest.py keeps this order; on three workers the three start at once). They
# set `prerun: false`, so none copies the collection where another reads it.
class TestMailbox:
    scenario = "mailbox"

    def test_scenario_passes(self):
        run_scenario(self.scenario)


class TestDefault:
    scenario = "default"

    def test_scenario_passes(self):
        run_scenario(self.scenario)


class TestRelay:
    scenario = "relay"

    def test_scenario_passes(self):
        run_scenario(self.scenario)


def test_every_scenario_has_a_class():
    assert sorted(cls.scenario for cls in (TestDefault, TestRelay, TestMailbox)) == SCENARIOS


def run_scenario(scenario):
    assert_no_stale_copy()
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = LOG_DIR / ("molecule-%s.log" % scenario)
    with log.open("w") as output:
        completed = subprocess.run(
            ["molecule", "test", "--scenario-name", scenario],
            cwd=PROJECT_ROOT, stdout=output, stderr=subprocess.STDOUT,
            env=molecule_env(), check=False,
        )
    if completed.returncode != 0:
        tail = log.read_text().splitlines()[-150:]
        pytest.fail("molecule scenario %s failed (full log: %s):\n%s" % (scenario, log, "\n".join(tail)))


def assert_no_stale_copy():
    """Molecule once copied this collection into ~/.ansible/collections, ahead of the checkout
    on the collections path: a copy left there by an older run would be tested instead."""
    copy = Path.home() / ".ansible" / "collections" / "ansible_collections" / "postmaster" / "mail"
    if copy.exists() and copy.resolve() != PROJECT_ROOT.resolve():
        pytest.fail("%s holds an old copy of this collection that Ansible would use instead of the "
                    "checkout: remove it (rm -r %s)" % (copy, copy))


def molecule_env():
    """Without Mitogen even when POSTMASTER_MAIL_MITOGEN=1: under Mitogen's strategy the
    create step of Molecule's Podman driver kept waiting on its async tasks for minutes."""
    env = dict(os.environ, NO_COLOR="1", ANSIBLE_NOCOLOR="1")
    for name in ("ANSIBLE_STRATEGY", "ANSIBLE_STRATEGY_PLUGINS"):
        env.pop(name, None)
    return env
