# Copyright (c) 2026, postmaster.mail contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The postmaster.mail.stunnel role's desired state, as pure functions of its settings.

`validate()` checks every setting and returns one-line errors that name the role variable
(`stunnel_tunnels[N].field`); `model()` returns the files the role writes (stunnel.conf and
the systemd units, with their text and digest), the units it keeps running and the drift
check's spec. Both run on the control node (the postmaster.mail.stunnel_conf filter).

Why a systemd socket unit: Postfix hands the relay's SASL password to the tunnel's loopback
port in plaintext. A port stunnel binds itself is free while stunnel restarts or after it
crashed, and any local user may bind a port >= 1024 then (and every port where
net.ipv4.ip_unprivileged_port_start is lowered, as some container runtimes do). The socket
unit keeps the port bound by systemd (PID 1) from boot on, whether stunnel runs or not;
stunnel takes the listening sockets from systemd (socket activation, one per tunnel in
order) and never binds them. Connections made while stunnel is down wait in the socket's
backlog until it is back.

Debian's stunnel4 is linked with libsystemd on bullseye (5.56), bookworm (5.68) and trixie
(5.74), so the listening sockets are passed (Accept=no): one stunnel process, no cost per
connection (an inetd-style Accept=yes would start stunnel per connection). stunnel has no
start limit here (StartLimitIntervalSec=0): a service that hits its limit fails its socket
unit too, and systemd would close the ports. Windows that remain: the first run with the
socket unit (the old stunnel must let go of the port before systemd binds it) and a port
change (the new port is bound when the socket unit restarts); a squatter on the new port
makes that start fail, and the play stops before Postfix is pointed at it.

Why a path unit: stunnel reads CAfile and the client chain at start and on SIGHUP only; the
path unit reloads it (SIGHUP, established connections stay) whenever one of those files changes.
A SIGHUP in the first moment after start, before stunnel handles it, ends stunnel; systemd
starts it again a second later, with the new files either way.

Private to postmaster.mail: no stability promise for other collections.
"""

from __future__ import annotations

import hashlib
import ipaddress
import posixpath
import re

from ansible_collections.postmaster.mail.plugins.module_utils._text import CONTROL_CHARACTERS

TLS_VERSIONS = ("TLSv1.2", "TLSv1.3")
LOG_LEVELS = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
FIELDS = ("name", "accept", "connect", "ca_file", "check_host", "cert")
REQUIRED = ("name", "accept", "connect", "ca_file")
NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")
SERVICE_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}\Z")
# Characters a path may use: safe in stunnel.conf and in systemd unit files (no %, $, \ or space).
PATH = re.compile(r"^/[A-Za-z0-9._+,:=@~/-]{0,4094}\Z")
LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)\Z")
PORT = re.compile(r"^[0-9]{1,5}\Z")
PACKAGE = re.compile(r"^[a-z0-9][a-z0-9+.:=~-]*\Z")
CONTROL = CONTROL_CHARACTERS
LOOPBACK_NAMES = ("localhost",)
# Units, beside the service, that the role writes.
UNIT_DIR = "/etc/systemd/system"
UNIT_KINDS = ((".socket", "socket"), (".service", "service"), ("-reload.path", "path"), ("-reload.service", "reloader"))


class StunnelError(ValueError):
    pass


# --- values ---------------------------------------------------------------------------------

def _control(value):
    """A description of the first control character in VALUE, or None."""
    found = CONTROL.search(value)
    if not found:
        return None
    names = {"\n": "a line break (\\n)", "\r": "a carriage return (\\r)", "\t": "a tab"}
    return names.get(found.group(), "a control character (U+%04X)" % ord(found.group()))


def check_path(value):
    """VALUE if it is an absolute, normalised path of safe characters, else StunnelError."""
    if not PATH.match(value):
        raise StunnelError("must be an absolute path of letters, digits and . _ + , : = @ ~ / - (no spaces), got %s"
                           % _quote(value))
    normal = posixpath.normpath(value)
    if normal != value or value.startswith("//"):
        raise StunnelError("must be a normalised absolute path (no '.', '..', '//' or trailing '/'): write %s, got %s"
                           % (_quote(normal if not normal.startswith("//") else "/" + normal.lstrip("/")),
                              _quote(value)))
    return value


def is_dns_name(value):
    """Whether VALUE is a host name: dot-separated labels of letters, digits and hyphens."""
    name = value[:-1] if value.endswith(".") else value
    if not name or len(name) > 253:
        return False
    labels = name.split(".")
    return all(LABEL.match(label) for label in labels) and not labels[-1].isdigit()


def parse_endpoint(value):
    """(host, port, family) of HOST:PORT, IPV4:PORT or [IPV6]:PORT; family is "name", "ipv4" or "ipv6".

    stunnel itself splits at the last colon and does not strip brackets, so an IPv6 address
    is written with brackets here and without them in stunnel.conf (see `stunnel_endpoint`)."""
    if value.startswith("["):
        inside, bracket, port = value[1:].partition("]")
        if not bracket or not port.startswith(":"):
            raise StunnelError("must be [IPV6]:PORT, as [2001:db8::1]:465, got %s" % _quote(value))
        try:
            if "%" in inside:
                raise ValueError(inside)
            address = ipaddress.IPv6Address(inside)
        except ValueError:
            raise StunnelError("has %s in brackets, which is not an IPv6 address" % _quote(inside))
        return str(address), _port(port[1:], value), "ipv6"
    host, colon, port = value.rpartition(":")
    if ":" in host:
        raise StunnelError("looks like a bare IPv6 address, which stunnel would split at its last colon: "
                           "write the address in brackets with a port, as [2001:db8::1]:465, got %s" % _quote(value))
    if not colon:
        raise StunnelError("must be HOST:PORT (PORT 1 to 65535), got %s" % _quote(value))
    try:
        address = ipaddress.IPv4Address(host)
    except ValueError:
        if not is_dns_name(host):
            raise StunnelError("has a host %s that is neither a host name nor an IPv4 address" % _quote(host))
        return host, _port(port, value), "name"
    return str(address), _port(port, value), "ipv4"


def _port(text, value):
    if not PORT.match(text) or not 1 <= int(text) <= 65535:
        raise StunnelError("needs a port from 1 to 65535 after the last colon, got %s" % _quote(value))
    return int(text)


def is_loopback(host, family):
    if family == "name":
        return host.lower().rstrip(".") in LOOPBACK_NAMES
    return ipaddress.ip_address(host).is_loopback


def stunnel_endpoint(host, port, family):
    """HOST:PORT as stunnel reads it (it splits at the last colon; no brackets)."""
    return "%s:%d" % (host, port)


def listen_address(host, port, family):
    """The address systemd binds for an accept endpoint (systemd takes no host names)."""
    if family == "ipv6":
        return "[%s]:%d" % (host, port)
    if family == "name":
        return "127.0.0.1:%d" % port
    return "%s:%d" % (host, port)


def _quote(value):
    """VALUE for a one-line message: Python's repr shows line breaks and control characters."""
    return repr(value)


# --- settings -------------------------------------------------------------------------------

def validate(settings):
    """One-line errors, each naming the role variable, for the role's settings (empty: valid).

    SETTINGS: tunnels, tls_min_version, log_level, packages, service_name, config_file."""
    errors = []
    tunnels = settings.get("tunnels")
    if tunnels is None:
        tunnels = []
    if not isinstance(tunnels, list):
        return ["stunnel_tunnels must be a list of tunnels, got %s" % type(tunnels).__name__]
    if not tunnels:
        errors.append("stunnel_tunnels is empty: give at least one tunnel, or leave the postmaster.mail.stunnel "
                      "role out of the play")
    names, ports = {}, {}
    for number, tunnel in enumerate(tunnels):
        where = "stunnel_tunnels[%d]" % number
        if not isinstance(tunnel, dict):
            errors.append("%s must be a dictionary with name, accept, connect and ca_file, got %s"
                          % (where, type(tunnel).__name__))
            continue
        errors += _tunnel_errors(where, tunnel, names, ports, number)
    if settings.get("tls_min_version", "TLSv1.2") not in TLS_VERSIONS:
        errors.append("stunnel_tls_min_version must be one of %s, got %s"
                      % (", ".join(TLS_VERSIONS), _quote(settings.get("tls_min_version"))))
    if settings.get("log_level", "warning") not in LOG_LEVELS:
        errors.append("stunnel_log_level must be one of %s, got %s"
                      % (", ".join(LOG_LEVELS), _quote(settings.get("log_level"))))
    service = settings.get("service_name", "postmaster-stunnel")
    if not isinstance(service, str) or not SERVICE_NAME.match(service) or service.endswith((".service", ".socket")):
        errors.append("stunnel_service_name must be a systemd unit name without suffix (letters, digits, "
                      "_ . -), got %s" % _quote(service))
    config_file = settings.get("config_file", "/etc/stunnel/postmaster-mail.conf")
    try:
        check_path(_text(config_file))
    except StunnelError as exc:
        control = isinstance(config_file, str) and _control(config_file)
        if control:
            exc = "must be one line without control characters; it has %s: %s" % (control, _quote(config_file))
        errors.append("stunnel_config_file %s" % exc)
    packages = settings.get("packages", ["stunnel4"])
    if not isinstance(packages, list) or not all(isinstance(name, str) and PACKAGE.match(name) for name in packages):
        errors.append("stunnel_packages must be a list of Debian package names, got %s" % _quote(packages))
    return errors


def _text(value):
    if not isinstance(value, str):
        raise StunnelError("must be a string, got %s" % type(value).__name__)
    return value


def _tunnel_errors(where, tunnel, names, ports, number):
    errors = []
    unknown = sorted(str(key) for key in tunnel if key not in FIELDS)
    if unknown:
        errors.append("%s has unknown field(s) %s: a tunnel takes %s" % (where, ", ".join(unknown), ", ".join(FIELDS)))
    for field in REQUIRED:
        if tunnel.get(field) in (None, ""):
            errors.append("%s.%s is required" % (where, field))
    for field in FIELDS:
        value = tunnel.get(field)
        if value in (None, "") or field in unknown:
            continue
        if not isinstance(value, str):
            errors.append("%s.%s must be a string, got %s" % (where, field, type(value).__name__))
            continue
        control = _control(value)
        if control:
            errors.append("%s.%s must be one line without control characters; it has %s: %s"
                          % (where, field, control, _quote(value)))
            continue
        try:
            _check_field(field, value, tunnel)
        except StunnelError as exc:
            errors.append("%s.%s %s" % (where, field, exc))
            continue
        if field == "name":
            if value in names:
                errors.append("%s.name %s is also stunnel_tunnels[%d].name: names must be unique"
                              % (where, _quote(value), names[value]))
            names.setdefault(value, number)
        if field == "accept":
            port = parse_endpoint(value)[1]
            if port in ports:
                errors.append("%s.accept port %d is also the port of stunnel_tunnels[%d].accept: "
                              "each tunnel needs its own port" % (where, port, ports[port]))
            ports.setdefault(port, number)
    return errors


def _check_field(field, value, tunnel):
    if field == "name":
        if not NAME.match(value):
            raise StunnelError("must be 1 to 64 letters, digits, - or _, got %s" % _quote(value))
    elif field == "accept":
        host, dummy, family = parse_endpoint(value)
        if not is_loopback(host, family):
            raise StunnelError("must be on loopback (127.0.0.0/8, [::1] or localhost), as 127.0.0.1:10465, "
                               "so only this host reaches the tunnel, got %s" % _quote(value))
    elif field == "connect":
        parse_endpoint(value)
    elif field in ("ca_file", "cert"):
        check_path(value)
    elif field == "check_host":
        if not is_dns_name(value):
            raise StunnelError("must be a DNS name (letters, digits, - between dots), as mail.example.org, got %s"
                               % _quote(value))


# --- rendering ------------------------------------------------------------------------------

def tunnel_options(tunnel, tls_min_version):
    """[(option, value)] of one tunnel's section, in stunnel.conf order."""
    accept = parse_endpoint(tunnel["accept"])
    connect_host, connect_port, connect_family = parse_endpoint(tunnel["connect"])
    options = [("client", "yes"),
               ("accept", stunnel_endpoint(*accept)),
               ("connect", stunnel_endpoint(connect_host, connect_port, connect_family)),
               ("sslVersionMin", tls_min_version),
               ("verifyChain", "yes"),
               ("CAfile", tunnel["ca_file"])]
    if tunnel.get("check_host"):
        options.append(("checkHost", tunnel["check_host"]))
    elif connect_family == "name":
        options.append(("checkHost", connect_host))
    else:
        options.append(("checkIP", connect_host))
    if tunnel.get("cert"):
        options += [("cert", tunnel["cert"]), ("key", tunnel["cert"])]
    return options


def render_config(settings):
    """The text of stunnel.conf for valid SETTINGS."""
    lines = ["; Managed by postmaster.mail (the stunnel role): changes here are overwritten.",
             "; Client tunnels for Postfix, from stunnel_tunnels. systemd owns the accept ports",
             "; (%s.socket) and hands them to stunnel, one per section in order." % settings["service_name"],
             "; foreground = quiet: syslog only, so the journal gets each line once.",
             "foreground = quiet",
             "pid =",
             "syslog = yes",
             "debug = %s" % settings["log_level"]]
    for tunnel in settings["tunnels"]:
        lines += ["", "[%s]" % tunnel["name"]]
        lines += ["%s = %s" % option for option in tunnel_options(tunnel, settings["tls_min_version"])]
    return "\n".join(lines) + "\n"


def watched_files(settings):
    """The files stunnel reads at start (CA files and client chains), each once, in order."""
    files = []
    for tunnel in settings["tunnels"]:
        for field in ("ca_file", "cert"):
            if tunnel.get(field) and tunnel[field] not in files:
                files.append(tunnel[field])
    return files


def render_units(settings):
    """{unit file name: text} of the systemd units: service, socket, CA watch and its reloader."""
    service = settings["service_name"]
    header = "# Managed by postmaster.mail (the stunnel role): changes here are overwritten.\n"
    units = {}
    units[service + ".socket"] = header + "\n".join([
        "[Unit]",
        "Description=Loopback ports of the stunnel client tunnels for Postfix (postmaster.mail)",
        "Documentation=man:stunnel4(8)",
        "",
        "[Socket]",
        "# systemd (PID 1) keeps these ports bound whether stunnel runs or not, so no local user",
        "# can take one while stunnel restarts or after it crashed.",
    ] + ["ListenStream=%s" % listen_address(*parse_endpoint(tunnel["accept"])) for tunnel in settings["tunnels"]] + [
        "BindIPv6Only=ipv6-only",
        "Service=%s.service" % service,
        "",
        "[Install]",
        "WantedBy=sockets.target",
    ]) + "\n"
    units[service + ".service"] = header + "\n".join([
        "[Unit]",
        "Description=stunnel client tunnels for Postfix (postmaster.mail)",
        "Documentation=man:stunnel4(8)",
        "Requires=%s.socket" % service,
        "After=%s.socket network-online.target" % service,
        "Wants=network-online.target",
        "Before=postfix.service",
        "# Never give up restarting: a service that hits its start limit fails its socket unit",
        "# too, and systemd would close the ports. The socket unit holds them meanwhile.",
        "StartLimitIntervalSec=0",
        "",
        "[Service]",
        "ExecStart=/usr/bin/stunnel %s" % settings["config_file"],
        "# SIGHUP: stunnel reads its configuration, CA files and chains again; open connections stay.",
        "ExecReload=/bin/sh -c 'kill -HUP $MAINPID'",
        "Restart=always",
        "RestartSec=1",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
    ]) + "\n"
    units[service + "-reload.path"] = header + "\n".join([
        "[Unit]",
        "Description=Reload the stunnel client tunnels when a CA file or client chain changes (postmaster.mail)",
        "",
        "[Path]",
    ] + ["PathChanged=%s" % path for path in watched_files(settings)] + [
        "Unit=%s-reload.service" % service,
        "",
        "[Install]",
        "WantedBy=multi-user.target",
    ]) + "\n"
    units[service + "-reload.service"] = header + "\n".join([
        "[Unit]",
        "Description=Reload the stunnel client tunnels (postmaster.mail)",
        "",
        "[Service]",
        "Type=oneshot",
        "ExecStart=/bin/systemctl try-reload-or-restart %s.service" % service,
    ]) + "\n"
    return units


def sha256(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def model(settings):
    """The role's desired state for valid SETTINGS (see `validate`): files with text and
    digest, units to keep enabled and running, and the drift check's spec."""
    settings = dict(settings, tunnels=settings.get("tunnels") or [])
    files = [{"path": settings["config_file"], "content": render_config(settings), "kind": "config"}]
    units = render_units(settings)
    for suffix, kind in UNIT_KINDS:
        name = settings["service_name"] + suffix
        files.append({"path": "%s/%s" % (UNIT_DIR, name), "content": units[name], "kind": kind})
    for item in files:
        item.update(owner="root", group="root", mode="0644", sha256=sha256(item["content"]))
    service = settings["service_name"]
    services = [{"name": service + suffix, "enabled": True, "active": True}
                for suffix in (".socket", ".service", "-reload.path")]
    return {
        "files": files,
        "services": services,
        "drift_spec": {
            "packages": list(settings["packages"]),
            "files": [{key: item[key] for key in ("path", "sha256", "owner", "group", "mode")} for item in files],
            "services": services,
        },
    }


def stunnel_conf(settings):
    """{"errors": [...]} for bad SETTINGS, else {"errors": [], files, services, drift_spec}."""
    settings = dict({"tunnels": [], "tls_min_version": "TLSv1.2", "log_level": "warning", "packages": ["stunnel4"],
                     "service_name": "postmaster-stunnel", "config_file": "/etc/stunnel/postmaster-mail.conf"},
                    **{key: value for key, value in settings.items() if value is not None})
    errors = validate(settings)
    if errors:
        return {"errors": errors}
    return dict(model(settings), errors=[])
