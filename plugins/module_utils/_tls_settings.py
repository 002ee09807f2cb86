# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The postmaster.mail.tls role's settings, checked before anything is made or installed:
names a certificate may carry, settings that go together, and the dates of supplied
certificates (an expired one is refused, one about to expire gives a warning).

Pure logic (no files, no processes): the postmaster.mail.validate_settings action reads the
supplied certificates on the control node and passes their end dates here.

Private to postmaster.mail: no stability promise for other collections.
"""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.postmaster.mail.plugins.module_utils._postfix_settings import SettingsError

# DNS labels as RFC 1123 and the CA/Browser Forum allow them in certificates (no "_").
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
SUPPLIED_FILES = ("tls_supplied_ca_certificate", "tls_supplied_server_certificate", "tls_supplied_server_key")


def check_tls_settings(settings):
    """Raise SettingsError for the first problem in `settings` (tls_* name: value)."""
    names = settings.get("tls_server_names")
    if not isinstance(names, (list, tuple)) or isinstance(names, str) or not names:
        raise SettingsError("tls_server_names must be a non-empty list of DNS names or IP addresses, not %r"
                            % (names,))
    for name in names:
        check_server_name(name)
    renew, valid = settings.get("tls_renew_days", 30), settings.get("tls_certificate_valid_days", 365)
    if int(renew) >= int(valid):
        raise SettingsError("tls_renew_days (%s) must be smaller than tls_certificate_valid_days (%s), or every run "
                            "renews the certificates: lower tls_renew_days" % (renew, valid))
    if settings.get("tls_ca_mode") == "supplied":
        unset = [name for name in SUPPLIED_FILES if not settings.get(name)]
        if unset:
            raise SettingsError("tls_ca_mode supplied needs %s: set %s to files on the control node"
                                % (", ".join(SUPPLIED_FILES), " and ".join(unset)))


def check_server_name(name):
    """A DNS name (its first label may be the wildcard *), an IPv4 or an IPv6 address."""
    if isinstance(name, str):
        try:
            ipaddress.ip_address(name)
            return
        except ValueError:
            pass
        labels = name.split(".")
        if labels[0] == "*" and len(labels) > 2:
            labels = labels[1:]
        # An all-digit last label would read as a (bad) IPv4 address: no top-level domain is all digits.
        if len(name) <= 253 and all(_LABEL.fullmatch(label) for label in labels) and not labels[-1].isdigit():
            return
    raise SettingsError("tls_server_names entry %r is neither a DNS name nor an IP address: use letters, digits and "
                        "'-' in dot-separated labels (a leading *. for a wildcard), such as mail.example.org, "
                        "or an address such as 192.0.2.25" % (name,))


def certificate_dates(variable, path, not_after, now, warn_days):
    """Refuse a certificate that has expired; return a warning (or None) when fewer than
    `warn_days` days remain. `not_after` and `now` are aware datetimes."""
    when = not_after.strftime("%Y-%m-%d %H:%M UTC")
    if not_after <= now:
        raise SettingsError("%s %s expired on %s: supply a renewed certificate (and its key), or use tls_ca_mode "
                            "private" % (variable, path, when))
    left = (not_after - now).days
    if left < int(warn_days):
        return ("%s %s expires on %s, in %d days (fewer than tls_warn_days, %s): supply a renewed certificate soon"
                % (variable, path, when, left, warn_days))
    return None
