"""Send numbered mails to RECIPIENT through 127.0.0.1:25 with STARTTLS verified against
CAFILE, one every INTERVAL seconds, at least MINIMUM of them and on until STOP_FILE exists
(at most 2000); prints how many were sent and exits non-zero if any was refused."""

import os
import smtplib
import ssl
import sys
import time
from email.message import EmailMessage

MAXIMUM = 2000

recipient, cafile, interval, tag, minimum, stop_file = sys.argv[1:7]
interval, minimum = float(interval), int(minimum)
context = ssl.create_default_context(cafile=cafile)
context.check_hostname = False
sent = failures = 0
while sent + failures < MAXIMUM and (sent + failures < minimum or not os.path.exists(stop_file)):
    number = sent + failures
    message = EmailMessage()
    message["From"] = "root@localhost"
    message["To"] = recipient
    message["Subject"] = "%s %d" % (tag, number)
    message.set_content("message %d\n" % number)
    try:
        with smtplib.SMTP("127.0.0.1", 25, timeout=30) as client:
            client.starttls(context=context)
            client.send_message(message)
        sent += 1
    except (OSError, smtplib.SMTPException) as error:
        failures += 1
        print("message %d: %s" % (number, error), file=sys.stderr)
    time.sleep(interval)
print(sent)
sys.exit(1 if failures else 0)
