# SPDX-License-Identifier: MIT
"""world - a private DNSSEC hierarchy on loopback, for postern's tests.

World() builds, from scratch in a temporary directory, a small signed DNS
tree served by one Knot DNS server (knotd, Debian package knot) on a free
127.0.0.x address and port:

    .                     fake root, own KSK+ZSK      (trust anchor)
    example.              signed, DS in the root
    secure.example.       signed (NSEC), DS in example.         -> secure
    nsec3.example.        signed (NSEC3), DS in example.        -> secure
    insecure.example.     unsigned, no DS in example.           -> insecure
    bogus.example.        signed, every RRSIG expired in 2002   -> bogus
    badds.example.        signed, but the DS in example. names
                          a key that is not in the zone         -> bogus

Zones are signed with ldns-keygen / ldns-signzone (ldnsutils) and served
pre-signed.  Every child zone holds the same records (see CHILD below): two
MX, A and AAAA for mx1, only A for mx2 (so "mx2 AAAA" is NODATA), a CNAME
chain www -> alias -> mx1, and a TLSA record at _25._tcp.mx1.  Extra records
are given per zone when building: World(extra={"secure.example.":
["h1 A 192.0.2.101"]}); names are relative to the zone unless they end in a
dot.  World(reverse=[...]) adds an unsigned "arpa." zone, delegated from
the root without DS (so insecure, as most reverse zones are), holding
those records: PTR records for client addresses, say
"1.0.18.198.in-addr.arpa. PTR mail.secure.example.".

Because the server listens on a private port, resolvers reach the zones
through stub zones rather than delegations (whose NS/glue can only say port
53): World.stub is "zone@addr@port, ..." for every zone, the format of
postern's dns_settings.stub, and World.trust_anchor is a file with the
fake root's KSK (a DNSKEY line, what ub_ctx_add_ta_file and unbound's
trust-anchor-file read); World.trust_anchor_ds holds the same anchor as a
DS record (Debian's /usr/share/dns/root.ds style).

    with World() as w:
        run(["dns_query", "-a", w.trust_anchor, "-s", w.stub, ...])
        w.drill("mx1.secure.example.", "A")   # ask the server directly

The server is started on start() (or entering the with block) and is ready
when start() returns: start() polls it with SOA queries for every zone.
stop() terminates it and removes the directory.  Needs knotd and ldnsutils
(ldns-keygen, ldns-signzone, ldns-key2ds, drill) and openssl for tlsa().
"""
import hashlib
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time

KNOTD = shutil.which("knotd", path=os.environ.get("PATH", "") + ":/usr/sbin")

# Address blocks per zone, so a test can tell whose answer it got.
NETS = {
    "secure.example.": ("192.0.2", "2001:db8:1::"),
    "nsec3.example.": ("192.0.2", "2001:db8:5::"),
    "insecure.example.": ("198.51.100", "2001:db8:2::"),
    "bogus.example.": ("203.0.113", "2001:db8:3::"),
    "badds.example.": ("203.0.113", "2001:db8:4::"),
}
HOST4 = {"secure.example.": 1, "nsec3.example.": 51,
         "insecure.example.": 1, "bogus.example.": 1, "badds.example.": 101}

# The TLSA record of every child zone (a made-up SHA-256).
DEFAULT_TLSA = "3 1 1 " + hashlib.sha256(b"postern test world").hexdigest()

CHILD = """\
@ MX 10 mx1
@ MX 20 mx2
mx1 A {v4}.{h}
mx1 AAAA {v6}1
mx2 A {v4}.{h2}
www CNAME alias
alias CNAME mx1
_25._tcp.mx1 TLSA {tlsa}
"""

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "MX": 15, "AAAA": 28,
         "DS": 43, "DNSKEY": 48, "TLSA": 52}


def _run(args, cwd=None):
    p = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("%r failed (%d): %s%s" %
                           (args, p.returncode, p.stdout, p.stderr))
    return p.stdout


def _wire_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def query(addr, port, name, rtype, timeout=1.0, recursive=False):
    """One UDP query; returns (rcode, flag, ancount) or None when no reply
    came within timeout.  Plain (RD off): flag is AA, to tell when an
    authoritative server is up.  recursive: RD and AD set and an OPT
    record with the DO bit, flag is the reply's AD bit, to ask a
    validating resolver.  Small and independent of the code under test."""
    qid = random.randrange(65536)
    msg = struct.pack("!HHHHHH", qid, 0x0120 if recursive else 0, 1, 0, 0,
                      1 if recursive else 0)
    msg += _wire_name(name) + struct.pack("!HH", TYPES[rtype], 1)
    if recursive:
        msg += b"\0" + struct.pack("!HHIH", 41, 1232, 0x8000, 0)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        try:
            s.sendto(msg, (addr, port))
            while True:
                data, _ = s.recvfrom(4096)
                if len(data) >= 12 and struct.unpack("!H", data[:2])[0] == qid:
                    break
        except (socket.timeout, ConnectionRefusedError):
            return None
    flags, = struct.unpack("!H", data[2:4])
    flag = flags & (0x0020 if recursive else 0x0400)
    return flags & 0xF, bool(flag), struct.unpack("!H", data[6:8])[0]


class Daemon:
    """A server process with its own directory (self.dir, removed by stop
    when self.own_tmp): the start-up wait, log reading and stop shared by
    World (knotd) and tests/dns/unbound.py (unbound)."""

    NAME = "server"
    LOGS = ()  # files in self.dir that hold its output

    def spawn(self, argv, outname):
        """Start argv with stdout and stderr into self.dir/outname."""
        self.out = open(os.path.join(self.dir, outname), "w")
        self.proc = subprocess.Popen(argv, stdout=self.out, stderr=self.out)

    def wait_ready(self, ready, bound, what=""):
        """Poll ready() until true; fail when the process exits or after
        bound seconds (a hung server, not a performance limit)."""
        deadline = time.monotonic() + bound
        step = 0.02
        while not ready():
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited %d: %s" % (
                    self.NAME, self.proc.returncode, self.logs()))
            if time.monotonic() > deadline:
                raise RuntimeError("%s not answering%s: %s" % (
                    self.NAME, what, self.logs()))
            time.sleep(step)
            step = min(step * 1.5, 0.3)

    def logs(self):
        out = ""
        for name in self.LOGS:
            try:
                with open(os.path.join(self.dir, name)) as f:
                    out += f.read()
            except OSError:
                pass
        return out

    def stop(self):
        """Terminate the process; remove the directory when we made it."""
        if getattr(self, "proc", None) is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.proc = None
            self.out.close()
        if self.own_tmp:
            shutil.rmtree(self.dir, True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def free_addr_port():
    """A random 127.0.0.x with a port free for both UDP and TCP."""
    for _ in range(50):
        addr = "127.0.0.%d" % random.randrange(2, 250)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            t.bind((addr, 0))
            port = t.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                try:
                    u.bind((addr, port))
                except OSError:
                    continue
        return addr, port
    raise RuntimeError("no free loopback port")


def tlsa_rdata(cert_file, usage=3, selector=1, mtype=1):
    """The TLSA rdata text "U S M HEX" for a PEM certificate, computed with
    the openssl command-line tool (selector 0: the certificate, 1: its
    SubjectPublicKeyInfo; mtype 0: full, 1: SHA-256, 2: SHA-512)."""
    der = subprocess.run(["openssl", "x509", "-in", cert_file, "-outform",
                          "DER"], capture_output=True, check=True).stdout
    if selector == 1:
        pem = subprocess.run(["openssl", "x509", "-in", cert_file, "-noout",
                              "-pubkey"], capture_output=True,
                             check=True).stdout
        der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"],
                             input=pem, capture_output=True,
                             check=True).stdout
    if mtype == 1:
        data = hashlib.sha256(der).hexdigest()
    elif mtype == 2:
        data = hashlib.sha512(der).hexdigest()
    else:
        data = der.hex()
    return "%d %d %d %s" % (usage, selector, mtype, data.upper())


class World(Daemon):
    """The signed test hierarchy; see the module documentation."""

    NAME = "knotd"
    LOGS = ("knot.log", "knotd.out")
    ZONES = [".", "example.", "secure.example.", "nsec3.example.",
             "insecure.example.", "bogus.example.", "badds.example."]

    def __init__(self, extra=None, tmp=None, reverse=None):
        """extra: {zone: [record line, ...]} added before signing;
        reverse: record lines of an unsigned arpa. zone (None: none)."""
        self.extra = {self._zone(z): list(v) for z, v in (extra or {}).items()}
        self.reverse = reverse
        if reverse is not None:
            self.ZONES = World.ZONES + ["arpa."]
        for z in self.extra:
            if z not in self.ZONES:
                raise ValueError("no zone %s in the world" % z)
        self.own_tmp = tmp is None
        self.dir = tmp or tempfile.mkdtemp(prefix="postern-dnsworld-")
        self.addr = self.port = None
        self.proc = None
        self.trust_anchor = os.path.join(self.dir, "root.key")
        self.trust_anchor_ds = os.path.join(self.dir, "root.ds")
        self.stub = ""

    @staticmethod
    def _zone(z):
        return z if z.endswith(".") else z + "."

    # ---- building ---------------------------------------------------
    def _keygen(self, zone, ksk):
        args = ["ldns-keygen", "-a", "ECDSAP256SHA256"]
        if ksk:
            args.append("-k")
        base = _run(args + [zone], cwd=self.keydir).strip()
        return os.path.join(self.keydir, base)

    def _ds(self, keybase):
        out = _run(["ldns-key2ds", "-n", "-2", keybase + ".key"])
        return out.strip()

    def _sign(self, zone, path, keys, nsec3=False, expired=False):
        args = ["ldns-signzone", "-o", zone, "-f", path + ".signed"]
        if expired:
            args += ["-i", "20010101", "-e", "20020101"]
        else:
            now = int(time.time())
            args += ["-i", str(now - 86400), "-e", str(now + 30 * 86400)]
        if nsec3:
            args += ["-n", "-t", "0"]
        _run(args + [path] + keys)
        return path + ".signed"

    def _write_zone(self, zone, body):
        name = "root" if zone == "." else zone.rstrip(".")
        path = os.path.join(self.zonedir, name + ".zone")
        ns = "ns.example."
        head = ("$ORIGIN %s\n$TTL 300\n"
                "@ SOA %s hostmaster.example. 1 3600 600 86400 300\n"
                "@ NS %s\n" % (zone, ns, ns))
        extra = "".join(r + "\n" for r in self.extra.get(zone, []))
        with open(path, "w") as f:
            f.write(head + body + extra)
        return path

    def build(self):
        """Keys, zones, signatures, trust anchor and knot configuration."""
        self.keydir = os.path.join(self.dir, "keys")
        self.zonedir = os.path.join(self.dir, "zones")
        os.makedirs(self.keydir, exist_ok=True)
        os.makedirs(self.zonedir, exist_ok=True)
        self.addr, self.port = free_addr_port()
        files = {}
        keys = {}
        # Children first: their DS go into example.
        ds = {}
        for zone in World.ZONES[2:]:
            v4, v6 = NETS[zone]
            h = HOST4[zone]
            body = CHILD.format(v4=v4, v6=v6, h=h, h2=h + 1,
                                tlsa=DEFAULT_TLSA)
            path = self._write_zone(zone, body)
            if zone == "insecure.example.":
                files[zone] = path
                continue
            keys[zone] = [self._keygen(zone, True), self._keygen(zone, False)]
            files[zone] = self._sign(zone, path, keys[zone],
                                     nsec3=zone == "nsec3.example.",
                                     expired=zone == "bogus.example.")
            if zone == "badds.example.":
                # A DS for a KSK that never signs anything.
                ds[zone] = self._ds(self._keygen(zone, True))
            else:
                ds[zone] = self._ds(keys[zone][0])
        body = "ns A %s\n" % self.addr
        for zone in World.ZONES[2:]:
            body += "%s NS ns.example.\n" % zone
            if zone in ds:
                body += ds[zone] + "\n"
        path = self._write_zone("example.", body)
        keys["example."] = [self._keygen("example.", True),
                            self._keygen("example.", False)]
        files["example."] = self._sign("example.", path, keys["example."])
        body = ("example. NS ns.example.\nns.example. A %s\n%s\n" %
                (self.addr, self._ds(keys["example."][0])))
        if self.reverse is not None:
            body += "arpa. NS ns.example.\n"
            files["arpa."] = self._write_zone(
                "arpa.", "".join(r + "\n" for r in self.reverse))
        path = self._write_zone(".", body)
        keys["."] = [self._keygen(".", True), self._keygen(".", False)]
        files["."] = self._sign(".", path, keys["."])
        shutil.copy(keys["."][0] + ".key", self.trust_anchor)
        with open(self.trust_anchor_ds, "w") as f:
            f.write(self._ds(keys["."][0]) + "\n")
        self.files = files
        self.stub = ", ".join("%s@%s@%d" % (z, self.addr, self.port)
                              for z in self.ZONES)
        self._knot_conf()

    def _knot_conf(self):
        self.conf = os.path.join(self.dir, "knot.conf")
        zones = "".join("  - domain: \"%s\"\n    file: \"%s\"\n" %
                        (z, self.files[z]) for z in self.ZONES)
        with open(self.conf, "w") as f:
            f.write("""\
server:
  rundir: "{d}/run"
  listen: {a}@{p}
  udp-workers: 1
  tcp-workers: 1
  background-workers: 1
database:
  storage: "{d}/db"
log:
  - target: "{d}/knot.log"
    any: info
template:
  - id: default
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    semantic-checks: off
zone:
{z}""".format(d=self.dir, a=self.addr, p=self.port, z=zones))
        os.makedirs(os.path.join(self.dir, "run"), exist_ok=True)
        os.makedirs(os.path.join(self.dir, "db"), exist_ok=True)

    # ---- running ----------------------------------------------------
    def start(self, bound=60.0):
        """Build (if not yet) and start knotd; return once every zone
        answers its SOA authoritatively."""
        if KNOTD is None:
            raise RuntimeError("knotd not installed (package knot)")
        if not self.stub:
            self.build()
        self.spawn([KNOTD, "-c", self.conf], "knotd.out")
        pending = list(self.ZONES)

        def all_up():
            while pending:
                r = query(self.addr, self.port, pending[0], "SOA",
                          timeout=0.5)
                if not (r and r[0] == 0 and r[1] and r[2] > 0):
                    return False
                pending.pop(0)
            return True
        self.wait_ready(all_up, bound, " for every zone")
        return self

    def server_log(self):
        return self.logs()

    def resolver_settings(self):
        """main.cf lines pointing postern's resolver at this world: knot
        serves every zone, so it works as the forwarder, and postern
        validates from the world's trust anchor."""
        return ("dns_resolver_addresses = %s@%d\n"
                "dnssec_trust_anchor_file = %s\n"
                % (self.addr, self.port, self.trust_anchor))

    def write_resolver_conf(self, d):
        """A configuration directory d whose main.cf is resolver_settings()
        (for postern finger and tlsa --check); returns d."""
        os.makedirs(d)
        with open(os.path.join(d, "main.cf"), "w") as f:
            f.write(self.resolver_settings())
        return d

    # ---- helpers ----------------------------------------------------
    def drill(self, name, rtype, dnssec=True):
        """drill (ldnsutils) asks the server directly; returns the answer
        section as a list of (owner, type, rdata) with lower-case owner."""
        args = ["drill", "-p", str(self.port), "@" + self.addr]
        if dnssec:
            args.append("-D")
        p = subprocess.run(args + [name, rtype], capture_output=True,
                           text=True)
        out, section = [], None
        for line in p.stdout.splitlines():
            if line.startswith(";; ANSWER SECTION"):
                section = "answer"
                continue
            if line.startswith(";;"):
                if section == "answer" and "SECTION" in line:
                    section = None
                continue
            if section == "answer" and line.strip():
                f = line.split(None, 4)
                if len(f) == 5:
                    out.append((f[0].lower(), f[3], f[4]))
        return out

    @staticmethod
    def tlsa(cert_file, usage=3, selector=1, mtype=1):
        """TLSA rdata text for a certificate; see tlsa_rdata()."""
        return tlsa_rdata(cert_file, usage, selector, mtype)


if __name__ == "__main__":
    # python3 tests/dns/world.py: start a world and wait for Ctrl-C.
    w = World().start()
    print("addr %s port %d" % (w.addr, w.port))
    print("trust anchor %s" % w.trust_anchor)
    print("stub %s" % w.stub)
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    w.stop()
