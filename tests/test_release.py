"""What a release ships besides the code: generated docs in sync, a changelog that
antsibull-changelog accepts, and an execution environment definition that
ansible-builder accepts."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import yaml

from conftest import PROJECT_ROOT

GALAXY = yaml.safe_load((PROJECT_ROOT / "galaxy.yml").read_text())
TARBALL = "%s-%s-%s.tar.gz" % (GALAXY["namespace"], GALAXY["name"], GALAXY["version"])


def run(command, cwd=PROJECT_ROOT, env=None):
    completed = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False,
                               timeout=300, env=dict(os.environ, **(env or {})))
    assert completed.returncode == 0, "%s\n%s%s" % (command, completed.stdout, completed.stderr)
    return completed.stdout


# --- docs/ ----------------------------------------------------------------------------

def test_docs_match_the_sources(tmp_path):
    """docs/ is what scripts/generate-docs writes from DOCUMENTATION and argument specs."""
    run([str(PROJECT_ROOT / "scripts" / "generate-docs"), str(tmp_path)])
    docs = PROJECT_ROOT / "docs"
    generated = {path.name: path.read_text() for path in tmp_path.glob("*.md")}
    committed = {path.name: path.read_text() for path in docs.glob("*.md")}
    assert sorted(committed) == sorted(generated), "run scripts/generate-docs"
    stale = [name for name in generated if generated[name] != committed[name]]
    assert not stale, "docs/ is out of date for %s: run scripts/generate-docs" % ", ".join(stale)


def test_docs_cover_every_module_and_role():
    pages = {path.name for path in (PROJECT_ROOT / "docs").glob("*.md")}
    modules = {path.stem + "_module.md" for path in (PROJECT_ROOT / "plugins" / "modules").glob("*.py")}
    roles = {path.name + "_role.md" for path in (PROJECT_ROOT / "roles").iterdir() if path.is_dir()}
    assert modules | roles | {"README.md"} == pages


# --- changelog --------------------------------------------------------------------------

def test_changelog_lints():
    run(["antsibull-changelog", "lint", "-v"])
    run(["antsibull-changelog", "lint-changelog-yaml", "changelogs/changelog.yaml"])


def test_changelog_has_the_first_release():
    changelog = yaml.safe_load((PROJECT_ROOT / "changelogs" / "changelog.yaml").read_text())
    first = changelog["releases"]["0.1.0"]
    modules = {path.stem for path in (PROJECT_ROOT / "plugins" / "modules").glob("*.py")}
    roles = {path.name for path in (PROJECT_ROOT / "roles").iterdir()}
    playbooks = {path.stem for path in (PROJECT_ROOT / "playbooks").glob("*.yml")}
    assert {module["name"] for module in first["modules"]} == modules
    assert {role["name"] for role in first["objects"]["role"]} == roles
    assert {playbook["name"] for playbook in first["objects"]["playbook"]} == playbooks
    assert "## v0\\.1\\.0" in (PROJECT_ROOT / "CHANGELOG.md").read_text()


# --- execution environment ----------------------------------------------------------------

def test_execution_environment_is_valid_for_ansible_builder():
    from ansible_builder.user_definition import UserDefinition

    definition = UserDefinition(str(PROJECT_ROOT / "execution-environment.yml"))
    definition.validate()  # ansible-builder's JSON schema, then its own checks
    assert definition.version == 3

    dependencies = definition.raw["dependencies"]
    requirements = (PROJECT_ROOT / "requirements.txt").read_text()
    core_pin = re.search(r"^ansible-core==\S+$", requirements, re.M).group(0)
    assert dependencies["ansible_core"]["package_pip"] == core_pin
    # The tarball it installs is the one `ansible-galaxy collection build` writes now.
    assert [entry["src"] for entry in definition.additional_build_files] == [TARBALL]
    assert dependencies["galaxy"]["collections"] == [{"name": "collections/" + TARBALL, "type": "file"}]


def test_execution_environment_build_context_installs_the_collection(tmp_path):
    """ansible-builder writes the build context (no image is built), and the galaxy
    requirements it wrote install the collection as the image build would."""
    shutil.copy(PROJECT_ROOT / "execution-environment.yml", tmp_path)
    run(["ansible-galaxy", "collection", "build", "--output-path", str(tmp_path), str(PROJECT_ROOT)])
    run(["ansible-builder", "create", "-f", "execution-environment.yml", "--context", "context"], cwd=tmp_path)
    build = tmp_path / "context" / "_build"
    assert (build / "collections" / TARBALL).is_file()
    assert "ansible-galaxy collection install" in (tmp_path / "context" / "Containerfile").read_text()
    installed = tmp_path / "installed"
    run(["ansible-galaxy", "collection", "install", "--offline", "-r", "requirements.yml", "-p", str(installed)],
        cwd=build, env={"ANSIBLE_COLLECTIONS_PATH": str(installed)})
    assert (installed / "ansible_collections" / "postmaster" / "mail" / "MANIFEST.json").is_file()
