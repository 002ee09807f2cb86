"""The stunnel tunnel on one real bookworm host, converged with the tls, stunnel and postfix
roles: Postfix relays through the tunnel (SASL, as an edge does) to this host's own SMTPS
port 465 and takes the mail back in.

- no local user can bind the tunnel's port, while stunnel runs, after `systemctl stop`,
  or in the second after a SIGKILL; mail sent meanwhile is delivered once stunnel is back;
- a changed CA file takes effect at once (stunnel is reloaded, not left on the old CA), and
  mail queued while the CA did not match is delivered after the fix, exactly once;
- a second run changes nothing; the role's bad inputs fail in one line and leave the host's
  files alone.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import yaml

from conftest import PROJECT_ROOT
from playbook_runs import recap_changed, run
from systemd_container import PIPELINED_CONNECTION, bookworm_mail_host

HOSTNAME = "mail.stunnel.test"
PORT = 10465
# An unprivileged local user, the attacker of issue 15's defect 6.
INTRUDER = "mallory"
BAD_INPUTS = Path(__file__).resolve().parent / "safety" / "bad_inputs" / "role_stunnel.yml"
WATCHED = "/etc/stunnel /etc/systemd/system/postmaster-stunnel* /etc/postfix/main.cf /etc/postfix/master.cf"


def host_vars(root):
    """The bench's full mission in small: mail injected on 10025 skips address mapping and
    leaves through the relayhost, the tunnel; on its way back in through 465 the virtual
    alias map makes it alice's."""
    return {
        "ansible_connection": PIPELINED_CONNECTION,
        "ansible_python_interpreter": "/usr/bin/python3",
        "tls_controller_dir": str(root / "pki"),
        "tls_server_names": [HOSTNAME],
        "postfix_myhostname": HOSTNAME,
        "postfix_mydomain": "stunnel.test",
        "stunnel_tunnels": [{"name": "hub", "accept": "127.0.0.1:%d" % PORT, "connect": "127.0.0.1:465",
                             "ca_file": "/etc/postfix/tls/ca.pem", "check_host": HOSTNAME}],
        "postfix_relay": {"host": HOSTNAME, "method": "stunnel", "tunnel_port": PORT,
                          "username": "edge@stunnel.test", "password": "Tunnel-%d-pw" % os.getpid()},
        "postfix_main_cf": {"virtual_alias_maps": "inline:{@tunnel.stunnel.test=alice@localhost}"},
        "postfix_master_cf_services": [
            {"name": "127.0.0.1:10025", "type": "inet", "private": False, "chroot": True, "command": "smtpd",
             "options": {"syslog_name": "postfix/inject", "receive_override_options": "no_address_mappings",
                         "smtpd_tls_security_level": "none"}},
        ],
    }


CONVERGE = [
    {"name": "Create the mail user and a local intruder", "hosts": "all", "gather_facts": False, "tasks": [
        {"name": "Create the users", "ansible.builtin.user": {"name": "{{ item }}", "shell": "/bin/bash"},
         "loop": ["alice", INTRUDER]}]},
    {"name": "Converge TLS, the tunnel and Postfix", "hosts": "all", "gather_facts": False, "roles": [
        {"role": "postmaster.mail.tls"}, {"role": "postmaster.mail.stunnel"}, {"role": "postmaster.mail.postfix"}]},
]

# Runs in the container: send one message to alice through the tunnel (via 10025).
SEND = """
import smtplib, sys
message = "From: bob@stunnel.test\\r\\nTo: alice@tunnel.stunnel.test\\r\\nSubject: %s\\r\\nMessage-ID: <%s@stunnel.test>\\r\\n\\r\\nhello\\r\\n"
with smtplib.SMTP("127.0.0.1", 10025, timeout=30) as client:
    client.sendmail("bob@stunnel.test", ["alice@tunnel.stunnel.test"], message % (sys.argv[1], sys.argv[1]))
"""

# Runs in the container as the intruder: try to bind the tunnel's port for SECONDS seconds;
# prints the addresses it got, if any.
BIND = """
import errno, socket, sys, time
port, deadline, taken = int(sys.argv[1]), time.monotonic() + float(sys.argv[2]), set()
tries = 0
while True:
    for address in ("127.0.0.1", "0.0.0.0"):
        sock = socket.socket()
        try:
            sock.bind((address, port))
            sock.listen(1)
            taken.add(address)
        except OSError as exc:
            assert exc.errno == errno.EADDRINUSE, exc
        finally:
            sock.close()
        tries += 1
    if time.monotonic() > deadline:
        break
    time.sleep(0.01)
print(" ".join(sorted(taken)) or "none", tries)
"""

# Runs in the container: the first bytes the tunnel answers with ("" if it hangs up).
BANNER = """
import socket, sys
try:
    with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10) as sock:
        print(sock.recv(200).decode("ascii", "replace").strip())
except OSError as exc:
    print("error: %s" % exc)
"""


ENV = dict(os.environ, CONTAINERS_CONF=str(PROJECT_ROOT / "containers" / "containers.conf"))


class Host:
    """The converged container: ansible-playbook against it, commands in it."""

    def __init__(self, root, name):
        self.root, self.name = root, name
        self.inventory = root / "inventory.yml"
        self.inventory.write_text(yaml.safe_dump({"all": {"hosts": {name: host_vars(root)}}}))

    def playbook(self, plays, name):
        """Stdout of a run of PLAYS (written to ROOT/NAME); the test fails with its output when it fails."""
        (self.root / name).write_text(yaml.safe_dump(plays, sort_keys=False, width=1000))
        return run(["ansible-playbook", "-i", str(self.inventory), str(self.root / name)], env=ENV, timeout=2400)

    def sh(self, script, user="root", timeout=120):
        return run(["podman", "exec", "--user", user, self.name, "bash", "-c", script], env=ENV, timeout=timeout).strip()

    def python(self, script, *args, user="root"):
        return self.sh("python3 -c %s %s" % (quote(script), " ".join(quote(str(arg)) for arg in args)), user=user)

    def send(self, tag):
        self.python(SEND, tag)

    def delivered(self, tag):
        """How many copies of message TAG alice's mailbox holds."""
        return int(self.sh("grep -c '^Message-ID: <%s@stunnel.test>' /var/mail/alice || true" % tag) or 0)

    def wait_delivered(self, tags, seconds=90):
        for dummy in range(seconds):
            counts = {tag: self.delivered(tag) for tag in tags}
            if all(counts.values()) and self.sh("postqueue -j") == "":
                break
            time.sleep(1)
        assert counts == {tag: 1 for tag in tags}, (counts, self.sh("postqueue -p; tail -20 /var/log/mail.log || true"))

    def stunnel_pid(self):
        return self.sh("systemctl show -p MainPID --value postmaster-stunnel.service")

    def wait_banner(self, wanted, seconds=20):
        """Waits until the tunnel answers with an SMTP banner (WANTED true) or hangs up (false)."""
        for dummy in range(seconds * 2):
            banner = self.python(BANNER, PORT)
            if banner.startswith("220 ") == wanted:
                return banner
            time.sleep(0.5)
        pytest.fail("the tunnel still answers %r" % banner)


def quote(text):
    return "'%s'" % text.replace("'", "'\\''")


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    root = tmp_path_factory.mktemp("stunnel")
    name = "postmaster-stunnel-test-%d" % os.getpid()
    server = Host(root, name)
    with bookworm_mail_host(name, ENV, HOSTNAME):
        started = time.monotonic()
        server.playbook(CONVERGE, "converge.yml")
        print("converge: %.0f s" % (time.monotonic() - started))
        yield server


def test_mail_flows_through_the_tunnel_whose_port_systemd_holds(host):
    listening = host.sh("ss -Hltnp 'sport = :%d'" % PORT)
    assert '("systemd",pid=1,' in listening and '("stunnel' in listening, listening
    assert host.sh("postconf -h relayhost") == "[127.0.0.1]:%d" % PORT
    host.send("first")
    host.wait_delivered(["first"])


def test_second_run_changes_nothing(host):
    assert recap_changed(host.playbook(CONVERGE, "converge.yml"), host.name) == 0


def test_no_local_user_can_take_the_tunnel_port(host):
    assert host.python(BIND, PORT, 0, user=INTRUDER).split()[0] == "none"
    # stunnel stopped: systemd still holds the port, and the next connection starts stunnel again.
    host.sh("systemctl stop postmaster-stunnel.service")
    assert host.sh("pgrep -x stunnel4 || pgrep -x stunnel || echo none") == "none"
    assert host.python(BIND, PORT, 1, user=INTRUDER).split()[0] == "none"
    host.send("after-stop")
    host.wait_delivered(["after-stop"])
    # stunnel killed: the intruder tries all through the second before systemd restarts it.
    pid = host.stunnel_pid()
    host.sh("systemctl kill -s KILL postmaster-stunnel.service")
    taken, tries = host.python(BIND, PORT, 2, user=INTRUDER).split()
    assert taken == "none" and int(tries) > 20, (taken, tries)
    host.send("after-kill")
    host.wait_delivered(["after-kill"])
    assert host.stunnel_pid() not in ("0", pid)


def test_changed_ca_file_takes_effect_and_queued_mail_follows(host):
    host.wait_banner(True)
    pid = host.stunnel_pid()
    host.sh("cp -p /etc/postfix/tls/ca.pem /root/ca.pem.orig && cd /root && "
            "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout other.key "
            "-out other.pem -days 2 -subj '/CN=Another CA' 2>/dev/null")
    # As Ansible's copy writes a file: a temporary file renamed into place.
    host.sh("cp /root/other.pem /etc/postfix/tls/.ca.tmp && mv /etc/postfix/tls/.ca.tmp /etc/postfix/tls/ca.pem")
    host.wait_banner(False)
    host.send("wrong-ca")
    for dummy in range(30):
        if "wrong-ca" in host.sh("postqueue -j") and "deferred" in host.sh("postqueue -j"):
            break
        time.sleep(1)
    queue = [json.loads(line) for line in host.sh("postqueue -j").splitlines()]
    assert [entry["queue_name"] for entry in queue] == ["deferred"], queue
    assert host.delivered("wrong-ca") == 0
    host.sh("cp -p /root/ca.pem.orig /etc/postfix/tls/.ca.tmp && mv /etc/postfix/tls/.ca.tmp /etc/postfix/tls/ca.pem")
    host.wait_banner(True)
    host.sh("postqueue -f")
    host.wait_delivered(["wrong-ca"])
    # Reloaded (SIGHUP), not restarted: connections open through the tunnel were not cut.
    assert host.stunnel_pid() == pid


def test_bad_inputs_fail_in_one_line_and_change_nothing(host):
    cases = yaml.safe_load(BAD_INPUTS.read_text())
    before = host.sh("sha256sum $(find %s -type f | sort)" % WATCHED)
    tasks = []
    for number, (name, case) in enumerate(cases.items()):
        tasks.append({"name": name, "block": [
            {"name": "Try %d" % number, "ansible.builtin.include_role": {"name": "postmaster.mail.stunnel"},
             "vars": case["arguments"]},
            {"name": "Accepted %d" % number, "ansible.builtin.set_fact": {"result_%d" % number: "accepted"}}],
            "rescue": [{"name": "Refused %d" % number, "ansible.builtin.set_fact": {
                "result_%d" % number: "{{ (ansible_failed_result.argument_errors | default([]) | first)"
                                      " | default(ansible_failed_result.msg) }}"}}]})
    tasks.append({"name": "Results", "ansible.builtin.copy": {
        "content": "{{ %s | to_json }}" % ("[" + ", ".join("result_%d" % n for n in range(len(cases))) + "]"),
        "dest": str(host.root / "bad.json"), "mode": "0600"}, "delegate_to": "localhost"})
    host.playbook([{"name": "Bad inputs", "hosts": "all", "gather_facts": False, "tasks": tasks}], "bad.yml")
    results = json.loads((host.root / "bad.json").read_text())
    problems = []
    for (name, case), message in zip(cases.items(), results):
        print("%s: %s" % (name, message))
        if message == "accepted" or "\n" in message.strip() or not all(str(f) in message for f in case["expect"]):
            problems.append("%s: %r" % (name, message))
    assert problems == []
    assert host.sh("sha256sum $(find %s -type f | sort)" % WATCHED) == before
