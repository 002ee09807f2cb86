"""postmaster.mail.postfix_info against the installed Postfix, in a scratch config dir."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from conftest import POSTFIX_SHARE, age_files, run_module

FEATURES = (
    "smtp_tls_chain_files", "smtp_tls_connection_reuse", "smtp_tls_wrappermode",
    "smtpd_forbid_bare_newline", "smtpd_tls_chain_files", "tls_config_file",
    "tls_fast_shutdown_enable", "tls_server_sni_maps",
)


def postconf(config_dir, *args):
    """The real postconf, pointed at the scratch dir (never /etc/postfix)."""
    return subprocess.run(["postconf", "-c", str(config_dir)] + list(args),
                          capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def scratch_dir(tmp_path_factory):
    """One read-only config dir for the whole file (the module never writes)."""
    directory = tmp_path_factory.mktemp("postfix")
    shutil.copy(POSTFIX_SHARE / "main.cf.debian", directory / "main.cf")
    shutil.copy(POSTFIX_SHARE / "master.cf.dist", directory / "master.cf")
    age_files(directory)
    return directory


@pytest.fixture(scope="module")
def info(scratch_dir):
    result = run_module("postfix_info", {"config_dir": str(scratch_dir)})
    assert result["rc"] == 0 and not result.get("failed"), result
    return result


def test_installed_and_unchanged(info):
    assert info["installed"] is True
    assert info["changed"] is False


def test_version_matches_postconf(info, scratch_dir):
    assert info["version"] == postconf(scratch_dir, "-h", "mail_version").strip()


def test_version_info_is_three_ints(info):
    assert len(info["version_info"]) == 3
    assert all(isinstance(number, int) and not isinstance(number, bool) for number in info["version_info"])
    assert ".".join(map(str, info["version_info"])) == info["version"]


def test_lookup_table_types_match_postconf_m(info, scratch_dir):
    assert "hash" in info["lookup_table_types"]
    assert info["lookup_table_types"] == sorted(postconf(scratch_dir, "-m").split())


def test_default_database_type(info, scratch_dir):
    assert info["default_database_type"] == postconf(scratch_dir, "-h", "default_database_type").strip()
    assert info["default_database_type"] in info["lookup_table_types"]


def test_directories(info, scratch_dir):
    directories = info["directories"]
    assert sorted(directories) == sorted(["config_directory", "command_directory", "daemon_directory",
                                          "data_directory", "meta_directory", "queue_directory"])
    assert directories["config_directory"] == str(scratch_dir)
    for name in ("command_directory", "daemon_directory", "queue_directory"):
        assert directories[name] == postconf(scratch_dir, "-xh", name).strip()


def test_compatibility_level_from_config_dir(info):
    assert info["compatibility_level"] == "3.6"  # set in Debian's main.cf


@pytest.mark.parametrize("key, flag", [("sasl_server_types", "-a"), ("sasl_client_types", "-A")])
def test_sasl_types_are_lists(info, scratch_dir, key, flag):
    assert isinstance(info[key], list)
    assert all(isinstance(word, str) for word in info[key])
    assert info[key] == sorted(postconf(scratch_dir, flag).split())


def test_tls_supported(info):
    assert info["tls"] == {"supported": True}


def test_features_are_bools_from_postconf_d(info, scratch_dir):
    known = {line.partition(" =")[0] for line in postconf(scratch_dir, "-d").splitlines()}
    assert sorted(info["features"]) == sorted(FEATURES)
    for name, present in info["features"].items():
        assert present is (name in known), name


def test_check_mode_gives_the_same_answer(info, scratch_dir):
    result = run_module("postfix_info", {"config_dir": str(scratch_dir)}, check_mode=True)
    assert result["changed"] is False
    for key in ("version", "version_info", "directories", "lookup_table_types", "features", "tls"):
        assert result[key] == info[key], key


def test_reads_the_given_config_dir(config_dir):
    with open(config_dir / "main.cf", "a") as handle:
        handle.write("compatibility_level = 2\n")
    result = run_module("postfix_info", {"config_dir": str(config_dir)})
    assert result["compatibility_level"] == "2"


def test_config_dir_without_main_cf_fails_on_one_line(tmp_path):
    result = run_module("postfix_info", {"config_dir": str(tmp_path)})
    assert result.get("failed") is True
    assert "main.cf" in result["msg"] and "\n" not in result["msg"]
