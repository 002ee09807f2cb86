"""plugins/module_utils/_maildir.py without Postfix: names, the role's settings, and the
descriptor walk in scratch directories (as root: it makes directories owned by others)."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# See tests/unit/test_maincf.py for why sys.path is set here and not in a conftest.py.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".cache" / "collections"))

from ansible_collections.postmaster.mail.plugins.module_utils._maildir import (  # noqa: E402
    MaildirError,
    apply,
    check_name,
    name_problem,
    open_directory,
    plan,
    settings_problem,
)

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="makes directories owned by other users: run as root")
UID, GID = 4242, 4343


def levels(home, name="Maildir"):
    top = os.path.join(str(home), name)
    return [top] + [os.path.join(top, sub) for sub in ("cur", "new", "tmp")]


def owner_and_mode(path):
    info = os.lstat(path)
    return info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)


# --- names and settings -------------------------------------------------------------------

@pytest.mark.parametrize("name", ["Maildir", ".maildir", "Mail box", "courier-imap.d", "Почта"])
def test_good_names(name):
    assert name_problem(name) == ""
    check_name(name)


@pytest.mark.parametrize("name, why", [
    ("", "non-empty"), (".", "'.'"), ("..", "'..'"), ("a/b", "'/'"), ("Mail\ndir", "line break"),
    ("Mail\rdir", "line break"), ("Mail\x85dir", "line break"), ("Mail\u2028dir", "line break"),
    ("Mail\x00", "control"), ("$HOME", "'$'"), (" Maildir", "white space"), ("Maildir\t", "control"),
    ("x" * 256, "longer"), (["Maildir"], "string"), (None, "string"),
])
def test_bad_names(name, why):
    assert why in name_problem(name)
    with pytest.raises(MaildirError, match="invalid Maildir name .* in name"):
        check_name(name)


def test_role_names_the_variable():
    assert settings_problem("Maildir", ["alice"], "/etc/postfix") == ""
    assert "maildir_name" in settings_problem("a\nb", ["alice"], "/etc/postfix")
    assert "maildir_users must be a list" in settings_problem("Maildir", "alice", "/etc/postfix")
    assert "maildir_users item '-alice'" in settings_problem("Maildir", ["-alice"], "/etc/postfix")
    assert "maildir_users item 'a:b'" in settings_problem("Maildir", ["a:b"], "/etc/postfix")
    assert "maildir_users item 42" in settings_problem("Maildir", [42], "/etc/postfix")
    assert "maildir_postfix_config_dir" in settings_problem("Maildir", [], "etc/postfix")
    assert "maildir_postfix_config_dir" in settings_problem("Maildir", [], "/etc/postfix\n")
    for message in (settings_problem("a\nb", [], "/"), settings_problem("M", "x\ny", "/")):
        assert "\n" not in message


# --- the descriptor walk ------------------------------------------------------------------

@as_root
def test_apply_makes_every_level_and_plan_then_finds_nothing(tmp_path):
    targets = [(str(tmp_path), UID, GID)]
    assert [action for dummy, dummy, dummy, action in plan(targets, "Maildir", 0o700)] == ["create"] * 4
    assert [path for path, dummy, dummy, dummy in apply(targets, "Maildir", 0o700)] == levels(tmp_path)
    for path in levels(tmp_path):
        assert owner_and_mode(path) == (UID, GID, 0o700)
    assert plan(targets, "Maildir", 0o700) == []


@as_root
def test_users_sharing_a_home_the_first_wins(tmp_path):
    apply([(str(tmp_path), UID, GID), (str(tmp_path), UID + 1, GID)], "Maildir", 0o700)
    assert owner_and_mode(levels(tmp_path)[0]) == (UID, GID, 0o700)


@as_root
@pytest.mark.parametrize("level", [0, 1])
def test_symlinked_level_is_refused_and_its_target_untouched(tmp_path, level):
    home = tmp_path / "home"
    home.mkdir()
    target = tmp_path / "target"
    target.mkdir(mode=0o755)
    os.chmod(target, 0o755)
    if level:
        (home / "Maildir").mkdir()
    os.symlink(target, levels(home)[level])
    for action in (plan, apply):
        with pytest.raises(MaildirError, match="not a directory"):
            action([(str(home), UID, GID)], "Maildir", 0o700)
    assert owner_and_mode(target) == (0, 0, 0o755) and list(target.iterdir()) == []


@as_root
def test_roots_symlink_on_the_way_is_followed(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    os.symlink("real", tmp_path / "link")  # relative, root's, in a directory only root writes
    os.chmod(tmp_path, 0o755)
    fd = open_directory(str(tmp_path / "link"))
    try:
        assert os.fstat(fd).st_ino == os.stat(real).st_ino
    finally:
        os.close(fd)


@as_root
@pytest.mark.parametrize("case", ["users-link", "link-in-users-dir", "link-in-group-writable-dir"])
def test_symlink_a_user_could_change_is_refused(tmp_path, case):
    parent = tmp_path / "parent"
    parent.mkdir()
    os.chmod(parent, 0o755)
    os.symlink("/etc", parent / "home")
    if case == "users-link":
        os.lchown(parent / "home", UID, GID)
    elif case == "link-in-users-dir":
        os.chown(parent, UID, GID)
    else:
        os.chmod(parent, 0o775)
    with pytest.raises(MaildirError, match="symlink that someone other than root"):
        open_directory(str(parent / "home" / "x"))


@as_root
def test_sticky_directory_keeps_roots_symlink_trusted(tmp_path):
    os.chmod(tmp_path, 0o1777)
    os.symlink(".", tmp_path / "here")
    os.close(open_directory(str(tmp_path / "here")))


@as_root
def test_walk_refuses_loops_files_and_missing_parts(tmp_path):
    os.chmod(tmp_path, 0o755)
    os.symlink("loop", tmp_path / "loop")
    (tmp_path / "file").write_text("")
    with pytest.raises(MaildirError, match="too many symlinks"):
        open_directory(str(tmp_path / "loop"))
    with pytest.raises(MaildirError, match="is not a directory"):
        open_directory(str(tmp_path / "file" / "x"))
    with pytest.raises(MaildirError, match="does not exist"):
        open_directory(str(tmp_path / "missing" / "x"))
    with pytest.raises(MaildirError, match="absolute"):
        open_directory("relative/path")


# --- property: a name is refused, or made exactly as given --------------------------------

@as_root
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.one_of(st.text(max_size=12), st.sampled_from(["Maildir", ".maildir", "..", ".", "a/b", "x\n", "$x"])))
def test_any_name_is_refused_or_made_exactly(tmp_path_factory, name):
    home = tmp_path_factory.mktemp("home")
    try:
        check_name(name)
    except MaildirError as exc:
        assert "\n" not in str(exc)
        assert os.listdir(home) == []
        return
    apply([(str(home), UID, GID)], name, 0o700)
    assert os.listdir(home) == [name]
    assert sorted(os.listdir(os.path.join(str(home), name))) == ["cur", "new", "tmp"]
    assert plan([(str(home), UID, GID)], name, 0o700) == []
