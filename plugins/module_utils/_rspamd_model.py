# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The desired state of rspamd as Postfix's milter (DKIM signing; SPF, DKIM and DMARC checks of
inbound mail), and the plan of each domain's DKIM keys, decided in one place.

`plan_keys(selectors, today, settings)` decides, from the selectors whose private keys the
control node holds, which key signs, which selectors stay published, which are retired and
whether a new key must be made today. `desired_state(settings, keys)` takes the role's settings
(every `rspamd_*` variable, see DEFAULTS) and the keys as the postmaster.mail.dkim_keys action
returns them, and returns what the role writes: packages, the service, the files (with text or
the control node's source, mode, owner and digest), the DKIM records to publish, the desired
state the drift check compares, and what Postfix adds (`postfix`, the public contract the postfix
role takes as postfix_milter).

Why rspamd, and why these files: see the README, "DKIM, SPF and DMARC: the implementation".
override.d/ replaces rspamd's values (local_addrs and the proxy's socket must not be merged
with Debian's lists); local.d/ adds to a module's defaults; rspamd.conf.local.override switches
off, in one file this role owns, the modules that would reach the Internet (RBLs, fuzzy hashes,
maps from rspamd.com) or score what is not this role's business.

Selectors are named by the day their key starts signing, YYYYMMDD, with -2, -3 for a second
and third key of the same day. Every rspamd_dkim_rotate_days the next key is made
rspamd_dkim_publish_days ahead: it is published (in the fact rspamd_dkim_records) before it
signs, so its record is in DNS when the first mail it signs arrives. rspamd_dkim_force_rotation
(a compromised key) makes one that signs at once. A key that no longer signs stays published for
rspamd_dkim_retire_days after its successor started, longer than Postfix keeps mail queued (5
days), so a message signed with it still verifies where it arrives; then it is retired: its
record is no longer published and its key file leaves the host (the control node keeps it).

Secrets: the private keys' text never reaches the model; it gets their control-node paths and
digests (the filter reads the files), and the digests are only in `secret_digests` (the drift
check's no_log option).

Pure logic (no files, no processes, no Ansible): unit tests reach every branch.

Private to postmaster.mail: no stability promise for other collections.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import json
import re

from ansible_collections.postmaster.mail.plugins.module_utils._pending import reload_pending
from ansible_collections.postmaster.mail.plugins.module_utils._text import CONTROL_CHARACTERS

DEFAULTS = {
    "rspamd_packages": ["rspamd", "procps"],
    "rspamd_service_enabled": True,
    "rspamd_dkim_domains": [],
    "rspamd_dkim_key_bits": 2048,
    "rspamd_dkim_rotate_days": 180,
    "rspamd_dkim_publish_days": 2,
    "rspamd_dkim_retire_days": 7,
    "rspamd_dkim_force_rotation": False,
    "rspamd_dkim_host_dir": "/var/lib/rspamd/dkim",
    "rspamd_dmarc_reject_action": "reject",
    "rspamd_local_networks": ["127.0.0.0/8", "::1"],
    "rspamd_milter_port": 11332,
    "rspamd_milter_default_action": "tempfail",
    "rspamd_disabled_modules": ["asn", "emails", "fuzzy_check", "hfilter", "multimap", "phishing", "rbl", "whitelist"],
    "rspamd_config_dir": "/etc/rspamd",
}
# What a p=reject (and a p=quarantine) failure does, by rspamd_dmarc_reject_action.
DMARC_ACTIONS = {
    "reject": {"DMARC_POLICY_REJECT": "reject", "DMARC_POLICY_QUARANTINE": "add header"},
    "quarantine": {"DMARC_POLICY_REJECT": "add header", "DMARC_POLICY_QUARANTINE": "add header"},
    "none": {},
}
DMARC_REJECT_MESSAGE = ("Refused: the DMARC policy of the From: domain says reject, and neither SPF nor DKIM "
                        "proves this message comes from it")
MILTER_DEFAULT_ACTIONS = ("tempfail", "accept")
# The modules this role configures: they cannot be switched off here.
REQUIRED_MODULES = ("arc", "dkim", "dkim_signing", "dmarc", "force_actions", "milter_headers", "spf")
KEY_BITS = (2048, 3072, 4096)
DOMAIN = re.compile(r"^(?=.{1,253}\Z)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+\Z")
SELECTOR = re.compile(r"^([0-9]{8})(?:-([2-9]|[1-9][0-9]+))?\Z")
MODULE = re.compile(r"^[a-z][a-z0-9_]{0,63}\Z")
PACKAGE = re.compile(r"^[a-z0-9][a-z0-9+.-]*\Z")
PATH = re.compile(r"^/[A-Za-z0-9._+,=@~/-]{0,4094}\Z")
HEADER = "# Managed by postmaster.mail (the rspamd role): changes here are overwritten.\n"
TXT_STRING = 255  # the longest character-string of a TXT record


class RspamdSettingsError(ValueError):
    """A setting the model refuses: one line naming the role variable."""


# --- settings -----------------------------------------------------------------------------------

# Debian's normal worker (worker-normal.inc: localhost:11333): the proxy hands it each message,
# and its /ping answers once rspamd has loaded its rules and scans.
NORMAL_WORKER = "127.0.0.1:11333"


def _refuse(name, problem):
    raise RspamdSettingsError("%s %s" % (name, problem))


def _text(name, value):
    if not isinstance(value, str):
        _refuse(name, "must be text, not %s" % type(value).__name__)
    if CONTROL_CHARACTERS.search(value):
        _refuse(name, "has a line break or another control character: remove it (got %r)" % value)
    return value


def _list(name, value):
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        _refuse(name, "must be a list, not %s" % type(value).__name__)
    return list(value)


def _bool(name, value):
    if not isinstance(value, bool):
        _refuse(name, "must be true or false, not %r" % (value,))
    return value


def _days(name, value, least):
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        _refuse(name, "must be a whole number of days, %d or more, not %r" % (least, value))
    return value


def _choice(name, value, choices):
    if value not in choices:
        _refuse(name, "must be one of %s, not %r" % (", ".join(choices), value))
    return value


def _path(name, value):
    _text(name, value)
    if not PATH.match(value) or "/." in value or value.endswith("/") or "//" in value:
        _refuse(name, "must be a normalised absolute path of letters, digits and . _ + , = @ ~ / -, got %r" % value)
    return value


def _network(name, value):
    _text(name, value)
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError:
        _refuse(name, "must be an IP address or network such as 127.0.0.0/8 or ::1, got %r" % value)


def settings_with_defaults(settings):
    if not isinstance(settings, dict):
        raise RspamdSettingsError("the rspamd role's settings must be a dictionary of rspamd_* variables")
    unknown = sorted(str(name) for name in settings if name not in DEFAULTS)
    if unknown:
        _refuse(unknown[0], "is not a setting of the rspamd role's model (it takes %s)" % ", ".join(DEFAULTS))
    return dict(DEFAULTS, **settings)


def validate(settings):
    """The settings with defaults applied, each checked; RspamdSettingsError names the first fault."""
    settings = settings_with_defaults(settings)
    for number, package in enumerate(_list("rspamd_packages", settings["rspamd_packages"])):
        if not PACKAGE.match(_text("rspamd_packages[%d]" % number, package)):
            _refuse("rspamd_packages[%d]" % number, "is not a Debian package name, got %r" % package)
    _bool("rspamd_service_enabled", settings["rspamd_service_enabled"])
    domains = _list("rspamd_dkim_domains", settings["rspamd_dkim_domains"])
    for number, domain in enumerate(domains):
        if not DOMAIN.match(_text("rspamd_dkim_domains[%d]" % number, domain)):
            _refuse("rspamd_dkim_domains[%d]" % number, "must be a domain name in lower case, such as example.org, "
                    "got %r" % domain)
        if domains.index(domain) != number:
            _refuse("rspamd_dkim_domains[%d]" % number, "repeats %s: name each domain once" % domain)
    if settings["rspamd_dkim_key_bits"] not in KEY_BITS or isinstance(settings["rspamd_dkim_key_bits"], bool):
        _refuse("rspamd_dkim_key_bits", "must be one of %s, not %r"
                % (", ".join(map(str, KEY_BITS)), settings["rspamd_dkim_key_bits"]))
    _days("rspamd_dkim_rotate_days", settings["rspamd_dkim_rotate_days"], 0)
    _days("rspamd_dkim_publish_days", settings["rspamd_dkim_publish_days"], 0)
    _days("rspamd_dkim_retire_days", settings["rspamd_dkim_retire_days"], 1)
    longest = max(settings["rspamd_dkim_retire_days"], settings["rspamd_dkim_publish_days"])
    if 0 < settings["rspamd_dkim_rotate_days"] <= longest:
        _refuse("rspamd_dkim_rotate_days", "(%d) must be more than rspamd_dkim_retire_days and rspamd_dkim_publish_days "
                "(%d), or 0 for no rotation: keys would overlap" % (settings["rspamd_dkim_rotate_days"], longest))
    _bool("rspamd_dkim_force_rotation", settings["rspamd_dkim_force_rotation"])
    _path("rspamd_dkim_host_dir", settings["rspamd_dkim_host_dir"])
    _path("rspamd_config_dir", settings["rspamd_config_dir"])
    _choice("rspamd_dmarc_reject_action", settings["rspamd_dmarc_reject_action"], tuple(DMARC_ACTIONS))
    networks = [_network("rspamd_local_networks[%d]" % number, value)
                for number, value in enumerate(_list("rspamd_local_networks", settings["rspamd_local_networks"]))]
    port = settings["rspamd_milter_port"]
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        _refuse("rspamd_milter_port", "must be a TCP port number from 1 to 65535, not %r" % (port,))
    _choice("rspamd_milter_default_action", settings["rspamd_milter_default_action"], MILTER_DEFAULT_ACTIONS)
    for number, module in enumerate(_list("rspamd_disabled_modules", settings["rspamd_disabled_modules"])):
        name = "rspamd_disabled_modules[%d]" % number
        if not MODULE.match(_text(name, module)):
            _refuse(name, "must be an rspamd module name such as rbl, got %r" % module)
        if module in REQUIRED_MODULES:
            _refuse(name, "is %s, which this role needs for DKIM, SPF and DMARC: remove it from the list" % module)
    return dict(settings, rspamd_local_networks=networks)


# --- DKIM keys ----------------------------------------------------------------------------------

def selector_date(selector):
    """(date, number) of a selector made by this role, or None for any other name."""
    found = SELECTOR.match(selector)
    if not found:
        return None
    try:
        day = datetime.datetime.strptime(found.group(1), "%Y%m%d").date()
    except ValueError:
        return None
    return day, int(found.group(2) or 1)


def next_selector(day, selectors):
    """The selector of a key that signs from DAY: YYYYMMDD, or YYYYMMDD-N after the N-1 taken."""
    taken = {selector_date(selector)[1] for selector in selectors if selector_date(selector)
             and selector_date(selector)[0] == day}
    number = max(taken) + 1 if taken else 1
    return day.strftime("%Y%m%d") + ("" if number == 1 else "-%d" % number)


def plan_keys(selectors, today, settings):
    """For each domain of rspamd_dkim_domains, from the selectors of the keys the control node
    holds (`selectors`: {domain: [selector]}, names this role did not make ignored) and today's
    date: {domain: {new, signing, published, retired}}: the selector of the key to make today
    (or None), the one that signs, those published (the signing one first, then any key that
    signs from a later date, then the older ones mail may still carry) and those retired (their
    key files leave the host).

    A selector names the day its key starts signing. The first key, and one forced by
    rspamd_dkim_force_rotation, signs from today; a rotation makes the next key
    rspamd_dkim_publish_days ahead, so its record is in DNS before the first mail it signs."""
    settings = validate(settings)
    publish = datetime.timedelta(days=settings["rspamd_dkim_publish_days"])
    rotate = settings["rspamd_dkim_rotate_days"]
    plan = {}
    for domain in settings["rspamd_dkim_domains"]:
        ours = sorted((selector for selector in selectors.get(domain, []) if selector_date(selector)), key=selector_date)
        new = None
        # No key that signs yet (none at all, or only keys dated later: a clock set back) counts as the first.
        if not any(selector_date(selector)[0] <= today for selector in ours) or settings["rspamd_dkim_force_rotation"]:
            new = next_selector(today, ours)
        elif rotate and selector_date(ours[-1])[0] + datetime.timedelta(days=rotate) - publish <= today:
            new = next_selector(max(today + publish, selector_date(ours[-1])[0] + datetime.timedelta(days=1)), ours)
        if new:
            ours = sorted(ours + [new], key=selector_date)
        started = [selector for selector in ours if selector_date(selector)[0] <= today]
        signing = started[-1]
        ahead = [selector for selector in ours if selector_date(selector)[0] > today]
        published, retired = [], []
        for older, successor in zip(started[:-1], started[1:]):
            in_flight = (today - selector_date(successor)[0]).days < settings["rspamd_dkim_retire_days"]
            (published if in_flight else retired).append(older)
        plan[domain] = {"new": new, "signing": signing, "published": [signing] + ahead + published[::-1],
                        "retired": retired}
    return plan


def dkim_record(domain, selector, public_key, signing):
    """The TXT record that publishes a key (its SubjectPublicKeyInfo in base64), with its value
    also cut into the 255-character strings a zone file needs."""
    value = "v=DKIM1; k=rsa; p=%s" % public_key
    return {"domain": domain, "selector": selector, "name": "%s._domainkey.%s" % (selector, domain), "type": "TXT",
            "value": value, "strings": [value[start:start + TXT_STRING] for start in range(0, len(value), TXT_STRING)],
            "signing": signing}


# --- files --------------------------------------------------------------------------------------

def _ucl(value):
    """A string or list as rspamd's configuration language (UCL) reads it: JSON's quoting."""
    return json.dumps(value)


def key_path(settings, domain, selector):
    return "%s/%s.%s.key" % (settings["rspamd_dkim_host_dir"], domain, selector)


def dkim_signing_conf(settings, keys):
    """local.d/dkim_signing.conf: sign mail from logged-in users and local senders with the
    domain of its From: header, when that domain is one of ours; never mail relayed from outside."""
    if not settings["rspamd_dkim_domains"]:
        return HEADER + "enabled = false;\n"
    lines = [HEADER.rstrip("\n"),
             "# Mail submitted after AUTH (587, 465) and from this host's own senders; nothing else.",
             "sign_authenticated = true;", "sign_local = true;", "sign_inbound = false;",
             "# The From: header's domain signs, as DMARC aligns it; logins need no @domain (Postfix",
             "# already holds each login to its own senders: smtpd_sender_login_maps).",
             'use_domain = "header";', "use_esld = false;", "allow_username_mismatch = true;",
             "allow_hdrfrom_mismatch = false;", "use_redis = false;", "try_fallback = false;", "domain {"]
    for domain in settings["rspamd_dkim_domains"]:
        signing = keys[domain]["signing"]
        lines += ["  %s {" % _ucl(domain),
                  "    selectors = [{ selector = %s; path = %s; }];" % (_ucl(signing), _ucl(key_path(settings, domain, signing))),
                  "  }"]
    return "\n".join(lines + ["}", ""])


def force_actions_conf(settings):
    """local.d/force_actions.conf: what a DMARC policy failure does, with a reply that says why."""
    actions = DMARC_ACTIONS[settings["rspamd_dmarc_reject_action"]]
    lines = [HEADER.rstrip("\n"), "rules {"]
    for symbol, action in sorted(actions.items()):
        lines += ["  POSTMASTER_%s {" % symbol, "    expression = %s;" % _ucl(symbol), "    action = %s;" % _ucl(action)]
        if action == "reject":
            lines.append("    message = %s;" % _ucl(DMARC_REJECT_MESSAGE))
        lines.append("  }")
    return "\n".join(lines + ["}", ""])


def outbound_settings_conf(settings):
    """local.d/settings.conf: mail from logged-in users and local senders is only signed."""
    lines = [HEADER.rstrip("\n")]
    for name, condition in (("authenticated", "authenticated = true;"),
                            ("local", "ip = %s;" % _ucl(settings["rspamd_local_networks"]))):
        lines += ["postmaster_outbound_%s {" % name, "  priority = high;", "  %s" % condition,
                  '  apply { symbols_enabled = ["DKIM_SIGNED"]; }', "}"]
    return "\n".join(lines + [""])


def config_files(settings, keys):
    """[(path, text)] of rspamd's configuration files this role owns."""
    directory = settings["rspamd_config_dir"]
    port = settings["rspamd_milter_port"]
    disabled = sorted(set(settings["rspamd_disabled_modules"]))
    return [
        ("%s/override.d/options.inc" % directory,
         HEADER + "# Only these count as this host: mail from them skips the inbound checks and may be signed.\n"
         "local_addrs = %s;\n" % _ucl(settings["rspamd_local_networks"])),
        ("%s/override.d/worker-proxy.inc" % directory,
         HEADER + "# Postfix's milter, on loopback only. The proxy speaks the milter protocol and hands each\n"
         "# message to the normal worker (Debian's, on localhost:11333) to scan: two processes share\n"
         "# the work (a self-scanning proxy is one; measured: benchmarks/milter/README.md).\n"
         'bind_socket = "127.0.0.1:%d";\nmilter = yes;\ntimeout = 120s;\n'
         'upstream "local" {\n  default = yes;\n  hosts = "%s";\n}\n' % (port, NORMAL_WORKER)),
        ("%s/local.d/dkim_signing.conf" % directory, dkim_signing_conf(settings, keys)),
        ("%s/local.d/force_actions.conf" % directory, force_actions_conf(settings)),
        ("%s/local.d/settings.conf" % directory, outbound_settings_conf(settings)),
        ("%s/local.d/milter_headers.conf" % directory,
         HEADER + "# Authentication-Results on mail from outside (SPF, DKIM, DMARC, ARC).\n"
         'use = ["authentication-results"];\n'),
        ("%s/rspamd.conf.local.override" % directory,
         HEADER + "# Modules switched off: rspamd_disabled_modules.\n"
         + "".join("%s { enabled = false; }\n" % module for module in disabled)),
    ]


def sha256(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- the whole ----------------------------------------------------------------------------------

def _checked_keys(settings, keys):
    """The keys for every domain, as the dkim_keys action returns them, or None when one is
    missing (check mode before the first key is made)."""
    if not isinstance(keys, dict):
        return None
    for domain in settings["rspamd_dkim_domains"]:
        entry = keys.get(domain)
        if not isinstance(entry, dict) or not entry.get("signing"):
            return None
        selectors = {key.get("selector") for key in entry.get("keys", [])}
        if entry["signing"] not in selectors or any(not key.get("sha256") for key in entry["keys"]):
            return None
    return keys


def postfix_contract(settings):
    """What Postfix adds: rspamd as the milter of mail from SMTP clients and of local mail, and
    what Postfix does when rspamd does not answer (tempfail: the sender keeps the mail and
    tries again; local mail waits in the queue)."""
    milter = "inet:127.0.0.1:%d" % settings["rspamd_milter_port"]
    return {"main_cf": {"smtpd_milters": [milter], "non_smtpd_milters": [milter],
                        "milter_default_action": settings["rspamd_milter_default_action"],
                        "milter_protocol": 6,
                        "milter_mail_macros": "i {mail_addr} {client_addr} {client_name} {auth_authen}"}}


def desired_state(settings, keys=None):
    """Everything the rspamd role writes, from its settings and the DKIM keys.

    `keys` is the dkim_keys action's result `domains` with each key's digest added by the filter:
    {domain: {signing, keys: [{selector, sha256, src, public_key}], retired: [selector]}}, where
    keys are the published ones.

    Returns a dict:
      packages, services: for the packages module and ansible.builtin.systemd_service;
      ready_url: answers "pong" once rspamd scans (after a start or a reload it loads its rules first);
      reload_pending: the file that notes a reload not done yet (module_utils/_pending.py);
      info_wanted: whether a domain's key is not made yet (check mode): no files, no drift_spec;
      files: [{path, content, mode, owner, group, secret, sha256}]: the configuration (content);
      key_files: [{path, src, mode, owner, group, sha256}]: the private keys to copy from the
        control node (src); their digests are secret;
      directories: [{path, mode, owner, group}]: the keys' directory;
      unused_files: the key files of retired selectors, to remove;
      dkim_records: the TXT records to publish (dkim_record), the signing key's first per domain;
      drift_spec: the desired state for postmaster.mail.drift_check (no secret digest);
      secret_digests: {path: sha256} of the key files, only for drift_check's no_log option;
      postfix: {main_cf}: what Postfix adds (postfix_contract).
    """
    settings = validate(settings)
    checked = _checked_keys(settings, keys)
    enabled = settings["rspamd_service_enabled"]
    state = {
        "packages": list(settings["rspamd_packages"]),
        "services": [{"name": "rspamd", "enabled": enabled, "active": enabled}],
        "ready_url": "http://%s/ping" % NORMAL_WORKER,
        "reload_pending": reload_pending("rspamd"),
        "info_wanted": checked is None,
        "files": [], "key_files": [], "directories": [], "unused_files": [], "dkim_records": [],
        "postfix": postfix_contract(settings),
    }
    if checked is None:
        state.update(drift_spec=None, secret_digests={})
        return state
    for path, text in config_files(settings, checked):
        state["files"].append({"path": path, "content": text, "mode": "0644", "owner": "root", "group": "root",
                               "secret": False, "sha256": sha256(text)})
    if settings["rspamd_dkim_domains"]:
        state["directories"].append({"path": settings["rspamd_dkim_host_dir"], "mode": "0750", "owner": "root",
                                     "group": "_rspamd"})
    for domain in settings["rspamd_dkim_domains"]:
        entry = checked[domain]
        for key in entry["keys"]:
            signing = key["selector"] == entry["signing"]
            state["key_files"].append({"path": key_path(settings, domain, key["selector"]), "src": key["src"],
                                       "mode": "0640", "owner": "root", "group": "_rspamd", "sha256": key["sha256"]})
            state["dkim_records"].append(dkim_record(domain, key["selector"], key["public_key"], signing))
        state["unused_files"] += [key_path(settings, domain, selector) for selector in entry.get("retired", [])]
    state["dkim_records"].sort(key=lambda record: (record["domain"], not record["signing"], record["selector"]))
    state["secret_digests"] = {key["path"]: key["sha256"] for key in state["key_files"]}
    state["drift_spec"] = drift_spec(state)
    return state


def drift_spec(state):
    """What postmaster.mail.drift_check compares: packages, the service, each configuration file
    by digest, each key file marked secret (its digest in secret_digests), retired keys absent,
    and no reload left pending."""
    files = [dict({key: item[key] for key in ("path", "mode", "owner", "group")}, sha256=item["sha256"])
             for item in state["files"]]
    files += [dict({key: item[key] for key in ("path", "mode", "owner", "group")}, secret=True)
              for item in state["key_files"]]
    files += [{"path": path, "state": "absent"} for path in state["unused_files"]]
    files.append({"path": state["reload_pending"], "state": "absent"})
    return {"packages": state["packages"], "services": state["services"], "files": files}
