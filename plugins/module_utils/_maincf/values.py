# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""main.cf values that `postconf -n` reads without complaint but that make Postfix's daemons
fail or refuse mail later: TLS levels, missing certificate files, lookup tables of unknown
types or that were never built, next hops (relayhost) the SMTP client cannot parse,
compatibility levels this Postfix does not have.

Private to postmaster.mail: no stability promise for other collections.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket

from ansible_collections.postmaster.mail.plugins.module_utils._maincf.text import MainCfError
from ansible_collections.postmaster.mail.plugins.module_utils._postfix_facts import parse_version

_SERVER_LEVELS = ("none", "may", "encrypt")
_CLIENT_LEVELS = ("none", "may", "encrypt", "dane", "dane-only", "fingerprint", "verify", "secure")
TLS_LEVELS = {
    "smtpd_tls_security_level": _SERVER_LEVELS,
    "smtp_tls_security_level": _CLIENT_LEVELS,
    "lmtp_tls_security_level": _CLIENT_LEVELS,
}
_FILE_PARAMETER = re.compile(
    r"^(smtpd?|lmtp)_tls_(chain_files|cert_file|key_file|eccert_file|eckey_file|dcert_file|dkey_file|CAfile)$")
_TABLE_PARAMETER = re.compile(r"(_maps|_checks)$")
_TABLE_REFERENCE = re.compile(r"^(?:proxy:)?([a-z0-9_]+):(.+)$")
# Table types Postfix reads from a file postmap builds, and that file's suffix.
_BUILT_SUFFIX = {"hash": ".db", "btree": ".db", "lmdb": ".lmdb", "cdb": ".cdb"}
# Table types Postfix reads straight from the named file.
_FILE_TYPES = ("texthash", "regexp", "pcre", "cidr", "ldap", "mysql", "pgsql", "sqlite", "memcache")
# Next-hop destinations of the SMTP client: one or more (Postfix 3.5 and later) host,
# host:port, [host] or [host]:port, separated by commas or white space.
NEXTHOP_PARAMETERS = ("relayhost", "smtp_fallback_relay", "fallback_relay")
_HOST_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")
_COMPATIBILITY_LEVEL = re.compile(r"([0-9]+)(?:\.([0-9]+))?(?:\.([0-9]+))?")


def check_values(changes, table_types, mail_version=None):
    """Raise MainCfError for the first changed value Postfix would reject; `changes` is
    {name: rendered value or None}, `table_types` a function returning what `postconf -m`
    lists, `mail_version` one returning the installed Postfix's version."""
    for name in sorted(changes):
        value = changes[name]
        if value is None:
            continue
        if name in NEXTHOP_PARAMETERS:
            check_nexthops(name, value)
        if name == "compatibility_level" and mail_version is not None:
            check_compatibility_level(value, mail_version())
        if "$" in value:
            continue
        if name in TLS_LEVELS and value not in TLS_LEVELS[name]:
            raise MainCfError("parameter %s: unknown TLS security level %r; use one of %s"
                              % (name, value, ", ".join(TLS_LEVELS[name])))
        if _FILE_PARAMETER.match(name):
            for path in _words(value):
                if path.startswith("/") and not os.path.isfile(path):
                    raise MainCfError("parameter %s: file %s does not exist on the host; install it first "
                                      "(for example with the postmaster.mail.tls role) or fix the path"
                                      % (name, path))
        if _TABLE_PARAMETER.search(name):
            for reference in _words(value):
                _check_table(name, reference, table_types)


def _check_table(name, reference, table_types):
    match = _TABLE_REFERENCE.match(reference)
    if not match or "{" in reference:
        return
    table_type, path = match.groups()
    if table_type not in table_types():
        raise MainCfError("parameter %s: unknown lookup table type %r in %s; this Postfix knows %s "
                          "(more come with packages such as postfix-lmdb or postfix-pcre)"
                          % (name, table_type, reference, ", ".join(sorted(table_types()))))
    if not path.startswith("/"):
        return
    if table_type in _BUILT_SUFFIX:
        built = path + _BUILT_SUFFIX[table_type]
        if not os.path.isfile(built):
            raise MainCfError("parameter %s: lookup table %s is not built (%s does not exist); build it "
                              "first with postmaster.mail.postmap, or fix the path" % (name, reference, built))
    elif table_type in _FILE_TYPES and not os.path.isfile(path):
        raise MainCfError("parameter %s: lookup table file %s does not exist; create it first, or fix the path"
                          % (name, path))


def check_nexthops(name, value):
    """Refuse a next hop Postfix's SMTP client would stop at ("missing ']'", "bad network
    port", ...) when it delivers, long after main.cf was written. Items with a $name are
    left to Postfix."""
    for item in _words(value):
        if "$" in item:
            continue
        problem = nexthop_problem(item)
        if problem:
            raise MainCfError("parameter %s: %r is not a next hop Postfix can use (%s); write host, host:port, "
                              "[host] or [host]:port with a port from 1 to 65535, for example [mail.example.com]:587"
                              % (name, item, problem))


def nexthop_problem(item):
    """What is wrong with one next hop, read as Postfix's host_port() and SMTP client
    read it, or None. IPv6 addresses go in brackets: [2001:db8::1] or [ipv6:2001:db8::1]."""
    if item.startswith("["):
        host, bracket, rest = item[1:].partition("]")
        if not bracket:
            return "'[' without ']'"
        if rest and not rest.startswith(":"):
            return "text after ']'"
        port = rest[1:]
        if host.lower().startswith("ipv6:"):
            if not _is_address(host[5:], 6):
                return "malformed IPv6 address %s" % host[5:]
        elif not (is_host_name(host) or _is_address(host)):
            return "%r is not a host name or address" % host
    else:
        if "[" in item or "]" in item:
            return "']' without '['"
        host, colon, port = item.rpartition(":")
        if not colon:
            host, port = item, ""
        if ":" in host:
            return "an IPv6 address needs brackets, as in [2001:db8::1]:25"
        if not (is_host_name(host) or _is_address(host, 4)):
            return "%r is not a host name or address" % host
    return _port_problem(port)


def _port_problem(port):
    if not port:
        return None
    if port.isdigit():
        return None if 1 <= int(port) <= 65535 else "port %s is not from 1 to 65535" % port
    if not port.isascii() or not port[0].isalpha():
        return "%r is not a port number or service name" % port
    try:
        socket.getservbyname(port, "tcp")
    except OSError:
        return "unknown service %r (see /etc/services); give the port number" % port
    return None


def is_host_name(host):
    """A host name Postfix's valid_hostname() accepts: dot-separated labels of letters,
    digits, '-' and '_' (internationalised names through their ASCII form), not all digits."""
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except (UnicodeError, ValueError):
        return False
    labels = ascii_host.split(".")
    return (0 < len(ascii_host) <= 255 and all(_HOST_LABEL.fullmatch(label) for label in labels)
            and not ascii_host.replace(".", "").isdigit())


def _is_address(text, version=None):
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    return version is None or address.version == version


def check_compatibility_level(value, mail_version):
    """Refuse a compatibility_level this Postfix does not have: Postfix 3.5 and earlier know
    0, 1 and 2; Postfix 3.6 and later also take a Postfix version, up to their own
    (COMPATIBILITY_README). A higher level turns off safety nets for changes the
    installed Postfix does not know about."""
    installed = parse_version(mail_version)
    match = _COMPATIBILITY_LEVEL.fullmatch(value)
    level = tuple(int(part or 0) for part in match.groups()) if match else None
    if level and max(level[1:]) > 1023:  # minor and patch have 10 bits (compat_level.c)
        level = None
    if installed < (3, 6, 0):
        allowed = "0, 1 or 2 (Postfix %s)" % mail_version
        good = level is not None and "." not in value and level[0] <= 2
    else:
        allowed = "0, 1, 2, or a Postfix version from 3.6 to %s (this host's Postfix), such as 3.6" % mail_version
        good = level is not None and level <= installed
    if not good:
        raise MainCfError("parameter compatibility_level: %r is not a level this Postfix has; use %s"
                          % (value, allowed))


def _words(value):
    return [word for word in re.split(r"[ \t\n\r\v\f,]+", value) if word]
