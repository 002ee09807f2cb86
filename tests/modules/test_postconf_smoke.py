from conftest import postconf_n, run_module


def test_sets_parameters_then_reports_ok(config_dir):
    args = {"config_dir": str(config_dir), "parameters": {"home_mailbox": "Maildir/", "smtputf8_enable": True}}
    first = run_module("postconf", args)
    assert first["changed"] is True, first
    assert first["changed_parameters"] == ["home_mailbox", "smtputf8_enable"]
    assert postconf_n(config_dir)["home_mailbox"] == "Maildir/"
    second = run_module("postconf", args)
    assert second["changed"] is False, second
