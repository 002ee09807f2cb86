"""Shared fixtures: run this collection's modules for real, on this machine,
against Postfix's own binaries and a scratch configuration directory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
COLLECTIONS_DIR = PROJECT_ROOT / ".cache" / "collections"
POSTFIX_SHARE = Path("/usr/share/postfix")

# The tests' own connection plugin, podman_pipelining (tests/plugins/connection), for every
# ansible-playbook and Molecule run the tests start; scripts/lib.sh's activate sets the same.
TEST_CONNECTION_PLUGINS = str(PROJECT_ROOT / "tests" / "plugins" / "connection")
if TEST_CONNECTION_PLUGINS not in os.environ.get("ANSIBLE_CONNECTION_PLUGINS", "").split(":"):
    os.environ["ANSIBLE_CONNECTION_PLUGINS"] = ":".join(
        path for path in (TEST_CONNECTION_PLUGINS, os.environ.get("ANSIBLE_CONNECTION_PLUGINS")) if path)


def run_module(name, args, check_mode=False, diff=False, env=None):
    """Run postmaster.mail.NAME as Ansible would (a child process reading its
    arguments from a file) and return its JSON result."""
    if args.get("config_dir") and Path(args["config_dir"]).is_dir():
        age_files(args["config_dir"])
    payload = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
    args_file = Path(os.environ.get("TMPDIR", "/tmp")) / ("postmaster-args-%d.json" % os.getpid())
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": payload}))
    environment = dict(os.environ, PYTHONPATH=str(COLLECTIONS_DIR), **(env or {}))
    try:
        completed = subprocess.run(
            [sys.executable, "-m", "ansible_collections.postmaster.mail.plugins.modules." + name,
             str(args_file)],
            capture_output=True, text=True, env=environment, timeout=60, check=False,
        )
    finally:
        args_file.unlink()
    try:
        result = json.loads(completed.stdout)
    except ValueError:
        raise AssertionError("module %s printed no JSON:\n%s\n%s" % (name, completed.stdout, completed.stderr))
    result["rc"] = completed.returncode
    return result


def assert_ok(result):
    assert result["rc"] == 0 and not result.get("failed"), result


def assert_failed(result, *fragments):
    """The module failed with a one-line message that contains every fragment."""
    assert result.get("failed") is True and result["rc"] != 0, result
    assert "\n" not in result["msg"], result["msg"]
    for fragment in fragments:
        assert fragment in result["msg"], result["msg"]


@pytest.fixture
def config_dir(tmp_path):
    """A Postfix configuration directory made from Debian's shipped main.cf and master.cf."""
    if shutil.which("postconf") is None:
        pytest.fail("postconf is not installed: run scripts/bootstrap first")
    directory = tmp_path / "postfix"
    directory.mkdir()
    main_cf = (POSTFIX_SHARE / "main.cf.debian").read_text()
    # myhostname set explicitly so postconf never waits on name resolution.
    main_cf += "myhostname = mail.example.test\nmydestination = $myhostname, localhost\n"
    (directory / "main.cf").write_text(main_cf)
    shutil.copy(POSTFIX_SHARE / "master.cf.dist", directory / "master.cf")
    age_files(directory)
    return directory


@pytest.fixture
def tables(tmp_path):
    """An empty directory for lookup tables."""
    directory = tmp_path / "tables"
    directory.mkdir()
    return directory


def query(config_dir, key, reference):
    """What Postfix finds for KEY in the table, or None."""
    completed = subprocess.run(["postmap", "-c", str(config_dir), "-q", key, reference],
                               capture_output=True, text=True, check=False)
    assert completed.returncode in (0, 1), completed.stderr
    return completed.stdout.rstrip("\n") if completed.returncode == 0 else None


def age_files(directory):
    """Postfix waits while main.cf is younger than about two seconds (it may be half
    written); tests that just wrote it age it instead of sleeping."""
    aged = time.time() - 60
    for path in Path(directory).iterdir():
        os.utime(path, (aged, aged))


def postconf_n(config_dir):
    """main.cf's explicit settings as the real postconf reads them."""
    age_files(config_dir)
    output = subprocess.run(["postconf", "-c", str(config_dir), "-n"], capture_output=True,
                            text=True, check=True).stdout
    values = {}
    for line in output.splitlines():
        name, dummy, value = line.partition(" =")
        values[name] = value.strip()
    values.pop("config_directory", None)
    return values


# Container scenario files by their time in a full run, longest first (the rest follow).
LONGEST_SCENARIO_FILES = ["test_safety.py", "test_drift.py", "test_mailbox_host.py", "test_stunnel.py",
                          "test_faults.py"]


def pytest_collection_modifyitems(items):
    """The longest tests first (Molecule scenarios, then the other container scenarios): under
    `--dist loadscope` (scripts/test) workers take test files and classes in collection order,
    so a long scenario never starts last and holds up the end of the run."""
    def rank(item):
        path = item.nodeid.split("::")[0]
        if path.endswith("scenarios/test_molecule.py"):
            return (0, 0)
        if "/scenarios/" in path:
            name = path.rsplit("/", 1)[1]
            return (1, LONGEST_SCENARIO_FILES.index(name) if name in LONGEST_SCENARIO_FILES else len(LONGEST_SCENARIO_FILES))
        return (2, 0)
    items.sort(key=rank)
