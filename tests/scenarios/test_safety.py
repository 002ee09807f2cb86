"""Safety on one real, fully converged host (TLS, stunnel, SMTPS relay with SASL, TLS
policies, three Maildir users):

- secrets: a `-vvv --diff` run that rewrites the SASL table and the keys shows neither the
  password, nor a digest of it or of the SASL table, nor a line of any private key, in its
  output or the host's journal, and key files and SASL tables are 0600 root;
- bad inputs: dozens of bad values for the modules and the roles each fail with a one-line
  message that says what is wrong, and no configuration file on the host changes;
- no mail lost: a stream of at least 500 messages runs through a reload and a restart,
  and every message lands in a Maildir exactly once with the queue empty afterwards;
- switching off: moving the relay to the tunnel, then switching it and the TLS policies
  off, removes from main.cf and master.cf what they wrote, and the SASL table with the
  password, and a re-run changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from container_host import ContainerHost
from playbook_runs import recap_changed
from systemd_container import PIPELINED_CONNECTION, bookworm_mail_host

HERE = Path(__file__).resolve().parent / "safety"
USERS = ["alice", "bob", "carol"]
FINGERPRINT = "6E:BD:4C:48:C0:3E:D1:7D:4E:7C:95:E9:C7:2A:4E:61:1D:C3:A0:45:1B:3F:8D:28:9B:63:E5:64:9C:92:E5:EB"
# Every file whose bytes a bad input must leave alone.
WATCHED = "/etc/postfix /etc/stunnel /etc/s-nail.rc /etc/profile.d /etc/systemd/system/postmaster-stunnel.service"


def mission_vars(root):
    return {
        "ansible_connection": PIPELINED_CONNECTION,
        "ansible_python_interpreter": "/usr/bin/python3",
        "tls_controller_dir": str(root / "pki"),
        "tls_server_names": ["mail.safety.test"],
        "tls_client_certificate_enabled": True,
        "postfix_myhostname": "mail.safety.test",
        "postfix_mydomain": "safety.test",
        "postfix_relay": {
            "host": "relay.safety.test", "address": "127.0.0.1", "port": 4650, "method": "smtps",
            "tls_level": "secure", "domains": ["relay.safety.test"],
            "username": "edge@safety.test", "password": "{{ safety_relay_password }}",
        },
        "postfix_tls_policies": [
            {"destination": "partner.safety.test", "level": "verify", "match": ["nexthop"]},
            {"destination": "[127.0.0.1]:4651", "level": "fingerprint", "match": [FINGERPRINT]},
        ],
        "stunnel_tunnels": [{"name": "relay", "accept": "127.0.0.1:10465", "connect": "127.0.0.1:4650",
                             "ca_file": "/etc/postfix/tls/ca.pem", "check_host": "relay.safety.test"}],
        "maildir_users": USERS,
    }


class Host(ContainerHost):
    def __init__(self, root, name):
        super().__init__(root, name)
        self.inventory.write_text(yaml.safe_dump({"all": {"hosts": {name: mission_vars(root)}}}))
        self.secrets = root / "secrets.yml"

    def set_password(self, password):
        self.secrets.write_text(yaml.safe_dump({"safety_relay_password": password}))

    def playbook(self, playbook, *options, check=True, timeout=600):
        command = ["ansible-playbook", "-i", str(self.inventory), "-e", "@%s" % self.secrets, *options, str(playbook)]
        completed = subprocess.run(command, cwd=self.root, env=self.env, capture_output=True, text=True,
                                   timeout=timeout, check=False)
        if check:
            assert completed.returncode == 0, completed.stdout[-6000:] + completed.stderr[-3000:]
        return completed


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    root = tmp_path_factory.mktemp("safety")
    name = "postmaster-safety-test-%d" % os.getpid()
    server = Host(root, name)
    server.set_password("Safety-First-%d-pw" % os.getpid())
    with bookworm_mail_host(name, server.env, "mail.safety.test"):
        started = time.monotonic()
        server.playbook(HERE / "converge.yml")
        print("converge: %.0f s" % (time.monotonic() - started))
        yield server


# --- secrets -------------------------------------------------------------------------------

SECRET_FILES = ("/etc/postfix/postmaster_sasl_passwd /etc/postfix/postmaster_sasl_passwd.* "
                "/etc/postfix/tls/server-*.pem /etc/postfix/tls/client-*.pem")


def key_lines(pki):
    """The body lines of every private key on the controller (and of the chain files that hold them).
    An EC key's last line encodes the end of its public point, which certificate facts may show
    with the same base64 alignment: lines found in the public key are left out."""
    lines = set()
    for path in list(pki.rglob("*.key")) + list(pki.rglob("*-*.pem")):
        text = path.read_text()
        if "PRIVATE KEY" not in text:
            continue
        public = subprocess.run(["openssl", "pkey", "-pubout"], input=text, capture_output=True, text=True,
                                check=True).stdout
        public_base64 = "".join(public.splitlines()[1:-1])
        block = text.split("PRIVATE KEY-----", 1)[1].split("-----END", 1)[0]
        lines.update(line.strip() for line in block.splitlines()
                     if len(line.strip()) >= 16 and line.strip() not in public_base64)
    return lines


def where(output, secret):
    """The task whose output shows `secret`, for the failure message."""
    before = output[:output.index(secret)]
    return before[before.rfind("TASK ["):].split("\n", 1)[0]


def derived_values(secrets):
    """The hex digests an attacker with a word list could match: of each secret text (the
    password, user:password, the SASL table's source), with the hashes Ansible's hash filter offers."""
    return {hashlib.new(algorithm, text.encode()).hexdigest(): "%s of %r" % (algorithm, text[:40])
            for text in secrets for algorithm in ("md5", "sha1", "sha256", "sha512")}


def assert_secret_files_private(host):
    listing = host.sh("stat -c '%%a %%U %%G %%n' %s" % SECRET_FILES).splitlines()
    assert len(listing) >= 4, listing   # SASL source and built table, server and client chain
    assert [line for line in listing if not line.startswith("600 root root ")] == [], listing


def task_status(output, task):
    """ok, changed, failed or skipping: how TASK [task] ended for the host in ansible-playbook's output."""
    section = output.split("TASK [%s]" % task, 1)[1].split("\nTASK [", 1)[0]
    for line in section.splitlines():
        for status in ("changed", "ok", "failed", "skipping", "fatal"):
            if line.startswith(status + ":"):
                return status
    return None


def test_secret_files_are_0600_root(host):
    assert_secret_files_private(host)


def test_verbose_diff_run_that_rewrites_secrets_shows_none(host):
    pki = host.root / "pki"
    old_password = yaml.safe_load(host.secrets.read_text())["safety_relay_password"]
    old_source = host.sh("cat /etc/postfix/postmaster_sasl_passwd")
    old_lines = key_lines(pki)
    new_password = "Rotated-%s" % old_password[::-1]
    host.set_password(new_password)
    # The chain files on the host go away, so the run installs them again; the keys rotate.
    host.sh("rm -f /etc/postfix/tls/server-*.pem /etc/postfix/tls/client-*.pem")
    completed = host.playbook(HERE / "converge.yml", "-vvv", "--diff", "-e", "tls_force_renewal=true",
                              "-e", "tls_rotate_key=true")
    output = completed.stdout + completed.stderr
    new_lines = key_lines(pki)
    assert new_lines - old_lines, "the keys did not rotate"
    assert len(old_lines) >= 8
    (host.root / "verbose-diff.log").write_text(output)
    for password in (old_password, new_password):
        assert password not in output, "password in the output of %s" % where(output, password)
    # Modules log their invocation to the host's journal: the password must be masked there too.
    journal = host.sh("journalctl --no-pager -o cat 2>/dev/null; cat /var/log/syslog /var/log/mail.log 2>/dev/null; true")
    assert "Invoked with" in journal
    assert old_password not in journal and new_password not in journal, "password in the host's logs"
    # Nor any digest of it (drift_check used to send the SASL table's SHA-256 in its logged checks).
    new_source = host.sh("cat /etc/postfix/postmaster_sasl_passwd")
    user = mission_vars(host.root)["postfix_relay"]["username"]
    # ... and no digest of a file that holds a private key (the tls role's chain files).
    key_files = [path.read_text() for path in list(pki.rglob("*.key")) + list(pki.rglob("*-*.pem"))
                 if "PRIVATE KEY" in path.read_text()]
    derived = derived_values([old_password, new_password, "%s:%s" % (user, old_password),
                              "%s:%s" % (user, new_password), old_source, new_source] + key_files)
    assert sorted(why for value, why in derived.items() if value in output) == [], "digests of secrets in the output"
    assert sorted(why for value, why in derived.items() if value in journal) == [], "digests of secrets in the journal"
    leaked = sorted(line for line in old_lines | new_lines if line in output)
    assert leaked == [], "private key lines in the output of %s" % sorted({where(output, line) for line in leaked})
    # The run really rewrote the secrets: the table holds the new password, Postfix uses the new chain.
    assert new_password in host.sh("cat /etc/postfix/postmaster_sasl_passwd")
    assert task_status(output, "postmaster.mail.postfix : Build the SASL password table") == "changed"
    assert task_status(output, "postmaster.mail.tls : Install the server chain file") == "changed"
    assert_secret_files_private(host)
    chain = host.sh("postconf -h smtpd_tls_chain_files").strip()
    assert host.sh("test -s %s && echo ok" % chain).strip() == "ok"


# --- bad inputs ----------------------------------------------------------------------------

def load_bad_inputs():
    """name: (module or "role:NAME", arguments or role variables, words the message must contain),
    from every file in safety/bad_inputs/ (one file per module or role)."""
    cases = {}
    for path in sorted((HERE / "bad_inputs").glob("*.yml")):
        for name, case in yaml.safe_load(path.read_text()).items():
            assert name not in cases, "bad input %r is named twice (%s)" % (name, path.name)
            cases[name] = (case["target"], case["arguments"], [str(fragment) for fragment in case["expect"]])
    return cases


BAD_INPUTS = load_bad_inputs()


def bad_inputs_playbook(results_file):
    """One play: a block per case, whose rescue records what failed and why."""
    tasks = [{"name": "Publish the certificate facts the postfix role reads",
              "ansible.builtin.include_role": {"name": "postmaster.mail.tls"}},
             {"name": "Start with no results", "ansible.builtin.set_fact": {"safety_results": {}}}]
    for number, (name, (target, arguments, dummy)) in enumerate(BAD_INPUTS.items()):
        if target.startswith("role:"):
            step = {"ansible.builtin.include_role": {"name": "postmaster.mail." + target[5:]}, "vars": arguments}
        else:
            step = {"postmaster.mail." + target: arguments}
        key = "case%d" % number
        tasks.append({"name": name, "block": [
            dict({"name": "Try: " + name}, **step),
            {"name": "Record that it was accepted", "ansible.builtin.set_fact": {
                "safety_results": "{{ safety_results | combine({'%s': {'failed': false}}) }}" % key}},
        ], "rescue": [{"name": "Record why it failed", "ansible.builtin.set_fact": {
            "safety_results": "{{ safety_results | combine({'%s': {'failed': true, "
                              "'msg': ansible_failed_result.msg | default(''), "
                              "'errors': ansible_failed_result.argument_errors | default(none), "
                              "'items': ansible_failed_result.results | default([]) | selectattr('failed', 'defined') "
                              "| selectattr('failed') | map(attribute='msg') | list}}) }}" % key}}]})
    tasks.append({"name": "Save the results", "ansible.builtin.copy": {
        "content": "{{ safety_results | to_nice_json }}", "dest": str(results_file), "mode": "0600"},
        "delegate_to": "localhost"})
    return [{"name": "Bad inputs", "hosts": "all", "gather_facts": False, "tasks": tasks}]


def config_hashes(host):
    listing = host.sh("find %s -type f -print0 | sort -z | xargs -0 sha256sum" % WATCHED)
    return dict(reversed(line.split(None, 1)) for line in listing.splitlines())


def failure_message(result):
    """Role argument specs fail with a header line and one line per error: the error is the message.
    A check in a loop fails per item, each with its own message, then says "One or more items failed"."""
    if result.get("errors"):
        assert len(result["errors"]) == 1, result
        return result["errors"][0]
    if result.get("items"):
        assert len(result["items"]) == 1, result
        return result["items"][0]
    return result.get("msg") or "(accepted)"


def test_bad_inputs_cover_every_module_and_role():
    targets = {target for target, dummy, dummy in BAD_INPUTS.values()}
    assert targets >= {"postconf", "postconf_master", "postmap", "tls_policy", "mail_probe", "maildir", "role:postfix",
                       "role:tls", "role:stunnel", "role:mail_client", "role:maildir", "role:rspamd", "dkim_keys"}
    assert len(BAD_INPUTS) >= 100


def test_bad_inputs_fail_with_one_line_and_change_nothing(host):
    before = config_hashes(host)
    assert any(path.endswith("postmaster_sasl_passwd.db") for path in before), sorted(before)
    playbook = host.root / "bad_inputs.yml"
    results_file = host.root / "bad_inputs.json"
    playbook.write_text(yaml.safe_dump(bad_inputs_playbook(results_file), sort_keys=False, width=1000))
    started = time.monotonic()
    host.playbook(playbook, timeout=1500)
    elapsed = time.monotonic() - started
    results = json.loads(results_file.read_text())
    problems = []
    for number, (name, (target, arguments, fragments)) in enumerate(BAD_INPUTS.items()):
        result = results.get("case%d" % number)
        if not result or not result["failed"]:
            problems.append("%s: accepted" % name)
            continue
        message = failure_message(result)
        if "\n" in message.strip() or not message.strip():
            problems.append("%s: not one line: %r" % (name, message))
        missing = [fragment for fragment in fragments if fragment not in message]
        if missing:
            problems.append("%s: %r lacks %s" % (name, message, missing))
    print("%d bad inputs in %.0f s" % (len(BAD_INPUTS), elapsed))
    for number, name in enumerate(BAD_INPUTS):
        print("  %s: %s" % (name, failure_message(results.get("case%d" % number, {"msg": "?"}))))
    after = config_hashes(host)
    changed = sorted(path for path in set(before) | set(after) if before.get(path) != after.get(path))
    assert problems == [] and changed == [], "\n".join(problems + ["changed: %s" % changed])


# --- no mail lost --------------------------------------------------------------------------

def test_no_mail_lost_through_reload_and_restart(host):
    tag = "stream%d" % time.time()
    host.copy_in(HERE / "stream.py", "/root/stream.py")
    host.copy_in(HERE / "count_maildir.py", "/root/count_maildir.py")
    host.sh("rm -f /root/stream.stop")
    stream = subprocess.Popen(["podman", "exec", host.name, "python3", "/root/stream.py", "500", "0.05",
                               "/root/stream.stop", tag, ",".join(USERS)], env=host.env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    started = time.monotonic()
    banner = json.dumps({"postfix_main_cf": {"smtpd_banner": "$myhostname ESMTP %s" % tag}})
    master_pids = [host.sh("cat /var/spool/postfix/pid/master.pid").strip()]
    try:
        time.sleep(3)
        reload_run = host.playbook(HERE / "reconfigure.yml", "-v", "-e", banner)
        master_pids.append(host.sh("cat /var/spool/postfix/pid/master.pid").strip())
        restart_run = host.playbook(HERE / "reconfigure.yml", "-v", "-e", banner, "-e", "postfix_inet_protocols=ipv4")
        master_pids.append(host.sh("cat /var/spool/postfix/pid/master.pid").strip())
    finally:
        host.sh("touch /root/stream.stop")
        stdout, stderr = stream.communicate(timeout=300)
    assert stream.returncode == 0, stdout + stderr
    summary = json.loads(stdout.strip().splitlines()[-1])
    # The first run reloaded (same master process), the second restarted (a new one).
    assert '"performed": "reload"' in reload_run.stdout and '"performed": "restart"' in restart_run.stdout
    assert master_pids[0] == master_pids[1] != master_pids[2], master_pids
    assert host.sh("postconf -h inet_protocols").strip() == "ipv4"
    for dummy in range(120):
        queue = host.sh("postqueue -j")
        counts = json.loads(host.sh("python3 /root/count_maildir.py %s %s" % (tag, ",".join(USERS))))
        if not queue.strip() and len(counts) >= summary["sent"]:
            break
        time.sleep(1)
    duration = time.monotonic() - started
    print("stream: %s; %.1f messages/s; delivered and counted after %.0f s"
          % (summary, summary["sent"] / summary["seconds"], duration))
    expected = {"<%s-%06d@safety.test>" % (tag, number) for number in range(summary["sent"])}
    assert summary["sent"] >= 500
    assert queue.strip() == "", queue
    assert set(counts) == expected, (sorted(expected - set(counts))[:5], sorted(set(counts) - expected)[:5])
    assert [key for key, copies in counts.items() if copies != 1] == []


# --- switching features off ------------------------------------------------------------------

RELAY_PARAMETERS = ("default_transport", "transport_maps", "smtp_sasl_auth_enable", "smtp_sasl_password_maps",
                    "smtp_sasl_security_options", "smtp_sasl_tls_security_options")


SASL_TABLE = "/etc/postfix/postmaster_sasl_passwd"


def set_parameters(host, names):
    """The names among `names` that main.cf sets (postconf -n)."""
    shown = host.sh("postconf -n %s 2>/dev/null || true" % " ".join(names))
    return sorted(line.split(" = ", 1)[0] for line in shown.splitlines() if " = " in line)


def test_relay_and_policies_switched_off_leave_no_routes_behind(host):
    """Runs last: it takes the relay apart. SMTPS relay to stunnel, then no relay and no TLS
    policies: each step removes what the previous settings wrote to main.cf and master.cf,
    Postfix's configuration stays valid, the SASL table with the password is removed once
    Postfix has reloaded without it, and a re-run changes nothing."""
    relay = mission_vars(host.root)["postfix_relay"]
    through_tunnel = dict(relay, method="stunnel", tunnel_port=10465)
    host.playbook(HERE / "reconfigure.yml", "-e", json.dumps({"postfix_relay": through_tunnel}))
    assert host.sh("postconf -M postmaster-smtps/unix").strip() == ""
    assert set_parameters(host, ["default_transport"]) == []
    assert host.sh("postmap -q relay.safety.test $(postconf -h transport_maps)").strip() == "smtp:[127.0.0.1]:10465"
    assert host.sh("ls /etc/postfix/postmaster_sasl_passwd*").split() == [SASL_TABLE, SASL_TABLE + ".db"]

    switched_off = json.dumps({"postfix_relay": None, "postfix_tls_policies": []})
    host.playbook(HERE / "reconfigure.yml", "-e", switched_off)
    assert set_parameters(host, RELAY_PARAMETERS + ("smtp_tls_policy_maps",)) == []
    # The SASL table, with the password, goes once Postfix runs without it.
    assert host.sh("ls /etc/postfix/postmaster_sasl_passwd* 2>/dev/null || true").split() == []
    host.sh("postfix check")
    assert recap_changed(host.playbook(HERE / "reconfigure.yml", "-e", switched_off).stdout, host.name) == 0
