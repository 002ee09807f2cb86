# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The desired state of the postmaster.mail.postfix role, decided in one place.

`desired_state(settings, facts)` takes the role's settings (every `postfix_*` variable of
roles/postfix/defaults/main.yml, already templated) and what the host's Postfix supports
(postmaster.mail.postfix_info's result, or {} while nobody has read it) and returns all the
role writes: packages, the service, main.cf parameters (None removes one), master.cf
services (state absent removes one), lookup tables with their source text and digest,
whether the settings need the Postfix facts, and the desired state the drift check
compares. The slow path and the drift check both take it from here, so they cannot
disagree.

The settings are checked first, by `check_postfix_settings` of _postfix_settings.py (the
rules single settings and the relay's keys that go together must follow; the role's
validate_settings action runs the same function before its drift check), then for what the
role's argument spec states and this model relies on (the relay's host, method, tls_level,
keys, domains), and for what only the rendered tables show (a password Postfix cannot read
back, TLS policies the host's Postfix would not take). `PostfixSettingsError` (the
SettingsError of _postfix_settings.py) is one line that names the role variable.

Pure logic (no files, no processes, no Ansible): the postmaster.mail.postfix_desired_state
filter runs it on the control node, and unit tests reach every branch.

Private to postmaster.mail: no stability promise for other collections.
"""

from __future__ import annotations

import hashlib
import json
import re

from ansible_collections.postmaster.mail.plugins.module_utils._dovecot_model import (
    SENDER_LOGINS_TABLE as DOVECOT_SENDER_LOGINS_TABLE,
    VIRTUAL_MAILBOXES_TABLE as DOVECOT_VIRTUAL_MAILBOXES_TABLE,
)
from ansible_collections.postmaster.mail.plugins.module_utils._postfix_facts import parse_version
from ansible_collections.postmaster.mail.plugins.module_utils._postfix_settings import SettingsError as PostfixSettingsError
from ansible_collections.postmaster.mail.plugins.module_utils._postfix_settings import check_postfix_settings
from ansible_collections.postmaster.mail.plugins.module_utils._postmap import (
    HEADER,
    TableError,
    render_source,
    table_entries,
)
from ansible_collections.postmaster.mail.plugins.module_utils._tls_policy import TlsPolicyError, policy_entries

# What the control node's facts cache keeps and the drift check verifies: what the installed
# Postfix supports (not compatibility_level, a main.cf setting this role writes, nor a task
# result's own keys such as changed).
FACTS_CACHE_KEYS = ("installed", "version", "version_info", "directories", "default_database_type",
                    "lookup_table_types", "sasl_server_types", "sasl_client_types", "tls", "features")
# TLS session cache table types, the preferred first (both are safe for concurrent writers).
SESSION_CACHE_TYPES = ("lmdb", "btree")

# postfix_relay's keys, and the defaults of those that have one (meta/argument_specs.yml).
RELAY_KEYS = ("host", "address", "port", "method", "tunnel_port", "tls_level", "fingerprints", "domains",
              "username", "password")
RELAY_DEFAULTS = {"method": "smtps", "tunnel_port": 10465, "tls_level": "secure", "domains": []}
RELAY_METHODS = ("smtps", "stunnel", "starttls")
RELAY_TLS_LEVELS = ("secure", "verify", "fingerprint", "encrypt")
# The port a relay listens on, by method (stunnel's tunnel connects to that port too).
RELAY_PORTS = {"smtps": 465, "stunnel": 465, "starttls": 587}
# Postfix's own SMTPS client (smtp_tls_wrappermode) for an smtps relay: a master.cf service of
# its own, so mail to other destinations keeps the ordinary smtp client.
RELAY_SERVICE = "postmaster-smtps"
# What the relay settings may write to main.cf: removed when they no longer ask for it (no
# relay, another method, no domains, no credentials), so switching the relay off stops relaying.
RELAY_MAIN_CF = ("default_transport", "transport_maps", "smtp_sasl_auth_enable", "smtp_sasl_password_maps",
                 "smtp_sasl_security_options", "smtp_sasl_tls_security_options")

# The lookup tables this role builds, by kind: file name in the configuration directory, mode,
# the module that builds it. Each belongs to root:root.
TABLES = {
    "sasl": ("postmaster_sasl_passwd", "0600", "postmaster.mail.postmap"),
    "transport": ("postmaster_transport", "0644", "postmaster.mail.postmap"),
    "tls_policy": ("postmaster_tls_policy", "0644", "postmaster.mail.tls_policy"),
}

# What postfix_dovecot (the dovecot role's public fact dovecot_postfix, _dovecot_model.postfix_contract)
# may write to main.cf: removed again when the contract goes, so Postfix stops asking a Dovecot
# that is no longer configured (home_mailbox stays: postfix_home_mailbox or the maildir role own it).
DOVECOT_MAIN_CF = ("smtpd_sasl_type", "smtpd_sasl_path", "smtpd_sender_login_maps", "mailbox_transport",
                   "virtual_mailbox_domains", "virtual_mailbox_maps", "virtual_transport")
DOVECOT_KEYS = ("main_cf", "submission_options", "tables")
# What postfix_milter (the rspamd role's public fact rspamd_postfix, _rspamd_model.postfix_contract)
# may write to main.cf: removed again when the contract goes, so Postfix stops asking a milter
# that is no longer there.
MILTER_MAIN_CF = ("smtpd_milters", "non_smtpd_milters", "milter_default_action", "milter_protocol", "milter_mail_macros")
# The contract's tables, by kind: the keys each has, and its file name in the configuration
# directory (to remove it once the contract no longer has it).
DOVECOT_TABLES = {
    "sender_logins": (("path", "type", "mode", "owner", "group", "source", "sha256"), DOVECOT_SENDER_LOGINS_TABLE),
    "virtual_mailboxes": (("path", "mode", "owner", "group", "entries"), DOVECOT_VIRTUAL_MAILBOXES_TABLE),
}

# main.cf parameters the core settings set; a null setting leaves the parameter as it is.
CORE_MAIN_CF = (
    ("myhostname", "postfix_myhostname"),
    ("mydomain", "postfix_mydomain"),
    ("myorigin", "postfix_myorigin"),
    ("mydestination", "postfix_mydestination"),
    ("inet_interfaces", "postfix_inet_interfaces"),
    ("inet_protocols", "postfix_inet_protocols"),
    ("mynetworks", "postfix_mynetworks"),
    ("relayhost", "postfix_relayhost"),
    ("home_mailbox", "postfix_home_mailbox"),
    ("compatibility_level", "postfix_compatibility_level"),
)


# --- facts ------------------------------------------------------------------------------------

def select_facts(registered=None, play_facts=None, cached=None):
    """The Postfix facts to decide with: this role's postfix_info result when it ran (even
    one that says Postfix is not installed), else what an earlier drift check of the play read
    (only an installed Postfix), else what the control node cached from an earlier run (the
    drift check verifies those on the host), else {}."""
    if isinstance(registered, dict) and "installed" in registered:
        return registered
    if isinstance(play_facts, dict) and play_facts.get("installed"):
        return play_facts
    return cached if isinstance(cached, dict) else {}


def cached_facts(facts):
    """The part of the facts the control node's cache keeps and the drift check verifies."""
    return {key: value for key, value in (facts or {}).items() if key in FACTS_CACHE_KEYS}


def session_cache_type(facts):
    """The table type for the TLS session caches, or None when the host has neither lmdb nor btree."""
    available = (facts or {}).get("lookup_table_types") or []
    return next((name for name in SESSION_CACHE_TYPES if name in available), None)


def chain_files_supported(facts):
    """Whether Postfix reads *_tls_chain_files (3.4 and later); unknown facts count as yes."""
    return ((facts or {}).get("features") or {}).get("smtpd_tls_chain_files", True)


# --- settings ---------------------------------------------------------------------------------

class Settings(dict):
    """The role's settings; one that is not given is refused by name."""

    def __missing__(self, name):
        raise PostfixSettingsError("%s is not set: pass every postfix_* setting of the role (its defaults/main.yml)"
                                   % name)


def relay_settings(relay):
    """postfix_relay with its defaults applied, or None for no relay; what the argument spec
    states is checked here, the rest by check_postfix_settings (ports, keys that go together),
    which validate() runs first. A key given as null counts as not given."""
    if not relay:
        return None
    if not isinstance(relay, dict):
        raise PostfixSettingsError("postfix_relay must be a dictionary with host and optionally method, port, ... "
                                   "or null for no relay, not %s" % type(relay).__name__)
    unknown = sorted(str(key) for key in relay if key not in RELAY_KEYS)
    if unknown:
        raise PostfixSettingsError("postfix_relay: unknown key %s: use %s" % (", ".join(unknown), ", ".join(RELAY_KEYS)))
    given = dict(RELAY_DEFAULTS, **{key: value for key, value in relay.items() if value is not None})
    if not isinstance(given.get("host"), str) or not given["host"]:
        raise PostfixSettingsError("postfix_relay: host is missing: give the relay's name, as its certificate carries it")
    if given["method"] not in RELAY_METHODS:
        raise PostfixSettingsError("postfix_relay: method %s is not one of %s"
                                   % (given["method"], ", ".join(RELAY_METHODS)))
    if given["tls_level"] not in RELAY_TLS_LEVELS:
        raise PostfixSettingsError("postfix_relay: tls_level %s is not one of %s"
                                   % (given["tls_level"], ", ".join(RELAY_TLS_LEVELS)))
    given.setdefault("port", RELAY_PORTS[given["method"]])
    if ":" in str(given.get("username", "")):
        raise PostfixSettingsError("postfix_relay: username has a ':', where Postfix's SASL table ends the user name "
                                   "(user:password): use a user name without ':'")
    if str(given.get("password", "")) != str(given.get("password", "")).rstrip():
        raise PostfixSettingsError("postfix_relay: password ends with white space, which Postfix drops from a table "
                                   "value, so the relay would get another password: remove it")
    domains = given["domains"]
    if isinstance(domains, str) or not isinstance(domains, (list, tuple)):
        raise PostfixSettingsError("postfix_relay: domains must be a list of domain names, not %s"
                                   % type(domains).__name__)
    if given["method"] == "stunnel":
        given["destination"] = "[127.0.0.1]:%d" % given["tunnel_port"]
    else:
        given["destination"] = "[%s]:%d" % (given.get("address") or given["host"], given["port"])
    given["transport"] = RELAY_SERVICE if given["method"] == "smtps" else "smtp"
    given["nexthop"] = "%s:%s" % (given["transport"], given["destination"])
    given["sasl"] = bool(given.get("username"))
    return given


def relay_policies(relay):
    """The smtp_tls_policy_maps entry that checks the relay's certificate (none through
    stunnel, whose tunnel checks it)."""
    if relay is None or relay["method"] == "stunnel":
        return []
    policy = {"destination": relay["destination"], "level": relay["tls_level"]}
    if relay["tls_level"] in ("secure", "verify"):
        policy["match"] = [relay["host"]]
    elif relay["tls_level"] == "fingerprint":
        policy["match"] = relay["fingerprints"]
    return [policy]


def needs_facts(settings):
    """Whether the settings need what the installed Postfix supports (TLS, tables)."""
    return (_tls_enabled(settings) or bool(settings["postfix_relay"])
            or len(settings["postfix_tls_policies"]) > 0 or bool(settings["postfix_dovecot"]))


def _tls_server_enabled(settings):
    return len(settings["postfix_smtpd_tls_chain_files"]) > 0


def _tls_enabled(settings):
    return (_tls_server_enabled(settings) or len(settings["postfix_smtp_tls_chain_files"]) > 0
            or settings["postfix_smtp_tls_ca_file"] is not None)


def _without_none(parameters):
    return {name: value for name, value in parameters.items() if value is not None}


# --- main.cf ----------------------------------------------------------------------------------

def _chain_parameters(prefix, files, supported):
    """{prefix}_tls_chain_files, or on Postfix before 3.4 the first file as certificate and key
    (a chain file holds both); None removes what the other form wrote."""
    if supported:
        return {prefix + "_tls_chain_files": files, prefix + "_tls_cert_file": None, prefix + "_tls_key_file": None}
    return {prefix + "_tls_cert_file": files[0], prefix + "_tls_key_file": files[0]}


def tls_main_cf(settings, facts):
    """main.cf's TLS parameters; {} (nothing written, nothing removed) while TLS is off."""
    if not _tls_enabled(settings):
        return {}
    cache_type = session_cache_type(facts)
    supported = chain_files_supported(facts)
    parameters = _without_none({
        "tls_random_source": "dev:/dev/urandom",
        "smtp_tls_security_level": settings["postfix_smtp_tls_security_level"],
        "smtp_tls_protocols": settings["postfix_tls_protocols"],
        "smtp_tls_mandatory_protocols": settings["postfix_tls_mandatory_protocols"],
        "smtp_tls_loglevel": settings["postfix_tls_loglevel"],
        "smtp_tls_connection_reuse": settings["postfix_smtp_tls_connection_reuse"],
        "smtp_tls_CAfile": settings["postfix_smtp_tls_ca_file"],
        "smtp_tls_session_cache_database": cache_type and cache_type + ":${data_directory}/smtp_scache",
    })
    client_files = settings["postfix_smtp_tls_chain_files"]
    if client_files:
        parameters.update(_chain_parameters("smtp", client_files, supported))
    if _tls_server_enabled(settings):
        parameters.update(_without_none({
            "smtpd_tls_security_level": settings["postfix_smtpd_tls_security_level"],
            "smtpd_tls_protocols": settings["postfix_tls_protocols"],
            "smtpd_tls_mandatory_protocols": settings["postfix_tls_mandatory_protocols"],
            "smtpd_tls_loglevel": settings["postfix_tls_loglevel"],
            "smtpd_tls_received_header": True,
            "smtpd_tls_auth_only": True,
            "smtpd_tls_session_cache_database": cache_type and cache_type + ":${data_directory}/smtpd_scache",
        }))
        parameters.update(_chain_parameters("smtpd", settings["postfix_smtpd_tls_chain_files"], supported))
    return parameters


def relay_main_cf(relay, maps_type, config_dir):
    """main.cf's relay parameters: those the relay asks for, and None for the rest of
    RELAY_MAIN_CF (removed)."""
    parameters = dict.fromkeys(RELAY_MAIN_CF)
    if relay is None:
        return parameters
    if relay["domains"]:
        parameters["transport_maps"] = [_table_reference("transport", maps_type, config_dir)]
    elif relay["method"] == "smtps":
        parameters["default_transport"] = relay["nexthop"]
    else:
        parameters["relayhost"] = relay["destination"]
    if relay["sasl"]:
        parameters.update({
            "smtp_sasl_auth_enable": True,
            "smtp_sasl_password_maps": [_table_reference("sasl", maps_type, config_dir)],
            "smtp_sasl_security_options": "noanonymous",
            "smtp_sasl_tls_security_options": "noanonymous",
        })
    return parameters


def _table_path(kind, config_dir):
    return "%s/%s" % (config_dir, TABLES[kind][0])


def _table_reference(kind, maps_type, config_dir):
    return "%s:%s" % (maps_type, _table_path(kind, config_dir))


# --- master.cf --------------------------------------------------------------------------------

def submission_services(settings, dovecot=None):
    """submission (587) and smtps (465), present or absent as their settings say; with
    Dovecot, its options (AUTH after TLS only, nothing accepted without a login, the sender
    must be the login's) under postfix_submission_options, which may override each one."""
    options = {"smtpd_tls_security_level": "encrypt", "smtpd_tls_mandatory_ciphers": "high",
               "tls_high_cipherlist": settings["postfix_submission_tls_ciphers"],
               "tls_eecdh_auto_curves": settings["postfix_submission_tls_curves"]}
    if dovecot is not None:
        options.update(dovecot["submission_options"])
    options.update(settings["postfix_submission_options"])
    services = []
    for name, setting, first in (("submission", "postfix_submission_enabled", {"syslog_name": "postfix/submission"}),
                                 ("smtps", "postfix_smtps_enabled",
                                  {"syslog_name": "postfix/smtps", "smtpd_tls_wrappermode": True})):
        services.append({"name": name, "type": "inet", "state": "present" if settings[setting] else "absent",
                         "private": "n", "chroot": "y", "command": "smtpd", "options": dict(first, **options)})
    return services


def master_cf_services(settings, relay, dovecot=None):
    """The master.cf services: submission and smtps with server TLS (and Dovecot's options);
    tlsproxy(8), which smtp_tls_connection_reuse needs and Debian's master.cf leaves commented
    out; the relay's SMTPS client (absent unless an smtps relay); then postfix_master_cf_services."""
    services = submission_services(settings, dovecot) if _tls_server_enabled(settings) else []
    if _tls_enabled(settings) and settings["postfix_smtp_tls_connection_reuse"]:
        services.append({"name": "tlsproxy", "type": "unix", "chroot": "y", "maxproc": "0", "command": "tlsproxy"})
    if relay is not None and relay["method"] == "smtps":
        services.append({"name": RELAY_SERVICE, "type": "unix", "chroot": "y", "command": "smtp",
                         "options": {"syslog_name": "postfix/" + RELAY_SERVICE, "smtp_tls_wrappermode": True,
                                     "smtp_tls_security_level": "encrypt"}})
    else:
        services.append({"name": RELAY_SERVICE, "type": "unix", "state": "absent"})
    return services + list(settings["postfix_master_cf_services"])


# --- lookup tables ----------------------------------------------------------------------------

def sha256(text):
    """The digest drift_check compares a table's source file by (as Ansible's hash('sha256'))."""
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def postmap_source(entries):
    """The source text postmaster.mail.postmap writes for `entries`."""
    return render_source(table_entries(entries), HEADER % "postmaster.mail.postmap")


def tls_policy_source(policies, postfix_version, dns_support_level=""):
    """The source text postmaster.mail.tls_policy writes for `policies` (null attributes left out)."""
    policies = [{name: value for name, value in policy.items() if value is not None} for policy in policies]
    version = parse_version(str(postfix_version)) if postfix_version else None
    return render_source(policy_entries(policies, False, dns_support_level, version),
                         HEADER % "postmaster.mail.tls_policy")


def _table(kind, maps_type, config_dir, source, **arguments):
    dummy, mode, module = TABLES[kind]
    return dict({"path": _table_path(kind, config_dir), "type": maps_type, "mode": mode, "owner": "root",
                 "group": "root", "module": module, "secret": kind == "sasl", "source": source,
                 "sha256": sha256(source)}, **arguments)


def unused_tables(relay, config_dir, user_main_cf, dovecot=None):
    """Paths of the tables to remove (source and built files) that postfix_main_cf does not
    name: the SASL table, with its secret, once the relay has no credentials; Dovecot's sender
    login and virtual mailbox tables once postfix_dovecot no longer has them."""
    named = json.dumps(user_main_cf)
    paths = [] if relay is not None and relay["sasl"] else [_table_path("sasl", config_dir)]
    kept = [table["path"] for table in (dovecot or {}).get("tables", {}).values()]
    paths += [path for path in ("%s/%s" % (config_dir, DOVECOT_TABLES[kind][1]) for kind in sorted(DOVECOT_TABLES))
              if path not in kept]
    return [path for path in paths if path not in named]


def tables(relay, policies, maps_type, config_dir, facts, dns_support_level):
    """The lookup tables, by kind (sasl, transport, tls_policy), each with what its module
    takes (path, type, mode, owner, group, and entries or policies) and the source text it writes."""
    found = {}
    try:
        if relay is not None and relay["sasl"]:
            entries = {relay["destination"]: "%s:%s" % (relay["username"], relay["password"])}
            found["sasl"] = _table("sasl", maps_type, config_dir, postmap_source(entries), entries=entries)
    except TableError as exc:
        # The message names the key (the relay's destination), never the value: no secret here.
        raise PostfixSettingsError("postfix_relay: username or password cannot go into the SASL table: %s" % exc)
    try:
        if relay is not None and relay["domains"]:
            entries = {domain: relay["nexthop"] for domain in relay["domains"]}
            found["transport"] = _table("transport", maps_type, config_dir, postmap_source(entries), entries=entries)
    except TableError as exc:
        raise PostfixSettingsError("postfix_relay: domains: %s" % exc)
    if policies:
        try:
            source = tls_policy_source(policies, (facts or {}).get("version"), dns_support_level)
        except (TlsPolicyError, AttributeError, KeyError, TypeError) as exc:
            raise PostfixSettingsError("postfix_tls_policies: %s" % exc)
        found["tls_policy"] = _table("tls_policy", maps_type, config_dir, source, policies=policies)
    return found


# --- Dovecot: authenticated submission and LMTP (postfix_dovecot) ----------------------------------

_TABLE_PATH = re.compile(r"^/[^\s,{}]+\Z")
_DOVECOT_FIX = "pass the dovecot role's fact dovecot_postfix as it is, or null for no Dovecot"


def _refuse_dovecot(where, problem):
    raise PostfixSettingsError("postfix_dovecot%s %s: %s" % (where, problem, _DOVECOT_FIX))


def _dovecot_value(where, value):
    """A main.cf or -o value as the contract gives it: text, a boolean, a number, null or a list of text."""
    items = value if isinstance(value, list) else [value]
    if not all(item is None or isinstance(item, (str, bool, int)) for item in items):
        _refuse_dovecot(where, "must be text, a boolean, a number or a list of text, not %s" % type(value).__name__)
    return value


def _dovecot_table(kind, table):
    """One table of the contract, checked: {path, mode, owner, group} and its entries."""
    where = ".tables.%s" % kind
    keys = DOVECOT_TABLES[kind][0]
    if not isinstance(table, dict):
        _refuse_dovecot(where, "must be a dictionary with %s, not %s" % (", ".join(keys), type(table).__name__))
    unknown = sorted(str(key) for key in table if key not in keys)
    missing = [key for key in keys if key not in table]
    if unknown or missing:
        _refuse_dovecot(where, "has the key %s, where it has %s" % ((unknown or missing)[0], ", ".join(keys))
                        if unknown else "lacks %s (it has %s)" % (missing[0], ", ".join(keys)))
    if not isinstance(table["path"], str) or not _TABLE_PATH.match(table["path"]):
        _refuse_dovecot(where + ".path", "must be an absolute path without white space, ',' or braces, got %r"
                        % (table["path"],))
    for key in ("mode", "owner", "group"):
        if not isinstance(table[key], str):
            _refuse_dovecot("%s.%s" % (where, key), "must be text, not %s" % type(table[key]).__name__)
    if kind == "virtual_mailboxes":
        if not isinstance(table["entries"], dict) or not table["entries"]:
            _refuse_dovecot(where + ".entries", "must be a dictionary of address: OK with at least one entry")
        return [{"key": key, "value": value} for key, value in table["entries"].items()]
    if table["type"] != "regexp":
        _refuse_dovecot(where + ".type", "must be regexp, got %r" % (table["type"],))
    if not isinstance(table["source"], str):
        _refuse_dovecot(where + ".source", "must be the table's text, not %s" % type(table["source"]).__name__)
    return regexp_entries(table["source"])


def regexp_entries(source):
    """[{key, value}] of a regexp table's text, in order: comments and blank lines left out."""
    entries = []
    for number, line in enumerate(source.split("\n"), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line[0].isspace():
            _refuse_dovecot(".tables.sender_logins.source", "line %d starts with white space (a continued line)" % number)
        parts = line.split(None, 1)
        entries.append({"key": parts[0], "value": parts[1].strip() if len(parts) > 1 else ""})
    return entries


def _names_table(value, path):
    return any(isinstance(item, str) and item.endswith(":" + path) for item in (value if isinstance(value, list) else [value]))


def dovecot_settings(contract, maps_type, facts):
    """postfix_dovecot (the contract of _dovecot_model.postfix_contract) checked, as this role
    writes it: main.cf parameters (the rest of DOVECOT_MAIN_CF removed, and smtpd_sasl_auth_enable
    too, so port 25 never offers AUTH), the submission and smtps options, and the tables with
    the module, type and source this role builds them with; None for no Dovecot."""
    if not contract:
        return None
    if not isinstance(contract, dict):
        _refuse_dovecot("", "must be a dictionary (%s), not %s" % (", ".join(DOVECOT_KEYS), type(contract).__name__))
    for key in sorted(str(key) for key in contract):
        if key not in DOVECOT_KEYS:
            _refuse_dovecot("", "has the key %s, where it has %s" % (key, ", ".join(DOVECOT_KEYS)))
    for key in DOVECOT_KEYS:
        if not isinstance(contract.get(key), dict):
            _refuse_dovecot("." + key, "must be a dictionary, not %s" % type(contract.get(key)).__name__)
    if "sender_logins" not in contract["tables"]:
        _refuse_dovecot(".tables", "lacks sender_logins")
    for name, value in contract["main_cf"].items():
        if name != "home_mailbox" and name not in DOVECOT_MAIN_CF:
            _refuse_dovecot(".main_cf", "has %s, which the postfix role does not take from Dovecot (it takes home_mailbox, %s)"
                            % (name, ", ".join(DOVECOT_MAIN_CF)))
        _dovecot_value(".main_cf.%s" % name, value)
    for name, value in contract["submission_options"].items():
        _dovecot_value(".submission_options.%s" % name, value)
    sasl_types = (facts or {}).get("sasl_server_types")
    if sasl_types is not None and "dovecot" not in sasl_types:
        raise PostfixSettingsError("postfix_dovecot: this host's Postfix has no Dovecot SASL server (postconf -a lists "
                                   "%s): install Debian's postfix package, which has it" % (", ".join(sasl_types) or "none"))
    main_cf = dict.fromkeys(DOVECOT_MAIN_CF + ("smtpd_sasl_auth_enable",))
    main_cf.update(contract["main_cf"])
    found = {}
    for kind in sorted(contract["tables"]):
        if kind not in DOVECOT_TABLES:
            _refuse_dovecot(".tables", "has %s, where it has %s" % (kind, ", ".join(sorted(DOVECOT_TABLES))))
        table = contract["tables"][kind]
        entries = _dovecot_table(kind, table)
        parameter = "smtpd_sender_login_maps" if kind == "sender_logins" else "virtual_mailbox_maps"
        if not _names_table(main_cf.get(parameter), table["path"]):
            _refuse_dovecot(".main_cf.%s" % parameter, "does not name the table %s of tables.%s" % (table["path"], kind))
        type_ = "regexp" if kind == "sender_logins" else maps_type
        try:
            source = postmap_source(entries)
        except TableError as exc:
            _refuse_dovecot(".tables.%s" % kind, "cannot go into the table: %s" % exc)
        found[kind] = {"path": table["path"], "type": type_, "mode": table["mode"], "owner": table["owner"],
                       "group": table["group"], "module": "postmaster.mail.postmap", "secret": False,
                       "source": source, "sha256": sha256(source), "entries": entries}
        # The table as this role builds it (a virtual mailbox table in postfix_maps_type).
        main_cf[parameter] = ["%s:%s" % (type_, table["path"])]
    return {"main_cf": main_cf, "submission_options": dict(contract["submission_options"]), "tables": found}


# --- the milter: rspamd (postfix_milter) ------------------------------------------------------------

_MILTER_FIX = "pass the rspamd role's fact rspamd_postfix as it is, or null for no milter"


def milter_main_cf(contract):
    """The main.cf parameters of postfix_milter (the contract of _rspamd_model.postfix_contract),
    checked; each of MILTER_MAIN_CF it does not set is removed."""
    main_cf = dict.fromkeys(MILTER_MAIN_CF)
    if not contract:
        return main_cf
    if not isinstance(contract, dict) or sorted(contract) != ["main_cf"] or not isinstance(contract["main_cf"], dict):
        raise PostfixSettingsError("postfix_milter must be a dictionary with only main_cf, a dictionary: %s" % _MILTER_FIX)
    for name, value in contract["main_cf"].items():
        if name not in MILTER_MAIN_CF:
            raise PostfixSettingsError("postfix_milter.main_cf has %s, which the postfix role does not take from a "
                                       "milter (it takes %s): %s" % (name, ", ".join(MILTER_MAIN_CF), _MILTER_FIX))
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(item, (str, int)) and not isinstance(item, bool) for item in items):
            raise PostfixSettingsError("postfix_milter.main_cf.%s must be text, a number or a list of text, not %s: %s"
                                       % (name, type(value).__name__, _MILTER_FIX))
    main_cf.update(contract["main_cf"])
    return main_cf


def check_milter_contract(contract):
    """Raise PostfixSettingsError when postfix_milter is malformed (validate_settings, before any remote call)."""
    milter_main_cf(contract)


def check_dovecot_contract(contract):
    """Raise PostfixSettingsError when postfix_dovecot is malformed: what validate_settings checks
    before any remote call (desired_state also checks it against the host's SASL server types)."""
    dovecot_settings(contract, "", None)


# --- the whole ----------------------------------------------------------------------------------

def validate(settings):
    """Raise PostfixSettingsError for the first problem of the settings; return the relay
    settings with defaults applied (None for no relay)."""
    if not isinstance(settings, dict):
        raise PostfixSettingsError("the postfix role's settings must be a dictionary of postfix_* variables")
    relay = Settings(settings)["postfix_relay"]
    check_postfix_settings(settings)
    return relay_settings(relay)


def desired_state(settings, facts=None):
    """Everything the postfix role writes, from its settings and the host's Postfix facts.

    Returns a dict:
      packages, services: for ansible.builtin.apt and ansible.builtin.systemd_service;
      main_cf: main.cf parameters for postmaster.mail.postconf (None removes a parameter);
      master_cf_services: for postmaster.mail.postconf_master (state absent removes one);
      tables: {kind: table} for kinds sasl, transport, tls_policy, and with postfix_dovecot
        sender_logins (regexp) and virtual_mailboxes, that are in use, each with
        path, type, mode, owner, group, module, secret, source, sha256 and the module's
        entries or policies;
      unused_tables: paths of tables to remove once Postfix runs without them;
      needs_facts: whether the settings need the Postfix facts;
      info_wanted: whether they need them and none are known (read them, then ask again);
      facts_cached_part: what the facts cache keeps of the facts;
      facts_cache_keys: the keys of the facts the cache keeps (FACTS_CACHE_KEYS);
      drift_spec: the desired state for postmaster.mail.drift_check, or None while
        info_wanted; it holds no digest of a secret table;
      secret_digests: {path: sha256} of the secret tables (the SASL table), which belong
        only in a no_log option.
    """
    relay = validate(settings)
    settings = Settings(settings)
    facts = facts or {}
    config_dir = settings["postfix_config_dir"]
    maps_type = settings["postfix_maps_type"] or facts.get("default_database_type") or ""

    main_cf = _without_none({name: settings[setting] for name, setting in CORE_MAIN_CF})
    main_cf.update(tls_main_cf(settings, facts))
    main_cf.update(relay_main_cf(relay, maps_type, config_dir))
    dovecot = dovecot_settings(settings["postfix_dovecot"], maps_type, facts)
    main_cf.update(dovecot["main_cf"] if dovecot is not None else dict.fromkeys(DOVECOT_MAIN_CF))
    main_cf.update(milter_main_cf(settings["postfix_milter"]))
    policies = relay_policies(relay) + list(settings["postfix_tls_policies"])
    main_cf["smtp_tls_policy_maps"] = [_table_reference("tls_policy", maps_type, config_dir)] if policies else None
    main_cf.update(settings["postfix_main_cf"])

    master_cf = master_cf_services(settings, relay, dovecot)
    found_tables = tables(relay, policies, maps_type, config_dir, facts, main_cf.get("smtp_dns_support_level") or "")
    found_tables.update(dovecot["tables"] if dovecot is not None else {})
    enabled = settings["postfix_service_enabled"]
    state = {
        "packages": settings["postfix_packages"],
        "services": [{"name": "postfix", "enabled": enabled, "active": enabled}],
        "main_cf": main_cf,
        "master_cf_services": master_cf,
        "tables": found_tables,
        "unused_tables": unused_tables(relay, config_dir, settings["postfix_main_cf"], dovecot),
        "needs_facts": needs_facts(settings),
        "facts_cached_part": cached_facts(facts),
        "facts_cache_keys": list(FACTS_CACHE_KEYS),
    }
    state["info_wanted"] = state["needs_facts"] and not facts.get("installed", False)
    state["drift_spec"] = None if state["info_wanted"] else drift_spec(state, config_dir)
    state["secret_digests"] = {table["path"]: table["sha256"] for table in found_tables.values() if table["secret"]}
    return state


def drift_spec(state, config_dir):
    """The desired state postmaster.mail.drift_check compares: tables by the digest of their
    source, except secret ones, marked secret (drift_check takes their digests, from
    state['secret_digests'], in its no_log option secret_digests); postfix_daemon: the master
    process runs (or not) and no write is left unapplied."""
    spec = {
        "packages": state["packages"],
        "services": state["services"],
        "main_cf": {"parameters": state["main_cf"], "config_dir": config_dir},
        "tables": [dict({key: table[key] for key in ("path", "type", "mode", "owner", "group")},
                        **({"secret": True} if table["secret"] else {"sha256": table["sha256"]}))
                   for table in state["tables"].values()]
        + [{"path": path, "state": "absent"} for path in state["unused_tables"]],
        "postfix_daemon": {"running": state["services"][0]["active"], "config_dir": config_dir},
    }
    if state["needs_facts"]:
        spec["postfix_facts"] = {"facts": state["facts_cached_part"], "config_dir": config_dir}
    if state["master_cf_services"]:
        spec["master_cf"] = {"services": state["master_cf_services"], "config_dir": config_dir}
    return spec
