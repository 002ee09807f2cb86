"""What the mailbox scenario's test files share: the hosts, their mail domains in the test DNS,
and waiting for a message in a Maildir."""

import shlex
import time

HOSTS = ("mailbox-bullseye", "mailbox-bookworm", "mailbox-trixie")
CA = "/etc/postfix/tls/ca.pem"
DELIVERY_TIMEOUT = 60


def name_of(host):
    return host.backend.get_hostname()


def domain(name):
    return "%s.molecule.test" % name


def next_host(name):
    """The host each one sends its relayed mail to."""
    return HOSTS[(HOSTS.index(name) + 1) % len(HOSTS)]


def wait_for(host, maildir, text, timeout=DELIVERY_TIMEOUT):
    """The path of the message under MAILDIR (new or cur) that contains TEXT."""
    deadline = time.monotonic() + timeout
    while True:
        found = host.run("grep -rlsF -- %s %s/new %s/cur" % (shlex.quote(text), maildir, maildir))
        if found.rc == 0:
            return found.stdout.split()[0]
        assert time.monotonic() < deadline, "%r not in %s within %ds" % (text, maildir, timeout)
        time.sleep(0.5)
