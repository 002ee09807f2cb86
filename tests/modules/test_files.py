"""postmaster.mail.files on this host, in a temporary directory."""

from __future__ import annotations

import os
import pwd
import stat

import pytest

from conftest import assert_failed, assert_ok, run_module

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="files chowns to root: run as root")


def attributes(path):
    info = os.lstat(path)
    return stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid


def entries(tmp_path):
    return [
        {"path": str(tmp_path / "a.conf"), "content": "alpha\n"},
        {"path": str(tmp_path / "b.conf"), "content": "beta\n", "mode": "0640", "group": "nogroup"},
    ]


def test_writes_then_changes_nothing(tmp_path):
    files = entries(tmp_path)
    result = run_module("files", {"files": files})
    assert_ok(result)
    assert result["changed"] is True
    assert result["changed_paths"] == [files[0]["path"], files[1]["path"]]
    assert result["removed"] == []
    assert (tmp_path / "a.conf").read_text() == "alpha\n"
    assert attributes(tmp_path / "a.conf") == (0o644, 0, 0)
    assert attributes(tmp_path / "b.conf") == (0o640, 0, 65534)
    assert sorted(os.listdir(tmp_path)) == ["a.conf", "b.conf"]

    again = run_module("files", {"files": files})
    assert_ok(again)
    assert again["changed"] is False and again["changed_paths"] == [] and again["removed"] == []


def test_result_holds_no_content(tmp_path):
    result = run_module("files", {"files": [{"path": str(tmp_path / "s"), "content": "secret-text\n"}]})
    assert_ok(result)
    assert "secret-text" not in repr({key: value for key, value in result.items() if key != "invocation"})


def test_mode_change_only_keeps_the_inode(tmp_path):
    files = entries(tmp_path)
    assert_ok(run_module("files", {"files": files}))
    inode = os.stat(files[0]["path"]).st_ino
    files[0]["mode"] = "0600"
    result = run_module("files", {"files": files})
    assert_ok(result)
    assert result["changed_paths"] == [files[0]["path"]]
    assert attributes(files[0]["path"]) == (0o600, 0, 0)
    assert os.stat(files[0]["path"]).st_ino == inode
    # An integer is the mode itself, as YAML makes of an unquoted 0600.
    files[0]["mode"] = 0o600
    assert run_module("files", {"files": files})["changed"] is False


def test_owner_change(tmp_path):
    files = entries(tmp_path)
    assert_ok(run_module("files", {"files": files}))
    files[0].update(owner="nobody", group="nogroup")
    result = run_module("files", {"files": files})
    assert_ok(result)
    assert result["changed_paths"] == [files[0]["path"]]
    nobody = pwd.getpwnam("nobody").pw_uid
    assert attributes(files[0]["path"]) == (0o644, nobody, 65534)
    assert (tmp_path / "a.conf").read_text() == "alpha\n"


def test_symlink_is_replaced_not_followed(tmp_path):
    target = tmp_path / "target"
    target.write_text("untouched\n")
    os.chmod(target, 0o600)
    link = tmp_path / "a.conf"
    link.symlink_to(target)
    result = run_module("files", {"files": [{"path": str(link), "content": "alpha\n"}]}, diff=True)
    assert_ok(result)
    assert result["changed_paths"] == [str(link)]
    assert not link.is_symlink() and link.read_text() == "alpha\n"
    assert target.read_text() == "untouched\n" and attributes(target) == (0o600, 0, 0)
    assert "untouched" not in repr(result["diff"])


def test_missing_directory_fails_in_one_line_and_writes_nothing(tmp_path):
    files = entries(tmp_path) + [{"path": str(tmp_path / "missing" / "c.conf"), "content": "gamma\n"}]
    result = run_module("files", {"files": files})
    assert_failed(result, "files[2].path", str(tmp_path / "missing"), "create it first")
    assert os.listdir(tmp_path) == []


def test_check_mode_previews_a_file_in_a_missing_directory(tmp_path):
    """As ansible.builtin.copy does: a package install earlier in a real run may make it."""
    files = entries(tmp_path) + [{"path": str(tmp_path / "missing" / "c.conf"), "content": "gamma\n"}]
    result = run_module("files", {"files": files}, check_mode=True, diff=True)
    assert_ok(result)
    assert result["changed_paths"] == [entry["path"] for entry in files]
    assert "does not exist yet" in repr(result["warnings"]) and result["diff"][2]["after"] == "gamma\n"
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("change, fragments", [
    ({"path": "relative.conf"}, ("files[1].path", "relative.conf", "absolute path")),
    ({"owner": "no-such-user-x"}, ("files[1].owner", "no-such-user-x", "not a user")),
    ({"group": "no-such-group-x"}, ("files[1].group", "no-such-group-x", "not a group")),
    ({"owner": -1}, ("files[1].owner", "-1", "not a user")),
    ({"mode": "rw-r--r--"}, ("files[1].mode", "octal string")),
    ({"mdoe": "0600"}, ("files[1]", "unknown key", "mdoe")),
    ({"content": None}, ("files[1].content", "string")),
])
def test_bad_entry_fails_in_one_line_and_writes_nothing(tmp_path, change, fragments):
    files = entries(tmp_path)
    files[1].update(change)
    result = run_module("files", {"files": files})
    assert_failed(result, *fragments)
    assert os.listdir(tmp_path) == []


def test_directory_at_path_fails(tmp_path):
    (tmp_path / "b.conf").mkdir()
    result = run_module("files", {"files": entries(tmp_path)})
    assert_failed(result, "files[1].path", str(tmp_path / "b.conf"), "is a directory")
    assert sorted(os.listdir(tmp_path)) == ["b.conf"]
    result = run_module("files", {"absent": [str(tmp_path / "b.conf")]})
    assert_failed(result, "absent[0]", "is a directory")
    assert (tmp_path / "b.conf").is_dir()


def test_absent_removes_and_is_idempotent(tmp_path):
    old = tmp_path / "old.conf"
    old.write_text("private key\n")
    target = tmp_path / "target"
    target.write_text("kept\n")
    link = tmp_path / "link"
    link.symlink_to(target)
    absent = [str(old), str(link), str(tmp_path / "never-there"), str(tmp_path / "no-directory" / "file")]
    result = run_module("files", {"absent": absent}, diff=True)
    assert_ok(result)
    assert result["changed"] is True and result["removed"] == [str(old), str(link)]
    assert sorted(os.listdir(tmp_path)) == ["target"] and target.read_text() == "kept\n"
    # A removed file's text is never shown.
    assert "private key" not in repr(result["diff"])
    assert {"path": str(old), "state": "absent"} in [entry["after"] for entry in result["diff"]]
    again = run_module("files", {"absent": absent})
    assert_ok(again)
    assert again["changed"] is False and again["removed"] == []


def test_path_in_files_and_absent_fails(tmp_path):
    files = entries(tmp_path)
    result = run_module("files", {"files": files, "absent": [files[0]["path"]]})
    assert_failed(result, files[0]["path"], "named twice")


def test_check_mode_changes_nothing(tmp_path):
    files = entries(tmp_path)
    old = tmp_path / "old.conf"
    old.write_text("old\n")
    result = run_module("files", {"files": files, "absent": [str(old)]}, check_mode=True)
    assert_ok(result)
    assert result["changed"] is True
    assert result["changed_paths"] == [files[0]["path"], files[1]["path"]] and result["removed"] == [str(old)]
    assert os.listdir(tmp_path) == ["old.conf"]

    assert_ok(run_module("files", {"files": files}))
    files[0]["content"] = "changed\n"
    files[1]["mode"] = "0600"
    result = run_module("files", {"files": files}, check_mode=True)
    assert result["changed_paths"] == [files[0]["path"], files[1]["path"]]
    assert (tmp_path / "a.conf").read_text() == "alpha\n" and attributes(tmp_path / "b.conf")[0] == 0o640


def test_diff_shows_before_and_after(tmp_path):
    files = entries(tmp_path)
    assert_ok(run_module("files", {"files": files}))
    files[0]["content"] = "alpha 2\n"
    files[1]["mode"] = "0600"
    result = run_module("files", {"files": files}, diff=True)
    assert_ok(result)
    first, second = result["diff"]
    assert first == {"before": "alpha\n", "after": "alpha 2\n",
                     "before_header": files[0]["path"], "after_header": files[0]["path"]}
    assert second["before"] == second["after"] == "beta\n"
    assert "mode 0640" in second["before_header"] and "mode 0600" in second["after_header"]
    new = run_module("files", {"files": [{"path": str(tmp_path / "new"), "content": "n\n"}]}, diff=True)
    assert new["diff"] == [{"before": "", "after": "n\n", "before_header": str(tmp_path / "new"),
                            "after_header": str(tmp_path / "new")}]
    assert "diff" not in run_module("files", {"files": files})


def test_model_keys_are_ignored(tmp_path):
    files = [dict(entry, sha256="0" * 64, secret=False, kind="config") for entry in entries(tmp_path)]
    assert_ok(run_module("files", {"files": files}))


def test_pending_is_written_with_changes_and_kept_until_removed(tmp_path):
    files = entries(tmp_path)
    pending = tmp_path / "run" / "example.reload-pending"
    preview = run_module("files", {"files": files, "pending": str(pending)}, check_mode=True)
    assert_ok(preview)
    assert preview["changed"] is True and preview["pending"] is True and not pending.parent.exists()

    result = run_module("files", {"files": files, "pending": str(pending)})
    assert_ok(result)
    assert result["changed"] is True and result["pending"] is True
    assert attributes(pending) == (0o600, 0, 0) and attributes(pending.parent)[0] == 0o700

    # A run that stopped before its handler: nothing differs, the handler must still run.
    again = run_module("files", {"files": files, "pending": str(pending)})
    assert_ok(again)
    assert again["changed"] is True and again["changed_paths"] == [] and again["pending"] is True

    pending.unlink()  # the handler's last task
    done = run_module("files", {"files": files, "pending": str(pending)})
    assert_ok(done)
    assert done["changed"] is False and done["pending"] is False and not pending.exists()


def test_pending_symlink_is_replaced_not_followed(tmp_path):
    target = tmp_path / "target"
    target.write_text("keep\n")
    pending = tmp_path / "pending"
    pending.symlink_to(target)
    result = run_module("files", {"files": entries(tmp_path), "pending": str(pending)})
    assert_ok(result)
    assert not pending.is_symlink() and target.read_text() == "keep\n"


def test_pending_at_a_directory_fails_and_writes_nothing(tmp_path):
    (tmp_path / "pending").mkdir()
    result = run_module("files", {"files": entries(tmp_path), "pending": str(tmp_path / "pending")})
    assert_failed(result, str(tmp_path / "pending"))
    assert sorted(os.listdir(tmp_path)) == ["pending"]
