# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Backend of postmaster.mail.postfix_apply: check, reload or restart, prove Postfix runs,
and put the saved configuration back when it does not.

Private to postmaster.mail: no stability promise for other collections.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import time

from ansible_collections.postmaster.mail.plugins.module_utils._postfix_tools import C_LOCALE, postconf, postfix

_PROBLEM = re.compile(r"\b(panic|fatal|error): ")
# postfix-script's summary of a failed start; the cause is in an earlier line.
_SUMMARY = "mail system startup failed"
MAIL_LOG = "/var/log/mail.log"


class ApplyError(Exception):
    """A step failed; the message quotes Postfix."""


def pick_message(lines):
    """The line that names the cause among Postfix's log or terminal lines: the first
    panic or fatal error that is not postfix-script's summary, else the first error,
    else the summary."""
    problems = [line.strip() for line in lines if _PROBLEM.search(line)]
    for line in problems:
        if re.search(r"\b(panic|fatal): ", line) and _SUMMARY not in line:
            return line
    for line in problems:
        if _SUMMARY not in line:
            return line
    return problems[0] if problems else None


def run_in_terminal(argv, timeout=120):
    """(rc, output) of a command whose stderr is a terminal: Postfix's commands print
    their messages only to a terminal (otherwise they go to syslog alone)."""
    leader, follower = pty.openpty()
    try:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=follower, stderr=follower,
                                   env=dict(os.environ, **C_LOCALE), close_fds=True)
    finally:
        os.close(follower)
    chunks = []
    deadline = time.time() + timeout
    try:
        while time.time() < deadline:
            ready, dummy, dummy = select.select([leader], [], [], 0.2)
            if ready:
                try:
                    data = os.read(leader, 4096)
                except OSError:  # EIO: every writer has closed the terminal
                    data = b""
                if data:
                    chunks.append(data)
                    continue
                if process.poll() is not None:
                    break
            elif process.poll() is not None:
                break
        else:
            process.kill()
        rc = process.wait()
    finally:
        os.close(leader)
    return rc, b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


class LogWatch(object):
    """Postfix's log lines written after the watch started: from the journal (mail facility)
    and from mail.log or maillog_file when those exist."""

    def __init__(self, module, config_dir):
        self.module = module
        self.started = time.time()
        self.journalctl = module.get_bin_path("journalctl")
        self.cursor = self._journal_cursor()
        self.files = {}
        for path in (MAIL_LOG, self._maillog_file(config_dir)):
            if path and os.path.isfile(path):
                self.files[path] = os.path.getsize(path)

    def _maillog_file(self, config_dir):
        tool = postconf(self.module, config_dir, required=False)
        if tool.path is None:
            return None
        rc, stdout, dummy = tool.run(["-h", "maillog_file"], check=False)
        path = stdout.strip() if rc == 0 else ""
        return path if path.startswith("/") and not path.startswith("/dev/") else None

    def _journal_cursor(self):
        if not self.journalctl:
            return None
        rc, stdout, dummy = self.module.run_command([self.journalctl, "-q", "--no-pager", "-n", "0",
                                                     "--show-cursor"], environ_update=C_LOCALE)
        match = re.search(r"^-- cursor: (\S+)", stdout, re.M)
        return match.group(1) if rc == 0 and match else None

    def lines(self):
        found = []
        if self.journalctl:
            since = ["--after-cursor", self.cursor] if self.cursor else ["--since", "@%d" % int(self.started)]
            rc, stdout, dummy = self.module.run_command(
                [self.journalctl, "-q", "--no-pager", "-o", "json"] + since + ["SYSLOG_FACILITY=2"],
                environ_update=C_LOCALE)
            for line in stdout.splitlines() if rc == 0 else ():
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                message = entry.get("MESSAGE")
                if isinstance(message, str):
                    found.append("%s: %s" % (entry.get("SYSLOG_IDENTIFIER", "postfix"), message))
        for path, offset in self.files.items():
            with open(path, "rb") as handle:
                handle.seek(offset)
                text = handle.read().decode("utf-8", "replace")
            # "Nov 26 03:49:24 host postfix/master[7402]: text" becomes "postfix/master: text"
            found += [re.sub(r"^.*? (\S+?)(\[\d+\])?: ", r"\1: ", line, count=1) for line in text.splitlines()]
        return found


class PostfixApply(object):
    def __init__(self, module, config_dir, service, settle_time):
        self.module = module
        self.config_dir = config_dir
        self.service = service
        self.settle_time = settle_time
        self.postfix = postfix(module, config_dir)
        self.systemctl = module.get_bin_path("systemctl", required=True)
        self.log = None
        self.steps = []

    def running(self):
        return self.postfix.status()

    def check(self):
        """`postfix check`, with its messages from the terminal and the log."""
        self.log = LogWatch(self.module, self.config_dir)
        rc, output = run_in_terminal(self.postfix_command("check"))
        self.steps.append("check")
        if rc != 0:
            message = pick_message(output.splitlines() + self.log.lines()) or _last(output)
            raise ApplyError("postfix check rejected the configuration: %s" % message)

    def postfix_command(self, *args):
        return [self.postfix.path, "-c", self.config_dir] + list(args)

    def apply(self, action):
        """Reload or restart (start when Postfix is down), then prove Postfix keeps running."""
        self.log = LogWatch(self.module, self.config_dir)
        if action == "reload" and not self.running():
            action = "start"
        # postfix.service is a oneshot that stays active when the instance fails, so a
        # start goes through restart.
        verb = "reload" if action == "reload" else "restart"
        rc, stdout, stderr = self.module.run_command([self.systemctl, verb, self.service],
                                                     environ_update=C_LOCALE)
        self.steps.append(action)
        if rc != 0:
            raise ApplyError("%s of %s failed: %s" % (action, self.service, self._message(stderr or stdout)))
        time.sleep(self.settle_time)
        if not self.running():
            raise ApplyError("Postfix is not running after the %s: %s" % (action, self._message("")))
        return action

    def stop(self):
        """Stop Postfix through systemd, then with `postfix stop` when a master process that
        systemd does not track (started by hand) is still running."""
        self.log = LogWatch(self.module, self.config_dir)
        dummy, stdout, stderr = self.module.run_command([self.systemctl, "stop", self.service], environ_update=C_LOCALE)
        self.steps.append("stop")
        if not self._stopped(10):
            dummy, stdout, stderr = self.postfix.run(["stop"], check=False)
            if not self._stopped(10):
                raise ApplyError("stop of %s failed: %s" % (self.service, self._message(stderr or stdout)))
        return "stop"

    def _stopped(self, seconds):
        """Whether the master process is gone within `seconds` (systemd stops the instance
        unit after the wrapper)."""
        deadline = time.time() + seconds
        while self.running():
            if time.time() >= deadline:
                return False
            time.sleep(0.2)
        return True

    def _message(self, command_output):
        lines = self.log.lines() if self.log else []
        return pick_message(lines + command_output.splitlines()) or _last(command_output) \
            or "Postfix logged no error (see journalctl -u postfix@- or /var/log/mail.log)"


def _last(text):
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else None
