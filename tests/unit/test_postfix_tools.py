"""Logic tests of plugins/module_utils/_postfix_tools.py: the configuration-directory rule,
the command lines of the named queries, and how postconf's output is read. No Postfix:
a fake module answers each command with canned output."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".cache" / "collections"))

from ansible_collections.postmaster.mail.plugins.module_utils import _postfix_tools as tools  # noqa: E402


class FakeModule(object):
    """Records each command; answers with OUTPUT[(tool, first argument)]."""

    def __init__(self, output=None):
        self.commands = []
        self.output = output or {}

    def get_bin_path(self, name, opt_dirs=None):
        return "/usr/sbin/" + name

    def fail_json(self, **kwargs):
        raise AssertionError(kwargs)

    def run_command(self, command, environ_update=None):
        assert environ_update == tools.C_LOCALE
        self.commands.append(command)
        return self.output.get((command[0].rsplit("/", 1)[1], command[3] if len(command) > 3 else None), (0, "", ""))


@pytest.mark.parametrize("config_dir, mail_config, expected", [
    (None, None, "/etc/postfix"),
    (None, "/etc/postfix-out", "/etc/postfix-out"),
    ("/srv/postfix", "/etc/postfix-out", "/srv/postfix"),
    ("/srv/postfix", None, "/srv/postfix"),
    (None, "", "/etc/postfix"),
])
def test_config_directory(monkeypatch, config_dir, mail_config, expected):
    if mail_config is None:
        monkeypatch.delenv("MAIL_CONFIG", raising=False)
    else:
        monkeypatch.setenv("MAIL_CONFIG", mail_config)
    assert tools.config_directory(config_dir) == expected
    module = FakeModule()
    for factory in (tools.postconf, tools.postmap, tools.postfix):
        tool = factory(module, config_dir)
        assert tool.directory == expected and tool.config_dir == config_dir
        tool.run(["-x"])
        assert module.commands[-1][1:] == ["-c", expected, "-x"]


@pytest.mark.parametrize("method, args, command, output, expected", [
    ("table_types", (), ["-m"], "btree\ncidr\nhash\n", ["btree", "cidr", "hash"]),
    ("sasl_server_types", (), ["-a"], "cyrus\ndovecot\n", ["cyrus", "dovecot"]),
    ("sasl_client_types", (), ["-A"], "cyrus\n", ["cyrus"]),
    ("defaults", (), ["-d"], "biff = yes\nrelayhost =\n", {"biff": "yes", "relayhost": ""}),
    ("mail_version", (), ["-d", "mail_version"], "mail_version = 3.7.11\n", "3.7.11"),
    ("values", (["myhostname", "relayhost"],), ["-h", "myhostname", "relayhost"], "mx.example\n\n",
     {"myhostname": "mx.example", "relayhost": ""}),
    ("values", (["myorigin"], True), ["-xh", "myorigin"], "mx.example\n", {"myorigin": "mx.example"}),
    ("value", ("myhostname",), ["-h", "myhostname"], "mx.example\n", "mx.example"),
    ("values", ([],), None, "", {}),
])
def test_postconf_queries(method, args, command, output, expected):
    module = FakeModule({("postconf", (command or [None])[0]): (0, output, "")})
    assert getattr(tools.postconf(module, "/srv/pf"), method)(*args) == expected
    assert module.commands == ([["/usr/sbin/postconf", "-c", "/srv/pf"] + command] if command else [])


def test_parameters_reads_only_settings_and_main_cf_warnings():
    stdout = ("biff = no\n"
              "postconf: warning: /srv/pf/master.cf: unused parameter: smtpd_x=leaked\n"
              "relayhost =\n")
    stderr = ("postconf: warning: /srv/pf/main.cf, line 3: overriding earlier entry: biff=yes\n"
              "postconf: warning: /srv/pf/main.cf: unused parameter: my_custom=a = b\n"
              "postconf: warning: /srv/pf/master.cf: unused parameter: my_custom=other\n"
              "postconf: warning: /srv/pf/main.cf: undefined parameter: my_hostname\n")
    module = FakeModule({("postconf", "-n"): (0, stdout, stderr)})
    values, warnings = tools.postconf(module, "/srv/pf").parameters()
    assert values == {"biff": "no", "relayhost": "", "my_custom": "a = b"}
    assert warnings["undefined"] == {"main.cf": {"my_hostname": ""}}
    assert warnings["unused"]["master.cf"] == {"smtpd_x": "leaked", "my_custom": "other"}


def test_parameters_raises_when_postconf_fails():
    module = FakeModule({("postconf", "-n"): (1, "", "postconf: fatal: /srv/pf/main.cf, line 2: missing '='\n")})
    with pytest.raises(tools.PostfixCommandError, match="missing '='"):
        tools.postconf(module, "/srv/pf").parameters()


@pytest.mark.parametrize("rc, stdout, expected", [(0, "value\n", "value"), (1, "", None)])
def test_postmap_query(rc, stdout, expected):
    module = FakeModule({("postmap", "-q"): (rc, stdout, "")})
    assert tools.postmap(module).query("key", "hash:/srv/t")[0] == expected
    assert module.commands[0][3:] == ["-q", "key", "hash:/srv/t"]


def test_postmap_query_failure_raises():
    module = FakeModule({("postmap", "-q"): (2, "", "postmap: fatal: open /srv/t.db: No such file\n")})
    with pytest.raises(tools.PostfixCommandError, match="No such file"):
        tools.postmap(module).query("key", "hash:/srv/t")


@pytest.mark.parametrize("rc, running", [(0, True), (1, False)])
def test_postfix_check_and_status(rc, running):
    module = FakeModule({("postfix", "status"): (rc, "", ""), ("postfix", "check"): (rc, "", "warning")})
    tool = tools.postfix(module, "/srv/pf")
    assert tool.status() is running
    assert tool.check() == (rc, "", "warning")
    assert [command[3] for command in module.commands] == ["status", "check"]


@pytest.mark.parametrize("text, expected", [
    ("a = 1\nb =\nc = x = y\n", {"a": "1", "b": "", "c": "x = y"}),
    ("a = 1\r\nb = \u2028\n", {"a": "1\r", "b": "\u2028"}),
    ("postconf: warning: x\nnot a setting\ntwo words = x\n = x\n", {}),
])
def test_parse_settings(text, expected):
    assert tools.parse_settings(text) == expected
