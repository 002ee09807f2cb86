# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The postmaster.mail.postfix role's settings, checked before anything runs: the rules the
role's argument spec cannot state (a string that must not be a list, the syntax of a
main.cf value, ranges, settings that only make sense together, a risky value that needs an
opt-in). Each problem is one line that names the role variable, what is wrong and the fix.

Pure logic (no files, no processes): the postmaster.mail.validate_settings action calls it
on the control node, so checking costs no round trip to the host.

Private to postmaster.mail: no stability promise for other collections.
"""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.postmaster.mail.plugins.module_utils._tls_policy import TlsPolicyError, check_destination

# Settings that become one main.cf value each: a string (or null), never a list or a dict.
SINGLE_VALUED = ("postfix_myhostname", "postfix_mydomain", "postfix_myorigin", "postfix_relayhost",
                 "postfix_home_mailbox", "postfix_tls_protocols", "postfix_tls_mandatory_protocols",
                 "postfix_submission_tls_ciphers", "postfix_submission_tls_curves", "postfix_maps_type")
# Settings that are lists of strings, one main.cf list item each.
LISTS = ("postfix_packages", "postfix_mydestination", "postfix_mynetworks")
# Postfix's compatibility levels: 0, 1, 2, then a release (3.6, 3.7, ...; Postfix 3.6 and later).
_COMPATIBILITY_LEVEL = re.compile(r"(?:[0-2]|[3-9]\.[0-9]{1,2}(?:\.[0-9]{1,2})?)")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
# A host or domain name, where a label may also be a $parameter (host.$mydomain).
_NAME_LABEL = r"(?:%s|\$[a-z0-9_]+|\$\{[a-z0-9_]+\})" % _LABEL
_HOST_NAME = re.compile(r"%s(?:\.%s)*" % (_NAME_LABEL, _NAME_LABEL))
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_TABLE = re.compile(r"[a-z0-9_]+:\S+")
_PORTED = ("port", "tunnel_port")


class SettingsError(ValueError):
    """A setting the role refuses; the message is one line that says what to fix."""


def check_postfix_settings(settings):
    """Raise SettingsError for the first problem in `settings` (postfix_* name: value,
    as the role's variables hold them), else return the warnings to show (a list)."""
    for name in SINGLE_VALUED:
        _check_string(name, settings.get(name))
    for name in LISTS:
        for item in _string_list(name, settings.get(name)):
            _check_string(name, item)
    _check_interfaces(settings.get("postfix_inet_interfaces"))
    for name in ("postfix_myhostname", "postfix_mydomain"):
        _check_host_name(name, settings.get(name))
    _check_compatibility_level(settings.get("postfix_compatibility_level"))
    _check_relayhost(settings.get("postfix_relayhost"))
    _check_mynetworks(settings.get("postfix_mynetworks") or [], settings.get("postfix_mynetworks_allow_public"))
    _check_relay(settings.get("postfix_relay"))
    return []


def _check_string(name, value):
    if value is None:
        return
    if not isinstance(value, str):
        raise SettingsError("%s must be one string, not %s %s: give a single value%s"
                            % (name, _kind(value), _show(value),
                               " (main.cf takes one value here)" if isinstance(value, (list, dict)) else ""))
    if _CONTROL.search(value):
        raise SettingsError("%s %s contains a line break or another control character: give the value on one line"
                            % (name, _show(value)))


def _string_list(name, value):
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise SettingsError("%s must be a list of strings, not %s %s" % (name, _kind(value), _show(value)))
    for item in value:
        if not isinstance(item, str):
            raise SettingsError("%s: item %s must be a string, not %s" % (name, _show(item), _kind(item)))
    return value


def _check_interfaces(value):
    if isinstance(value, str):
        _check_string("postfix_inet_interfaces", value)
    else:
        for item in _string_list("postfix_inet_interfaces", value):
            _check_string("postfix_inet_interfaces", item)


def _check_host_name(name, value):
    if value is None:
        return
    if len(value) > 253 or not _HOST_NAME.fullmatch(value):
        raise SettingsError("%s %s is not a host or domain name: use letters, digits and '-' in dot-separated labels, "
                            "such as mail.example.org" % (name, _show(value)))


def _check_compatibility_level(value):
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise SettingsError("postfix_compatibility_level must be a string such as \"3.6\", not %s %s"
                            % (_kind(value), _show(value)))
    if isinstance(value, float):
        raise SettingsError("postfix_compatibility_level %s is a number, and YAML reads 3.10 as 3.1: quote the level, "
                            "as in postfix_compatibility_level: \"%s\"" % (value, value))
    if not _COMPATIBILITY_LEVEL.fullmatch(str(value)):
        raise SettingsError("postfix_compatibility_level %s is not a Postfix compatibility level: use 0, 1, 2 or a "
                            "Postfix release such as \"3.6\" (quoted), no newer than the installed Postfix, "
                            "or null to keep the host's" % _show(str(value)))


def _check_relayhost(value):
    """relayhost: empty, or destinations separated by commas or white space (Postfix 3.5 and
    later take several), each domain, domain:port, [host] or [host]:port, or a $parameter."""
    for destination in re.split(r"[\s,]+", value or ""):
        if not destination or destination.startswith("$"):
            continue
        problem = None
        if destination.startswith("."):
            problem = "a relay host does not start with a dot"
        else:
            try:
                check_destination(destination)
            except TlsPolicyError as error:
                # The TLS policy table's next-hop rule, said for relayhost (no .domain form).
                problem = str(error).replace("destination %r: " % destination, "").replace(
                    "destination %r " % destination, "").split(": use domain, .domain", maxsplit=1)[0]
        if problem:
            hint = "" if ": use" in problem or "write" in problem else (
                ": write it as host, host:port, [host] or [host]:port, for example [smtp.example.org]:587")
            raise SettingsError("postfix_relayhost %s: %s%s" % (_show(destination), problem, hint))


def _check_mynetworks(entries, allow_public):
    for entry in entries:
        if entry.startswith("!"):
            entry = entry[1:]  # an exception narrows the list: no opt-in needed
            opens = False
        else:
            opens = True
        if entry.startswith("/") or _TABLE.fullmatch(entry) or entry.startswith("$"):
            continue  # a pattern file, a lookup table or a parameter: read by Postfix, checked there
        network = _network(entry)
        if network is None:
            raise SettingsError("postfix_mynetworks entry %s is not a network: use an address or address/prefix, "
                                "IPv6 in brackets such as [2001:db8::]/32, a /file/name or a type:table"
                                % _show(entry))
        if opens and not allow_public and not _is_local(network):
            raise SettingsError("postfix_mynetworks entry %s is a public network, so anyone there may relay mail "
                                "through this host without authentication (open relay): list only trusted local "
                                "networks, or set postfix_mynetworks_allow_public: true if that is intended"
                                % _show(entry))


def _network(entry):
    text = entry
    if text.startswith("["):
        address, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith("/")):
            return None
        text = address + rest
        version = 6
    else:
        version = 4
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None
    if network.version != version:
        return None  # IPv6 goes in brackets in mynetworks, IPv4 never does
    return network


def _is_local(network):
    """Loopback, private (RFC 1918, unique local) or link-local, and not wider than those ranges."""
    return network.is_loopback or network.is_link_local or (network.is_private and network.prefixlen >= 8)


def _check_relay(relay):
    """The relay rules the argument spec cannot state: port ranges, and the settings that go together."""
    if not isinstance(relay, dict):
        return
    for key in _PORTED:
        port = relay.get(key)
        if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536):
            raise SettingsError("postfix_relay: %s %s is out of range: use 1 to 65535" % (key, _show(port)))
    if relay.get("tls_level") == "fingerprint" and not relay.get("fingerprints"):
        raise SettingsError("postfix_relay: tls_level fingerprint needs fingerprints, the SHA-256 digests of the "
                            "relay certificate")
    if bool(relay.get("username")) != bool(relay.get("password")):
        raise SettingsError("postfix_relay: username and password go together: set both for SASL authentication, "
                            "or neither")
    for key in ("host", "address", "username"):
        if isinstance(relay.get(key), str) and _CONTROL.search(relay[key]):
            raise SettingsError("postfix_relay: %s %s contains a line break or another control character: "
                                "give it on one line" % (key, _show(relay[key])))


def _kind(value):
    """The YAML name of a value's type (Ansible wraps values in classes of its own)."""
    for kind, name in ((bool, "a boolean"), (str, "a string"), (int, "a number"), (float, "a number"),
                       (dict, "a dict"), ((list, tuple), "a list")):
        if isinstance(value, kind):
            return name
    return "null" if value is None else type(value).__name__


def _show(value):
    """A value for a one-line message: repr keeps line breaks visible as \\n."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
