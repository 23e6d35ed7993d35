#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""virtual_alias_maps and virtual_alias_domains (and relocated_maps), as
in Postfix: postern
serve (Python's smtplib as the client) and postern send replace each
recipient by its aliases as the message is queued, recursively:

- an alias to several addresses, a chain of aliases, the @domain
  catch-all, user+ext@domain found as user@domain (recipient_delimiter),
  an alias that names itself (kept) and one in a local domain;
- each final address once; each alias keeps, as ORCPT, the address the
  client gave, and its NOTIFY;
- smtpd accepts mail for a virtual alias domain from a client that may
  not relay, refuses an address of it that no alias lists ("550 5.1.1
  ... User unknown in virtual alias table"), and an alias in a local
  domain passes local_recipient_maps;
- aliases nested deeper than virtual_alias_recursion_limit defer the
  message (451) rather than queue it half expanded;
- relocated_maps: a user who has moved (the address, without its
  extension, or a whole @domain) is refused with "550 5.1.6 ... User has
  moved to ...", before any other table is asked.

Before, both parameters refused the start: a Postfix that forwards the
addresses of its domains could not move to postern."""
import os
import smtplib
import tempfile
import unittest

import pt
import queuefile
import srv

ALIASES = """\
info@alias.test      bob@remote.test, <carol@mx.postern.test>
also@alias.test      bob@remote.test
a@alias.test         b@alias.test
b@alias.test         c@remote.test
keep@alias.test      keep@alias.test copy@remote.test
@catch.test          all@remote.test
plus@alias.test      plus-dest@remote.test
loop1@alias.test     loop2@alias.test
loop2@alias.test     loop1@alias.test
localalias@mx.postern.test   dave@remote.test
moved@alias.test     someone@remote.test
"""


class VirtualAlias(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="postern-valias-")
        aliases = os.path.join(cls.tmp, "virtual")
        with open(aliases, "w") as f:
            f.write(ALIASES)
        moved = os.path.join(cls.tmp, "relocated")
        with open(moved, "w") as f:
            f.write("gone@mx.postern.test  gone@new.test\n"
                    "moved@alias.test      www.new.test/contact\n"
                    "@old.test             the same user at new.test\n")
        users = os.path.join(cls.tmp, "users")
        with open(users, "w") as f:
            f.write("postmaster@mx.postern.test x\n")
        cls.ports = pt.free_ports(("smtp", "noprop"))
        cls.port = cls.ports["smtp"]
        cls.server = srv.Server(os.path.join(cls.tmp, "srv"), (
            # 127.0.0.1 may not relay: only our domains are accepted
            "mynetworks = 192.0.2.0/24\n"
            "recipient_delimiter = +\n"
            "virtual_alias_domains = alias.test, catch.test\n"
            "virtual_alias_maps = texthash:%s\n"
            "virtual_alias_recursion_limit = 5\n"
            "relay_domains = old.test\n"
            "relocated_maps = texthash:%s\n"
            "local_recipient_maps = texthash:%s\n" % (aliases, moved,
                                                       users)),
            [("smtp", cls.port, []),
             ("noprop", cls.ports["noprop"],
              ["propagate_unmatched_extensions=canonical"])],
            workers=1).start()

    @classmethod
    def tearDownClass(cls):
        srv.stop_and_clean(cls.server, cls.tmp)

    def session(self, port=None):
        s = smtplib.SMTP("127.0.0.1", port or self.port, timeout=60)
        s.ehlo("client.test")
        return s

    def test_rcpt(self):
        with self.session() as s:
            s.mail("sender@example.org")
            self.assertEqual(s.rcpt("info@alias.test")[0], 250)
            self.assertEqual(s.rcpt("whatever@catch.test")[0], 250)
            self.assertEqual(s.rcpt("plus+tag@alias.test")[0], 250)
            # an alias in a local domain is a known recipient
            self.assertEqual(s.rcpt("localalias@mx.postern.test")[0], 250)
            code, msg = s.rcpt("nobody@alias.test")
            self.assertEqual((code, msg.decode()), (
                550, "5.1.1 <nobody@alias.test>: Recipient address "
                     "rejected: User unknown in virtual alias table"))
            code, msg = s.rcpt("stranger@mx.postern.test")
            self.assertEqual(code, 550, msg)
            self.assertIn(b"local recipient table", msg)
            # Postfix's default relay restrictions: defer_unauth_destination
            code, msg = s.rcpt("x@remote.test")
            self.assertEqual(code, 454, msg)
            self.assertIn(b"Relay access denied", msg)

    def test_relocated(self):
        with self.session() as s:
            s.mail("sender@example.org")
            for rcpt, where in (("gone@mx.postern.test", "gone@new.test"),
                                ("Gone+list@mx.postern.test",
                                 "gone@new.test"),
                                ("anyone@old.test",
                                 "the same user at new.test")):
                code, msg = s.rcpt(rcpt)
                self.assertEqual((code, msg.decode()), (
                    550, "5.1.6 <%s>: Recipient address rejected: User has "
                         "moved to %s" % (rcpt, where)))
            # even for an address an alias would take
            code, msg = s.rcpt("moved@alias.test")
            self.assertEqual((code, msg.decode()), (
                550, "5.1.6 <moved@alias.test>: Recipient address rejected: "
                     "User has moved to www.new.test/contact"))

    def queued(self, rcpts, token, rcpt_options=(), port=None):
        with self.session(port) as s:
            s.mail("sender@example.org")
            for r in rcpts:
                code, msg = s.rcpt(r, list(rcpt_options))
                self.assertEqual(code, 250, (r, msg))
            code, msg = s.data("Subject: %s\r\n\r\n%s\r\n" % (token, token))
            self.assertEqual(code, 250, msg)
        data = self.server.find_message(token)
        self.assertIsNotNone(data, token)
        return queuefile.rcpt_fields(data)

    def test_expansion(self):
        got = self.queued(["info@alias.test", "also@alias.test",
                           "a@alias.test", "keep@alias.test",
                           "someone@catch.test", "plus+tag@alias.test",
                           "localalias@mx.postern.test"], "valias-one",
                          rcpt_options=["NOTIFY=FAILURE"])
        self.assertEqual([(a, f.get("orcpt")) for a, f in got], [
            ("bob@remote.test", "rfc822;info@alias.test"),
            ("carol@mx.postern.test", "rfc822;info@alias.test"),
            ("c@remote.test", "rfc822;a@alias.test"),
            ("keep@alias.test", None),
            ("copy@remote.test", "rfc822;keep@alias.test"),
            ("all@remote.test", "rfc822;someone@catch.test"),
            # the extension the lookup cut goes on to the result
            # (propagate_unmatched_extensions names virtual by default)
            ("plus-dest+tag@remote.test", "rfc822;plus+tag@alias.test"),
            ("dave@remote.test", "rfc822;localalias@mx.postern.test"),
        ])
        for a, f in got:
            self.assertEqual(f.get("notify"), "failure", a)

    def test_extension_propagation(self):
        # through two aliases, the extension stays
        got = self.queued(["a+x@alias.test"], "valias-ext")
        self.assertEqual([a for a, _ in got], ["c+x@remote.test"])
        # without virtual in propagate_unmatched_extensions it is dropped
        got = self.queued(["plus+tag@alias.test", "a+x@alias.test"],
                          "valias-noprop", port=self.ports["noprop"])
        self.assertEqual([a for a, _ in got],
                         ["plus-dest@remote.test", "c@remote.test"])

    def test_client_orcpt_wins(self):
        got = self.queued(["info@alias.test"], "valias-two",
                          rcpt_options=["ORCPT=rfc822;first@origin.test"])
        self.assertEqual([f.get("orcpt") for _, f in got],
                         ["rfc822;first@origin.test"] * 2)

    def test_loop_defers(self):
        with self.session() as s:
            s.mail("sender@example.org")
            self.assertEqual(s.rcpt("loop1@alias.test")[0], 250)
            code, msg = s.data("Subject: valias-loop\r\n\r\nloop\r\n")
        self.assertEqual(code, 451, msg)
        self.server.wait_log("virtual_alias_maps: more than 5 levels of "
                             "aliases")
        self.assertIsNone(self.server.find_message("valias-loop"))

    def test_local_submission(self):
        p = pt.postern("send", "-c", self.server.d, "-f", "me@example.org",
                       "info@alias.test",
                       input="Subject: valias-local\n\nlocal\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        data = pt.wait_for(
            lambda: next((self.server.queue_file(q, "maildrop")
                          for q in self.server.queued("maildrop")
                          if b"valias-local" in
                          self.server.queue_file(q, "maildrop")), None),
            "the submission in maildrop/")
        self.assertEqual(queuefile.rcpts(data),
                         ["bob@remote.test", "carol@mx.postern.test"])


if __name__ == "__main__":
    pt.main()
