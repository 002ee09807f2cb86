"""Runs inside a mail server: USER sends a message to itself by authenticated submission
(port 587, STARTTLS, AUTH), then fetches it over IMAP (port 993, TLS from the first byte), both
with the server's certificate checked against CA_FILE for HOST. The password is read from stdin.
Prints what happened and how long each step took.
Usage: submit-and-fetch.py USER DOMAIN HOST CA_FILE [TIMEOUT_SECONDS] <password"""

import imaplib
import smtplib
import ssl
import sys
import time


def main():
    user, domain, host, ca_file = sys.argv[1:5]
    timeout = float(sys.argv[5]) if len(sys.argv) > 5 else 30
    password = sys.stdin.readline().rstrip("\n")
    context = ssl.create_default_context(cafile=ca_file)
    address = "%s@%s" % (user, domain)
    subject = "postmaster.mail submission test %d" % time.time_ns()
    message = "From: %s\r\nTo: %s\r\nSubject: %s\r\n\r\nSent by authenticated submission, read over IMAP.\r\n" % (
        address, address, subject)

    started = time.monotonic()
    with smtplib.SMTP(host, 587, timeout=30) as smtp:
        smtp.starttls(context=context)
        smtp.login(user, password)
        smtp.sendmail(address, [address], message)
    submitted = time.monotonic()
    print("sent by authenticated submission: %s logged in as %s on %s:587 after STARTTLS" % (address, user, host))
    print("submission time: %d ms" % ((submitted - started) * 1000))

    with imaplib.IMAP4_SSL(host, 993, ssl_context=context) as imap:
        imap.login(user, password)
        while True:
            imap.select("INBOX", readonly=True)
            found = imap.search(None, "HEADER", "Subject", '"%s"' % subject)[1][0].split()
            if found:
                break
            if time.monotonic() - submitted > timeout:
                sys.exit("not in %s's INBOX over IMAP within %ds" % (user, timeout))
            time.sleep(0.1)
        header = imap.fetch(found[-1], "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")[1][0][1].decode().strip()
        imap.logout()
    fetched = time.monotonic()
    print("fetched over IMAP: %s on %s:993 (TLS), %s" % (user, host, header))
    print("delivery and fetch time: %d ms" % ((fetched - submitted) * 1000))


if __name__ == "__main__":
    main()
