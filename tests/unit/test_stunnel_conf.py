"""Pure-logic tests of plugins/module_utils/_stunnel.py (the stunnel role's model): every bad
setting refused in one line naming the variable, and a property test that whatever is
accepted is read back by stunnel's own parsing rules as exactly the values given."""

from __future__ import annotations

import ipaddress
import string
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# See tests/unit/test_maincf.py for why sys.path is set here and not in a conftest.py.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".cache" / "collections"))

from ansible_collections.postmaster.mail.plugins.module_utils._stunnel import (  # noqa: E402
    parse_endpoint,
    stunnel_conf,
)

CA = "/etc/postfix/tls/ca.pem"
# stunnel's CONFLINELEN: file_getline() reads at most this many bytes less one per line.
CONFLINELEN = 16 * 1024
C_SPACE = " \t\n\v\f\r"


def tunnel(**fields):
    return dict({"name": "hub", "accept": "127.0.0.1:10465", "connect": "hub.example.org:465", "ca_file": CA}, **fields)


def errors(*tunnels, **other):
    return stunnel_conf(dict(other, tunnels=list(tunnels)))["errors"]


# --- stunnel's reader, after src/file.c file_getline() and src/options.c options_file() -----

def stunnel_lines(text):
    """The lines stunnel gets: split at LF, every CR dropped, a line cut at CONFLINELEN - 1."""
    lines, line = [], []
    for char in text:
        if char == "\n":
            lines.append("".join(line))
            line = []
        elif char != "\r":
            line.append(char)
            if len(line) == CONFLINELEN - 1:
                lines.append("".join(line))
                line = []
    if line:
        lines.append("".join(line))
    return lines


def stunnel_read(text):
    """[(section name or None for the globals, [(option, value)])] as stunnel reads TEXT."""
    sections = [(None, [])]
    for line in stunnel_lines(text):
        line = line.strip(C_SPACE)
        if not line or line[0] in "#;":
            continue
        if line[0] == "[" and line[-1] == "]":
            sections.append((line[1:-1], []))
            continue
        assert "=" in line, "stunnel: No '=' found in %r" % line
        name, dummy, value = line.partition("=")
        sections[-1][1].append((name.rstrip(C_SPACE), value.lstrip(C_SPACE)))
    return sections


def stunnel_endpoint(value):
    """(address or name, port) as stunnel's name2addrlist() splits VALUE: at the last colon."""
    host, dummy, port = value.rpartition(":")
    try:
        return ipaddress.ip_address(host), int(port)
    except ValueError:
        return host, int(port)


def given_endpoint(value):
    """(address or name, port) the user meant: HOST:PORT or [IPV6]:PORT."""
    if value.startswith("["):
        host, dummy, port = value[1:].partition("]:")
        return ipaddress.ip_address(host), int(port)
    host, dummy, port = value.rpartition(":")
    try:
        return ipaddress.ip_address(host), int(port)
    except ValueError:
        return host, int(port)


def expected_sections(tunnels, tls_min_version="TLSv1.2"):
    """What stunnel must read for TUNNELS, built from the input alone."""
    sections = [(None, [("foreground", "quiet"), ("pid", ""), ("syslog", "yes"), ("debug", "warning")])]
    for item in tunnels:
        connect_host = given_endpoint(item["connect"])[0]
        options = [("client", "yes"), ("accept", given_endpoint(item["accept"])),
                   ("connect", given_endpoint(item["connect"])), ("sslVersionMin", tls_min_version),
                   ("verifyChain", "yes"), ("CAfile", item["ca_file"])]
        if item.get("check_host"):
            options.append(("checkHost", item["check_host"]))
        elif isinstance(connect_host, str):
            options.append(("checkHost", connect_host))
        else:
            options.append(("checkIP", connect_host))
        if item.get("cert"):
            options += [("cert", item["cert"]), ("key", item["cert"])]
        sections.append((item["name"], options))
    return sections


def read_back(text):
    """stunnel_read(), with accept and connect as the endpoints stunnel resolves, and the
    checkIP value as an address."""
    sections = []
    for name, options in stunnel_read(text):
        values = []
        for option, value in options:
            if option in ("accept", "connect"):
                value = stunnel_endpoint(value)
            elif option == "checkIP":
                value = ipaddress.ip_address(value)
            values.append((option, value))
        sections.append((name, values))
    return sections


def unit_lines(text):
    """[(key, value)] of a systemd unit file, failing on any line that is not KEY=VALUE,
    a [section] or a comment."""
    found = []
    for line in text.split("\n"):
        if not line or line.startswith("#") or (line.startswith("[") and line.endswith("]")):
            continue
        key, equals, value = line.partition("=")
        assert equals and key.isalnum(), "not a unit line: %r" % line
        found.append((key, value))
    return found


# --- accepted settings ----------------------------------------------------------------------

def test_defaults_render_and_read_back():
    state = stunnel_conf({"tunnels": [tunnel(check_host="hub.example.org")]})
    assert state["errors"] == []
    config = [item for item in state["files"] if item["kind"] == "config"][0]
    assert config["path"] == "/etc/stunnel/postmaster-mail.conf"
    assert read_back(config["content"]) == expected_sections([tunnel(check_host="hub.example.org")])
    assert [item["kind"] for item in state["files"]] == ["config", "socket", "service", "path", "reloader"]
    assert [service["name"] for service in state["services"]] == [
        "postmaster-stunnel.socket", "postmaster-stunnel.service", "postmaster-stunnel-reload.path"]
    assert "content" not in str(state["drift_spec"])


def test_ipv6_endpoints_are_written_as_stunnel_reads_them():
    item = tunnel(accept="[::1]:10466", connect="[2001:db8::1]:465")
    state = stunnel_conf({"tunnels": [item]})
    config = state["files"][0]["content"]
    assert "accept = ::1:10466\n" in config and "connect = 2001:db8::1:465\n" in config
    assert "checkIP = 2001:db8::1\n" in config
    assert read_back(config) == expected_sections([item])
    socket_unit = [item for item in state["files"] if item["kind"] == "socket"][0]["content"]
    assert ("ListenStream", "[::1]:10466") in unit_lines(socket_unit)


def test_socket_unit_lists_ports_in_section_order_and_path_unit_watches_the_files():
    tunnels = [tunnel(name="a", accept="127.0.0.1:10465", cert="/etc/postfix/tls/client.pem"),
               tunnel(name="b", accept="localhost:10466", ca_file="/etc/ssl/other.pem"),
               tunnel(name="c", accept="127.0.0.2:10467")]
    state = stunnel_conf({"tunnels": tunnels, "service_name": "relay-tunnels"})
    units = {item["path"]: unit_lines(item["content"]) for item in state["files"] if item["kind"] != "config"}
    socket_unit = units["/etc/systemd/system/relay-tunnels.socket"]
    # stunnel takes systemd's descriptors in the order of its sections.
    assert [value for key, value in socket_unit if key == "ListenStream"] == [
        "127.0.0.1:10465", "127.0.0.1:10466", "127.0.0.2:10467"]
    path_unit = units["/etc/systemd/system/relay-tunnels-reload.path"]
    assert [value for key, value in path_unit if key == "PathChanged"] == [
        CA, "/etc/postfix/tls/client.pem", "/etc/ssl/other.pem"]
    service_unit = units["/etc/systemd/system/relay-tunnels.service"]
    assert ("ExecStart", "/usr/bin/stunnel /etc/stunnel/postmaster-mail.conf") in service_unit
    assert ("Requires", "relay-tunnels.socket") in service_unit and ("Restart", "always") in service_unit


# --- refused settings -----------------------------------------------------------------------

@pytest.mark.parametrize("fields,where,fragment", [
    ({"ca_file": "/etc/ca.pem\nverifyChain = no\nexec = /bin/sh"}, "stunnel_tunnels[0].ca_file", "line break"),
    ({"ca_file": "/etc/ca.pem\rexec = /bin/sh"}, "stunnel_tunnels[0].ca_file", "carriage return"),
    ({"check_host": "hub.example.org\nverifyChain = no"}, "stunnel_tunnels[0].check_host", "line break"),
    ({"cert": "/etc/c.pem\nexec = /bin/sh"}, "stunnel_tunnels[0].cert", "line break"),
    ({"name": "hub]\nexec = /bin/sh\n[x"}, "stunnel_tunnels[0].name", "line break"),
    ({"connect": "hub.example.org:465\x00"}, "stunnel_tunnels[0].connect", "control character"),
    ({"connect": "2001:db8::25"}, "stunnel_tunnels[0].connect", "in brackets"),
    ({"connect": "[2001:db8::1]"}, "stunnel_tunnels[0].connect", "[IPV6]:PORT"),
    ({"connect": "[2001:db8::zz]:465"}, "stunnel_tunnels[0].connect", "not an IPv6 address"),
    ({"connect": "hub.example.org"}, "stunnel_tunnels[0].connect", "HOST:PORT"),
    ({"connect": "hub.example.org:0"}, "stunnel_tunnels[0].connect", "1 to 65535"),
    ({"connect": "hub example.org:465"}, "stunnel_tunnels[0].connect", "neither a host name"),
    ({"connect": "hub.example.org:smtps"}, "stunnel_tunnels[0].connect", "1 to 65535"),
    ({"accept": "0.0.0.0:10465"}, "stunnel_tunnels[0].accept", "loopback"),
    ({"accept": "192.0.2.1:10465"}, "stunnel_tunnels[0].accept", "loopback"),
    ({"accept": "[::]:10465"}, "stunnel_tunnels[0].accept", "loopback"),
    ({"accept": "10465"}, "stunnel_tunnels[0].accept", "HOST:PORT"),
    ({"accept": "127.0.0.1:70000"}, "stunnel_tunnels[0].accept", "70000"),
    ({"accept": "::1:10465"}, "stunnel_tunnels[0].accept", "in brackets"),
    ({"ca_file": "etc/ca.pem"}, "stunnel_tunnels[0].ca_file", "absolute path"),
    ({"ca_file": "/etc/postfix/../ca.pem"}, "stunnel_tunnels[0].ca_file", "normalised"),
    ({"ca_file": "/etc//ca.pem"}, "stunnel_tunnels[0].ca_file", "normalised"),
    ({"ca_file": "/etc/my ca.pem"}, "stunnel_tunnels[0].ca_file", "no spaces"),
    ({"ca_file": "/etc/%n.pem"}, "stunnel_tunnels[0].ca_file", "absolute path"),
    ({"cert": "client.pem"}, "stunnel_tunnels[0].cert", "absolute path"),
    ({"check_host": "hub.example.org:465"}, "stunnel_tunnels[0].check_host", "DNS name"),
    ({"check_host": "-hub.example.org"}, "stunnel_tunnels[0].check_host", "DNS name"),
    ({"check_host": 465}, "stunnel_tunnels[0].check_host", "string"),
    ({"name": "re lay]"}, "stunnel_tunnels[0].name", "letters"),
    ({"name": ""}, "stunnel_tunnels[0].name", "required"),
    ({"verify": "no"}, "stunnel_tunnels[0]", "unknown field"),
])
def test_bad_field_refused_in_one_line_naming_it(fields, where, fragment):
    found = errors(tunnel(**fields))
    assert len(found) == 1, found
    assert found[0].startswith(where) and fragment in found[0] and "\n" not in found[0], found


def test_duplicate_names_and_ports_refused():
    assert errors(tunnel(), tunnel(accept="127.0.0.1:10466")) == [
        "stunnel_tunnels[1].name 'hub' is also stunnel_tunnels[0].name: names must be unique"]
    assert errors(tunnel(), tunnel(name="two", accept="127.0.0.2:10465")) == [
        "stunnel_tunnels[1].accept port 10465 is also the port of stunnel_tunnels[0].accept: "
        "each tunnel needs its own port"]


@pytest.mark.parametrize("settings,fragment", [
    ({"tunnels": []}, "stunnel_tunnels is empty"),
    ({"tunnels": "hub"}, "stunnel_tunnels must be a list"),
    ({"tunnels": ["hub"]}, "stunnel_tunnels[0] must be a dictionary"),
    ({"tunnels": [tunnel()], "tls_min_version": "TLSv1.0"}, "stunnel_tls_min_version"),
    ({"tunnels": [tunnel()], "log_level": "loud"}, "stunnel_log_level"),
    ({"tunnels": [tunnel()], "config_file": "/etc/stunnel/x.conf\nexec = /bin/sh"}, "stunnel_config_file"),
    ({"tunnels": [tunnel()], "config_file": "stunnel.conf"}, "stunnel_config_file"),
    ({"tunnels": [tunnel()], "service_name": "x.service"}, "stunnel_service_name"),
    ({"tunnels": [tunnel()], "service_name": "a b"}, "stunnel_service_name"),
    ({"tunnels": [tunnel()], "packages": ["stunnel4\n"]}, "stunnel_packages"),
])
def test_bad_role_settings_refused(settings, fragment):
    found = stunnel_conf(settings)["errors"]
    assert len(found) == 1 and found[0].startswith(fragment), found


def test_endpoints():
    assert parse_endpoint("[::1]:10465") == ("::1", 10465, "ipv6")
    assert parse_endpoint("[0:0:0:0:0:0:0:1]:1") == ("::1", 1, "ipv6")
    assert parse_endpoint("127.0.0.1:65535") == ("127.0.0.1", 65535, "ipv4")
    assert parse_endpoint("Hub.Example.org.:465") == ("Hub.Example.org.", 465, "name")


# --- property: refused, or read back by stunnel exactly as given --------------------------

DNS = st.from_regex(r"[a-z]([a-z0-9-]{0,8}[a-z0-9])?(\.[a-z]([a-z0-9-]{0,8}[a-z0-9])?){0,3}", fullmatch=True)
PORTS = st.integers(min_value=1, max_value=65535)
LOOPBACK = st.one_of(st.ip_addresses(v=4, network="127.0.0.0/8").map(str), st.just("[::1]"), st.just("localhost"))
HOSTS = st.one_of(DNS, st.ip_addresses(v=4).map(str), st.ip_addresses(v=6).map("[{}]".format))
PATHS = st.lists(st.text(alphabet=string.ascii_letters + string.digits + "._-", min_size=1, max_size=8)
                 .filter(lambda part: part not in (".", "..")), min_size=1, max_size=4).map(lambda parts: "/" + "/".join(parts))
TUNNELS = st.fixed_dictionaries(
    {"name": st.from_regex(r"[A-Za-z0-9_-]{1,12}", fullmatch=True), "accept": st.builds("{}:{}".format, LOOPBACK, PORTS),
     "connect": st.builds("{}:{}".format, HOSTS, PORTS), "ca_file": PATHS},
    optional={"check_host": DNS, "cert": PATHS})
# A value for any field: line breaks, control characters, stunnel's own syntax ([ ] = ; # :),
# systemd's (% $), bare IPv6 addresses, ports out of range, addresses off loopback.
HOSTILE = st.one_of(
    st.lists(st.sampled_from(list("ab/.:[]=;# \t\n\r\x00\x0b\x85\u2028%$-_19") + ["::1", "127.0.0.1", ":465"]),
             max_size=12).map("".join),
    st.builds("{}{}{}".format, st.one_of(PATHS, DNS, st.builds("{}:{}".format, LOOPBACK, PORTS)),
              st.sampled_from(["\n", "\r", "\nexec = /bin/sh", "\x00", " ", "\u2028", "\x1b"]), st.sampled_from(["", "x"])),
    st.builds("{}:{}".format, st.one_of(LOOPBACK, HOSTS, st.just("0.0.0.0")), st.sampled_from([0, 65536, 70000, -1, "smtps"])),
    st.ip_addresses(v=6).map(str), st.ip_addresses(v=6).map("{}:465".format),
    st.builds("{}:{}".format, st.ip_addresses(v=4).filter(lambda a: not a.is_loopback).map(str), PORTS))
# Either no change, or one field of one tunnel replaced by a hostile value.
MUTATIONS = st.one_of(st.none(), st.tuples(st.integers(min_value=0, max_value=2),
                                           st.sampled_from(["name", "accept", "connect", "ca_file", "check_host", "cert"]),
                                           HOSTILE))


def accept_port(item):
    return item["accept"].rpartition(":")[2]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tunnels=st.lists(TUNNELS, min_size=1, max_size=3, unique_by=(lambda item: item["name"], accept_port)),
       mutation=MUTATIONS, tls_min_version=st.sampled_from(["TLSv1.2", "TLSv1.3"]))
def test_accepted_tunnels_read_back_exactly(tunnels, mutation, tls_min_version):
    if mutation:
        number, field, value = mutation
        tunnels[number % len(tunnels)][field] = value
    state = stunnel_conf({"tunnels": tunnels, "tls_min_version": tls_min_version})
    if state["errors"]:
        assert all("\n" not in error and error.startswith("stunnel_tunnels") for error in state["errors"])
        return
    files = {item["kind"]: item["content"] for item in state["files"]}
    assert read_back(files["config"]) == expected_sections(tunnels, tls_min_version)
    listen = [value for key, value in unit_lines(files["socket"]) if key == "ListenStream"]
    assert [given_endpoint(value) for value in listen] == [
        given_endpoint(item["accept"].replace("localhost:", "127.0.0.1:")) for item in tunnels]
    watched = [value for key, value in unit_lines(files["path"]) if key == "PathChanged"]
    assert sorted(set(watched)) == sorted({item[field] for item in tunnels for field in ("ca_file", "cert")
                                           if item.get(field)})
    for kind in ("service", "reloader"):
        unit_lines(files[kind])
