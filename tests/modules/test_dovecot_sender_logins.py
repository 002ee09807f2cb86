"""The sender login table of the Dovecot model's Postfix contract, read by the real Postfix
(postmap -q on this machine): each envelope sender maps to the logins that may use it, which
is what reject_sender_login_mismatch on the submission ports compares the SASL login with."""

from __future__ import annotations

import sys

import pytest

from conftest import PROJECT_ROOT, query

sys.path.insert(0, str(PROJECT_ROOT / ".cache" / "collections"))

from ansible_collections.postmaster.mail.plugins.module_utils._dovecot_model import desired_state  # noqa: E402

HASH = "$6$abcdefgh12345678$QAQshCuoo0usKMOrFNa2pq1OconipS.bKyx4ZHF8k/dneKoAKQYyWKeQt8QcbKQYQ71oJs5NfvANkzBk6Fpsk1"
SETTINGS = {
    "dovecot_tls_chain_file": "/etc/ssl/mail.pem",
    "dovecot_sender_domains": ["example.org"],
    "dovecot_users": [
        {"name": "bob@example.org", "password_hash": HASH},
        {"name": "carol@example.net", "password_hash": HASH, "senders": ["carol@example.net", "c.smith@example.net"]},
        {"name": "edge1", "password_hash": HASH, "senders": ["@example.org", "@lists.example.com"]},
    ],
}


@pytest.mark.parametrize("sender, owners", [
    ("bob@example.org", "bob@example.org,edge1"),
    ("bob+lists@example.org", "bob@example.org,edge1"),
    ("BOB@Example.ORG", "bob@example.org,edge1"),
    ("alice@example.org", "alice,edge1"),
    ("alice+x@example.org", "alice,edge1"),
    ("carol@example.net", "carol@example.net"),
    ("c.smith@example.net", "carol@example.net"),
    ("cXsmith@example.net", None),
    ("anyone@lists.example.com", "edge1"),
    ("bob@example.org.evil.test", None),
    ("mallory@evil.test", None),
    ("", None),
])
def test_sender_owners(config_dir, tables, sender, owners):
    table = desired_state(SETTINGS, {"version": "2.3.19"})["postfix"]["tables"]["sender_logins"]
    assert table["type"] == "regexp"
    path = tables / "sender_logins"
    path.write_text(table["source"])
    assert query(config_dir, sender, "regexp:%s" % path) == owners
