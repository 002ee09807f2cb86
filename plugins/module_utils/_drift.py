# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Backend of postmaster.mail.drift_check: compare a host with a desired state, change nothing.

The parsers at the top are pure logic; `Checker` reads the host with one process per kind
(dpkg's status file, one `systemctl show`, one `postconf -n` per configuration directory,
one `postconf -M`) and reuses the comparison of the module that would repair each kind, so
"differs" here means exactly "that module would change something".

Private to postmaster.mail: no stability promise for other collections.
"""

from __future__ import annotations

import grp
import hashlib
import json
import os
import pwd
import re
import stat

from ansible_collections.postmaster.mail.plugins.module_utils import _rollback as rollback
from ansible_collections.postmaster.mail.plugins.module_utils._files import ModeError, parse_mode
from ansible_collections.postmaster.mail.plugins.module_utils._maildir import MaildirError, check_name, owners
from ansible_collections.postmaster.mail.plugins.module_utils._maildir import plan as maildir_plan
from ansible_collections.postmaster.mail.plugins.module_utils._maincf.text import MainCfError
from ansible_collections.postmaster.mail.plugins.module_utils._mastercf import SERVICE_DEFAULTS, MasterCf, MasterCfError, desired_entries
from ansible_collections.postmaster.mail.plugins.module_utils._mastercf import plan as master_plan
from ansible_collections.postmaster.mail.plugins.module_utils._maincf.file import MainCf
from ansible_collections.postmaster.mail.plugins.module_utils._postfix_facts import gather as gather_postfix_facts
from ansible_collections.postmaster.mail.plugins.module_utils._postfix_tools import (
    PostfixCommandError,
    config_directory,
    postfix,
)
from ansible_collections.postmaster.mail.plugins.module_utils._postmap import BUILT_SUFFIXES

DPKG_STATUS = "/var/lib/dpkg/status"
# What ansible.builtin.systemd_service accepts as "enabled" (`systemctl is-enabled` exits 0).
ENABLED_STATES = ("enabled", "enabled-runtime", "static", "indirect", "alias", "generated")
# Every file postmap may have built from a source file, whatever the table's type.
ALL_BUILT_SUFFIXES = tuple(sorted({suffix for suffixes in BUILT_SUFFIXES.values() for suffix in suffixes}))
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}\Z")
# Where bytes.splitlines(keepends=True), as blockinfile splits a file, ends a line.
_LINE_END = re.compile(r"(?<=\n)|(?<=\r)(?!\n)")


class DriftError(ValueError):
    pass


# --- pure parsers ---------------------------------------------------------------------------

def installed_packages(status_text):
    """Names dpkg reports as installed ("install ok installed") in its status file."""
    return set(installed_versions(status_text))


def installed_versions(status_text):
    """{name: version} of the packages dpkg reports as installed in its status file (each also
    as name:architecture, unless its architecture is all)."""
    installed = {}
    for stanza in status_text.split("\n\n"):
        fields = {}
        for line in stanza.splitlines():
            if line and not line[0].isspace() and ":" in line:
                name, dummy, value = line.partition(":")
                fields[name] = value.strip()
        if fields.get("Status", "").endswith(" installed") and "Package" in fields:
            installed[fields["Package"]] = fields.get("Version", "")
            if fields.get("Architecture") not in (None, "all"):
                installed["%s:%s" % (fields["Package"], fields["Architecture"])] = fields.get("Version", "")
    return installed


def parse_systemctl_show(text):
    """[{property: value}] for each unit of `systemctl show -p ... UNIT...`, in order."""
    units = []
    for block in text.strip("\n").split("\n\n"):
        units.append(dict(line.partition("=")[::2] for line in block.splitlines() if "=" in line))
    return units


def service_differences(wanted, shown):
    """Why each wanted service ({name, enabled, active}) differs from `systemctl show`."""
    found = []
    for service, unit in zip(wanted, shown):
        name = service["name"]
        if unit.get("LoadState") != "loaded":
            found.append("service %s: not installed" % name)
            continue
        if unit.get("NeedDaemonReload") == "yes":
            found.append("service %s: unit file changed, systemd not reloaded" % name)
        if service.get("enabled") is not None and (unit.get("UnitFileState") in ENABLED_STATES) != service["enabled"]:
            found.append("service %s: %s" % (name, "not enabled" if service["enabled"] else "enabled"))
        if service.get("active") is not None and (unit.get("ActiveState") == "active") != service["active"]:
            found.append("service %s: %s" % (name, "not running" if service["active"] else "running"))
    return found


def block_lines(text, begin, end):
    """The text between the marker lines BEGIN and END, joined with newlines, or None when
    ansible.builtin.blockinfile would not find its block there.

    As blockinfile does: the file is split into lines after each \\n, \\r\\n or lone \\r; a
    marker is a whole line ending in \\n; the LAST line equal to each marker counts (so the
    last block is the one blockinfile edits), and an END before that BEGIN is no block."""
    lines = _LINE_END.split(text)
    first = last = None
    for number, line in enumerate(lines):
        if line == begin + "\n":
            first = number
        if line == end + "\n":
            last = number
    if first is None or last is None or last < first:
        return None
    return "\n".join(line.rstrip("\r\n") for line in lines[first + 1:last])


def digest(spec):
    """SHA-1 of the desired state as Ansible's to_json(sort_keys=true) writes it."""
    return hashlib.sha1(json.dumps(spec, sort_keys=True).encode("utf-8")).hexdigest()


def sha256(data):
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    return hashlib.sha256(data).hexdigest()


# --- host checks ----------------------------------------------------------------------------

def file_differences(spec):
    """Why a file ({path, state, sha256, secret, block, mode, owner, group}) differs."""
    path = spec["path"]
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return [] if spec.get("state") == "absent" else ["file %s: missing" % path]
    if spec.get("state") == "absent":
        return ["file %s: present" % path]
    if not stat.S_ISREG(info.st_mode):
        return ["file %s: not a regular file" % path]
    found = []
    if spec.get("secret") and not spec.get("sha256"):
        found.append("file %s: no digest given for its secret content (secret_digests)" % path)
    if spec.get("sha256") or spec.get("block"):
        with open(path, "rb") as handle:
            data = handle.read()
        if spec.get("sha256") and sha256(data) != spec["sha256"]:
            found.append("file %s: content" % path)
        block = spec.get("block")
        if block:
            lines = block_lines(data.decode("utf-8", "surrogateescape"), block["begin"], block["end"])
            if lines is None or sha256(lines) != block["sha256"]:
                found.append("file %s: managed block" % path)
    if spec.get("mode") is not None and stat.S_IMODE(info.st_mode) != parse_mode(spec["mode"]):
        found.append("file %s: mode" % path)
    if spec.get("owner") is not None and info.st_uid != _uid(spec["owner"]):
        found.append("file %s: owner" % path)
    if spec.get("group") is not None and info.st_gid != _gid(spec["group"]):
        found.append("file %s: group" % path)
    return found


def table_differences(spec):
    """Why a lookup table ({path, type, state, sha256, secret, mode, owner, group}) differs, as
    postmaster.mail.postmap sees it: source content, mode or owner, or a built file that is
    missing, older than its source, or of another mode or owner (postmap gives it the source
    file's mode and owner: the ones given, else the source file's own).

    With state=absent neither the source nor a built file of any type may exist."""
    path = spec["path"]
    if spec.get("state") == "absent":
        existing = [name for name in [path] + [path + suffix for suffix in ALL_BUILT_SUFFIXES] if os.path.lexists(name)]
        return ["table %s: present" % path] if existing else []
    try:
        source = os.stat(path)
    except FileNotFoundError:
        return ["table %s: missing" % path]
    found = file_differences(dict(spec, state="present"))
    uid = _uid(spec["owner"]) if spec.get("owner") is not None else source.st_uid
    gid = _gid(spec["group"]) if spec.get("group") is not None else source.st_gid
    for suffix in BUILT_SUFFIXES.get(spec["type"], ()):
        built_path = path + suffix
        try:
            built = os.stat(built_path)
        except FileNotFoundError:
            found.append("table %s: %s missing" % (path, built_path))
            continue
        if built.st_mtime_ns < source.st_mtime_ns:
            found.append("table %s: %s older than its source" % (path, built_path))
            continue
        if spec.get("mode") is not None and stat.S_IMODE(built.st_mode) != parse_mode(spec["mode"]):
            found.append("table %s: mode of %s" % (path, built_path))
        if built.st_uid != uid:
            found.append("table %s: owner of %s" % (path, built_path))
        if built.st_gid != gid:
            found.append("table %s: group of %s" % (path, built_path))
    return found


def secret_items(spec):
    """(section, index, item) for each file and table of a desired state marked secret."""
    for section in ("files", "tables"):
        items = spec.get(section) if isinstance(spec, dict) else None
        for index, item in enumerate(items if isinstance(items, list) else []):
            if isinstance(item, dict) and item.get("secret"):
                yield section, index, item


def secret_digest_problem(checks, secret_digests):
    """A one-line message when a secret's digest is not where it must be, else None."""
    if not isinstance(secret_digests, dict) or not all(
            isinstance(path, str) and isinstance(value, str) and _SHA256_HEX.match(value)
            for path, value in secret_digests.items()):
        return "secret_digests must map each secret file's path to its SHA-256 as 64 lowercase hexadecimal digits"
    for name, spec in (checks.items() if isinstance(checks, dict) else ()):
        for section, index, item in secret_items(spec):
            if item.get("sha256") is not None:
                return ("check %s: %s[%d] (%s) is secret, so its sha256 must not be in checks (Ansible logs them on "
                        "the host): give it in secret_digests" % (name, section, index, item.get("path")))
    return None


def with_secret_digests(spec, secret_digests):
    """The desired state with the digest of each secret file and table filled in from
    secret_digests ({path: SHA-256}, a no_log option).

    A digest of a secret travels only there: the source of a SASL table is a known host and
    user name plus the password, so its SHA-256 in `checks`, which Ansible logs on the host,
    gives the password to a word list. The desired state's own digest (`digests`) is taken
    without them."""
    resolved = dict(spec)
    for section, index, item in secret_items(spec):
        if resolved[section] is spec[section]:
            resolved[section] = list(spec[section])
        resolved[section][index] = dict(item, sha256=secret_digests.get(item.get("path")))
    return resolved


def _uid(owner):
    try:
        return int(owner) if str(owner).isdigit() else pwd.getpwnam(owner).pw_uid
    except KeyError:
        return None


def _gid(group):
    try:
        return int(group) if str(group).isdigit() else grp.getgrnam(group).gr_gid
    except KeyError:
        return None


class Checker(object):
    """Reads each kind of host state at most once for all the checks of one call."""

    def __init__(self, module):
        self.module = module
        self._packages = None
        self._main_cf = {}
        self._postfix_facts = {}

    def postfix_facts(self, config_dir=None):
        """What postfix_info returns, read once per configuration directory."""
        if config_dir not in self._postfix_facts:
            try:
                self._postfix_facts[config_dir] = gather_postfix_facts(self.module, config_dir)
            except PostfixCommandError:
                self._postfix_facts[config_dir] = {"installed": False}  # not configured yet
        return self._postfix_facts[config_dir]

    @property
    def facts_read(self):
        return list(self._postfix_facts.values())

    def assumed_postfix_facts(self, spec):
        """Whether the Postfix facts a desired state was computed from (the keys given) are
        still the host's.

        The roles compute main.cf from what the installed Postfix supports; when they take
        those facts from a cache, this check makes a stale cache count as drift."""
        actual = self.postfix_facts(spec.get("config_dir"))
        expected = spec.get("facts") or {}
        changed = sorted(key for key in expected if actual.get(key) != expected[key])
        if not changed:
            return []
        if not actual.get("installed"):
            return ["postfix: not installed"]
        return ["postfix facts differ from the ones assumed: %s" % ", ".join(changed)]

    def packages(self, names):
        if self._packages is None:
            try:
                with open(DPKG_STATUS, encoding="utf-8", errors="replace") as handle:
                    self._packages = installed_versions(handle.read())
            except FileNotFoundError:
                raise DriftError("%s not found: drift_check works on Debian hosts (dpkg) only" % DPKG_STATUS)
        return ["package %s: not installed" % name for name in names if name not in self._packages]

    def package_versions(self, names):
        """{name: version} of the named packages that are installed."""
        self.packages([])
        return {name: self._packages[name] for name in names if name in self._packages}

    def assumed_package_versions(self, expected):
        """A difference for each package whose installed version is not the one a desired state
        was computed from (for example a version cached on the control node)."""
        actual = self.package_versions(sorted(expected))
        return ["package %s: version %s, not %s as assumed" % (name, actual.get(name, "(not installed)"), expected[name])
                for name in sorted(expected) if actual.get(name) != expected[name]]

    def services(self, wanted):
        if not wanted:
            return []
        systemctl = self.module.get_bin_path("systemctl", required=True)
        command = [systemctl, "show", "--property=Id,LoadState,UnitFileState,ActiveState,NeedDaemonReload"]
        command += [service["name"] for service in wanted]
        rc, stdout, stderr = self.module.run_command(command)
        if rc != 0:
            raise DriftError("systemctl show failed: %s" % ((stderr.strip().splitlines() or ["no message"])[-1]))
        return service_differences(wanted, parse_systemctl_show(stdout))

    def postfix_missing(self, config_dir):
        """Why Postfix's configuration cannot be read yet (not installed, or a directory that
        is not absolute, which the repairing module refuses), or None."""
        directory = config_directory(config_dir)
        if not os.path.isabs(directory):
            return "postfix: configuration directory %s is not an absolute path" % directory
        path = os.path.join(directory, "main.cf")
        if not os.path.isfile(path):
            return "postfix: %s missing" % path
        if self.module.get_bin_path("postconf", opt_dirs=["/usr/sbin"]) is None:
            return "postfix: postconf missing"
        return None

    def current_main_cf(self, config_dir):
        if config_dir not in self._main_cf:
            main_cf = MainCf(self.module, config_dir)
            self._main_cf[config_dir] = (main_cf, main_cf.read()[1])
        return self._main_cf[config_dir]

    def main_cf(self, spec):
        missing = self.postfix_missing(spec.get("config_dir"))
        if missing:
            return [missing]
        main_cf, current = self.current_main_cf(spec.get("config_dir"))
        changes = main_cf.plan(spec["parameters"], spec.get("state") or "present", current)
        return ["main.cf %s" % name for name in sorted(changes)]

    def master_cf(self, spec):
        missing = self.postfix_missing(spec.get("config_dir"))
        if missing:
            return [missing]
        master_cf = MasterCf(self.module, spec.get("config_dir"))
        services = [dict(SERVICE_DEFAULTS, **{k: v for k, v in service.items() if v is not None})
                    for service in spec["services"]]
        changes = master_plan(desired_entries(services), master_cf.read())
        return ["master.cf %s" % "/".join(key) for key, dummy, dummy in changes]

    def maildirs(self, spec):
        name = spec.get("name") or "Maildir"
        check_name(name)
        skel_dir = spec.get("skel_dir", "/etc/skel")
        found = ["maildir %s: %s" % (path, action)
                 for path, dummy, dummy, action in maildir_plan(
                     owners(spec.get("users") or [], skel_dir), name, parse_mode(spec.get("mode") or "0700"))]
        if spec.get("home_mailbox", True):
            found += self.main_cf(dict(config_dir=spec.get("config_dir"), parameters={"home_mailbox": name + "/"}))
        return found

    def postfix_daemon(self, spec):
        """Whether Postfix ({running, config_dir}) runs on the files in place: no copy of
        main.cf or master.cf pending (written but never applied, see _rollback), and the
        master process running or not as wanted, as `postfix status` sees it (on Debian the
        postfix unit is a wrapper that stays active when the master process dies)."""
        config_dir = spec.get("config_dir")
        if self.postfix_missing(config_dir):
            return []  # the main_cf check reports it
        found = []
        written = rollback.pending(config_directory(config_dir))
        if written:
            found.append("postfix: configuration written but not applied (%s)" % ", ".join(written))
        if spec.get("running") is not None:
            if postfix(self.module, config_dir).status() != spec["running"]:
                found.append("postfix: %s" % ("not running" if spec["running"] else "running"))
        return found

    def check(self, spec):
        """Every difference one named check finds, as short sentences (empty: no drift).

        A desired state the repairing module would refuse (an unknown parameter, a user
        without a home) counts as a difference, so that module runs and reports it."""
        found = self.packages(spec.get("packages") or [])
        found += self.assumed_package_versions(spec.get("package_versions") or {})
        found += self.services(spec.get("services") or [])
        sections = [(file_differences, item) for item in spec.get("files") or []]
        sections += [(table_differences, item) for item in spec.get("tables") or []]
        sections += [(getattr(self, name), spec[name]) for name in ("main_cf", "master_cf", "maildirs", "postfix_daemon")
                     if spec.get(name)]
        if spec.get("postfix_facts"):
            sections.insert(0, (self.assumed_postfix_facts, spec["postfix_facts"]))
        for method, item in sections:
            try:
                found += method(item)
            except (MainCfError, MasterCfError, MaildirError, ModeError, PostfixCommandError) as exc:
                found.append("cannot compare: %s" % exc)
        return found
