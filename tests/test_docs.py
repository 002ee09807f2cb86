"""Every module's and plugin's documentation and every role's argument specs render with ansible-doc."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from conftest import PROJECT_ROOT

MODULES = sorted(path.stem for path in (PROJECT_ROOT / "plugins" / "modules").glob("*.py"))
PLUGINS = sorted((kind, path.stem) for kind in ("filter", "lookup")
                 for path in (PROJECT_ROOT / "plugins" / kind).glob("*.py"))
ROLES = sorted(path.parent.parent.name for path in (PROJECT_ROOT / "roles").glob("*/meta/argument_specs.yml"))


def ansible_doc(*args):
    completed = subprocess.run(["ansible-doc", *args], capture_output=True, text=True, check=False,
                               env=dict(os.environ, ANSIBLE_NOCOLOR="1"))
    assert completed.returncode == 0, completed.stderr
    assert "WARNING" not in completed.stderr, completed.stderr
    return completed.stdout


@pytest.mark.parametrize("module", MODULES)
def test_module_doc_renders(module):
    text = ansible_doc("postmaster.mail." + module)
    assert "EXAMPLES" in text and "RETURN VALUES" in text


@pytest.mark.parametrize("kind,plugin", PLUGINS)
def test_plugin_doc_renders(kind, plugin):
    text = ansible_doc("-t", kind, "postmaster.mail." + plugin)
    assert "EXAMPLES" in text and "RETURN VALUES" in text


@pytest.mark.parametrize("role", ROLES)
def test_role_argument_specs_render(role):
    text = ansible_doc("-t", "role", "postmaster.mail." + role)
    assert re.search(r"ENTRY POINT: \W*main\b", text), text[:500]


def test_every_role_has_argument_specs():
    roles = sorted(path.name for path in (PROJECT_ROOT / "roles").iterdir() if path.is_dir())
    assert roles == ROLES
