# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""main.cf as text, pure logic: names, rendering values, comparing them as Postfix reads
them, and editing the file text while keeping comments and layout.

The main.cf package: text.py (this), values.py (values Postfix accepts but fails on later),
file.py (the file on the host: one read, a staged check, at most one write).

Private to postmaster.mail: no stability promise for other collections.
"""

from __future__ import annotations

import re
import unicodedata

from ansible_collections.postmaster.mail.plugins.module_utils._postfix_tools import config_warnings, parse_settings

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
# White space as Postfix reads it (C isspace()), never Python's wider idea of it
# (U+00A0, U+2028, ...), which Postfix keeps as part of a value.
_POSTFIX_SPACE = " \t\n\r\v\f"
_SPACES = re.compile("[%s]+" % _POSTFIX_SPACE)
_LIST_SEPARATORS = re.compile("[%s,]+" % _POSTFIX_SPACE)
_BOOLEAN_WORDS = ("yes", "no")
# Characters that end a line for some reader of main.cf: Postfix (\n), Python's
# universal newlines (\r), str.splitlines() and editors (the others).
_LINE_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
# After a '$': ${name...}, $(name...) or $name, as Postfix's mac_parse() reads them.
_REFERENCE_NAME = re.compile(r"[A-Za-z0-9_]+")


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
        check_text(name, value)
        return " ".join(word for word in value.split(" ") if word)
    raise MainCfError(
        "parameter %s: value of type %s is not supported; use a string, number, "
        "boolean or list" % (name, type(value).__name__)
    )


def check_text(name, value):
    """Refuse a value that cannot stand on one main.cf line as it is: a line break
    (Postfix, Python or an editor would start a new line there), any other control
    character (NUL, tab, escape, ...), or a lone surrogate (not text)."""
    for char in value:
        if char in _LINE_BREAKS:
            raise MainCfError(
                "parameter %s: the value has a line break (U+%04X); give a list, or write the value on one line "
                "(in YAML, a block scalar with >- rather than | or >)" % (name, ord(char)))
        if unicodedata.category(char) in ("Cc", "Cs"):
            raise MainCfError("parameter %s: the value has a control character (U+%04X); remove it"
                              % (name, ord(char)))


def references(name, value):
    """The parameter names a value refers to as $name, ${name...} or $(name...), read as
    Postfix's mac_parse() reads them; "$$" is a literal '$'. Refuses a '$' Postfix
    cannot parse (it would stop with "macro processing error")."""
    found = []
    index = 0
    while index < len(value):
        if value[index] != "$":
            index += 1
            continue
        if value[index + 1:index + 2] == "$":
            index += 2
            continue
        index += 1
        if value[index:index + 1] in ("{", "("):
            opening = value[index]
            closing = "}" if opening == "{" else ")"
            level, end = 1, index + 1
            while level and end < len(value):
                level += (value[end] == opening) - (value[end] == closing)
                end += 1
            if level:
                raise MainCfError("parameter %s: %r has no closing '%s'; close it, or write $$ for a literal '$'"
                                  % (name, value[index - 1:], closing))
            inner = value[index + 1:end - 1]
            index = end
            match = _REFERENCE_NAME.match(inner)
            if match:
                found.append(match.group())
                inner = inner[match.end():]
            elif not inner.startswith("{"):  # ${{$a} == {b} ? ...} (Postfix 3.6 and later) has no name
                raise MainCfError("parameter %s: '$%s%s%s' does not name a parameter; write ${name}, or $$ for "
                                  "a literal '$'" % (name, opening, inner, closing))
            found += references(name, inner)
        else:
            match = _REFERENCE_NAME.match(value, index)
            if not match:
                raise MainCfError("parameter %s: a '$' is not followed by a parameter name; write $name, or $$ "
                                  "for a literal '$'" % name)
            found.append(match.group())
            index = match.end()
    return found


def is_list_parameter(name):
    return bool(_LIST_NAME.search(name))


def same_value(name, current, desired, as_list=False):
    """True when Postfix reads `current` and `desired` as the same setting.

    `as_list` marks a value the user gave as a list, whatever the parameter's name.
    """
    if current is None or desired is None:
        return current is desired
    current = _SPACES.sub(" ", current).strip(" ")
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
    return parse_settings(text)


def check_main_cf_text(text, path):
    """Refuse to edit a main.cf that holds a character Postfix reads differently from
    other tools: a carriage return that does not end a line (Postfix keeps it inside the
    line; Python and editors start a new one, so rewriting the file would bring a hidden
    setting to life) or a NUL (Postfix stops reading the line there)."""
    match = re.search("\r(?!\n)|\x00", text)
    if match:
        line = text.count("\n", 0, match.start()) + 1
        what = "a carriage return (\\r) that does not end the line" if match.group() == "\r" else "a NUL byte"
        raise MainCfError("%s line %d has %s: Postfix and other tools read that line differently, so it is "
                          "not edited; remove the character by hand and check what the line sets" % (path, line, what))


def _logical_name(line):
    """The parameter a line defines, or None for comments, blanks and continuations."""
    if not line or line[0] in _POSTFIX_SPACE or line.startswith("#"):
        return None
    name = line.split("=", 1)[0].strip(_POSTFIX_SPACE)
    return name or None


def _is_continuation(line):
    return bool(line) and line[0] in _POSTFIX_SPACE and not _is_ignored(line)


def _is_ignored(line):
    """Blank and comment lines: Postfix skips them, even inside a continued definition."""
    stripped = line.strip(_POSTFIX_SPACE)
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
    """{name: value} of the parameters Postfix warns about as "unused parameter" in
    main.cf: set there but unknown to Postfix, so `postconf -n` leaves them out. The
    same warning about a master.cf `-o name=value` is not a main.cf setting."""
    return config_warnings(stderr)["unused"].get("main.cf", {})
