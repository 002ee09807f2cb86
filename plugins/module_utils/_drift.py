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
import stat

from ansible_collections.postmaster.mail.plugins.module_utils._files import ModeError, parse_mode
from ansible_collections.postmaster.mail.plugins.module_utils._maildir import MaildirError, check_name, owners
from ansible_collections.postmaster.mail.plugins.module_utils._maildir import plan as maildir_plan
from ansible_collections.postmaster.mail.plugins.module_utils._maincf import MainCfError
from ansible_collections.postmaster.mail.plugins.module_utils._mastercf import MasterCf, MasterCfError, desired_entries
from ansible_collections.postmaster.mail.plugins.module_utils._mastercf import plan as master_plan
from ansible_collections.postmaster.mail.plugins.module_utils._postconf import DEFAULT_CONFIG_DIR, MainCf
from ansible_collections.postmaster.mail.plugins.module_utils._postfix_facts import gather as gather_postfix_facts
from ansible_collections.postmaster.mail.plugins.module_utils._postfix_tools import PostfixCommandError
from ansible_collections.postmaster.mail.plugins.module_utils._postmap import BUILT_SUFFIXES

DPKG_STATUS = "/var/lib/dpkg/status"
# What ansible.builtin.systemd_service accepts as "enabled" (`systemctl is-enabled` exits 0).
ENABLED_STATES = ("enabled", "enabled-runtime", "static", "indirect", "alias", "generated")
MASTER_DEFAULTS = dict(state="present", private="-", unprivileged="-", chroot="-", wakeup="-",
                       maxproc="-", command=None, options={})


class DriftError(ValueError):
    pass


# --- pure parsers ---------------------------------------------------------------------------

def installed_packages(status_text):
    """Names dpkg reports as installed ("install ok installed") in its status file."""
    installed = set()
    for stanza in status_text.split("\n\n"):
        fields = {}
        for line in stanza.splitlines():
            if line and not line[0].isspace() and ":" in line:
                name, dummy, value = line.partition(":")
                fields[name] = value.strip()
        if fields.get("Status", "").endswith(" installed") and "Package" in fields:
            installed.add(fields["Package"])
            if fields.get("Architecture") not in (None, "all"):
                installed.add("%s:%s" % (fields["Package"], fields["Architecture"]))
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
    """The text between the marker lines BEGIN and END (as ansible.builtin.blockinfile
    writes it), joined with newlines, or None when either marker is missing."""
    lines = text.split("\n")
    try:
        first = lines.index(begin)
        last = lines.index(end, first + 1)
    except ValueError:
        return None
    return "\n".join(lines[first + 1:last])


def digest(spec):
    """SHA-1 of the desired state as Ansible's to_json(sort_keys=true) writes it."""
    return hashlib.sha1(json.dumps(spec, sort_keys=True).encode("utf-8")).hexdigest()


def sha256(data):
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    return hashlib.sha256(data).hexdigest()


# --- host checks ----------------------------------------------------------------------------

def file_differences(spec):
    """Why a file ({path, state, sha256, block, mode, owner, group}) differs."""
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
    """Why a lookup table ({path, type, sha256, mode}) differs: source content, mode, or a
    built file that is missing or older than its source (as postmaster.mail.postmap sees it)."""
    path = spec["path"]
    try:
        source = os.stat(path)
    except FileNotFoundError:
        return ["table %s: missing" % path]
    found = file_differences(dict(spec, state="present"))
    for suffix in BUILT_SUFFIXES.get(spec["type"], ()):
        try:
            built = os.stat(path + suffix)
        except FileNotFoundError:
            found.append("table %s: %s missing" % (path, path + suffix))
            continue
        if built.st_mtime_ns < source.st_mtime_ns:
            found.append("table %s: %s older than its source" % (path, path + suffix))
        elif spec.get("mode") is not None and stat.S_IMODE(built.st_mode) != parse_mode(spec["mode"]):
            found.append("table %s: mode of %s" % (path, path + suffix))
    return found


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
                    self._packages = installed_packages(handle.read())
            except FileNotFoundError:
                raise DriftError("%s not found: drift_check works on Debian hosts (dpkg) only" % DPKG_STATUS)
        return ["package %s: not installed" % name for name in names if name not in self._packages]

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
        """Why Postfix's configuration cannot be read yet (not installed), or None."""
        path = os.path.join(config_dir or os.environ.get("MAIL_CONFIG") or DEFAULT_CONFIG_DIR, "main.cf")
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
        services = [dict(MASTER_DEFAULTS, **{k: v for k, v in service.items() if v is not None})
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

    def check(self, spec):
        """Every difference one named check finds, as short sentences (empty: no drift).

        A desired state the repairing module would refuse (an unknown parameter, a user
        without a home) counts as a difference, so that module runs and reports it."""
        found = self.packages(spec.get("packages") or [])
        found += self.services(spec.get("services") or [])
        sections = [(file_differences, item) for item in spec.get("files") or []]
        sections += [(table_differences, item) for item in spec.get("tables") or []]
        sections += [(getattr(self, name), spec[name]) for name in ("main_cf", "master_cf", "maildirs")
                     if spec.get(name)]
        if spec.get("postfix_facts"):
            sections.insert(0, (self.assumed_postfix_facts, spec["postfix_facts"]))
        for method, item in sections:
            try:
                found += method(item)
            except (MainCfError, MasterCfError, MaildirError, ModeError, PostfixCommandError) as exc:
                found.append("cannot compare: %s" % exc)
        return found
