#!/bin/sh
# Runs inside a mail server: USER sends a message to itself with s-nail, then this waits
# until it is in ~USER/Maildir/new and prints where it landed and how long it took.
# Usage: send-test-mail.sh USER [TIMEOUT_SECONDS]
set -eu
user=$1
timeout=${2:-30}
home=$(getent passwd "$user" | cut -d: -f6)
subject="postmaster.mail test $(date +%s%N)"
body=$(mktemp)
printf 'Hello from postmaster.mail.\nSent by %s on %s.\n' "$user" "$(hostname)" >"$body"
chmod 0644 "$body"
start=$(date +%s%N)
runuser -u "$user" -- s-nail -Snorecord -s "$subject" "$user" <"$body"
rm -f "$body"
deadline=$(( $(date +%s) + timeout ))
while :; do
  found=$(grep -l -F -x "Subject: $subject" "$home"/Maildir/new/* 2>/dev/null | head -n 1 || true)
  if [ -n "$found" ]; then
    elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
    echo "delivered: $found"
    echo "subject: $subject"
    echo "delivery time: ${elapsed_ms} ms"
    exit 0
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "not delivered within ${timeout}s; mail queue:" >&2
    postqueue -p >&2 || true
    exit 1
  fi
  sleep 0.1
done
