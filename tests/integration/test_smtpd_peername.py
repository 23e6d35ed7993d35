#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The client's host name (smtpd_peername_lookup), from real DNS.

The test process moves into a network namespace of its own (root), gives
its loopback a few addresses of 198.18.0.0/15 and 2001:2::/48 (benchmark
blocks: not among the reverse zones libunbound answers itself, unlike
127/8 or the documentation blocks), and serves their PTR records from an
"arpa." zone of the knot-served test world.  Clients connect from those
addresses with smtplib, so postern sees them as they would come from the
Internet:

    198.18.0.1  PTR good.secure.example     A 198.18.0.1: verified
    198.18.0.2  PTR forged.secure.example   A 192.0.2.200: not verified
    198.18.0.3  PTR gone.secure.example     (no such name)
    198.18.0.4  no PTR record
    198.18.0.5  PTR 198.18.0.9              (a numeric name)
    198.18.0.6  PTR www.bogus.example       (forward lookup fails DNSSEC:
                                             a temporary failure)
    198.18.0.7  PTR blocked.secure.example  A 198.18.0.7, listed in a
                                             client access table
    198.18.0.8  PTR mail.nsec3.example      A 198.18.0.8 (parent domain
                                             nsec3.example is listed)
    2001:2::1   PTR v6.secure.example       AAAA 2001:2::1: verified

Checked: the log lines (connect from name[addr], Postfix's warnings), the
Received: header of a queued message, reject_unknown_client_hostname,
reject_unknown_reverse_client_hostname (with their reply codes),
check_client_access by name and parent domain,
check_reverse_client_hostname_access, reject_rhsbl_client, and
smtpd_peername_lookup = no.
"""
import os
import smtplib
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "dns"))
import pt  # noqa: E402
import srv  # noqa: E402
from world import World  # noqa: E402

V4 = ["198.18.0.%d" % i for i in range(1, 9)]
V6 = "2001:2::1"
V6_PTR = ".".join(reversed("20010002000000000000000000000001")) + \
    ".ip6.arpa."

REVERSE = [
    "1.0.18.198.in-addr.arpa. PTR good.secure.example.",
    "2.0.18.198.in-addr.arpa. PTR forged.secure.example.",
    "3.0.18.198.in-addr.arpa. PTR gone.secure.example.",
    "5.0.18.198.in-addr.arpa. PTR 198.18.0.9.",
    "6.0.18.198.in-addr.arpa. PTR www.bogus.example.",
    "7.0.18.198.in-addr.arpa. PTR blocked.secure.example.",
    "8.0.18.198.in-addr.arpa. PTR mail.nsec3.example.",
    V6_PTR + " PTR v6.secure.example.",
]
EXTRA = {
    "secure.example.": ["good A 198.18.0.1", "forged A 192.0.2.200",
                        "blocked A 198.18.0.7", "v6 AAAA " + V6],
    "nsec3.example.": ["mail A 198.18.0.8"],
    # a DNSBL of host names
    "example.": ["blocked.secure.example.dbl A 127.0.0.2"],
}

SERVICES = {
    "plain": [],
    "access": ["smtpd_client_restrictions=check_client_access,"
               "texthash:%(clients)s,check_reverse_client_hostname_access,"
               "texthash:%(rev)s"],
    "reverse": ["smtpd_client_restrictions=reject_rhsbl_client,dbl.example,"
                "reject_unknown_reverse_client_hostname"],
    "verified": ["smtpd_client_restrictions=reject_unknown_client_hostname",
                 "unknown_client_reject_code=550"],
    "nolookup": ["smtpd_peername_lookup=no"],
    # IPv6 clients: listeners on ::1
    "plain6": [],
    "verified6": ["smtpd_client_restrictions=reject_unknown_client_hostname"],
}


def setUpModule():
    pt.enter_netns()
    for a in V4:
        pt.run([pt.which("ip"), "addr", "add", a + "/32", "dev", "lo"],
               check=True)
    pt.run([pt.which("ip"), "-6", "addr", "add", V6 + "/128", "dev", "lo",
            "nodad"], check=True)


class Peername(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="postern-peername-")
        cls.world = World(extra=EXTRA, reverse=REVERSE,
                          tmp=os.path.join(cls.tmp, "dns"))
        os.makedirs(cls.world.dir, exist_ok=True)
        cls.world.start()
        os.chmod(cls.tmp, 0o755)
        os.chmod(cls.world.dir, 0o755)
        files = {}
        for name, text in (("clients", "blocked.secure.example REJECT\n"
                                       "nsec3.example REJECT parent\n"),
                           ("rev", "forged.secure.example REJECT "
                                   "forged name\n")):
            files[name] = os.path.join(cls.tmp, name)
            with open(files[name], "w") as f:
                f.write(text)
            os.chmod(files[name], 0o644)
        cls.ports = pt.free_ports(SERVICES)
        cls.server = srv.Server(
            os.path.join(cls.tmp, "srv"),
            cls.world.resolver_settings() +
            "smtp_dns_support_level = dnssec\n"
            "relay_domains = known.example\n",
            [(n, cls.ports[n], [o % files for o in SERVICES[n]],
              "::1" if n.endswith("6") else "127.0.0.1")
             for n in SERVICES],
            workers=1).start()

    @classmethod
    def tearDownClass(cls):
        srv.stop_with_world([cls.server], cls.world, cls.tmp)

    def session(self, service, source):
        """An SMTP session to service from the address source."""
        s = smtplib.SMTP(timeout=120, source_address=(source, 0))
        s.connect("::1" if ":" in source else "127.0.0.1",
                  self.ports[service])
        self.addCleanup(s.close)
        s.ehlo("client.example")
        return s

    def rcpt(self, service, source):
        """The RCPT reply (code, text) in a session from source."""
        s = self.session(service, source)
        self.assertEqual(s.mail("a@known.example")[0], 250)
        code, msg = s.rcpt("b@known.example")
        s.quit()
        return code, msg.decode()

    def connect_line(self, service, source):
        """The "connect from" log line of a session from source (the
        session's own: its client port is in the disconnect line)."""
        s = self.session(service, source)
        s.quit()
        tail = "[%s]" % source
        line = pt.wait_for(
            lambda: [x for x in self.server.logtext().splitlines()
                     if ": connect from " in x and x.endswith(tail)],
            "the connect line of " + source)
        return line[-1].split(": connect from ", 1)[1]

    def test_verified_name(self):
        self.assertEqual(self.connect_line("plain", V4[0]),
                         "good.secure.example[198.18.0.1]")
        self.assertEqual(self.connect_line("plain6", V6),
                         "v6.secure.example[2001:2::1]")

    def test_names_that_are_not_believed(self):
        forged = ("warning: hostname forged.secure.example does not resolve "
                  "to address 198.18.0.2\n")
        self.assertEqual(self.connect_line("plain", V4[1]),
                         "unknown[198.18.0.2]")
        self.server.wait_log(forged)
        # again: the worker remembers the names (their records hold for
        # the zone's TTL), and still says why it does not believe them
        before = self.server.logtext().count(forged)
        self.assertEqual(self.connect_line("plain", V4[1]),
                         "unknown[198.18.0.2]")
        pt.wait_for(lambda: self.server.logtext().count(forged) > before,
                    "the warning for the second connection")
        self.assertEqual(self.connect_line("plain", V4[2]),
                         "unknown[198.18.0.3]")
        self.server.wait_log("warning: hostname gone.secure.example does not "
                             "resolve to address 198.18.0.3: Name or "
                             "service not known")
        self.assertEqual(self.connect_line("plain", V4[3]),
                         "unknown[198.18.0.4]")
        self.assertEqual(self.connect_line("plain", V4[4]),
                         "unknown[198.18.0.5]")
        self.server.wait_log("warning: 198.18.0.5: numeric hostname from "
                             "the PTR record: 198.18.0.9")
        self.assertEqual(self.connect_line("plain", V4[5]),
                         "unknown[198.18.0.6]")
        self.server.wait_log("warning: hostname www.bogus.example does not "
                             "resolve to address 198.18.0.6: Temporary "
                             "failure in name resolution")

    def test_received_header_names_the_client(self):
        s = self.session("plain", V4[0])
        token = os.urandom(6).hex()
        s.sendmail("a@known.example", ["b@known.example"],
                   "Subject: %s\r\n\r\nbody\r\n" % token)
        s.quit()
        data = pt.wait_for(lambda: self.server.find_message(token),
                           "the queued message")
        self.assertIn(b"Received: from client.example (good.secure.example "
                      b"[198.18.0.1])", data)

    def test_reject_unknown_client_hostname(self):
        self.assertEqual(self.rcpt("verified", V4[0])[0], 250)
        self.assertEqual(self.rcpt("verified6", V6)[0], 250)
        # no name that leads back: unknown_client_reject_code
        for a in (V4[1], V4[2], V4[3]):
            self.assertEqual(self.rcpt("verified", a), (
                550, "5.7.25 Client host rejected: cannot find your "
                     "hostname, [%s]" % a))
        # a failure that may pass: 450 whatever the code
        self.assertEqual(self.rcpt("verified", V4[5]), (
            450, "4.7.25 Client host rejected: cannot find your hostname, "
                 "[198.18.0.6]"))
        self.server.wait_log("NOQUEUE: reject: RCPT from unknown[198.18.0.2]:"
                             " 550 5.7.25 Client host rejected: cannot find "
                             "your hostname, [198.18.0.2];")

    def test_reject_unknown_reverse_client_hostname(self):
        # a PTR name is enough, verified or not
        for a in (V4[0], V4[1], V4[2]):
            self.assertEqual(self.rcpt("reverse", a)[0], 250, a)
        self.assertEqual(self.rcpt("reverse", V4[3]), (
            450, "4.7.25 Client host rejected: cannot find your reverse "
                 "hostname, [198.18.0.4]"))

    def test_rhsbl_client(self):
        self.assertEqual(self.rcpt("reverse", V4[6]), (
            554, "5.7.1 Service unavailable; Client host "
                 "[blocked.secure.example] blocked using dbl.example"))

    def test_client_access_by_name(self):
        self.assertEqual(self.rcpt("access", V4[0])[0], 250)
        self.assertEqual(self.rcpt("access", V4[6]), (
            554, "5.7.1 <blocked.secure.example[198.18.0.7]>: Client host "
                 "rejected: Access denied"))
        # parent_domain_matches_subdomains: nsec3.example covers mail.
        self.assertEqual(self.rcpt("access", V4[7]), (
            554, "5.7.1 <mail.nsec3.example[198.18.0.8]>: Client host "
                 "rejected: parent"))
        # the reverse name, though not verified
        self.assertEqual(self.rcpt("access", V4[1]), (
            554, "5.7.1 <forged.secure.example>: Unverified Client host "
                 "rejected: forged name"))

    def test_lookup_off(self):
        self.assertEqual(self.connect_line("nolookup", V4[0]),
                         "unknown[198.18.0.1]")


if __name__ == "__main__":
    pt.main()
