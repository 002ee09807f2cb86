# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark helper run inside a mail server container (python3 - MODE ...): send
COUNT messages over loopback, wait until they are in USER's Maildir, print JSON.

Modes: source-plain (smtp-source to 127.0.0.1:25), source-tunnel (smtp-source to the
stunnel tunnel's 127.0.0.1:10465, which carries it over TLS to this host's port 465),
python-plain and python-starttls (smtplib to 127.0.0.1:25, the latter with STARTTLS and
the certificate chain checked against /etc/postfix/tls/ca.pem): Postfix's smtp-source
cannot speak STARTTLS. These send one message per SMTP session, SESSIONS sessions at a
time, BODY bytes of body each. source-plain-reuse and source-tunnel-reuse send all of a
session's messages over one connection (smtp-source -d), as Postfix's own SMTP client does
with its connection cache when mail for the relay queues up.

relay-tunnel and relay-plain measure the tunnel as Postfix uses it: smtp-source hands the
messages to Postfix on 127.0.0.1:10025, and Postfix's SMTP client relays them, through the
tunnel to port 465 (the relayhost) or in plaintext to 127.0.0.1:10026 (a transport map
entry), where Postfix takes them back in and delivers them to USER. Both cross Postfix
twice; they differ only in the tunnel. The full mission's set-up in benchmarks/workloads.py
provides the listeners and maps.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import smtplib
import ssl
import subprocess
import sys
import threading
import time

STALL_SECONDS = 60
# Mail for these domains leaves the host (relay modes) and comes back to the user.
RELAY_DOMAINS = {"relay-tunnel": "tunnel.bench.test", "relay-plain": "plain.bench.test"}
# smtp-source modes: the port it connects to, and the recipient's domain.
SOURCE_ROUTES = {
    "source-plain": (25, "localhost"),
    "source-tunnel": (10465, "localhost"),
    "relay-plain": (10025, RELAY_DOMAINS["relay-plain"]),
    "relay-tunnel": (10025, RELAY_DOMAINS["relay-tunnel"]),
}


def queue_length():
    """Messages in Postfix's queue."""
    output = subprocess.run(["postqueue", "-j"], capture_output=True, text=True, check=False).stdout
    return sum(1 for line in output.splitlines() if line.strip())


def python_sender(count, sessions, body, starttls, recipient):
    """Send count messages from sessions threads, one SMTP session per message."""
    context = None
    if starttls:
        context = ssl.create_default_context(cafile="/etc/postfix/tls/ca.pem")
        context.check_hostname = False  # connected by address; the chain is still verified
    lock = threading.Lock()
    state = {"next": 0, "sent": 0, "errors": []}
    text = ("Subject: postmaster.mail benchmark\r\nFrom: bench@localhost\r\nTo: %s\r\n\r\n" % recipient
            + ("x" * 76 + "\r\n") * max(1, body // 78))

    def worker():
        while True:
            with lock:
                if state["next"] >= count:
                    return
                state["next"] += 1
            try:
                with smtplib.SMTP("127.0.0.1", 25, local_hostname="bench-client", timeout=60) as smtp:
                    if starttls:
                        smtp.starttls(context=context)
                    smtp.sendmail("bench@localhost", [recipient], text)
                with lock:
                    state["sent"] += 1
            except (OSError, smtplib.SMTPException) as error:
                with lock:
                    state["errors"].append(str(error)[:200])

    threads = [threading.Thread(target=worker) for _session in range(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return state["sent"], state["errors"][:5], len(state["errors"])


def main():
    mode, count, sessions, body, user = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    recipient = "%s@localhost" % user
    maildir = os.path.join(pwd.getpwnam(user).pw_dir, "Maildir")
    # Start from an empty queue and an empty Maildir, so every message counted is this run's.
    deadline = time.monotonic() + 120
    while queue_length() and time.monotonic() < deadline:
        time.sleep(0.5)
    leftover = queue_length()
    for sub in ("new", "cur"):
        for name in os.listdir(os.path.join(maildir, sub)):
            os.unlink(os.path.join(maildir, sub, name))

    start = time.monotonic()
    errors, error_count, sent = [], 0, count
    if mode.removesuffix("-reuse") in SOURCE_ROUTES:
        port, domain = SOURCE_ROUTES[mode.removesuffix("-reuse")]
        command = [shutil.which("smtp-source") or "/usr/sbin/smtp-source", "-s", str(sessions), "-m", str(count),
                   "-l", str(body), "-f", "bench@localhost", "-t", "%s@%s" % (user, domain), "-M", "bench-client"]
        command += ["-d"] if mode.endswith("-reuse") else []
        command += ["127.0.0.1:%d" % port]
        completed = subprocess.run(command, capture_output=True, text=True, check=False)
        if completed.returncode:
            errors = [completed.stderr.strip()[-400:]]
            error_count = 1
    else:
        sent, errors, error_count = python_sender(count, sessions, body, mode == "python-starttls", recipient)
    sent_seconds = time.monotonic() - start

    new = os.path.join(maildir, "new")
    delivered, last_change, last_seen = 0, time.monotonic(), 0
    while True:
        delivered = len(os.listdir(new))
        now = time.monotonic()
        if delivered != last_seen:
            last_seen, last_change = delivered, now
        if delivered >= count or now - last_change > STALL_SECONDS:
            break
        time.sleep(0.05)
    total_seconds = last_change - start if delivered < count else time.monotonic() - start
    print(json.dumps({
        "mode": mode, "count": count, "sessions": sessions, "body_bytes": body,
        "sent_seconds": round(sent_seconds, 3), "seconds": round(total_seconds, 3),
        "delivered": delivered, "lost": count - delivered, "sender_reported_sent": sent,
        "sender_errors": error_count, "sender_error_samples": errors, "queue_before": leftover,
        "queue_after": queue_length(),
    }))


if __name__ == "__main__":
    main()
