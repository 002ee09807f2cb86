# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Send one test message over SMTP and wait for it in a Maildir (mail_probe).

Python standard library only (smtplib, ssl), for Python 3.9 to 3.13 on the managed host.
Private to postmaster.mail: no stability promise for other collections.
"""

from __future__ import annotations

import os
import re
import smtplib
import socket
import ssl
import time
import uuid
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate

SECURITY_CHOICES = ("plain", "starttls", "smtps")
# In order of preference; TLS is always up, so PLAIN is as safe as the others.
AUTH_MECHANISMS = ("PLAIN", "LOGIN", "CRAM-MD5")
POLL_INTERVAL = 0.1
# Maildir files older than the probe (less this slack for coarse clocks) are never read.
MTIME_SLACK = 5.0
# Message-ID is in the header, which local delivery agents only prepend to.
READ_LIMIT = 256 * 1024
# "250 2.0.0 Ok: queued as 4dQ5Yx1xYz" (Postfix), "250 OK id=1tF2aB-000123-Xy" (Exim).
_QUEUE_ID = re.compile(r"queued as ([0-9A-Za-z]+)|\bid=([0-9A-Za-z-]+)")


class MailProbeError(Exception):
    """A one-line reason, with what the probe found out before it stopped."""

    def __init__(self, reason, result=None):
        super().__init__("mail_probe: " + reason)
        self.reason = reason
        self.result = dict(result or {})


def default_security(port):
    """Implicit TLS on the submissions port, STARTTLS everywhere else."""
    return "smtps" if port == 465 else "starttls"


def tls_context(ca_file=None, verify=None, check_name=False):
    """A client context. Verifies the chain against ca_file (or the system's CAs when
    verify is true and there is no ca_file), and the name given to wrap_socket only with
    check_name. verify defaults to true exactly when ca_file is given."""
    if verify is None:
        verify = ca_file is not None
    try:
        context = ssl.create_default_context(cafile=ca_file if verify else None)
    except (OSError, ssl.SSLError) as exc:
        raise MailProbeError("cannot read CA file %s: %s" % (ca_file, _ssl_reason(exc)))
    # Python 3.13 turns on strict X.509 checks; MTAs (OpenSSL defaults) do not use them.
    context.verify_flags &= ~getattr(ssl, "VERIFY_X509_STRICT", 0)
    context.check_hostname = bool(verify and check_name)
    if not verify:
        context.verify_mode = ssl.CERT_NONE
    return context


def queue_id(reply):
    match = _QUEUE_ID.search(reply or "")
    return (match.group(1) or match.group(2)) if match else None


def build_message(sender, recipient, subject=None, hostname=None):
    """The probe message as CRLF bytes, and its Message-ID."""
    hostname = hostname or socket.getfqdn()
    token = uuid.uuid4().hex
    message_id = "<%s.mail-probe@%s>" % (token, hostname)
    message = EmailMessage(policy=SMTP_POLICY.clone(max_line_length=998))
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject or "mail_probe %s from %s" % (token, hostname)
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = message_id
    # RFC 3834: no vacation replies to a probe.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(
        "Test message sent by postmaster.mail.mail_probe from %s.\n"
        "Token: %s\n"
        "It can be deleted.\n" % (hostname, token)
    )
    return message_id, message.as_bytes()


def find_in_maildir(maildir, needle, seen, not_before):
    """Path of a file in maildir/new or maildir/cur that contains needle, or None.
    Each file name is read at most once (`seen`), and only files changed since
    not_before. A missing Maildir is empty: Postfix makes it on first delivery."""
    for sub in ("new", "cur"):
        directory = os.path.join(maildir, sub)
        try:
            entries = os.scandir(directory)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise MailProbeError("cannot read %s: %s" % (directory, exc.strerror or exc))
        with entries:
            for entry in entries:
                key = (sub, entry.name)
                if key in seen:
                    continue
                seen.add(key)
                try:
                    if not entry.is_file(follow_symlinks=False) or entry.stat().st_mtime < not_before:
                        continue
                    with open(entry.path, "rb") as handle:
                        head = handle.read(READ_LIMIT)
                except FileNotFoundError:
                    continue  # moved from new/ to cur/ meanwhile: seen there next time
                except OSError as exc:
                    raise MailProbeError("cannot read %s: %s" % (entry.path, exc.strerror or exc))
                if needle in head:
                    return entry.path
    return None


def _text(reply):
    if isinstance(reply, bytes):
        reply = reply.decode("utf-8", "replace")
    return " ".join(line.strip() for line in str(reply).splitlines() if line.strip())


def _reply(code, text):
    return ("%s %s" % (code, _text(text))).strip()


def _ssl_reason(exc):
    reason = getattr(exc, "verify_message", None)
    if reason:
        return "certificate verify failed: %s" % reason
    return _text(getattr(exc, "strerror", None) or getattr(exc, "reason", None) or exc)


class _SMTP(smtplib.SMTP):
    """smtplib.SMTP that can also start with TLS (smtps), and that gives TLS the name
    to send as SNI (and to check, when the context checks names) instead of the
    address it connects to."""

    def __init__(self, tls_name, implicit_tls, timeout, local_hostname):
        smtplib.SMTP.__init__(self, local_hostname=local_hostname, timeout=timeout)
        # smtplib passes _host as server_hostname in starttls() (as SMTP_SSL does).
        self._host = tls_name
        self._implicit_tls = implicit_tls

    def _get_socket(self, host, port, timeout):
        sock = smtplib.SMTP._get_socket(self, host, port, timeout)
        if self._implicit_tls is not None:
            try:
                sock = self._implicit_tls.wrap_socket(sock, server_hostname=self._host)
            except BaseException:
                sock.close()
                raise
        return sock


class Probe(object):
    def __init__(self, server, port, security, context, server_name, sender, recipient,
                 subject, username, password, maildir, timeout):
        self.server = server
        self.port = port
        self.security = security
        self.context = context
        self.server_name = server_name
        self.sender = sender
        self.recipient = recipient
        self.subject = subject
        self.username = username
        self.password = password
        self.maildir = maildir
        self.timeout = timeout
        self.result = dict(
            security=security,
            message_id=None,
            tls=None,
            server_reply=None,
            queue_id=None,
            delivered_path=None,
            delivery_time=None,
            elapsed=None,
        )
        self._start = None

    @property
    def where(self):
        host = "[%s]" % self.server if ":" in self.server else self.server
        return "%s:%s" % (host, self.port)

    def summary(self):
        tls = self.result["tls"]
        text = "sent to %s through %s %s" % (
            self.recipient, self.where, "with " + tls["protocol"] if tls else "without TLS")
        if self.result["queue_id"]:
            text += ", queued as %s" % self.result["queue_id"]
        if self.result["delivered_path"]:
            text += ", delivered in %s s" % self.result["delivery_time"]
        return text

    def fail(self, msg):
        self.result["elapsed"] = round(time.monotonic() - self._start, 3)
        raise MailProbeError(msg, self.result)

    def run(self):
        self._start = time.monotonic()
        not_before = time.time() - MTIME_SLACK
        hostname = socket.getfqdn()
        if self.sender is None:
            self.sender = "root@" + hostname
        # An empty sender is the null sender (MAIL FROM:<>); the header still needs a From.
        message_id, data = build_message(self.sender or "root@" + hostname, self.recipient,
                                         self.subject, hostname)
        self.result["message_id"] = message_id
        smtp = _SMTP(self.server_name or self.server, self.context if self.security == "smtps" else None,
                     self.timeout, hostname)
        try:
            self._session(smtp, data)
        finally:
            smtp.close()
        data_end = time.monotonic()
        if self.maildir:
            self._wait(message_id, data_end, not_before)
        self.result["elapsed"] = round(time.monotonic() - self._start, 3)
        return self.result

    def _session(self, smtp, data):
        step = "connect"
        try:
            code, text = smtp.connect(self.server, self.port)
            if self.security == "smtps":
                self._tls_info(smtp)
            if code != 220:
                self.fail("%s refused the connection: %s" % (self.where, _reply(code, text)))
            step = "EHLO"
            self._ehlo(smtp)
            if self.security == "starttls":
                step = "STARTTLS"
                self._starttls(smtp)
                step = "EHLO"
                self._ehlo(smtp)
            if self.username:
                step = "AUTH"
                self._login(smtp)
            step = "MAIL FROM"
            code, text = smtp.mail(self.sender)
            if code != 250:
                self.fail("server refused MAIL FROM <%s>: %s" % (self.sender, _reply(code, text)))
            step = "RCPT TO"
            code, text = smtp.rcpt(self.recipient)
            if code not in (250, 251):
                self.fail("server refused RCPT TO <%s>: %s" % (self.recipient, _reply(code, text)))
            step = "DATA"
            try:
                code, text = smtp.data(data)
            except smtplib.SMTPDataError as exc:
                self.fail("server refused DATA: %s" % _reply(exc.smtp_code, exc.smtp_error))
            reply = _reply(code, text)
            if code != 250:
                self.fail("server refused the message: %s" % reply)
            self.result["server_reply"] = reply
            self.result["queue_id"] = queue_id(reply)
            step = "QUIT"
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass  # the message is queued; a rude goodbye does not matter
        except ssl.SSLError as exc:
            self.fail("TLS with %s failed: %s" % (self.where, _ssl_reason(exc)))
        except smtplib.SMTPServerDisconnected as exc:
            # smtplib reports a read time-out as a disconnection, with the reason.
            self.fail("connection to %s lost during %s: %s" % (self.where, step, _text(str(exc))))
        except socket.timeout:
            self.fail("no answer from %s within %s s during %s" % (self.where, self.timeout, step))
        except OSError as exc:
            if step == "connect":
                self.fail("cannot connect to %s: %s" % (self.where, exc.strerror or exc))
            self.fail("connection to %s failed during %s: %s" % (self.where, step, exc.strerror or exc))

    def _ehlo(self, smtp):
        try:
            smtp.ehlo_or_helo_if_needed()
        except smtplib.SMTPHeloError as exc:
            self.fail("server refused EHLO and HELO: %s" % _reply(exc.smtp_code, exc.smtp_error))

    def _starttls(self, smtp):
        if not smtp.has_extn("starttls"):
            self.fail("%s does not offer STARTTLS (use security: plain to probe without TLS)" % self.where)
        try:
            smtp.starttls(context=self.context)
        except smtplib.SMTPResponseException as exc:
            self.fail("server refused STARTTLS: %s" % _reply(exc.smtp_code, exc.smtp_error))
        self._tls_info(smtp)

    def _tls_info(self, smtp):
        name, dummy, bits = smtp.sock.cipher()
        self.result["tls"] = dict(
            protocol=smtp.sock.version(),
            cipher=name,
            bits=bits,
            verified=self.context.verify_mode == ssl.CERT_REQUIRED,
        )

    def _login(self, smtp):
        """One AUTH attempt, with the first of PLAIN, LOGIN, CRAM-MD5 the server offers
        (smtplib's login() would try each in turn and fail several times)."""
        offered = smtp.esmtp_features.get("auth", "").upper().split()
        if not offered:
            self.fail("%s does not offer AUTH after TLS" % self.where)
        mechanism = next((name for name in AUTH_MECHANISMS if name in offered), None)
        if mechanism is None:
            self.fail("%s offers no AUTH mechanism this module knows (%s), only: %s"
                      % (self.where, ", ".join(AUTH_MECHANISMS), " ".join(offered)))
        smtp.user, smtp.password = self.username, self.password
        authobject = getattr(smtp, "auth_" + mechanism.lower().replace("-", "_"))
        try:
            smtp.auth(mechanism, authobject)
        except smtplib.SMTPServerDisconnected:
            raise
        except smtplib.SMTPResponseException as exc:
            self.fail("server refused AUTH %s for %s: %s"
                      % (mechanism, self.username, _reply(exc.smtp_code, exc.smtp_error)))
        except smtplib.SMTPException as exc:
            self.fail("AUTH %s for %s failed: %s" % (mechanism, self.username, _text(str(exc))))

    def _wait(self, message_id, data_end, not_before):
        needle = message_id.encode("ascii")
        seen = set()
        deadline = data_end + self.timeout
        while True:
            try:
                path = find_in_maildir(self.maildir, needle, seen, not_before)
            except MailProbeError as exc:
                self.fail(exc.reason)
            now = time.monotonic()
            if path:
                self.result["delivered_path"] = path
                self.result["delivery_time"] = round(now - data_end, 3)
                return
            if now >= deadline:
                self.fail("not delivered to %s within %s s; the server said: %s"
                          % (self.maildir, self.timeout, self.result["server_reply"]))
            time.sleep(min(POLL_INTERVAL, max(deadline - now, 0.01)))
