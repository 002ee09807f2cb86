"""Send mail to 127.0.0.1:25 until at least COUNT messages are accepted and STOP_FILE exists,
one every INTERVAL seconds, each with a unique Message-ID, round-robin over RECIPIENTS.
A refused or broken connection is retried with the same message (as an MTA would).
Prints one JSON line: sent, retries, first and last error, duration."""

import json
import os
import smtplib
import sys
import time
from email.message import EmailMessage

count, interval, stop_file, tag = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4]
recipients = sys.argv[5].split(",")
started = time.monotonic()
sent = retries = 0
errors = []
while sent < count or not os.path.exists(stop_file):
    message = EmailMessage()
    message["From"] = "root@localhost"
    message["To"] = recipients[sent % len(recipients)]
    message["Subject"] = "%s %d" % (tag, sent)
    message["Message-ID"] = "<%s-%06d@safety.test>" % (tag, sent)
    message.set_content("message %d\n" % sent)
    for attempt in range(600):
        try:
            with smtplib.SMTP("127.0.0.1", 25, timeout=30) as client:
                client.send_message(message)
            break
        except (OSError, smtplib.SMTPException) as error:
            retries += 1
            errors.append("%d: %s" % (sent, error))
            time.sleep(0.2)
    else:
        print(json.dumps({"sent": sent, "retries": retries, "errors": errors[-5:], "gave_up": True}))
        sys.exit(1)
    sent += 1
    time.sleep(interval)
print(json.dumps({"sent": sent, "retries": retries, "errors": errors[:3] + errors[-3:],
                  "seconds": round(time.monotonic() - started, 1)}))
