"""postmaster.mail.maildir on this host, without creating users and without /etc/skel.

Most tests point skel_dir at a tmp dir and set home_mailbox: false. Tests that need a
user get one through the `fake_user` fixture: a passwd entry that only the module's
own process sees (no user is created on the host).
"""

from __future__ import annotations

import json
import os
import pwd
import stat

import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import age_files, assert_failed, assert_ok, postconf_n, run_module

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="maildir chowns to root: run as root")

SUBDIRS = ("cur", "new", "tmp")
FAKE_UID, FAKE_GID = 4242, 4343

# Imported by the module's Python at start-up (site imports `sitecustomize`); makes
# pwd.getpwnam answer for the names in $POSTMASTER_TEST_PASSWD.
SITECUSTOMIZE = '''\
import json, os, pwd
_fake = json.loads(os.environ.get("POSTMASTER_TEST_PASSWD", "{}"))
_getpwnam = pwd.getpwnam

def getpwnam(name):
    if name in _fake:
        uid, gid, home = _fake[name]
        return pwd.struct_passwd((name, "x", uid, gid, name, home, "/bin/sh"))
    return _getpwnam(name)

pwd.getpwnam = getpwnam

# The attacker's move, made when the module first runs postconf (after its check, before
# its change): $POSTMASTER_TEST_SWAP lists [operation, arguments...] to run as that user would.
_swap = json.loads(os.environ.get("POSTMASTER_TEST_SWAP", "[]"))
if _swap:
    import subprocess

    class _SwappingPopen(subprocess.Popen):
        def __init__(self, args, *rest, **options):
            words = [args] if isinstance(args, (str, bytes)) else list(args)
            if _swap and os.path.basename(os.fsdecode(words[0])) == "postconf":
                for operation, *operands in _swap:
                    getattr(os, operation)(*operands)
                del _swap[:]
            super().__init__(args, *rest, **options)

    subprocess.Popen = _SwappingPopen
'''


@pytest.fixture
def skel(tmp_path):
    directory = tmp_path / "skel"
    directory.mkdir()
    return directory


@pytest.fixture
def fake_user(tmp_path, monkeypatch):
    """User `alice` (uid 4242, gid 4343) with an existing home in tmp_path."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    home = tmp_path / "home" / "alice"
    home.mkdir(parents=True)
    collections = run_module.__globals__["COLLECTIONS_DIR"]
    monkeypatch.setitem(run_module.__globals__, "COLLECTIONS_DIR", "%s%s%s" % (site, os.pathsep, collections))
    monkeypatch.setenv("POSTMASTER_TEST_PASSWD", json.dumps({"alice": [FAKE_UID, FAKE_GID, str(home)]}))
    return home


def maildir(skel_dir, check_mode=False, diff=False, **options):
    args = dict(home_mailbox=False, skel_dir=str(skel_dir))
    args.update(options)
    return run_module("maildir", args, check_mode=check_mode, diff=diff)


def maildir_paths(base, name="Maildir"):
    top = os.path.join(str(base), name)
    return [top] + [os.path.join(top, sub) for sub in SUBDIRS]


def owner_and_mode(path):
    info = os.lstat(path)
    return info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)


# --- skeleton directory ----------------------------------------------------------------

def test_creates_maildir_in_skel_dir(skel):
    result = maildir(skel)
    assert_ok(result)
    assert result["changed"] is True
    assert result["paths"] == maildir_paths(skel)
    assert result["reload_needed"] is False
    for path in maildir_paths(skel):
        assert os.path.isdir(path)
        assert owner_and_mode(path) == (0, 0, 0o700), path


def test_second_run_is_unchanged(skel):
    maildir(skel)
    result = maildir(skel)
    assert_ok(result)
    assert result["changed"] is False
    assert result["paths"] == []


def test_check_mode_creates_nothing(skel):
    result = maildir(skel, check_mode=True)
    assert_ok(result)
    assert result["changed"] is True
    assert result["paths"] == maildir_paths(skel)
    assert list(skel.iterdir()) == []


def test_check_mode_on_converged_dir_is_unchanged(skel):
    maildir(skel)
    assert maildir(skel, check_mode=True)["changed"] is False


def test_custom_mode_and_name(skel):
    assert_ok(maildir(skel, name="Mail", mode="0750"))
    for path in maildir_paths(skel, "Mail"):
        assert owner_and_mode(path) == (0, 0, 0o750), path


def test_mode_drift_is_repaired(skel):
    maildir(skel)
    cur = skel / "Maildir" / "cur"
    os.chmod(cur, 0o755)
    result = maildir(skel)
    assert result["changed"] is True
    assert result["paths"] == [str(cur)]
    assert owner_and_mode(cur) == (0, 0, 0o700)


def test_owner_drift_is_repaired(skel):
    maildir(skel)
    new = skel / "Maildir" / "new"
    os.chown(new, FAKE_UID, FAKE_GID)
    result = maildir(skel)
    assert result["paths"] == [str(new)]
    assert owner_and_mode(new) == (0, 0, 0o700)


def test_missing_subdirectory_is_recreated(skel):
    maildir(skel)
    os.rmdir(skel / "Maildir" / "tmp")
    result = maildir(skel)
    assert result["paths"] == [str(skel / "Maildir" / "tmp")]
    assert os.path.isdir(skel / "Maildir" / "tmp")


def test_check_mode_does_not_repair_drift(skel):
    maildir(skel)
    os.chmod(skel / "Maildir", 0o755)
    assert maildir(skel, check_mode=True)["changed"] is True
    assert owner_and_mode(skel / "Maildir") == (0, 0, 0o755)


def test_diff_names_the_paths(skel):
    result = maildir(skel, diff=True)
    assert "%s: missing" % (skel / "Maildir") in result["diff"]["before"]
    assert "%s: directory 0700" % (skel / "Maildir" / "cur") in result["diff"]["after"]


def test_empty_skel_dir_option_leaves_skeleton_alone(skel):
    result = maildir("")
    assert_ok(result)
    assert result["changed"] is False


# --- things in the way ------------------------------------------------------------------

def test_file_where_maildir_should_be_fails(skel):
    (skel / "Maildir").write_text("not a directory\n")
    result = maildir(skel)
    assert_failed(result, str(skel / "Maildir"), "not a directory")
    assert (skel / "Maildir").read_text() == "not a directory\n"


def test_file_where_subdirectory_should_be_fails_before_anything_is_made(skel):
    (skel / "Maildir").mkdir()
    (skel / "Maildir" / "new").write_text("")
    result = maildir(skel)
    assert_failed(result, str(skel / "Maildir" / "new"), "not a directory")
    assert sorted(os.listdir(skel / "Maildir")) == ["new"]


def test_symlink_where_maildir_should_be_fails(skel, tmp_path):
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", skel / "Maildir")
    assert_failed(maildir(skel), "not a directory")
    assert list((tmp_path / "elsewhere").iterdir()) == []


# --- a user swaps a directory for a symlink while the module runs (issue 15, defect 1) ----

@pytest.fixture
def root_file(tmp_path):
    """A file only root may change: what the attacker wants the module to give her."""
    target = tmp_path / "root-secret"
    target.write_text("root only\n")
    os.chown(target, 0, 0)
    os.chmod(target, 0o600)
    return target


@pytest.fixture
def root_dir(tmp_path):
    target = tmp_path / "root-dir"
    target.mkdir()
    os.chown(target, 0, 0)
    os.chmod(target, 0o755)
    return target


def attack(skel, config_dir, monkeypatch, *operations):
    """Run the module for alice with home_mailbox (so it runs postconf between its check
    and its change) while `operations` happen at that moment."""
    monkeypatch.setenv("POSTMASTER_TEST_SWAP", json.dumps(operations))
    return maildir(skel, users=["alice"], home_mailbox=True, config_dir=str(config_dir))


def test_maildir_swapped_for_symlink_to_root_file_is_refused(skel, fake_user, config_dir, root_file, monkeypatch):
    maildir_dir = fake_user / "Maildir"
    maildir_dir.mkdir(mode=0o755)
    os.chmod(maildir_dir, 0o755)  # drift the module plans to repair
    os.chown(maildir_dir, FAKE_UID, FAKE_GID)
    result = attack(skel, config_dir, monkeypatch,
                    ["rename", str(maildir_dir), str(fake_user / "moved")],
                    ["symlink", str(root_file), str(maildir_dir)],
                    ["lchown", str(maildir_dir), FAKE_UID, FAKE_GID])
    assert owner_and_mode(root_file) == (0, 0, 0o600)
    assert root_file.read_text() == "root only\n"
    assert_failed(result, str(maildir_dir), "not a directory")
    assert os.path.islink(maildir_dir)


def test_maildir_cur_swapped_for_symlink_is_refused(skel, fake_user, config_dir, root_dir, monkeypatch):
    for path in maildir_paths(fake_user):
        os.mkdir(path, 0o700)
        os.chown(path, FAKE_UID, FAKE_GID)
    cur = fake_user / "Maildir" / "cur"
    os.chmod(cur, 0o755)
    result = attack(skel, config_dir, monkeypatch,
                    ["rmdir", str(cur)],
                    ["symlink", str(root_dir), str(cur)],
                    ["lchown", str(cur), FAKE_UID, FAKE_GID])
    assert owner_and_mode(root_dir) == (0, 0, 0o755)
    assert_failed(result, str(cur), "not a directory")


def test_home_swapped_for_symlink_is_refused(skel, fake_user, config_dir, root_dir, monkeypatch):
    os.chown(fake_user.parent, FAKE_UID, FAKE_GID)  # alice may rename her own home
    result = attack(skel, config_dir, monkeypatch,
                    ["rename", str(fake_user), str(fake_user.parent / "old")],
                    ["symlink", str(root_dir), str(fake_user)],
                    ["lchown", str(fake_user), FAKE_UID, FAKE_GID])
    assert list(root_dir.iterdir()) == []
    assert owner_and_mode(root_dir) == (0, 0, 0o755)
    assert_failed(result, str(fake_user), "symlink")


def test_home_through_a_users_symlink_is_refused(skel, fake_user, root_dir, monkeypatch):
    os.chown(fake_user.parent, FAKE_UID, FAKE_GID)
    os.rename(fake_user, fake_user.parent / "old")
    os.symlink(root_dir, fake_user)
    result = maildir(skel, users=["alice"])
    assert_failed(result, str(fake_user), "symlink")
    assert list(root_dir.iterdir()) == [] and list(skel.iterdir()) == []


def test_home_through_roots_symlink_is_followed(skel, fake_user, tmp_path, monkeypatch):
    """An administrator's /home -> /srv/home: root owns the link and the directory it is in."""
    link = tmp_path / "home-link"
    os.symlink(fake_user, link)
    monkeypatch.setenv("POSTMASTER_TEST_PASSWD", json.dumps({"alice": [FAKE_UID, FAKE_GID, str(link)]}))
    result = maildir(skel, users=["alice"])
    assert_ok(result)
    for path in maildir_paths(fake_user):
        assert owner_and_mode(path) == (FAKE_UID, FAKE_GID, 0o700), path


def test_file_swapped_in_after_the_check_is_refused(skel, fake_user, config_dir, monkeypatch):
    maildir_dir = fake_user / "Maildir"
    result = attack(skel, config_dir, monkeypatch, ["mkfifo", str(maildir_dir)])
    assert_failed(result, str(maildir_dir), "not a directory")
    assert stat.S_ISFIFO(os.lstat(maildir_dir).st_mode)


# --- users ---------------------------------------------------------------------------------

def test_missing_user_fails_and_creates_nothing(skel):
    result = maildir(skel, users=["no-such-user-xyz"])
    assert_failed(result, "no-such-user-xyz", "does not exist")
    assert list(skel.iterdir()) == []


def test_missing_user_fails_in_check_mode(skel):
    assert_failed(maildir(skel, users=["no-such-user-xyz"], check_mode=True), "no-such-user-xyz")


def test_user_without_home_fails_and_creates_nothing(skel):
    home = pwd.getpwnam("nobody").pw_dir
    if os.path.isdir(home):
        pytest.skip("user nobody has an existing home directory on this host")
    result = maildir(skel, users=["nobody"])
    assert_failed(result, "home directory %s of user nobody does not exist" % home)
    assert list(skel.iterdir()) == []


def test_user_gets_maildir_owned_by_the_user(skel, fake_user):
    result = maildir(skel, users=["alice"])
    assert_ok(result)
    assert result["paths"] == maildir_paths(fake_user) + maildir_paths(skel)
    for path in maildir_paths(fake_user):
        assert owner_and_mode(path) == (FAKE_UID, FAKE_GID, 0o700), path
    assert maildir(skel, users=["alice"])["changed"] is False


def test_one_missing_user_stops_all_users(skel, fake_user):
    result = maildir(skel, users=["alice", "no-such-user-xyz"])
    assert_failed(result, "no-such-user-xyz")
    assert list(fake_user.iterdir()) == [] and list(skel.iterdir()) == []


def test_user_listed_twice(skel, fake_user):
    assert_ok(maildir(skel, users=["alice", "alice"]))


def test_missing_skel_dir_changes_nothing(tmp_path, fake_user):
    result = maildir(tmp_path / "no-skel", users=["alice"])
    assert not result.get("failed") or list(fake_user.iterdir()) == [], result


# --- invalid input --------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["/Maildir", "Maildir/", "../Maildir", "a/../b", ""])
def test_invalid_name_fails_and_creates_nothing(skel, name):
    result = maildir(skel, name=name)
    assert_failed(result, "invalid Maildir name")
    assert list(skel.iterdir()) == []


def test_dot_name_is_refused(skel):
    os.chmod(skel, 0o755)
    result = maildir(skel, name=".")
    assert result.get("failed") is True
    assert owner_and_mode(skel)[2] == 0o755


def test_nested_name_is_refused(skel):
    result = maildir(skel, name="mail/Maildir")
    assert_failed(result, "invalid Maildir name")
    assert list(skel.iterdir()) == []


@pytest.mark.parametrize("mode", ["u=rwx", "0800", "-1", "17777"])
def test_invalid_mode_fails_and_creates_nothing(skel, mode):
    result = maildir(skel, mode=mode)
    assert_failed(result, "invalid mode")
    assert list(skel.iterdir()) == []


@pytest.mark.parametrize("mode", [0o700, 0o640], ids=["yaml-0700", "yaml-0640"])
def test_integer_mode_is_the_mode(skel, mode):
    assert_ok(maildir(skel, mode=mode))
    assert owner_and_mode(skel / "Maildir")[2] == mode


# --- home_mailbox ----------------------------------------------------------------------------

def test_home_mailbox_sets_main_cf_then_converges(skel, config_dir):
    first = maildir(skel, home_mailbox=True, config_dir=str(config_dir))
    assert_ok(first)
    assert first["changed"] is True
    assert first["reload_needed"] is True
    assert postconf_n(config_dir)["home_mailbox"] == "Maildir/"
    second = maildir(skel, home_mailbox=True, config_dir=str(config_dir))
    assert second["changed"] is False
    assert second["reload_needed"] is False


def test_home_mailbox_follows_name(skel, config_dir):
    assert_ok(maildir(skel, name="Mail", home_mailbox=True, config_dir=str(config_dir)))
    assert postconf_n(config_dir)["home_mailbox"] == "Mail/"


def test_home_mailbox_alone_needs_reload(skel, config_dir):
    maildir(skel)
    result = maildir(skel, home_mailbox=True, config_dir=str(config_dir))
    assert result["changed"] is True
    assert result["paths"] == []
    assert result["reload_needed"] is True


def test_home_mailbox_check_mode_writes_nothing(skel, config_dir):
    before = (config_dir / "main.cf").read_bytes()
    result = maildir(skel, home_mailbox=True, config_dir=str(config_dir), check_mode=True)
    assert result["changed"] is True and result["reload_needed"] is True
    assert (config_dir / "main.cf").read_bytes() == before
    assert list(skel.iterdir()) == []


def test_home_mailbox_without_main_cf_fails_and_creates_nothing(skel, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = maildir(skel, home_mailbox=True, config_dir=str(empty))
    assert_failed(result, "main.cf does not exist")
    assert list(skel.iterdir()) == []


# --- property: any name is refused, or made and read back by Postfix exactly -----------------

@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.one_of(st.text(max_size=10), st.sampled_from(
    ["Maildir", "Mail box", "#Mail", "a,b=c", "Почта", "$HOME", "${x}", "a\nb", "a\rb", "..", "x/y", " M"])))
def test_any_name_is_refused_or_read_back_exactly(tmp_path_factory, config_dir, name):
    main_cf = (config_dir / "main.cf").read_bytes()
    skel = tmp_path_factory.mktemp("skel")
    try:
        result = maildir(skel, name=name, home_mailbox=True, config_dir=str(config_dir))
        if result.get("failed"):
            assert_failed(result, "invalid Maildir name")
            assert (config_dir / "main.cf").read_bytes() == main_cf
            assert list(skel.iterdir()) == []
            return
        assert os.listdir(skel) == [name]
        age_files(config_dir)
        read_back = subprocess.run(["postconf", "-c", str(config_dir), "-h", "home_mailbox"],
                                   capture_output=True, check=True).stdout
        assert read_back == (name + "/\n").encode("utf-8")
    finally:
        (config_dir / "main.cf").write_bytes(main_cf)
