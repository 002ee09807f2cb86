# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""master.cf service entries for postmaster.mail.postconf_master.

The first part is pure logic (no files, no processes): reading `postconf -M` output,
checking and normalising the requested entries, comparing them the way Postfix reads
them, and building the `postconf -Me`/`-MX` edit requests. The `MasterCf` class at the
end is the backend that runs Postfix's own tools: one read, a staged edit, one write.

The parsing follows Postfix's postconf_master.c (the same in 3.5 to 3.10): fields are
split on blanks with `{ }` grouping, daemon options are the leading `-` arguments and
only `-o` takes a value, `{ name = value }` reads as `name=value`.

Private to postmaster.mail: no stability promise for other collections.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import socket
import tempfile

from ansible_collections.postmaster.mail.plugins.module_utils._text import CONTROL_CHARACTERS
from ansible_collections.postmaster.mail.plugins.module_utils import _rollback as rollback
from ansible_collections.postmaster.mail.plugins.module_utils._files import WriteError, atomic_write
from ansible_collections.postmaster.mail.plugins.module_utils._maincf.text import (
    NAME_PATTERN,
    MainCfError,
    render_value,
    same_value,
)
from ansible_collections.postmaster.mail.plugins.module_utils._maincf.file import close_parameter_names
from ansible_collections.postmaster.mail.plugins.module_utils._postfix_tools import age_file, postconf

SERVICE_TYPES = ("inet", "unix", "unix-dgram", "fifo", "pass")
FIELDS = ("private", "unprivileged", "chroot", "wakeup", "maxproc")
# One item of postconf_master's `services` option, as its argument_spec takes it (the module's
# DOCUMENTATION states the same defaults; tests/unit/test_mastercf.py holds them equal).
SERVICE_OPTIONS = dict(
    name=dict(type="str", required=True),
    type=dict(type="str", required=True, choices=list(SERVICE_TYPES)),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    private=dict(type="raw", default="-"),
    unprivileged=dict(type="raw", default="-"),
    chroot=dict(type="raw", default="-"),
    wakeup=dict(type="raw", default="-"),
    maxproc=dict(type="raw", default="-"),
    command=dict(type="str"),
    options=dict(type="dict", default={}),
)
# What the module fills in for a service item that leaves a field out (drift_check does the same).
SERVICE_DEFAULTS = {name: option.get("default") for name, option in SERVICE_OPTIONS.items() if not option.get("required")}
_BLANKS = " \t\r\n"
_FLAG_VALUES = ("y", "n", "-")
_WAKEUP = re.compile(r"-|[0-9]+\??")
_MAXPROC = re.compile(r"-|[0-9]+")
# Anything Postfix can use as a service name: no blanks, no "/" (name/type separator),
# no "=" (postconf -Me separator), no braces, not a comment, and no leading "-", which
# postconf would read as one of its own options.
_SERVICE_NAME = re.compile(r"[^\s/={}#-][^\s/={}]*")
# Control characters (C0, DEL, C1) and the Unicode line and paragraph separators: none
# of them can stand in master.cf, and several are line breaks to some reader.
CONTROL = CONTROL_CHARACTERS
_HOST_NAME = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?\.?")


class MasterCfError(ValueError):
    """Input or configuration that cannot become a master.cf entry; the message says what to fix."""


class Entry(object):
    """One master.cf service entry as Postfix reads it.

    `command` holds the daemon and every argument except the `-o` overrides, with
    `{ }` grouping removed; `options` holds the overrides as (name, value) pairs in
    file order (value None for a malformed `-o` without "="). `line` is the entry as
    `postconf -M` prints it.
    """

    def __init__(self, name, type_, fields, command, options, line=None, list_options=()):
        self.name = name
        self.type = type_
        self.fields = tuple(fields)
        self.command = tuple(command)
        self.options = tuple(options)
        self.line = line
        # Options given as YAML lists: "a,b" and "a, b" or "a b" read the same.
        self.list_options = frozenset(list_options)

    @property
    def key(self):
        return "%s/%s" % (self.name, self.type)

    def __repr__(self):
        return "Entry(%r, %r, %r, %r, %r)" % (self.name, self.type, self.fields, self.command, self.options)


# --- tokens, as Postfix splits master.cf ----------------------------------------------------

def split_quoted(text):
    """Split on blanks, keeping `{ ... }` groups (which may hold blanks) in one token,
    like Postfix's argv_splitq()/mystrtokq()."""
    tokens = []
    index, length = 0, len(text)
    while index < length:
        while index < length and text[index] in _BLANKS:
            index += 1
        if index >= length:
            break
        start, level = index, 0
        while index < length:
            char = text[index]
            if char == "{":
                level += 1
            elif char == "}" and level > 0:
                level -= 1
            elif level == 0 and char in _BLANKS:
                break
            index += 1
        tokens.append(text[start:index])
    return tokens


def balanced(text):
    """True when every '{' has its '}' and no '}' comes before its '{'."""
    level = 0
    for char in text:
        if char == "{":
            level += 1
        elif char == "}":
            level -= 1
            if level < 0:
                return False
    return level == 0


def extract_group(token):
    """The text inside a `{ ... }` token with surrounding blanks removed (Postfix's extpar)."""
    if not token.startswith("{"):
        return token
    level = 0
    for index, char in enumerate(token):
        if char == "{":
            level += 1
        elif char == "}":
            level -= 1
            if level == 0:
                if index != len(token) - 1:
                    raise MasterCfError("syntax error after '}' in %r" % token)
                return token[1:index].strip(_BLANKS)
    raise MasterCfError("missing '}' in %r" % token)


def split_nameval(text):
    """(name, value) of "name = value" as Postfix's split_nameval() reads it, or
    (text, None) when there is no '='."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip(_BLANKS) or any(char in _BLANKS for char in name.strip(_BLANKS)):
        return text.strip(_BLANKS), None
    return name.strip(_BLANKS), value.strip(_BLANKS)


def group(token):
    """Write a token so that Postfix reads it back unchanged."""
    if token == "" or token.startswith("{") or any(char in _BLANKS for char in token):
        return "{ %s }" % token
    return token


# --- reading `postconf -M` ------------------------------------------------------------------

def parse_entry(line):
    """An Entry from one master.cf entry on one line (as `postconf -M` prints it)."""
    tokens = split_quoted(line)
    if len(tokens) < 8:
        raise MasterCfError("bad field count in master.cf entry %r" % line.strip())
    name, type_ = tokens[0], tokens[1]
    fields = tokens[2:7]
    args = tokens[7:]
    command = [extract_group(args[0])]
    options = []
    index = 1
    while index < len(args):
        arg = args[index]
        if not arg.startswith("-") or arg == "--":
            break
        if arg.startswith("-o") and (len(arg) > 2 or index + 1 < len(args)):
            if len(arg) > 2:
                value = arg[2:]
                index += 1
            else:
                value = args[index + 1]
                index += 2
            options.append(split_nameval(extract_group(value)))
            continue
        command.append(arg)
        index += 1
    command.extend(extract_group(arg) for arg in args[index:])
    return Entry(name, type_, fields, command, options, line=line.rstrip("\n"))


def parse_postconf_m(text):
    """Every Entry in `postconf -M` output (one entry a line, as without -f)."""
    return [parse_entry(line) for line in text.splitlines() if line.strip()]


def master_cf_warnings(stderr):
    """What `postconf -M` said about master.cf: ({unknown name: hint}, {undefined name},
    {deprecated name: what to use instead}). Postfix 3.9 and later name removed and
    deprecated parameters."""
    unknown = {}
    for match in re.finditer(r"master\.cf: unused parameter: ([^=\s]+)=", stderr):
        unknown[match.group(1)] = ""
    for match in re.finditer(r"master\.cf: support for parameter \"?([^\s\";]+)\"? has been removed;"
                             r" instead, (.*)$", stderr, re.M):
        unknown[match.group(1)] = "removed from Postfix; instead, %s" % match.group(2).strip()
    undefined = set(re.findall(r"master\.cf: undefined parameter: (\S+)", stderr))
    deprecated = dict(re.findall(r"master\.cf: support for parameter \"([^\"]+)\" will be removed;"
                                 r" instead, (.*)$", stderr, re.M))
    return unknown, undefined, deprecated


# --- the requested entries ------------------------------------------------------------------

def check_service_name(name, type_=None):
    if isinstance(name, str) and CONTROL.search(name):
        raise MasterCfError("services: invalid service name %r: it has a control character or line break; remove it" % (name,))
    if not isinstance(name, str) or not _SERVICE_NAME.fullmatch(name) or (type_ != "inet" and name in (".", "..")):
        raise MasterCfError(
            "services: invalid service name %r: use a name without spaces, '/', '=', braces, a leading '-' or a leading "
            "'#', for example submission or 127.0.0.1:10025" % (name,)
        )


# --- inet listeners, as master(8) opens them ------------------------------------------------
#
# master(8) parses an inet service name with host_port() as [host]:port, host:port or port,
# and canonicalises it (master_ent.c): "submission", "587" and ":587" are the same service
# "587", so the last such entry silently replaces the others ("duplicate master.cf entry
# ... using the last entry"). A name with a host is a different service to master(8)
# ("[0.0.0.0]:587"), yet it opens the same socket as a service without a host when
# inet_interfaces = all (the wildcard address), or the same as one of inet_interfaces'
# addresses otherwise: Postfix 3.5 then dies at "bind ... Address already in use", and
# Postfix 3.7 and later (SO_REUSEPORT) listen twice and let the kernel share the
# connections between the two services, or give a specific address to one of them. Either
# way the port is not served by the entry the administrator looked at, so two inet entries
# whose addresses overlap on one port are refused.

def inet_listener(name):
    """(host or "", port number) of an inet service name, as master(8) reads it; refuses
    a name master(8) cannot listen on."""
    key = "%s/inet" % name
    if name.startswith("["):
        host, bracket, rest = name[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise MasterCfError("service %s: a '[' without its ']', or text after ']': write [address]:port, "
                                "for example [::1]:10025" % key)
        if host.lower().startswith("ipv6:"):
            host = host[5:]
        port = rest[1:]
        if not _ip_address(host):
            raise MasterCfError("service %s: %r in brackets is not an IP address: write [address]:port, "
                                "for example [::1]:10025" % (key, host))
    else:
        host, dummy, port = name.rpartition(":")
        if host and not (_ip_address(host) or _HOST_NAME.fullmatch(host)):
            raise MasterCfError("service %s: %r is neither a host name nor an IP address: write host:port, "
                                "for example 127.0.0.1:10025 or [::1]:10025" % (key, host))
    return host, inet_port(key, port)


def inet_port(key, port):
    """The port number of a port field: a number or a name from /etc/services, as
    master(8) resolves it (getaddrinfo)."""
    if port.isdigit() and 1 <= int(port) <= 65535:
        return int(port)
    if port and not port[0].isdigit():
        try:
            return socket.getservbyname(port, "tcp")
        except (OSError, UnicodeError):
            pass
    raise MasterCfError("service %s: invalid port %r: use a number from 1 to 65535 or a service name from "
                        "/etc/services, such as submission" % (key, port))


def _ip_address(text):
    if "%" in text:
        return None  # Python reads fe80::1%anything as an address with a scope; Postfix does not
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def listener_addresses(host, interfaces=None):
    """The set of addresses an inet service listens on: "*" for every address, else IP
    address objects (an unspecified one, 0.0.0.0 or ::, covers its family), or the host
    name itself when it does not resolve. Without a host the service listens on
    `interfaces` (inet_interfaces as addresses; None for all)."""
    if not host:
        return {"*"} if interfaces is None else set(interfaces)
    address = _ip_address(host)
    if address is not None:
        return {address}
    try:
        found = socket.getaddrinfo(host, None, 0, socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return {host.lower().rstrip(".")}
    return {ipaddress.ip_address(item[4][0].split("%")[0]) for item in found}


def interface_addresses(inet_interfaces):
    """inet_interfaces (as `postconf -xh` prints it) as the addresses a service without a
    host listens on; None for all (also when a name there does not resolve)."""
    addresses = set()
    for item in re.split(r"[\s,]+", inet_interfaces.strip()):
        if not item:
            continue
        if item.lower() == "all":
            return None
        if item.lower() == "loopback-only":
            addresses.update((ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")))
            continue
        if item.startswith("[") and item.endswith("]"):
            item = item[1:-1]
        if item.lower().startswith("ipv6:"):
            item = item[5:]
        found = listener_addresses(item)
        if any(isinstance(address, str) for address in found):
            return None
        addresses.update(found)
    return addresses or None


def overlap(first, second):
    """True when two listener address sets share a socket."""
    if "*" in first or "*" in second:
        return True
    for one in first:
        for other in second:
            if one == other:
                return True
            if isinstance(one, str) or isinstance(other, str):
                continue
            if one.version == other.version and (one.is_unspecified or other.is_unspecified):
                return True
    return False


def check_listeners(desired, current_entries, interfaces=None):
    """Refuse a desired set that leaves two inet entries on one listener (see above).

    `desired` as from desired_entries(); the entries of master.cf that the call does not
    name stay as they are. `interfaces` as from interface_addresses()."""
    named = {key for key, dummy in desired}
    listeners = []
    for key, entry in desired:
        if entry is not None and entry.type == "inet":
            listeners.append((key, True) + _resolved(entry.name, interfaces))
    for entry in current_entries:
        if entry.type != "inet" or entry.key in named:
            continue
        try:
            listeners.append((entry.key, False) + _resolved(entry.name, interfaces))
        except MasterCfError:
            continue  # not ours to judge: Postfix reports it
    for index, (key, wanted, port, addresses) in enumerate(listeners):
        for other, other_wanted, other_port, other_addresses in listeners[index + 1:]:
            if not wanted and not other_wanted or port != other_port or not overlap(addresses, other_addresses):
                continue
            if other_wanted:
                fix = "keep one of the two items, or give the other state: absent"
            else:
                fix = ("change %s instead (give its name %s), or remove it with {name: %s, type: inet, state: absent} "
                       "in the same call" % (other, other.rsplit("/", 1)[0], other.rsplit("/", 1)[0]))
            raise MasterCfError("services: %s and %s would both listen on port %d, and Postfix then serves it with "
                                "only one of them: %s" % (key, other, port, fix))


def _resolved(name, interfaces):
    host, port = inet_listener(name)
    return port, listener_addresses(host, interfaces)


def check_text(what, text):
    """Refuse a line break or other control character, which master.cf cannot hold."""
    match = CONTROL.search(text)
    if match:
        kind = "a line break" if match.group() in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029" else "a control character"
        raise MasterCfError("%s has %s (%r); write it on one line without control characters" % (what, kind, match.group()))


def render_field(key, field, value):
    """The text of one of the five columns between type and command."""
    if value is None:
        return "-"
    if field in ("private", "unprivileged", "chroot"):
        if isinstance(value, bool):
            return "y" if value else "n"
        if isinstance(value, str) and value in _FLAG_VALUES:
            return value
        raise MasterCfError("service %s: invalid %s %r: use y, n or - (the default)" % (key, field, value))
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    pattern = _WAKEUP if field == "wakeup" else _MAXPROC
    if isinstance(value, str) and pattern.fullmatch(value):
        return value
    hint = "seconds, optionally followed by '?'" if field == "wakeup" else "a process count"
    raise MasterCfError("service %s: invalid %s %r: use - (the default) or %s, for example %s"
                        % (key, field, value, hint, "60" if field == "wakeup" else "10"))


def render_option(key, name, value):
    """The text of one `-o name=value` value: booleans become yes/no, lists are joined with ','."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        items = [render_option(key, name, item) for item in value]
        return ",".join(item for item in items if item)
    if isinstance(value, str):
        check_text("service %s: option %s: the value" % (key, name), value)
        text = value.strip(_BLANKS)  # inner spaces are kept, as Postfix keeps them
    else:
        try:
            text = render_value(name, value)
        except MainCfError:
            raise MasterCfError("service %s: option %s: value of type %s is not supported; use a string, "
                                "number, boolean or list" % (key, name, type(value).__name__)) from None
    if not balanced(text):
        raise MasterCfError("service %s: option %s: unbalanced '{' or '}' in %r; Postfix groups words "
                            "with braces, so every '{' needs its '}'" % (key, name, text))
    return text


def split_command(key, command):
    """The command words of a requested entry, as Postfix would read them."""
    if not isinstance(command, str) or not command.strip():
        raise MasterCfError("service %s: command is required with state=present; give the daemon and its "
                            "arguments, for example command: smtpd" % key)
    check_text("service %s: the command" % key, command)
    if not balanced(command):
        raise MasterCfError("service %s: unbalanced '{' or '}' in command %r; group words that hold spaces "
                            "as { words }" % (key, command))
    words = [extract_group(token) for token in split_quoted(command)]
    for word in words:
        if word.startswith("#"):
            raise MasterCfError("service %s: command word %r starts with '#', which master.cf reads as a "
                                "comment when the entry is folded; avoid a leading '#'" % (key, word))
    if words[0].startswith("-"):
        raise MasterCfError("service %s: command %r must start with the daemon name, for example smtpd"
                            % (key, command))
    for word in words[1:]:
        if not word.startswith("-") or word == "--":
            break
        if "o" in word[1:]:
            raise MasterCfError("service %s: command %r has a -o override; give it under options instead"
                                % (key, command))
    return words


def desired_entries(services):
    """[(key, Entry or None for absent)] from the module's `services` list, checked."""
    result = []
    seen = set()
    for service in services:
        name, type_ = service.get("name"), service.get("type")
        check_service_name(name, type_)
        if type_ not in SERVICE_TYPES:
            raise MasterCfError("service %s: invalid type %r: use one of %s" % (name, type_, ", ".join(SERVICE_TYPES)))
        if type_ == "inet":
            inet_listener(name)
        key = "%s/%s" % (name, type_)
        if key in seen:
            raise MasterCfError("service %s is listed twice; merge the two items into one" % key)
        seen.add(key)
        if service.get("state", "present") == "absent":
            result.append((key, None))
            continue
        fields = [render_field(key, field, service.get(field, "-")) for field in FIELDS]
        command = split_command(key, service.get("command"))
        options = service.get("options") or {}
        if not isinstance(options, dict):
            raise MasterCfError("service %s: options must be a dictionary of name: value" % key)
        rendered = []
        list_options = set()
        for option, value in options.items():
            if not isinstance(option, str) or not NAME_PATTERN.fullmatch(option):
                raise MasterCfError("service %s: invalid option name %r: use a Postfix parameter name (letters, "
                                    "digits, '_', '-' or '.', no spaces or '=')" % (key, option))
            rendered.append((option, render_option(key, option, value)))
            if isinstance(value, (list, tuple)):
                list_options.add(option)
        result.append((key, Entry(name, type_, fields, command, rendered, list_options=list_options)))
    return result


# --- comparing and editing ------------------------------------------------------------------

def effective_options(options):
    """{name: value} with the last -o of a name winning, as the daemon reads them."""
    values = {}
    for name, value in options:
        values[name] = value
    return values


def same_entry(current, desired):
    """True when Postfix reads both entries the same way. The -o order does not count
    (every override applies before any value is used); values compare as in main.cf."""
    if (current.name, current.type, current.fields, current.command) != (
            desired.name, desired.type, desired.fields, desired.command):
        return False
    have, want = effective_options(current.options), effective_options(desired.options)
    if set(have) != set(want):
        return False
    return all(have[name] is not None
               and same_value(name, have[name], " ".join(want[name].split()), name in desired.list_options)
               for name in want)


def plan(desired, current_entries, interfaces=None):
    """[(key, Entry or None, [current entries of key])] for every service that must change.

    Refuses a desired set that leaves two inet entries on one listener; `interfaces` as
    for check_listeners() (None: a service without a host listens on every address)."""
    check_listeners(desired, current_entries, interfaces)
    by_key = {}
    for entry in current_entries:
        by_key.setdefault(entry.key, []).append(entry)
    changes = []
    for key, entry in desired:
        current = by_key.get(key, [])
        if entry is None:
            if current:
                changes.append((key, None, current))
        elif len(current) != 1 or not same_entry(current[0], entry):
            changes.append((key, entry, current))
    return changes


def render_entry(entry):
    """The entry as one master.cf line for `postconf -Me`: the daemon, the -o overrides
    in the order given, then the daemon's other arguments. Overrides go first because
    daemons stop reading options at the first non-option argument."""
    words = [entry.name, entry.type] + list(entry.fields) + [group(entry.command[0])]
    for name, value in entry.options:
        if any(char in _BLANKS for char in value):
            words += ["-o", "{ %s = %s }" % (name, value)]
        else:
            words += ["-o", "%s=%s" % (name, value)]
    words += [group(word) for word in entry.command[1:]]
    return " ".join(words)


def edit_requests(changes):
    """(keys for `postconf -MX`, "key = entry" requests for `postconf -Me`).

    Duplicate entries of a key are removed first so every Postfix version ends with one.
    """
    remove = [key for key, entry, current in changes if entry is None or len(current) > 1]
    edit = ["%s = %s" % (key, render_entry(entry)) for key, entry, dummy in changes if entry is not None]
    return remove, edit


def describe(changes, staged_entries):
    """Before/after text for --diff: the changed entries as `postconf -M` shows them."""
    staged = {}
    for entry in staged_entries:
        staged.setdefault(entry.key, []).append(entry.line)
    before = [entry.line for dummy, dummy, current in changes for entry in current]
    after = [line for key, entry, dummy in changes if entry is not None for line in staged.get(key, [])]
    return {
        "before_header": "master.cf (changed services)",
        "after_header": "master.cf (changed services)",
        "before": "".join(line + "\n" for line in before),
        "after": "".join(line + "\n" for line in after),
    }


def unknown_message(changes, unknown, close):
    """One line naming each unknown -o name with the service that uses it and close names."""
    parts = []
    for key, entry, dummy in changes:
        for name, dummy in entry.options if entry is not None else ():
            if name not in unknown:
                continue
            hint = unknown[name]
            if not hint and close.get(name):
                hint = "did you mean: %s?" % ", ".join(close[name])
            parts.append("%s in %s%s" % (name, key, " (%s)" % hint if hint else ""))
    return (
        "unknown Postfix parameter %s; fix the option name (a parameter of your own must be "
        "referenced as $name by another setting in main.cf or master.cf)" % "; ".join(parts)
    )


def references(entry, names):
    """The names among `names` that the entry's -o values reference as $name or ${name}."""
    found = set()
    for dummy, value in entry.options:
        for match in re.finditer(r"\$(?:\{|\()?([A-Za-z0-9_]+)", value or ""):
            if match.group(1) in names:
                found.add(match.group(1))
    return found


# --- backend: Postfix's own tools, one read, a staged edit, one write -----------------------

class MasterCf(object):
    def __init__(self, module, config_dir=None):
        self.module = module
        self.postconf = postconf(module, config_dir)
        # config_dir, else MAIL_CONFIG, else /etc/postfix (_postfix_tools.config_directory).
        self.config_dir = self.postconf.directory
        self.path = os.path.join(self.config_dir, "master.cf")
        self.warnings = []

    def read(self):
        """Every service entry in master.cf, read once with `postconf -M`."""
        for name in ("main.cf", "master.cf"):
            path = os.path.join(self.config_dir, name)
            if not os.path.isfile(path):
                raise MasterCfError("%s does not exist: install Postfix first, or point config_dir at the "
                                    "directory that holds main.cf and master.cf" % path)
        rc, stdout, stderr = self.postconf.services(check=False)
        if rc != 0:
            raise MasterCfError("Postfix cannot read %s, fix it first: %s" % (self.path, _last_line(stderr)))
        return parse_postconf_m(stdout)

    def interfaces(self):
        """The addresses an inet service without a host listens on (None: all)."""
        return interface_addresses(self.postconf.value("inet_interfaces", expand=True))

    def stage(self, changes):
        """Apply the changes to a scratch copy of the configuration with postconf itself,
        and check that Postfix reads the result as requested.

        Returns the new master.cf bytes and the staged entries."""
        remove, edit = edit_requests(changes)
        stage_dir = tempfile.mkdtemp(prefix="postconf-master-stage-")
        try:
            shutil.copyfile(os.path.join(self.config_dir, "main.cf"), os.path.join(stage_dir, "main.cf"))
            with open(self.path, "rb") as handle:
                data = handle.read()
            if data and not data.endswith(b"\n"):
                data += b"\n"  # postconf -Me would glue a new entry onto the last line
            with open(os.path.join(stage_dir, "master.cf"), "wb") as handle:
                handle.write(data)
            tool = postconf(self.module, stage_dir)
            for args in (["-MX"] + remove if remove else None, ["-Me"] + edit if edit else None):
                if args is None:
                    continue
                self._age(stage_dir)
                rc, dummy, stderr = tool.run(args, check=False)
                if rc != 0:
                    raise MasterCfError("Postfix cannot apply the change, nothing was written: %s"
                                        % _last_line(stderr, stage_dir, self.config_dir))
            self._age(stage_dir)
            rc, stdout, stderr = tool.services(check=False)
            if rc != 0:
                raise MasterCfError("Postfix cannot read the new master.cf, nothing was written: %s"
                                    % _last_line(stderr, stage_dir, self.config_dir))
            with open(os.path.join(stage_dir, "master.cf"), "rb") as handle:
                data = handle.read()
        finally:
            shutil.rmtree(stage_dir, ignore_errors=True)
        staged = parse_postconf_m(stdout)
        self._check_commands(changes)
        self._check_names(changes, stderr)
        self._check_result(changes, staged)
        return data, staged

    @staticmethod
    def _age(stage_dir):
        for name in ("main.cf", "master.cf"):
            age_file(os.path.join(stage_dir, name))

    def _check_commands(self, changes):
        """master(8) runs each command from daemon_directory; a missing program fails only when
        the service is first used, so refuse it here."""
        commands = {key: entry.command[0] for key, entry, dummy in changes if entry is not None}
        if not commands:
            return
        daemon_dir = self.postconf.value("daemon_directory").strip()
        for key, command in sorted(commands.items()):
            path = command if command.startswith("/") else os.path.join(daemon_dir, command)
            if not os.path.isfile(path):
                raise MasterCfError("service %s: command %s: there is no %s; use a Postfix daemon such as "
                                    "smtpd, smtp or pipe, or install the package that provides it"
                                    % (key, command, path))

    def _check_names(self, changes, stderr):
        unknown, undefined, deprecated = master_cf_warnings(stderr)
        wanted = {name for dummy, entry, dummy in changes if entry is not None for name, dummy in entry.options}
        unknown = {name: hint for name, hint in unknown.items() if name in wanted}
        if unknown:
            close = close_parameter_names(self.postconf, [name for name in unknown if not unknown[name]])
            raise MasterCfError(unknown_message(changes, unknown, close))
        for key, entry, dummy in changes:
            if entry is None:
                continue
            for name, dummy in entry.options:
                if name in deprecated:
                    self.warnings.append("service %s: Postfix will remove parameter %s; instead, %s"
                                         % (key, name, deprecated[name]))
            for name in sorted(references(entry, undefined)):
                self.warnings.append("service %s: $%s is not defined in main.cf or master.cf" % (key, name))

    @staticmethod
    def _check_result(changes, staged):
        by_key = {}
        for entry in staged:
            by_key.setdefault(entry.key, []).append(entry)
        for key, entry, dummy in changes:
            found = by_key.get(key, [])
            if entry is None and not found:
                continue
            if entry is not None and len(found) == 1 and same_entry(found[0], entry):
                continue
            raise MasterCfError("service %s: Postfix would read %r, not what was asked; nothing was written"
                                % (key, " | ".join(item.line for item in found) or "no entry"))

    def write(self, data, backup):
        """Replace master.cf atomically, keeping its owner and mode; return (backup file or
        None, rollback copy)."""
        backup_file = self.module.backup_local(self.path) if backup else None
        try:
            rollback_file = rollback.save(self.config_dir, "master.cf")
            # fsync of the file and its directory: after a crash master.cf is the old or the new one.
            atomic_write(self.path, data)
        except (rollback.RollbackError, WriteError) as exc:
            raise MasterCfError(str(exc))
        return backup_file, rollback_file


def _last_line(stderr, stage_dir=None, config_dir=None):
    detail = (stderr or "").strip().splitlines() or ["no message"]
    line = detail[-1]
    if "macro processing error" in line and len(detail) > 1:
        # The warning before it names the value, for example: truncated macro reference: "a$(b"
        line = "%s (%s)" % (line, detail[-2].split("warning: ", 1)[-1])
    if stage_dir:
        line = line.replace(stage_dir, config_dir)
    return line
