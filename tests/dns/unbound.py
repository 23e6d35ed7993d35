# SPDX-License-Identifier: MIT
"""unbound - a validating unbound resolver in front of a test World.

Programs that trust a resolver's AD bit (Postfix's posttls-finger, the
Postfix SMTP client) need a validating recursive resolver to ask; the
World's knot server is authoritative only.  Unbound(world) writes an
unbound.conf in a temporary directory that

  - validates from the world's trust anchor (module-config "validator
    iterator", val-permissive-mode no, harden-dnssec-stripped yes), so
    bogus answers become SERVFAIL and secure ones carry AD;
  - reaches every zone of the world through stub-zone entries naming the
    knot server's address@port (the world's delegations can only say
    port 53);
  - or, for tests of what trusting a resolver means: validate="permissive"
    (val-permissive-mode yes: bogus answers come back, without AD, instead
    of SERVFAIL) or validate="no" (module-config "iterator": no
    validation, never AD, RRSIGs still passed on to DO queries);
  - listens on addr:port (default 127.0.0.1:53, meant for a private
    network namespace where port 53 is free) for 127.0.0.0/8 only.

unbound runs in the foreground (-d) with no control socket, no chroot and
no privilege drop, logging to a file in its directory.  start() returns
once it answers a query; stop() terminates it and removes the directory
(when it made it).
"""
import os
import shutil
import subprocess
import tempfile

from world import Daemon, query

UNBOUND = shutil.which("unbound", path=os.environ.get("PATH", "") +
                       ":/usr/sbin")


def ask(addr, port, name, rtype, timeout=1.0):
    """One recursive query with the DO bit set; returns (rcode, ad,
    ancount) or None without a reply (world.query)."""
    return query(addr, port, name, rtype, timeout=timeout, recursive=True)


class Unbound(Daemon):
    """A validating unbound for one World; see the module documentation."""

    NAME = "unbound"
    LOGS = ("unbound.log", "unbound.out")

    def __init__(self, world, addr="127.0.0.1", port=53, tmp=None,
                 validate="yes"):
        if validate not in ("yes", "permissive", "no"):
            raise ValueError("validate: yes, permissive or no")
        self.validate = validate
        self.world = world
        self.addr, self.port = addr, port
        self.own_tmp = tmp is None
        self.dir = tmp or tempfile.mkdtemp(prefix="postern-unbound-")
        self.conf = os.path.join(self.dir, "unbound.conf")
        self.logfile = os.path.join(self.dir, "unbound.log")
        self.proc = None

    def _write_conf(self):
        w = self.world
        stubs = "".join(
            "stub-zone:\n  name: \"%s\"\n  stub-addr: %s@%d\n"
            "  stub-prime: no\n  stub-first: no\n" % (z, w.addr, w.port)
            for z in w.ZONES)
        if self.validate == "no":
            val = '  module-config: "iterator"\n'
        else:
            val = ('  module-config: "validator iterator"\n'
                   '  trust-anchor-file: "%s"\n'
                   '  val-permissive-mode: %s\n'
                   '  harden-dnssec-stripped: yes\n' %
                   (w.trust_anchor,
                    "yes" if self.validate == "permissive" else "no"))
        with open(self.conf, "w") as f:
            f.write("""\
server:
  interface: {a}@{p}
  port: {p}
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "{d}"
  pidfile: "{d}/unbound.pid"
  use-syslog: no
  logfile: "{log}"
  verbosity: 1
  val-log-level: 2
  num-threads: 1
  do-ip6: no
  do-not-query-localhost: no
  access-control: 127.0.0.0/8 allow
{val}  qname-minimisation: no
remote-control:
  control-enable: no
{stubs}""".format(a=self.addr, p=self.port, d=self.dir, log=self.logfile,
                  val=val, stubs=stubs))

    def start(self, bound=60.0):
        """Write the configuration, start unbound, return once it
        answers (any reply to a query for the root SOA)."""
        if UNBOUND is None:
            raise RuntimeError("unbound not installed (package unbound)")
        self._write_conf()
        check = subprocess.run([UNBOUND + "-checkconf", self.conf],
                               capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError("unbound-checkconf: %s%s" %
                               (check.stdout, check.stderr))
        self.spawn([UNBOUND, "-d", "-c", self.conf], "unbound.out")
        self.wait_ready(lambda: ask(self.addr, self.port, ".", "SOA",
                                    timeout=0.5) is not None, bound)
        return self

    def log(self):
        return self.logs()
