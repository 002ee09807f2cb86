"""The project's own test DNS: Knot DNS signs and serves the test zones, Unbound in the same
container answers the test hosts as a validating resolver (AD bit on answers from the signed
zones, so DANE can be tested) and forwards every other name to the resolver the container got
from Podman (apt in the test hosts keeps working).

Used from a test:

    with project_network(env) as network:
        hosts = {"mail.example.test": network.address(10)}
        zones = {"example.test": [("@", "MX", "10 mail"), ("@", "TXT", txt("v=spf1 mx -all"))]}
        with dns_server(network, zones, hosts, env) as dns:
            with systemd_container(name, image, env, "mail.example.test",
                                   extra_args=dns.client_args(hosts["mail.example.test"])):
                ...
            dns.update("example.test", [("sel._domainkey", "TXT", txt(public_key_record))])

Every host gets an A record in the zone whose name is the longest suffix of its name, and a
PTR record in the reverse zone of its /24 (made here, signed like the others). Records are
(owner, type, rdata) tuples in zone-file syntax; an owner without a final dot is relative to
the zone, "@" is the zone itself.

Inside the container: /var/lib/postmaster-dns holds knot.conf, unbound.conf, the zone files,
the trust anchors (DS records from keymgr) and both daemons' logs; Knot listens on
127.0.0.1@5353 only, Unbound on port 53 of the container's address.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import os
import re
import subprocess
import sys
from pathlib import Path


PROJECT_ROOT = Path(__file__).resolve().parents[2]
BASE_IMAGE = "localhost/debian-bookworm:base"
# The base image with Knot, Unbound and dig installed, kept between runs; its knot and unbound
# services are masked, so the image can also boot with systemd as a client that has dig.
IMAGE = "localhost/postmaster-dns:bookworm"
PACKAGES = ["knot", "knot-dnsutils", "unbound", "bind9-dnsutils"]
DNS_HOST_NUMBER = 2  # the server's address in the network: .1 is Podman's gateway
DIR = "/var/lib/postmaster-dns"
KNOT_CONF = DIR + "/knot.conf"
UNBOUND_CONF = DIR + "/unbound.conf"
TTL = 30
_OWNER = re.compile(r"^(@|\*|(\*\.)?[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?)$")
_TYPE = re.compile(r"^[A-Z][A-Z0-9]*$")
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')


def podman(env, *args, check=True, input=None, timeout=300):
    completed = subprocess.run(["podman"] + list(args), env=env, capture_output=True, text=True, input=input,
                               check=False, timeout=timeout)
    if check and completed.returncode != 0:
        raise RuntimeError("podman %s failed:\n%s%s" % (" ".join(args), completed.stdout, completed.stderr))
    return completed


def container_address(env, name):
    """The address of container NAME on its (first) network."""
    return podman(env, "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name).stdout.strip()


def default_env():
    return dict(os.environ, CONTAINERS_CONF=str(PROJECT_ROOT / "containers" / "containers.conf"))


def txt(text):
    """TXT rdata for TEXT: quoted, split into strings of at most 255 bytes (a DKIM key is longer)."""
    if not text.isprintable():
        raise ValueError("TXT text must be printable, without line breaks: %r" % text)
    escaped = [text[i:i + 255].replace("\\", "\\\\").replace('"', '\\"') for i in range(0, len(text), 255)]
    return " ".join('"%s"' % chunk for chunk in escaped) or '""'


def ensure_image(env=None):
    """Build IMAGE from BASE_IMAGE unless Podman has it; one build at a time on this machine."""
    env = env or default_env()
    lock_path = PROJECT_ROOT / ".cache" / "postmaster-dns-image.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if podman(env, "image", "exists", IMAGE, check=False).returncode == 0:
            return False
        builder = "postmaster-dns-build-%d" % os.getpid()
        podman(env, "rm", "-f", "-t", "0", builder, check=False)
        script = ("set -e; export DEBIAN_FRONTEND=noninteractive; apt-get update -q >/dev/null; "
                  "apt-get install -y -q --no-install-recommends %s >/dev/null; "
                  "for unit in knot unbound unbound-resolvconf; do ln -sf /dev/null /etc/systemd/system/$unit.service; done; "
                  "apt-get clean; rm -rf /var/lib/apt/lists/*" % " ".join(PACKAGES))
        try:
            podman(env, "run", "--name", builder, BASE_IMAGE, "sh", "-c", script, timeout=900)
            podman(env, "commit", "-q", builder, IMAGE)
        finally:
            podman(env, "rm", "-f", "-t", "0", builder, check=False)
        return True


class PodmanNetwork:
    """A Podman network of its own (no Podman DNS), so containers get addresses known in advance."""

    def __init__(self, name, env, create=True):
        self.name, self.env, self.created = name, env, create
        if create:
            podman(env, "network", "rm", "-f", name, check=False)
            podman(env, "network", "create", "--disable-dns", name)
        info = json.loads(podman(env, "network", "inspect", name).stdout)[0]
        self.subnet = ipaddress.ip_network(info["subnets"][0]["subnet"])

    def address(self, number):
        """The NUMBERth address of the subnet as a string (1 is the gateway)."""
        if not 1 < number < self.subnet.num_addresses - 1:
            raise ValueError("host number %d is outside %s" % (number, self.subnet))
        return str(self.subnet[number])

    def remove(self):
        if self.created:
            podman(self.env, "network", "rm", "-f", self.name, check=False)


@contextlib.contextmanager
def project_network(env=None, name=None):
    env = env or default_env()
    network = PodmanNetwork(name or "postmaster-test-%d" % os.getpid(), env)
    try:
        yield network
    finally:
        network.remove()


def reverse_zone(address, octets=3):
    """The in-addr.arpa zone of ADDRESS's first OCTETS octets (3: its /24) and the record's owner in it."""
    parts = str(ipaddress.IPv4Address(address)).split(".")[::-1]
    return ".".join(parts[4 - octets:]) + ".in-addr.arpa", ".".join(parts[:4 - octets])


def absolute(name, zone):
    if name == "@":
        return zone + "."
    return name if name.endswith(".") else "%s.%s." % (name, zone)


def build_zones(zones, hosts, server_address, reverse_octets=3):
    """{zone: [(owner, type, rdata)]} with SOA, NS, the hosts' A and PTR records added; checked.
    Reverse zones cover REVERSE_OCTETS octets: 3 for a /24 network, 2 for a /16 (Podman's default)."""
    result = {}
    for zone, records in zones.items():
        zone = zone.rstrip(".").lower()
        result[zone] = [check_record(zone, record) for record in records]
    forward = sorted(result)
    if not forward:
        raise ValueError("at least one zone is needed")
    for host, address in sorted(hosts.items()):
        host = host.rstrip(".").lower()
        owners = [zone for zone in result if host == zone or host.endswith("." + zone)]
        if not owners:
            raise ValueError("host %s is in none of the zones %s" % (host, ", ".join(forward)))
        zone = max(owners, key=len)
        result[zone].append((absolute(host + ".", zone), "A", str(ipaddress.IPv4Address(address))))
        rzone, owner = reverse_zone(address, reverse_octets)
        result.setdefault(rzone, []).append((owner, "PTR", host + "."))
    primary = forward[0]
    for zone, records in result.items():
        ns = "ns.%s." % (zone if zone in forward else primary)
        head = [("@", "SOA", "%s hostmaster.%s. 1 3600 600 86400 %d" % (ns, primary, TTL)), ("@", "NS", ns)]
        if zone in forward:
            head.append(("ns", "A", server_address))
        result[zone] = head + records
    return result


def check_record(zone, record):
    """One record as (owner, TYPE, rdata), or ValueError naming what is wrong."""
    if not (isinstance(record, (tuple, list)) and len(record) == 3):
        raise ValueError("record in zone %s must be (owner, type, rdata): %r" % (zone, record))
    owner, rtype, rdata = (str(part) for part in record)
    rtype = rtype.upper()
    if not _OWNER.match(owner):
        raise ValueError("record owner %r in zone %s is not a DNS name" % (owner, zone))
    if not _TYPE.match(rtype) or rtype in ("SOA", "NS"):
        raise ValueError("record type %r in zone %s is not allowed (SOA and NS are made here)" % (rtype, zone))
    if not rdata.isprintable() or _QUOTED.sub("", rdata).count('"') or ";" in _QUOTED.sub("", rdata):
        raise ValueError("record data %r in zone %s has a line break, control character or comment" % (rdata, zone))
    return owner, rtype, rdata


def zone_file(zone, records):
    lines = ["$ORIGIN %s." % zone, "$TTL %d" % TTL]
    lines += ["%s %s %s" % record for record in records]
    return "\n".join(lines) + "\n"


def knot_conf(zones):
    return "\n".join([
        "server:", "    listen: 127.0.0.1@5353", "    rundir: /run/knot", "    user: knot:knot",
        "database:", "    storage: /var/lib/knot",
        "log:", "  - target: %s/knot.log" % DIR, "    any: info",
        "policy:", "  - id: test", "    algorithm: ecdsap256sha256", "    ksk-lifetime: 0", "    zsk-lifetime: 0",
        "template:", "  - id: default", "    storage: " + DIR, '    file: "%s.zone"', "    semantic-checks: on",
        "    dnssec-signing: on", "    dnssec-policy: test",
        # Zone files are rewritten by update(): Knot applies the difference and re-signs,
        # whatever their serial says, and never writes them back.
        "    zonefile-sync: -1", "    zonefile-load: difference-no-serial", "    journal-content: all",
        "zone:"] + ["  - domain: %s" % zone for zone in sorted(zones)]) + "\n"


def unbound_conf(zones, upstream):
    lines = ["server:", "    interface: 0.0.0.0", "    access-control: 0.0.0.0/0 allow", "    do-ip6: no",
             "    do-not-query-localhost: no", '    username: ""', '    chroot: ""', '    directory: "%s"' % DIR,
             '    pidfile: "/run/unbound.pid"', '    logfile: "%s/unbound.log"' % DIR, "    verbosity: 1",
             "    val-log-level: 2", "    num-threads: 1", "    outgoing-range: 256",
             # The test subnets' reverse zones are private address space: serve them.
             "    unblock-lan-zones: yes", '    local-zone: "test." nodefault',
             "    cache-max-negative-ttl: 5", '    trust-anchor-file: "%s/anchors.ds"' % DIR,
             "remote-control:", "    control-enable: yes", "    control-interface: /run/unbound.ctl"]
    for zone in sorted(zones):
        lines += ["stub-zone:", '    name: "%s."' % zone, "    stub-addr: 127.0.0.1@5353"]
    if upstream:
        lines += ["forward-zone:", '    name: "."'] + ["    forward-addr: %s" % address for address in upstream]
    return "\n".join(lines) + "\n"


class DnsServer:
    def __init__(self, network, zones, hosts, env, name, upstream=True):
        self.network, self.env, self.name = network, env, name
        # On a network of the test's own the server takes .2; on a shared one (Molecule's) Podman picks.
        self.address = network.address(DNS_HOST_NUMBER) if network.created else None
        self.reverse_octets = min(3, max(1, network.subnet.prefixlen // 8))
        self.zones, self.hosts = {k.rstrip(".").lower(): list(v) for k, v in zones.items()}, dict(hosts)
        self.forward_upstream, self.upstream = upstream, []
        build_zones(self.zones, self.hosts, "192.0.2.1", self.reverse_octets)  # refuse bad data before any container
        self.built = {}

    def client_args(self, address=None):
        """podman run arguments that put a container on the network (at ADDRESS) with this resolver."""
        args = ["--network", self.network.name, "--dns", self.address]
        return args + (["--ip", address] if address else [])

    def resolv_conf(self):
        return "nameserver %s\n" % self.address

    def sh(self, script, check=True, timeout=60):
        completed = podman(self.env, "exec", self.name, "sh", "-c", script, check=False, timeout=timeout)
        if check and completed.returncode != 0:
            raise RuntimeError("in %s: %s\n%s%s\n%s"
                               % (self.name, script, completed.stdout, completed.stderr, self.logs()))
        return completed.stdout

    def logs(self):
        return podman(self.env, "exec", self.name, "sh", "-c", "tail -n 20 %s/knot.log %s/unbound.log" % (DIR, DIR),
                      check=False).stdout

    def apply(self, files, script):
        """Write FILES ({path: text}, each replaced atomically) in the container, then run SCRIPT
        there; its stdout. One podman exec: each costs about half a second on this machine."""
        writer = ("import json, os, sys\n"
                  "for path, text in json.load(sys.stdin).items():\n"
                  "    os.makedirs(os.path.dirname(path), exist_ok=True)\n"
                  "    with open(path + '.new', 'w') as out:\n"
                  "        out.write(text)\n"
                  "    os.rename(path + '.new', path)\n"
                  "os.execlp('sh', 'sh', '-ec', sys.argv[1])\n")
        completed = podman(self.env, "exec", "-i", self.name, "python3", "-c", writer, script,
                           input=json.dumps(files), check=False, timeout=120)
        if completed.returncode != 0:
            raise RuntimeError("in %s: %s\n%s%s\n%s"
                               % (self.name, script, completed.stdout, completed.stderr, self.logs()))
        return completed.stdout

    def zone_files(self, zones):
        return {"%s/%s.zone" % (DIR, zone): zone_file(zone, self.built[zone]) for zone in zones}

    def start(self):
        podman(self.env, "rm", "-f", "-t", "0", self.name, check=False)
        podman(self.env, "run", "-d", "--name", self.name, "--hostname", "ns." + sorted(self.zones)[0],
               "--network", self.network.name, *(["--ip", self.address] if self.address else []), IMAGE, "sleep", "infinity")
        if not self.address:
            self.address = container_address(self.env, self.name)
        self.built = build_zones(self.zones, self.hosts, self.address, self.reverse_octets)
        files = dict(self.zone_files(self.built), **{KNOT_CONF: knot_conf(self.built)})
        output = self.apply(files, "chown knot:knot %s; mkdir -p /run/knot; chown knot:knot /run/knot; knotd -d -c %s; %s; "
                            "grep '^nameserver' /etc/resolv.conf || true" % (DIR, KNOT_CONF, self.print_anchors()))
        anchors = "".join(line + "\n" for line in output.splitlines() if " DS " in line)
        if self.forward_upstream:
            self.upstream = re.findall(r"^nameserver\s+(\d+\.\d+\.\d+\.\d+)\s*$", output, re.M)
        self.apply({DIR + "/anchors.ds": anchors, UNBOUND_CONF: unbound_conf(self.built, self.upstream)},
                   "unbound-checkconf %s >/dev/null; unbound -c %s; %s"
                   % (UNBOUND_CONF, UNBOUND_CONF, self.wait_validated(self.built)))

    def print_anchors(self):
        """Shell: wait until Knot has signed every zone, then print their DS records (SHA-256)."""
        return ("for zone in %s; do i=0; until keymgr -c %s $zone. ds 2>/dev/null | grep ' DS [0-9]* [0-9]* 2 '; do "
                "i=$((i+1)); if [ $i -gt 100 ]; then echo \"Knot did not sign $zone\" >&2; exit 1; fi; sleep 0.1; done; done"
                % (" ".join(sorted(self.built)), KNOT_CONF))

    @staticmethod
    def wait_validated(zones):
        """Shell: wait until Unbound answers each zone's SOA with the AD bit (signed and validated)."""
        return ("for zone in %s; do i=0; until dig +dnssec +time=1 +tries=1 @127.0.0.1 $zone. SOA "
                "| grep -q 'flags:[a-z ]* ad[ ;]'; do i=$((i+1)); if [ $i -gt 100 ]; then "
                "echo \"Unbound does not validate $zone\" >&2; exit 1; fi; sleep 0.1; done; done"
                % " ".join(sorted(zones)))

    def update(self, zone, records, replace=False):
        """Add RECORDS to ZONE (or replace its records with them) while the server runs; a zone
        not served yet is added, signed and anchored (Knot and Unbound reload their configuration)."""
        zone = zone.rstrip(".").lower()
        self.zones[zone] = list(records) if replace else self.zones.get(zone, []) + list(records)
        self.rebuild()

    def set_hosts(self, hosts):
        """Add or move hosts (name -> address): their A and PTR records follow."""
        self.hosts.update(hosts)
        self.rebuild()

    def rebuild(self):
        built = build_zones(self.zones, self.hosts, self.address, self.reverse_octets)
        new_zones = sorted(set(built) - set(self.built))
        changed = [zone for zone in sorted(built) if built[zone] != self.built.get(zone)]
        if not changed:
            return
        self.built = built
        files = self.zone_files(changed)
        flush = "; ".join("unbound-control -c %s flush_zone %s >/dev/null" % (UNBOUND_CONF, zone) for zone in changed)
        reload = [zone for zone in changed if zone not in new_zones]
        if new_zones:
            files[KNOT_CONF] = knot_conf(built)
            output = self.apply(files, "knotc -c %s -b reload >/dev/null; %s" % (KNOT_CONF, self.print_anchors()))
            files = {DIR + "/anchors.ds": "".join(line + "\n" for line in output.splitlines() if " DS " in line),
                     UNBOUND_CONF: unbound_conf(built, self.upstream)}
            script = "unbound-checkconf %s >/dev/null; unbound-control -c %s reload >/dev/null" % (UNBOUND_CONF, UNBOUND_CONF)
            if reload:
                script += "; knotc -c %s -b zone-reload %s >/dev/null" % (KNOT_CONF, " ".join(reload))
        else:
            script = "knotc -c %s -b zone-reload %s >/dev/null" % (KNOT_CONF, " ".join(reload))
        self.apply(files, "%s; %s; %s" % (script, flush, self.wait_validated(changed)))

    def stop(self):
        podman(self.env, "rm", "-f", "-t", "0", self.name, check=False)


@contextlib.contextmanager
def dns_server(network, zones, hosts, env=None, name=None, upstream=True):
    """A running DnsServer on NETWORK serving ZONES and HOSTS; removed afterwards."""
    env = env or default_env()
    ensure_image(env)
    server = DnsServer(network, zones, hosts, env, name or "postmaster-dns-%d" % os.getpid(), upstream)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def load_spec(path):
    """A JSON or YAML file: name, network (default "podman"), zones, hosts (name -> address),
    containers (container -> DNS name: its address is looked up), upstream (default true)."""
    import yaml  # the project's .venv has it (Ansible needs it)
    spec = yaml.safe_load(Path(path).read_text())
    env = default_env()
    hosts = dict(spec.get("hosts") or {})
    for container, host in (spec.get("containers") or {}).items():
        hosts[host] = container_address(env, container)
    network = PodmanNetwork(spec.get("network", "podman"), env, create=False)
    return DnsServer(network, spec.get("zones") or {}, hosts, env, spec["name"], spec.get("upstream", True))


def main(argv):
    """dns_server.py start SPEC | update SPEC | stop NAME: for Molecule's prepare and cleanup
    playbooks (the scenario's network exists; the server stays up after start). start and
    update print {"address": ...}: the resolver address for the hosts' /etc/resolv.conf."""
    if len(argv) != 2 or argv[0] not in ("start", "update", "stop"):
        sys.exit("usage: dns_server.py start SPEC | update SPEC | stop NAME")
    if argv[0] == "stop":
        podman(default_env(), "rm", "-f", "-t", "0", argv[1], check=False)
        return
    server = load_spec(argv[1])
    if argv[0] == "start":
        ensure_image(server.env)
        server.start()
    else:
        server.address = container_address(server.env, server.name)
        served = re.findall(r"^  - domain: (\S+)$", server.apply({}, "cat " + KNOT_CONF), re.M)
        server.upstream = re.findall(r"forward-addr: (\S+)", server.apply({}, "cat " + UNBOUND_CONF))
        server.built = {zone: None for zone in served}
        server.rebuild()
    print(json.dumps({"address": server.address, "name": server.name}))


if __name__ == "__main__":
    main(sys.argv[1:])
