"""Verify the walking skeleton on each container: configuration as requested and a
real mail, sent with s-nail the way a user would, delivered to a Maildir."""

import shlex
import time
import uuid

import pytest

USERS = ("alice", "bob")
DELIVERY_TIMEOUT = 30


def test_postfix_is_running_and_enabled(host):
    assert host.service("postfix").is_enabled
    assert host.run("postfix status").rc == 0


@pytest.mark.parametrize("name, value", [
    ("myhostname", "mail.molecule.test"),
    ("mydomain", "molecule.test"),
    ("mydestination", "$myhostname, localhost.$mydomain, localhost"),
    ("home_mailbox", "Maildir/"),
    ("inet_interfaces", "all"),
    ("mynetworks", "127.0.0.0/8, [::1]/128"),
    ("smtputf8_enable", "yes"),
    ("message_size_limit", "20480000"),
])
def test_main_cf_has_requested_values(host, name, value):
    assert host.check_output("postconf -h %s" % name) == value


def test_postfix_check_is_clean(host):
    result = host.run("postfix check")
    assert result.rc == 0 and result.stderr.strip() == "", result.stderr


def test_s_nail_reads_and_saves_in_the_maildir(host):
    rc = host.file("/etc/s-nail.rc")
    for line in ("set emptystart", "set folder=Maildir", "set record=+sent"):
        assert rc.contains("^%s$" % line), line


@pytest.mark.parametrize("user", USERS)
def test_login_shell_mail_points_at_maildir(host, user):
    home = host.user(user).home
    assert host.check_output("runuser -l %s -c 'printf %%s \"$MAIL\"'" % user) == home + "/Maildir"


@pytest.mark.parametrize("user", USERS)
def test_maildir_belongs_to_user(host, user):
    home = host.user(user).home
    for sub in ("", "/cur", "/new", "/tmp"):
        directory = host.file("%s/Maildir%s" % (home, sub))
        assert directory.is_directory
        assert directory.user == user
        assert directory.mode == 0o700


def test_skel_has_maildir(host):
    for sub in ("cur", "new", "tmp"):
        assert host.file("/etc/skel/Maildir/" + sub).is_directory


@pytest.mark.parametrize("sender, recipient", [("alice", "alice"), ("alice", "bob")])
def test_mail_sent_with_s_nail_lands_in_maildir_new(host, sender, recipient):
    subject = "molecule %s" % uuid.uuid4().hex
    body = "/tmp/%s.txt" % uuid.uuid4().hex
    host.check_output("printf 'Hello %s.\\n' > %s && chmod 0644 %s" % (recipient, body, body))
    send = "s-nail -Snorecord -s %s %s < %s" % (shlex.quote(subject), recipient, body)
    host.check_output("runuser -u %s -- sh -c %s" % (sender, shlex.quote(send)))

    new_dir = host.user(recipient).home + "/Maildir/new"
    deadline = time.monotonic() + DELIVERY_TIMEOUT
    found = ""
    while not found and time.monotonic() < deadline:
        found = host.run("grep -l -F -x %s %s/* 2>/dev/null" % (shlex.quote("Subject: " + subject), new_dir)).stdout.strip()
        if not found:
            time.sleep(0.5)
    assert found, "mail not in %s after %ss; queue: %s" % (new_dir, DELIVERY_TIMEOUT, host.run("postqueue -p").stdout)
    message = host.file(found.splitlines()[0])
    assert message.user == recipient
    assert message.contains("^To: %s" % recipient)
