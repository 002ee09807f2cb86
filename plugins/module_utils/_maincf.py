# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure logic for main.cf: rendering values, comparing them as Postfix reads them,
and editing the file text while keeping comments and layout.

Private to postmaster.mail: no stability promise for other collections.
"""

from __future__ import annotations

import re

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")

# Postfix must be stopped and started (not reloaded) when these change:
# master(8) binds listeners and reads these only at start-up.
RESTART_PARAMETERS = frozenset((
    "command_directory",
    "daemon_directory",
    "data_directory",
    "inet_interfaces",
    "inet_protocols",
    "mail_owner",
    "process_id_directory",
    "queue_directory",
    "setgid_group",
))

# Parameters whose value is a list: "a, b" and "a b" mean the same to Postfix.
_LIST_NAME = re.compile(
    r"(^mydestination$|^mynetworks$|^inet_(interfaces|protocols)$|^authorized_\w+_users$"
    r"|_maps$|_restrictions$|_domains$|_networks$|_classes$|_protocols$|_ciphers$"
    r"|_checks$|_lookup_keys$|_macros$|_relay$|_recipients$|_interfaces$|_options$|_milters$"
    r"|^alias_database$)"
)
_LIST_SEPARATORS = re.compile(r"[\s,]+")
_BOOLEAN_WORDS = ("yes", "no")


class MainCfError(ValueError):
    """Input that cannot become a main.cf line; the message says what to fix."""


def check_name(name):
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise MainCfError(
            "invalid parameter name %r: use letters, digits, '_', '-' or '.' "
            "with no spaces or '='" % (name,)
        )


def render_value(name, value):
    """Turn a YAML value into the single-line text postconf would print.

    None means "remove"; booleans become yes/no; lists are joined with ", ".
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (list, tuple)):
        items = [render_value(name, item) for item in value]
        return ", ".join(item for item in items if item)
    if isinstance(value, str):
        return " ".join(value.split())
    raise MainCfError(
        "parameter %s: value of type %s is not supported; use a string, number, "
        "boolean or list" % (name, type(value).__name__)
    )


def is_list_parameter(name):
    return bool(_LIST_NAME.search(name))


def same_value(name, current, desired, as_list=False):
    """True when Postfix reads `current` and `desired` as the same setting.

    `as_list` marks a value the user gave as a list, whatever the parameter's name.
    """
    if current is None or desired is None:
        return current is desired
    current = " ".join(current.split())
    if current == desired:
        return True
    if current.lower() in _BOOLEAN_WORDS and desired.lower() in _BOOLEAN_WORDS:
        return current.lower() == desired.lower()
    if as_list or is_list_parameter(name):
        return _tokens(current) == _tokens(desired)
    return False


def _tokens(value):
    return [token for token in _LIST_SEPARATORS.split(value) if token]


def parse_postconf_output(text):
    """Parse `postconf -n`/`postconf` output ("name = value" lines) to a dict."""
    values = {}
    for line in text.splitlines():
        name, sep, value = line.partition(" = ")
        if not sep:
            name, sep, value = line.partition(" =")
        if sep and name and " " not in name:
            values[name] = value.strip()
    return values


def _logical_name(line):
    """The parameter a line defines, or None for comments, blanks and continuations."""
    if not line or line[0].isspace() or line.startswith("#"):
        return None
    name = line.split("=", 1)[0].strip()
    return name or None


def _is_continuation(line):
    return bool(line) and line[0].isspace() and not _is_ignored(line)


def _is_ignored(line):
    """Blank and comment lines: Postfix skips them, even inside a continued definition."""
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def split_lines(text):
    """Lines as Postfix sees them: split on newlines only (not on form feeds or U+2028)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def edit_main_cf(text, changes):
    """Apply {name: rendered value or None} to main.cf text and return the new text.

    A set replaces the first definition in place and drops any later ones;
    a None drops every definition; a new name is appended. Comments, blank
    lines and the order of untouched parameters are kept.
    """
    out = []
    written = set()
    skipping = False
    for line in split_lines(text):
        if skipping:
            if _is_continuation(line):
                continue
            if _is_ignored(line):
                out.append(line)
                continue
        skipping = False
        name = _logical_name(line)
        if name in changes:
            skipping = True
            value = changes[name]
            if value is not None and name not in written:
                out.append(format_line(name, value))
                written.add(name)
            continue
        out.append(line)
    for name in sorted(changes):
        if changes[name] is not None and name not in written:
            out.append(format_line(name, changes[name]))
    return "\n".join(out) + "\n" if out else ""


def format_line(name, value):
    return "%s = %s" % (name, value) if value else "%s =" % name


def unused_parameters(stderr):
    """{name: value} of the parameters Postfix warns about as "unused parameter":
    set in main.cf but unknown to Postfix, so `postconf -n` leaves them out."""
    found = {}
    for match in re.finditer(r"unused parameter: ([^=\s]+)=(.*)$", stderr, re.M):
        found[match.group(1)] = match.group(2).strip()
    return found
