# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Checks of main.cf values that `postconf -n` reads without complaint but that make
Postfix's daemons fail or refuse mail later: TLS levels, missing certificate files,
lookup tables of unknown types or that were never built.

Private to postmaster.mail: no stability promise for other collections.
"""

from __future__ import annotations

import os
import re

from ansible_collections.postmaster.mail.plugins.module_utils._maincf import MainCfError

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


def check_values(changes, table_types):
    """Raise MainCfError for the first changed value Postfix would reject; `changes` is
    {name: rendered value or None}, `table_types` a function returning what `postconf -m` lists."""
    for name in sorted(changes):
        value = changes[name]
        if value is None or "$" in value:
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


def _words(value):
    return [word for word in re.split(r"[\s,]+", value) if word]
