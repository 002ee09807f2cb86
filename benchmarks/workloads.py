# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the benchmarks run: the playbooks, the hosts' variables (minimal site, full
mission), the fleet sizes, the mail runs' sizes and the postconf benchmark's parameters."""

from __future__ import annotations

import importlib.util

from common import BENCH, PKI, ROOT


MAILBENCH = BENCH / "lib" / "mailbench.py"
HOSTNAME = "mail.bench.test"
FLEET_SIZES = [1, 2, 4, 8]
MAIL_COUNT = 1000
MAIL_SESSIONS = 10
MAIL_BODY = 1024
MAIL_USER = "carol"


def load_mailbench():
    """benchmarks/lib/mailbench.py as a module: it runs in the container, and its routes
    must match the full mission's relay set-up here."""
    spec = importlib.util.spec_from_file_location("postmaster_mailbench", MAILBENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RELAY_DOMAINS = load_mailbench().RELAY_DOMAINS

# Minimal site: Postfix, s-nail and a Maildir for one user.
MINIMAL_VARS = {
    "postfix_myhostname": HOSTNAME,
    "postfix_mydomain": "bench.test",
    "maildir_users": ["alice"],
}
USERS = {"minimal": ["alice"], "full": ["alice", "bob", "carol"]}


def full_vars(name):
    """Full mission: TLS on 25/587/465 with a client certificate, two TLS policies, a relay
    through a stunnel tunnel with SASL, three Maildirs. The tunnel leads to this host's own
    port 465, so it is also the tunnel the mail benchmark measures.

    Two loopback listeners and two maps let the mail benchmark relay on this one host:
    mail injected on 10025 skips address mapping, so mail for tunnel.bench.test leaves
    through the relayhost (the tunnel) and mail for plain.bench.test through the transport
    map to 10026, in plaintext; on its way back in (465 or 10026) the virtual alias map
    turns either address into a local user."""
    return {
        "postmaster_mail_tls": True,
        "tls_controller_dir": str(PKI / name),
        "tls_server_names": [HOSTNAME, "localhost"],
        "tls_client_certificate_enabled": True,
        "postfix_myhostname": HOSTNAME,
        "postfix_mydomain": "bench.test",
        "maildir_users": USERS["full"],
        "postfix_tls_policies": [
            {"destination": "example.org", "level": "secure", "match": [".example.org"]},
            {"destination": "[mx.example.net]:25", "level": "encrypt",
             "protocols": ["!SSLv2", "!SSLv3", "!TLSv1", "!TLSv1.1"]},
        ],
        "stunnel_tunnels": [{
            "name": "hub", "accept": "127.0.0.1:10465", "connect": "127.0.0.1:465",
            "ca_file": "/etc/postfix/tls/ca.pem", "check_host": HOSTNAME,
        }],
        "postfix_relay": {
            "host": HOSTNAME, "method": "stunnel", "tunnel_port": 10465,
            "username": "edge@bench.test", "password": "bench-S3cret",
        },
        "postfix_main_cf": {
            "virtual_alias_maps": "inline:{@%s=%s@localhost, @%s=%s@localhost}" % (
                RELAY_DOMAINS["relay-tunnel"], MAIL_USER, RELAY_DOMAINS["relay-plain"], MAIL_USER),
            "transport_maps": "inline:{%s=smtp:[127.0.0.1]:10026}" % RELAY_DOMAINS["relay-plain"],
        },
        "postfix_master_cf_services": [
            {"name": "127.0.0.1:10025", "type": "inet", "private": False, "chroot": True, "command": "smtpd",
             "options": {"syslog_name": "postfix/bench-inject", "receive_override_options": "no_address_mappings",
                         "smtpd_tls_security_level": "none"}},
            {"name": "127.0.0.1:10026", "type": "inet", "private": False, "chroot": True, "command": "smtpd",
             "options": {"syslog_name": "postfix/bench-plain", "smtpd_tls_security_level": "none"}},
        ],
    }


def host_vars(name, kind):
    """The inventory variables of one host converged to kind (floor, minimal or full)."""
    if kind == "full":
        return full_vars(name)
    if kind != "floor":
        return dict(MINIMAL_VARS)
    return {}


PLAYBOOKS = {
    "floor": BENCH / "playbooks" / "floor.yml",
    "minimal": ROOT / "playbooks" / "site.yml",
    "full": BENCH / "playbooks" / "full.yml",
    "postconf-batch": BENCH / "playbooks" / "postconf_batch.yml",
    "postconf-single": BENCH / "playbooks" / "postconf_single.yml",
}
# 20 main.cf parameters for the postconf benchmark: limits and timeouts, harmless to change.
POSTCONF_BASE = {
    "smtpd_recipient_limit": 1000, "smtpd_timeout": 300, "smtpd_hard_error_limit": 20,
    "smtpd_soft_error_limit": 10, "smtpd_junk_command_limit": 100, "smtpd_history_flush_threshold": 100,
    "smtp_connect_timeout": 30, "smtp_helo_timeout": 300, "smtp_mail_timeout": 300, "smtp_rcpt_timeout": 300,
    "smtp_data_init_timeout": 120, "smtp_data_xfer_timeout": 180, "smtp_data_done_timeout": 600,
    "smtp_quit_timeout": 300, "maximal_queue_lifetime": 5, "bounce_queue_lifetime": 5,
    "header_size_limit": 102400, "line_length_limit": 2048, "duplicate_filter_limit": 1000,
    "queue_run_delay": 300,
}
