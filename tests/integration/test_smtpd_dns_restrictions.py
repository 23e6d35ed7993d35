#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The DNS-based restrictions of postern serve, against a real DNS
hierarchy on loopback (tests/dns/world.py: knot serving signed zones) and
Python's smtplib as the client (127.0.0.1):

- reject_rbl_client DOMAIN: 127.0.0.1 listed as 1.0.0.127.DOMAIN gets
  Postfix's default_rbl_reply, "554 5.7.1 Service unavailable; Client
  host [127.0.0.1] blocked using DOMAIN; " and the TXT record's text; not
  listed, the mail goes through; DOMAIN=127.0.0.[2..9] and [10;11]
  filters pick by the A record's value;
- reject_rhsbl_sender DOMAIN: a sender domain listed under DOMAIN;
- check_sender_mx_access / check_recipient_mx_access: the MX hosts of
  the domain by name (and parent domains) and by address (a cidr table
  of bogus networks), OK counting as DUNNO; check_sender_ns_access: the
  name servers, of the nearest domain that has some;
- permit_dnswl_client DOMAIN: a listed client is permitted (the RBL after
  it is not asked), but never past reject_unauth_destination;
- reject_unknown_sender_domain / reject_unknown_recipient_domain: no MX,
  A or AAAA gets "450 4.1.8 <a>: Sender address rejected: Domain not
  found" (4.1.2 for a recipient); an A record alone is enough; a null MX
  gets "550 5.7.27 ... does not accept mail (nullMX)"; a lookup that
  fails (a bogus DNSSEC answer: SERVFAIL) defers only what would be
  permitted (defer_if_permit);
- reject_unknown_helo_hostname: "450 4.7.1 <helo>: Helo command
  rejected: Host not found";
- pipelined RCPTs that each wait for DNS are answered in order;
- a list entry without its domain is a configuration error, and a RCPT
  that would wait for more than 24 answers in a row is deferred;
- each rejection is logged as Postfix logs it (NOQUEUE: reject: RCPT).

Before, each of these restriction names refused the start: a Postfix
main.cf with an RBL could not be used at all."""
import os
import smtplib
import sys
import tempfile
import unittest

import pt
import srv

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "dns"))
from world import World  # noqa: E402

RECORDS = [
    # the client 127.0.0.1 on two lists, one of them with a reason
    "1.0.0.127.bl A 127.0.0.2",
    '1.0.0.127.bl TXT "listed: see https://bl.example/127.0.0.1"',
    "1.0.0.127.codes A 127.0.0.10",
    # ... and on a whitelist
    "1.0.0.127.wl A 127.0.0.5",
    # a listed sender domain
    "spammer.example.dbl A 127.0.1.2",
    # sender and recipient domains
    "known MX 10 mail.known",
    "mail.known A 192.0.2.1",
    "aonly A 192.0.2.2",
    "nullmx MX 0 .",
    # a HELO name that resolves
    "client A 192.0.2.3",
    # MX hosts for check_*_mx_access: one in the loopback network, one
    # under a listed name
    "loopmx MX 10 lo.loopmx",
    "lo.loopmx A 127.0.0.1",
    "namedmx MX 10 mx.badhost",
    "mx.badhost A 192.0.2.50",
]

LISTS = {
    "rbl": ["smtpd_client_restrictions=reject_rbl_client,bl.example"],
    "clean": ["smtpd_client_restrictions=reject_rbl_client,nothing.example"],
    # a reply template per DNSBL (rbl_reply_maps), and another default
    "rbl_map": ["smtpd_client_restrictions=reject_rbl_client,bl.example",
                "rbl_reply_maps=texthash:%(rblmap)s"],
    "rbl_default": ["smtpd_client_restrictions=reject_rbl_client,bl.example",
                    "{ default_rbl_reply = $rbl_code 5.7.9 Go away, "
                    "$rbl_what${rbl_reason:, no reason} }"],
    "codes_no": ["smtpd_client_restrictions="
                 "reject_rbl_client,codes.example=127.0.0.[2..9]"],
    "codes_yes": ["smtpd_client_restrictions="
                  "reject_rbl_client,codes.example=127.0.0.[10;11]"],
    "rhsbl": ["smtpd_sender_restrictions=reject_rhsbl_sender,dbl.example"],
    "unknown": ["smtpd_sender_restrictions=reject_unknown_sender_domain",
                "smtpd_recipient_restrictions="
                "reject_unknown_recipient_domain,permit"],
    "dip_reject": ["smtpd_sender_restrictions=reject_unknown_sender_domain,"
                   "check_sender_access,inline:{x.bogus.example=REJECT}"],
    "dip": ["smtpd_sender_restrictions=reject_unknown_sender_domain",
            "unknown_address_reject_code=550"],
    "helo": ["smtpd_helo_restrictions=reject_unknown_helo_hostname"],
    "mx_cidr": ["smtpd_sender_restrictions=check_sender_mx_access,"
                "cidr:%(cidr)s,check_sender_access,texthash:%(names)s"],
    "mx_name": ["smtpd_recipient_restrictions=reject_unauth_destination,"
                "check_recipient_mx_access,texthash:%(names)s"],
    "ns": ["smtpd_sender_restrictions=check_sender_ns_access,"
           "texthash:%(names)s"],
    "dnswl": ["smtpd_client_restrictions=permit_dnswl_client,wl.example,"
              "reject_rbl_client,bl.example"],
    "dnswl_relay": ["smtpd_relay_restrictions=permit_dnswl_client,wl.example,"
                    "reject_unauth_destination"],
    # more lookups for one RCPT than postern waits for
    "many": ["smtpd_client_restrictions=" + ",".join(
        "reject_rbl_client,l%d.example" % i for i in range(30))],
}


class DnsRestrictions(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="postern-dnsrestr-")
        cls.world = World(extra={"example.": RECORDS},
                          tmp=os.path.join(cls.tmp, "dns"))
        os.makedirs(cls.world.dir, exist_ok=True)
        cls.world.start()
        # the workers read the trust anchor after dropping privileges
        os.chmod(cls.tmp, 0o755)
        os.chmod(cls.world.dir, 0o755)
        cidr = os.path.join(cls.tmp, "bogus_mx.cidr")
        with open(cidr, "w") as f:
            f.write("127.0.0.0/8   REJECT Domain MX in loopback network\n"
                    "192.0.2.1/32  OK\n")
        os.chmod(cidr, 0o644)
        names = os.path.join(cls.tmp, "bad_mx_names")
        with open(names, "w") as f:
            f.write("badhost.example  REJECT bad mail server\n"
                    "known.example    REJECT still checked\n"
                    "ns.example       REJECT bad name server\n")
        os.chmod(names, 0o644)
        rblmap = os.path.join(cls.tmp, "rbl_reply")
        with open(rblmap, "w") as f:
            f.write("bl.example  450 $client_address is listed at "
                    "$rbl_domain${rbl_reason?: $rbl_reason} (mail for "
                    "$recipient from $sender_domain, $$5)\n")
        os.chmod(rblmap, 0o644)
        cls.ports = pt.free_ports(LISTS)
        cls.server = srv.Server(
            os.path.join(cls.tmp, "srv"),
            "dns_resolver_addresses = %s@%d\n"
            "dnssec_trust_anchor_file = %s\n"
            "smtp_dns_support_level = dnssec\n"
            "mynetworks = 192.0.2.0/24\n"
            "relay_domains = known.example aonly.example nullmx.example "
            "nosuch.example x.bogus.example namedmx.example\n"
            % (cls.world.addr, cls.world.port, cls.world.trust_anchor),
            [(n, cls.ports[n],
              [o % {"cidr": cidr, "names": names, "rblmap": rblmap}
               for o in LISTS[n]])
             for n in LISTS],
            workers=1).start()

    @classmethod
    def tearDownClass(cls):
        srv.stop_with_world([cls.server], cls.world, cls.tmp)

    def rcpt(self, name, sender="a@known.example", rcpt="b@known.example",
             helo="client.example"):
        s = smtplib.SMTP("127.0.0.1", self.ports[name], timeout=120)
        self.addCleanup(s.close)
        s.ehlo(helo)
        self.assertEqual(s.mail(sender)[0], 250)
        code, msg = s.rcpt(rcpt)
        s.quit()
        return code, msg.decode()

    def test_rbl_client(self):
        self.assertEqual(self.rcpt("rbl"), (
            554, "5.7.1 Service unavailable; Client host [127.0.0.1] "
                 "blocked using bl.example; listed: see "
                 "https://bl.example/127.0.0.1"))
        self.assertEqual(self.rcpt("clean")[0], 250)
        self.server.wait_log("NOQUEUE: reject: RCPT from localhost[127.0.0.1]: "
                             "554 5.7.1 Service unavailable; Client host "
                             "[127.0.0.1] blocked using bl.example;")

    def test_rbl_reply_templates(self):
        # rbl_reply_maps: the code of the template decides, the enhanced
        # status code is added, $names and ${name?text} are filled in
        self.assertEqual(self.rcpt("rbl_map"), (
            450, "4.7.1 127.0.0.1 is listed at bl.example: listed: see "
                 "https://bl.example/127.0.0.1 (mail for b@known.example "
                 "from known.example, $5)"))
        # default_rbl_reply: a template of one's own, with its own
        # enhanced status code kept
        self.assertEqual(self.rcpt("rbl_default"), (
            554, "5.7.9 Go away, 127.0.0.1"))

    def test_dnswl(self):
        # whitelisted: the blacklist after it in the list is not reached
        self.assertEqual(self.rcpt("dnswl")[0], 250)
        # but a whitelist never opens relaying
        self.assertEqual(self.rcpt("dnswl_relay")[0], 250)
        code, msg = self.rcpt("dnswl_relay", rcpt="x@elsewhere.example")
        self.assertEqual(code, 554, msg)
        self.assertIn("Relay access denied", msg)

    def test_mx_access(self):
        # by address: the sender domain's MX host is in 127.0.0.0/8
        self.assertEqual(self.rcpt("mx_cidr", sender="a@loopmx.example"), (
            554, "5.7.1 <a@loopmx.example>: Sender address rejected: "
                 "Domain MX in loopback network"))
        # OK counts as DUNNO: the next restriction still runs (and the
        # domain without MX is its own host)
        self.assertEqual(self.rcpt("mx_cidr", sender="a@known.example"), (
            554, "5.7.1 <a@known.example>: Sender address rejected: still "
                 "checked"))
        self.assertEqual(self.rcpt("mx_cidr", sender="a@aonly.example")[0],
                         250)
        # by name: the recipient domain's MX host under a listed parent
        self.assertEqual(self.rcpt("mx_name", rcpt="b@namedmx.example"), (
            554, "5.7.1 <b@namedmx.example>: Recipient address rejected: "
                 "bad mail server"))
        self.assertEqual(self.rcpt("mx_name", rcpt="b@aonly.example")[0],
                         250)

    def test_ns_access(self):
        # every zone of the test world is served by ns.example
        self.assertEqual(self.rcpt("ns", sender="a@secure.example"), (
            554, "5.7.1 <a@secure.example>: Sender address rejected: bad "
                 "name server"))
        # no NS records at the name itself: its parent's
        self.assertEqual(self.rcpt("ns", sender="a@mx1.secure.example")[0],
                         554)
        self.assertEqual(self.rcpt("ns", sender="a@known.example")[0], 250)

    def test_rbl_filters(self):
        self.assertEqual(self.rcpt("codes_no")[0], 250)
        self.assertEqual(self.rcpt("codes_yes"), (
            554, "5.7.1 Service unavailable; Client host [127.0.0.1] "
                 "blocked using codes.example"))

    def test_rhsbl_sender(self):
        self.assertEqual(self.rcpt("rhsbl", sender="x@spammer.example"), (
            554, "5.7.1 Service unavailable; Sender address "
                 "[spammer.example] blocked using dbl.example"))
        self.assertEqual(self.rcpt("rhsbl", sender="x@known.example")[0], 250)
        self.assertEqual(self.rcpt("rhsbl", sender="")[0], 250)

    def test_unknown_domains(self):
        self.assertEqual(self.rcpt("unknown")[0], 250)
        self.assertEqual(self.rcpt("unknown", sender="a@aonly.example",
                                   rcpt="b@aonly.example")[0], 250)
        self.assertEqual(self.rcpt("unknown", sender="a@nosuch.example"), (
            450, "4.1.8 <a@nosuch.example>: Sender address rejected: "
                 "Domain not found"))
        self.assertEqual(self.rcpt("unknown", rcpt="b@nosuch.example"), (
            450, "4.1.2 <b@nosuch.example>: Recipient address rejected: "
                 "Domain not found"))
        self.assertEqual(self.rcpt("unknown", sender="a@nullmx.example"), (
            550, "5.7.27 <a@nullmx.example>: Sender address rejected: "
                 "Domain nullmx.example does not accept mail (nullMX)"))
        # the null sender is not checked
        self.assertEqual(self.rcpt("unknown", sender="")[0], 250)

    def test_lookup_failure_defers_if_permitted(self):
        # the lookup fails: what would be permitted is deferred ...
        # (a code of 550 for "not found" tells the two apart)
        self.assertEqual(self.rcpt("dip", sender="a@nosuch.example")[0], 550)
        self.assertEqual(self.rcpt("dip", sender="a@x.bogus.example"), (
            450, "4.1.8 <a@x.bogus.example>: Sender address rejected: "
                 "Domain not found"))
        # ... but a later explicit reject still rejects
        self.assertEqual(self.rcpt("dip_reject",
                                   sender="a@x.bogus.example")[0], 554)

    def test_unknown_helo(self):
        self.assertEqual(self.rcpt("helo", helo="client.example")[0], 250)
        self.assertEqual(self.rcpt("helo", helo="nosuch.example"), (
            450, "4.7.1 <nosuch.example>: Helo command rejected: Host not "
                 "found"))
        # an address literal is not looked up
        self.assertEqual(self.rcpt("helo", helo="[127.0.0.1]")[0], 250)

    def test_too_many_lookups(self):
        self.assertEqual(self.rcpt("many"), (
            451, "4.3.0 <b@known.example>: Temporary lookup failure"))
        self.server.wait_log("DNS and policy lookups for <b@known.example>: "
                             "deferring")

    def test_pipelined_rcpts_wait_in_order(self):
        # three pipelined RCPTs, each waiting for DNS in turn: the replies
        # come in order and the transaction goes on
        s = smtplib.SMTP("127.0.0.1", self.ports["unknown"], timeout=120)
        self.addCleanup(s.close)
        s.ehlo("client.example")
        s.send(b"MAIL FROM:<a@known.example>\r\n"
               b"RCPT TO:<b@known.example>\r\n"
               b"RCPT TO:<b@nosuch.example>\r\n"
               b"RCPT TO:<c@aonly.example>\r\n"
               b"DATA\r\n")
        replies = [s.getreply()[0] for _ in range(5)]
        self.assertEqual(replies, [250, 250, 450, 250, 354])
        s.send(b"Subject: t\r\n\r\npipelined\r\n.\r\n")
        self.assertEqual(s.getreply()[0], 250)
        s.quit()



class Syntax(unittest.TestCase):

    def test_missing_domain(self):
        d = tempfile.mkdtemp(prefix="postern-dnsrestr-syntax-")
        self.addCleanup(__import__("shutil").rmtree, d, True)
        with open(os.path.join(d, "main.cf"), "w") as f:
            f.write("queue_directory = %s/q\n"
                    "smtpd_client_restrictions = reject_rbl_client\n" % d)
        with open(os.path.join(d, "master.cf"), "w") as f:
            f.write("127.0.0.1:2525 inet n - n - - smtpd\n")
        r = pt.postern("check", "-c", d)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("reject_rbl_client needs a DNS domain argument",
                      r.stdout + r.stderr)
        with open(os.path.join(d, "main.cf"), "a") as f:
            f.write("smtpd_client_restrictions = "
                    "reject_rbl_client bl.example=127.0.0.[2..\n")
        r = pt.postern("check", "-c", d)
        self.assertIn("reject_rbl_client needs a DNS domain argument",
                      r.stdout + r.stderr)


if __name__ == "__main__":
    pt.main()
