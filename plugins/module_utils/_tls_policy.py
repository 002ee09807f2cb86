# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Entries of an smtp_tls_policy_maps table, checked as Postfix's SMTP client reads them.

Pure logic (no files, no processes). The rules follow postconf(5) (smtp_tls_policy_maps),
TLS_README ("TLS policy table") and Postfix's smtp_tls_policy.c (the same in 3.5 to
3.10):

- the level is one of none, may, encrypt, dane, dane-only, fingerprint, verify, secure;
- `match` is valid with fingerprint, verify and secure only (Postfix marks the policy
  invalid and defers mail otherwise); fingerprints are separated by "|" because ":"
  separates the bytes of one fingerprint, hostname patterns and strategies by ":";
- `tafile` is valid with verify and secure only (the levels that trust CAs);
- attribute values may not contain white space or commas, which separate attributes;
- with level none every other attribute is ignored, so one is refused here.

Private to postmaster.mail: no stability promise for other collections.
"""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.postmaster.mail.plugins.module_utils._text import CONTROL_CHARACTERS

LEVELS = ("none", "may", "encrypt", "dane", "dane-only", "fingerprint", "verify", "secure")
CIPHER_GRADES = ("export", "low", "medium", "high", "null")
MATCH_STRATEGIES = ("nexthop", "dot-nexthop", "hostname")
PROTOCOL_NAMES = ("SSLv2", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
# Fingerprint length in bytes -> digest (smtp_tls_fingerprint_digest) that makes it.
DIGEST_BYTES = {16: "md5", 20: "sha1", 32: "sha256", 64: "sha512"}

# Attributes in the order they are written, and the levels that take each.
_TLS_LEVELS = ("may", "encrypt", "dane", "dane-only", "fingerprint", "verify", "secure")
ATTRIBUTE_LEVELS = {
    "match": ("fingerprint", "verify", "secure"),
    "protocols": _TLS_LEVELS,
    "ciphers": _TLS_LEVELS,
    "exclude": _TLS_LEVELS,
    "tafile": ("verify", "secure"),
    "servername": _TLS_LEVELS,
    "connection_reuse": _TLS_LEVELS,
}
POLICY_FIELDS = ("destination", "level") + tuple(ATTRIBUTE_LEVELS)

_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?"
_DOMAIN = re.compile(r"%s(?:\.%s)*" % (_LABEL, _LABEL))
_SERVICE = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_PROTOCOL = re.compile(r"(!|>=|<=)?(.*)")
_FINGERPRINT = re.compile(r"[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2})+")
_NOT_IN_VALUE = re.compile(r"[\s,{}]")
# Control characters (C0, DEL, C1) and the Unicode line and paragraph separators.
_CONTROL = CONTROL_CHARACTERS

# The options of one policy, as postmaster.mail.tls_policy's argument spec takes them; the
# tls_policy_source filter validates with the same spec, so both read a policy alike.
POLICY_OPTIONS = dict(
    destination=dict(type="str", required=True),
    level=dict(type="str", required=True, choices=list(LEVELS)),
    match=dict(type="list", elements="str"),
    protocols=dict(type="list", elements="str"),
    ciphers=dict(type="str", choices=list(CIPHER_GRADES)),
    exclude=dict(type="list", elements="str"),
    tafile=dict(type="str"),
    servername=dict(type="str"),
    connection_reuse=dict(type="bool"),
)


class TlsPolicyError(ValueError):
    """A policy Postfix would not read as intended; the message says what to fix."""


def check_destination(destination):
    """Fail unless `destination` is a TLS policy table key: domain, .domain, [host],
    [host]:port or host:port (the next-hop as Postfix looks it up)."""
    if not isinstance(destination, str) or not destination:
        raise TlsPolicyError("a policy has no destination: give a domain, .domain, [host], [host]:port or host:port")
    if _CONTROL.search(destination):
        raise TlsPolicyError("destination %r has a control character or line break: remove it (a destination is "
                             "one word, such as [smtp.example.org]:587)" % (destination,))
    hint = "use domain, .domain (its subdomains), [host], [host]:port or host:port"
    if destination.startswith("["):
        host, dummy, rest = destination[1:].partition("]")
        if not dummy or (rest and not rest.startswith(":")):
            raise TlsPolicyError("destination %r: a bracket is not closed or has text after it: %s" % (destination, hint))
        if not (_DOMAIN.fullmatch(host) or _is_ip(host)):
            raise TlsPolicyError("destination %r: %r is neither a host name nor an IP address" % (destination, host))
        if rest:
            _check_port(destination, rest[1:])
        return
    host, colon, port = destination.partition(":")
    name = host[1:] if host.startswith(".") and not colon else host
    if not _DOMAIN.fullmatch(name):
        raise TlsPolicyError("destination %r is not a valid next-hop: %s" % (destination, hint))
    if _is_ip(name):
        raise TlsPolicyError("destination %r: write an IP address in brackets, as [%s]%s"
                             % (destination, name, colon + port))
    if colon:
        _check_port(destination, port)


def _is_ip(text):
    if text.lower().startswith("ipv6:"):
        text = text[5:]
    if "%" in text:
        return False  # Python reads fe80::1%anything as an address with a scope; Postfix does not
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _check_port(destination, port):
    if port.isdigit() and 0 < int(port) < 65536:
        return
    if not port.isdigit() and _SERVICE.fullmatch(port):
        return  # a service name such as submission
    raise TlsPolicyError("destination %r: invalid port %r: use a number from 1 to 65535 or a service name "
                         "such as submission" % (destination, port))


def _items(where, name, value, separator):
    """A list setting as its items: a string or a list of strings, each of which may
    itself hold several items joined by `separator`."""
    if value is None:
        return []
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, (list, tuple)):
        raise TlsPolicyError("%s: %s must be a string or a list of strings" % (where, name))
    items = []
    for item in values:
        if not isinstance(item, str):
            raise TlsPolicyError("%s: %s has %r, which is not a string: quote it" % (where, name, item))
        if _CONTROL.search(item):
            raise TlsPolicyError("%s: %s %r has a control character or line break: remove it" % (where, name, item))
        for part in item.split(separator):
            part = part.strip()
            if not part:
                raise TlsPolicyError("%s: %s has an empty item: remove the extra %r or the empty string"
                                     % (where, name, separator))
            items.append(_word(where, name, part))
    return items


def _word(where, name, value):
    if not isinstance(value, str) or not value:
        raise TlsPolicyError("%s: %s must be a non-empty string" % (where, name))
    if _CONTROL.search(value):
        raise TlsPolicyError("%s: %s %r has a control character or line break: remove it" % (where, name, value))
    if _NOT_IN_VALUE.search(value):
        raise TlsPolicyError("%s: %s %r has white space, a comma or a brace, which end an attribute in the "
                             "policy table: remove them" % (where, name, value))
    return value


def _match(where, level, value):
    """The match attribute's value: fingerprints joined by '|', or hostname patterns and
    strategies joined by ':'."""
    if level == "fingerprint":
        items = _items(where, "match", value, "|")
        lengths = set()
        for item in items:
            if not _FINGERPRINT.fullmatch(item):
                raise TlsPolicyError("%s: fingerprint %r is not hex byte pairs separated by ':', for example "
                                     "AB:CD:...:EF" % (where, item))
            size = item.count(":") + 1
            if size not in DIGEST_BYTES:
                raise TlsPolicyError("%s: fingerprint %r has %d bytes: a fingerprint has %s bytes"
                                     % (where, item, size, _digest_sizes()))
            lengths.add(size)
        if len(lengths) > 1:
            raise TlsPolicyError("%s: the fingerprints have different lengths (%s bytes), but Postfix computes "
                                 "them with one digest (smtp_tls_fingerprint_digest): give them all with the "
                                 "same digest" % (where, ", ".join(str(size) for size in sorted(lengths))))
        return "|".join(items)
    for raw in [value] if isinstance(value, str) else value:
        if isinstance(raw, str) and _FINGERPRINT.fullmatch(raw.strip()) and raw.count(":") + 1 in DIGEST_BYTES:
            raise TlsPolicyError("%s: match %r is a fingerprint, which level %s reads as host names: use level "
                                 "fingerprint" % (where, raw, level))
    items = _items(where, "match", value, ":")
    for item in items:
        if item not in MATCH_STRATEGIES and not _DOMAIN.fullmatch(item[1:] if item.startswith(".") else item):
            raise TlsPolicyError("%s: match %r is neither a host name pattern (example.com, .example.com) nor one "
                                 "of the strategies %s" % (where, item, ", ".join(MATCH_STRATEGIES)))
    return ":".join(items)


def _digest_sizes():
    return ", ".join("%d (%s)" % (size, name) for size, name in sorted(DIGEST_BYTES.items()))


def _protocols(where, value, postfix_version):
    items = _items(where, "protocols", value, ":")
    for item in items:
        operator, name = _PROTOCOL.fullmatch(item).groups()
        if name not in PROTOCOL_NAMES:
            raise TlsPolicyError("%s: protocols has %r: use protocol names from %s, each alone, after '!' to "
                                 "exclude it, or after '>=' or '<=' for a range (for example >=TLSv1.2)"
                                 % (where, item, ", ".join(PROTOCOL_NAMES)))
        if operator in (">=", "<=") and postfix_version and tuple(postfix_version) < (3, 6):
            raise TlsPolicyError("%s: protocols %r needs Postfix 3.6 or later, this host has %s: list the "
                                 "protocols to exclude instead, for example !SSLv2:!SSLv3:!TLSv1:!TLSv1.1"
                                 % (where, item, ".".join(str(part) for part in postfix_version)))
    return ":".join(items)


def render_policy(policy, dnssec_available=False, dns_support_level=None, postfix_version=None):
    """The table value for one policy, for example
    'secure match=nexthop:dot-nexthop protocols=!SSLv2:!SSLv3 ciphers=high'.

    `dnssec_available` says DNSSEC lookups are known to work; otherwise level dane and
    dane-only need `dns_support_level` (smtp_dns_support_level) to be dnssec.
    `postfix_version` (a tuple) enables checks of features newer Postfix versions have."""
    if not isinstance(policy, dict):
        raise TlsPolicyError("each policy must be a dictionary with destination, level, ...")
    unknown = sorted(str(name) for name in policy if name not in POLICY_FIELDS)
    if unknown:
        raise TlsPolicyError("policy for %s: unknown setting %s: use %s"
                             % (policy.get("destination"), ", ".join(unknown), ", ".join(POLICY_FIELDS)))
    destination = policy.get("destination")
    check_destination(destination)
    where = "policy for %s" % destination
    level = policy.get("level")
    if level not in LEVELS:
        raise TlsPolicyError("%s: invalid level %r: use one of %s" % (where, level, ", ".join(LEVELS)))
    given = [name for name in ATTRIBUTE_LEVELS if policy.get(name) not in (None, "", [])]
    for name in given:
        if level not in ATTRIBUTE_LEVELS[name]:
            if level == "none":
                raise TlsPolicyError("%s: level none turns TLS off and takes no other settings: remove %s"
                                     % (where, name))
            raise TlsPolicyError("%s: %s does not work with level %s, only with %s: remove %s or change the level"
                                 % (where, name, level, ", ".join(ATTRIBUTE_LEVELS[name]), name))
    if level in ("dane", "dane-only") and not dnssec_available and dns_support_level != "dnssec":
        raise TlsPolicyError("%s: level %s needs DNSSEC, but smtp_dns_support_level is %r, not dnssec: set "
                             "smtp_dns_support_level = dnssec in main.cf (with a DNSSEC-validating resolver), "
                             "or dnssec_available: true if it is set elsewhere"
                             % (where, level, dns_support_level or ""))
    words = [level]
    for name in given:
        value = policy[name]
        if name == "match":
            text = _match(where, level, value)
        elif name == "protocols":
            text = _protocols(where, value, postfix_version)
        elif name == "ciphers":
            if value not in CIPHER_GRADES:
                raise TlsPolicyError("%s: invalid ciphers %r: use one of %s"
                                     % (where, value, ", ".join(CIPHER_GRADES)))
            text = value
        elif name == "exclude":
            text = ":".join(_items(where, "exclude", value, ":"))
        elif name == "tafile":
            text = _word(where, "tafile", value)
            if not text.startswith("/"):
                raise TlsPolicyError("%s: tafile %r is relative: give the absolute path of the trust anchor file"
                                     % (where, text))
        elif name == "servername":
            text = _word(where, "servername", value)
            if not _DOMAIN.fullmatch(text):
                raise TlsPolicyError("%s: servername %r is not a host name: give a host name, or hostname or "
                                     "nexthop" % (where, text))
        else:  # connection_reuse
            if not isinstance(value, bool):
                raise TlsPolicyError("%s: connection_reuse must be true or false" % where)
            text = "yes" if value else "no"
        words.append("%s=%s" % (name, text))
    return " ".join(words)


def policy_entries(policies, dnssec_available=False, dns_support_level=None, postfix_version=None):
    """[(destination, value)] for the table, in the order given, every policy checked.
    A destination may appear once (Postfix folds keys to lower case)."""
    if not isinstance(policies, (list, tuple)):
        raise TlsPolicyError("policies must be a list of dictionaries with destination, level, ...")
    entries = []
    seen = set()
    for policy in policies:
        value = render_policy(policy, dnssec_available, dns_support_level, postfix_version)
        destination = policy["destination"]
        if destination.lower() in seen:
            raise TlsPolicyError("destination %s has two policies: merge them into one" % destination)
        seen.add(destination.lower())
        entries.append((destination, value))
    return entries


def digest_warnings(policies, digest):
    """Warnings for fingerprint policies whose fingerprints the host's digest
    (smtp_tls_fingerprint_digest) cannot produce."""
    warnings = []
    for policy in policies:
        if policy.get("level") != "fingerprint" or not policy.get("match"):
            continue
        items = _items("", "match", policy["match"], "|")
        size = items[0].count(":") + 1
        if DIGEST_BYTES.get(size) != (digest or "").lower():
            warnings.append("policy for %s: the fingerprints have %d bytes (%s), but smtp_tls_fingerprint_digest "
                            "is %s here, so they never match: set smtp_tls_fingerprint_digest = %s or give %s "
                            "fingerprints" % (policy["destination"], size, DIGEST_BYTES[size], digest,
                                              DIGEST_BYTES[size], digest))
    return warnings
