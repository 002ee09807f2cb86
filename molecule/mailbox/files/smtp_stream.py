"""Send COUNT numbered mails to RECIPIENT through 127.0.0.1:25 with STARTTLS verified
against CAFILE, one every INTERVAL seconds; exits non-zero if any was refused."""

import smtplib
import ssl
import sys
import time
from email.message import EmailMessage

count, recipient, cafile, interval, tag = int(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5]
context = ssl.create_default_context(cafile=cafile)
context.check_hostname = False
failures = 0
for number in range(count):
    message = EmailMessage()
    message["From"] = "root@localhost"
    message["To"] = recipient
    message["Subject"] = "%s %d" % (tag, number)
    message.set_content("message %d of %d\n" % (number, count))
    try:
        with smtplib.SMTP("127.0.0.1", 25, timeout=30) as client:
            client.starttls(context=context)
            client.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        failures += 1
        print("message %d: %s" % (number, error), file=sys.stderr)
    time.sleep(interval)
print("sent %d, failed %d" % (count - failures, failures))
sys.exit(1 if failures else 0)
