"""Authenticated submission on the real Postfix (issue 17, item 3): the postfix role given
Dovecot's contract (postfix_dovecot) on one bookworm host.

No dovecot role yet: the play installs Dovecot and writes the dovecot.conf that
postmaster.mail.dovecot_desired_state returns (as the role will), then publishes the model's
`postfix` part as the fact dovecot_postfix, which the postfix role takes by default. Users are
system users (PAM): alice, who owns alice@auth.test, and bob.

Proven with smtplib inside the host, the chain checked against the tls role's CA:
- on 587 after STARTTLS and on 465, alice logs in and sends to bob, and the mail is delivered;
- a client that did not log in is refused for every recipient (local, remote) on 587 and 465;
- AUTH is not offered before STARTTLS on 587, nor at all on 25, which still takes mail for bob;
- alice may not send as bob@auth.test (reject_sender_login_mismatch); a wrong password is refused;
- a second run changes nothing; without the contract (dovecot_postfix undefined) AUTH, the
  sender login table and Dovecot's main.cf parameters are gone again.
"""

from __future__ import annotations

import json
import os
import subprocess

import yaml

from container_host import ContainerHost
from playbook_runs import recap_changed
from systemd_container import systemd_container

IMAGE = "localhost/debian-bookworm:base"
# Bookworm with Postfix installed (tests/modules/test_postfix_apply.py keeps it): used when present.
POSTFIX_IMAGE = "localhost/postmaster-apply-test:bookworm"
HOSTNAME = "mail.auth.test"
PASSWORD = "Alice-%d-pw" % os.getpid()
SENDER_TABLE = "/etc/postfix/postmaster_sender_logins"

PLAYBOOK = """
- name: TLS, and Dovecot as the dovecot role will set it up
  hosts: all
  gather_facts: false
  roles:
    - role: postmaster.mail.tls
  tasks:
    - name: Read Dovecot's version
      ansible.builtin.command: dovecot --version
      register: dovecot_version
      changed_when: false

    - name: Dovecot's desired state, from its model
      ansible.builtin.set_fact:
        dovecot_state: "{{ dovecot_settings | postmaster.mail.dovecot_desired_state({'version': dovecot_version.stdout.split()[0]}) }}"
      vars:
        dovecot_settings:
          dovecot_tls_chain_file: "{{ tls_server_chain_file }}"
          dovecot_sender_domains: [auth.test]

    - name: Write dovecot.conf
      ansible.builtin.copy:
        content: "{{ item.content }}"
        dest: "{{ item.path }}"
        mode: "{{ item.mode }}"
        owner: "{{ item.owner }}"
        group: "{{ item.group }}"
      loop: "{{ dovecot_state.files }}"
      loop_control:
        label: "{{ item.path }}"
      register: dovecot_files

    - name: Restart Dovecot
      ansible.builtin.systemd_service:
        name: dovecot
        state: restarted
      when: dovecot_files is changed

    - name: Publish what Postfix adds, as the dovecot role will
      ansible.builtin.set_fact:
        dovecot_postfix: "{{ dovecot_state.postfix }}"
      when: with_dovecot | bool

- name: Postfix
  hosts: all
  gather_facts: false
  roles:
    - role: postmaster.mail.postfix
    - role: postmaster.mail.maildir
"""

# Runs in the host: every probe, one JSON result.
PROBE = r"""
import json, smtplib, ssl, sys
password = sys.stdin.read().strip()
context = ssl.create_default_context(cafile="/etc/postfix/tls/ca.pem")
results = {}

def message(sender, subject):
    return "From: %s\r\nTo: bob@auth.test\r\nSubject: %s\r\n\r\nhello\r\n" % (sender, subject)

def refusals(client, sender):
    found = {}
    client.mail(sender)
    for rcpt in ("bob@auth.test", "alice@auth.test", "root@localhost", "someone@example.net"):
        found[rcpt] = client.rcpt(rcpt)[0]
    client.rset()
    return found

def connect(port):
    if port == 465:
        client = smtplib.SMTP_SSL("127.0.0.1", 465, context=context, timeout=30)
        client.ehlo("client.auth.test")
        return client
    client = smtplib.SMTP("127.0.0.1", port, local_hostname="client.auth.test", timeout=30)
    client.ehlo()
    results["%d auth before starttls" % port] = client.has_extn("auth")
    client.starttls(context=context)
    client.ehlo()
    return client

for port in (587, 465):
    with connect(port) as client:
        results["%d auth offered" % port] = client.esmtp_features.get("auth", "")
        results["%d not logged in" % port] = refusals(client, "alice@auth.test")
    with connect(port) as client:
        try:
            client.login("alice", password + "-wrong")
            results["%d wrong password" % port] = "accepted"
        except smtplib.SMTPAuthenticationError as error:
            results["%d wrong password" % port] = error.smtp_code
    with connect(port) as client:
        client.login("alice", password)
        client.sendmail("alice@auth.test", ["bob@auth.test"], message("alice@auth.test", "sent-on-%d" % port))
        results["%d sent" % port] = True
        try:
            client.sendmail("bob@auth.test", ["bob@auth.test"], message("bob@auth.test", "forged-on-%d" % port))
            results["%d other sender" % port] = "accepted"
        except smtplib.SMTPRecipientsRefused as error:
            results["%d other sender" % port] = [list(map(str, value)) for value in error.recipients.values()]
        except smtplib.SMTPSenderRefused as error:
            results["%d other sender" % port] = [error.smtp_code, str(error.smtp_error)]

with connect(25) as client:
    results["25 auth after starttls"] = client.has_extn("auth")
    client.sendmail("carol@example.net", ["bob@auth.test"], message("carol@example.net", "inbound-on-25"))
print(json.dumps(results))
"""


class Host(ContainerHost):
    def __init__(self, root, name):
        super().__init__(root, name)
        self.inventory.write_text(yaml.safe_dump({"all": {"hosts": {name: {
            "ansible_connection": "containers.podman.podman", "ansible_python_interpreter": "/usr/bin/python3",
            "tls_controller_dir": str(root / "pki"), "tls_server_names": [HOSTNAME, "localhost", "127.0.0.1"],
            "postfix_myhostname": HOSTNAME, "postfix_mydomain": "auth.test",
            "postfix_mydestination": ["$myhostname", "auth.test", "localhost"],
            "maildir_users": ["alice", "bob"], "with_dovecot": True,
        }}}}))
        self.playbook = root / "play.yml"
        self.playbook.write_text(PLAYBOOK)

    def converge(self, extra=None):
        return self.play(self.playbook, extra)

    def probe(self):
        completed = subprocess.run(["podman", "exec", "-i", self.name, "python3", "-c", PROBE], input=PASSWORD,
                                   env=self.env, capture_output=True, text=True, timeout=300, check=False)
        assert completed.returncode == 0, completed.stdout + completed.stderr
        return json.loads(completed.stdout)

    def delivered(self, subject):
        return self.sh("for i in $(seq 60); do grep -rls 'Subject: %s$' /home/bob/Maildir/new && exit 0; sleep 1; "
                       "done; exit 1" % subject, check=False, timeout=90).strip() != ""


def test_submission_needs_auth_after_tls_and_port_25_has_none(tmp_path):
    name = "postmaster-submission-auth-%d" % os.getpid()
    host = Host(tmp_path, name)
    cached = subprocess.run(["podman", "image", "exists", POSTFIX_IMAGE], env=host.env, check=False).returncode == 0
    with systemd_container(name, POSTFIX_IMAGE if cached else IMAGE, host.env, HOSTNAME):
        host.sh("echo %s > /etc/mailname && useradd --create-home --shell /bin/bash alice && "
                "useradd --create-home --shell /bin/bash bob && export DEBIAN_FRONTEND=noninteractive && "
                "apt-get update -q && apt-get install -y -q --no-install-recommends dovecot-core dovecot-imapd"
                % HOSTNAME, timeout=600)
        subprocess.run(["podman", "exec", "-i", name, "chpasswd"], input="alice:%s\n" % PASSWORD, env=host.env,
                       text=True, check=True, capture_output=True)
        host.converge()

        # Postfix asks Dovecot; AUTH only in master.cf's 587 and 465 services.
        assert host.sh("postconf -h smtpd_sasl_type smtpd_sasl_path smtpd_sender_login_maps").split() == [
            "dovecot", "private/auth", "regexp:" + SENDER_TABLE]
        assert host.sh("postconf -n smtpd_sasl_auth_enable", check=False) == ""
        assert sorted(host.sh("postconf -P | grep smtpd_sasl_auth_enable").splitlines()) == [
            "smtps/inet/smtpd_sasl_auth_enable = yes", "submission/inet/smtpd_sasl_auth_enable = yes"]

        results = host.probe()
        assert results["587 auth before starttls"] is False, results
        assert results["25 auth before starttls"] is False and results["25 auth after starttls"] is False, results
        for port in (587, 465):
            assert "PLAIN" in results["%d auth offered" % port], results
            assert all(code >= 500 for code in results["%d not logged in" % port].values()), results
            assert results["%d wrong password" % port] == 535, results
            assert results["%d sent" % port] is True
            assert "not owned by user alice" in json.dumps(results["%d other sender" % port]), results
            assert host.delivered("sent-on-%d" % port), "mail sent on %d not delivered" % port
        assert host.delivered("inbound-on-25")
        assert host.sh("grep -rl 'Subject: forged-on' /home/bob/Maildir/new || true") == ""

        output = host.converge()
        assert recap_changed(output, name) == 0, output[-6000:]

        # The contract gone: Postfix no longer asks Dovecot, and its table goes.
        host.converge({"with_dovecot": False})
        assert host.sh("postconf -n smtpd_sasl_type smtpd_sender_login_maps", check=False) == ""
        assert host.sh("test -e %s && echo present || echo absent" % SENDER_TABLE).strip() == "absent"
        assert "smtpd_sasl_auth_enable" not in host.sh("postconf -P")
