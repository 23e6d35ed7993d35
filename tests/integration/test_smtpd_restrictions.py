#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""smtpd_client_restrictions, smtpd_helo_restrictions and
smtpd_sender_restrictions are applied, at RCPT TO as Postfix does with
its default smtpd_delay_reject = yes, before the relay and recipient
lists; a permit ends only its own list.

Before, these three lists were accepted and silently ignored: a main.cf
carried over from Postfix would have looked protected and was not.  A
restriction postern does not know, in any list, refuses the start with
the parameter and the name, and so does one in smtpd_data_restrictions
that would need a check at DATA.

The client is Python's smtplib, from 127.0.0.1 and, to be refused by
check_client_access, from 127.0.0.2.

AccessKeys checks the lookup keys: network prefixes of the client, and
parent domains of HELO names and addresses (before, only the exact
address, name or domain was looked up, so "spam.example REJECT" let
mail.spam.example through).
"""
import os
import smtplib
import unittest

import pt
import srv

MAIN_CF = """
mynetworks = 192.0.2.0/24
smtpd_client_restrictions =
    check_client_access inline:{ { 127.0.0.2 = REJECT go away } }, permit
smtpd_helo_restrictions = reject_invalid_helo_hostname,
    reject_non_fqdn_helo_hostname,
    check_helo_access inline:{ { bad.example = REJECT no thanks } }
smtpd_sender_restrictions = reject_non_fqdn_sender,
    check_sender_access inline:{ { spammer.example = REJECT not you } }
"""


class Restrictions(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = pt.tempfile.mkdtemp(prefix="postern-restr-")
        cls.port = pt.free_port()
        cls.server = srv.Server(os.path.join(cls.tmp, "conf"), MAIN_CF,
                                [("smtp", cls.port, [])], workers=1)
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        srv.stop_and_clean(cls.server, cls.tmp)

    def rcpt(self, helo, sender, source="127.0.0.1"):
        """The RCPT reply for bob@mx.postern.test (code, text)."""
        with smtplib.SMTP("127.0.0.1", self.port, timeout=60,
                          source_address=(source, 0)) as s:
            code, msg = s.ehlo(helo)
            self.assertEqual(code, 250, msg)
            code, msg = s.mail(sender)
            self.assertEqual(code, 250, msg)
            return s.rcpt("bob@mx.postern.test")

    def test_accepted(self):
        self.assertEqual(self.rcpt("client.example.org",
                                   "alice@example.org")[0], 250)
        # the null sender has no domain to qualify
        self.assertEqual(self.rcpt("client.example.org", "")[0], 250)
        # an address literal is a fully qualified HELO
        self.assertEqual(self.rcpt("[127.0.0.1]", "alice@example.org")[0],
                         250)

    def test_helo(self):
        code, msg = self.rcpt("localhost", "alice@example.org")
        self.assertEqual((code, msg.decode()), (
            504, "5.5.2 <localhost>: Helo command rejected: need "
                 "fully-qualified hostname"))
        code, msg = self.rcpt("bad..example", "alice@example.org")
        self.assertEqual((code, msg.decode()), (
            501, "5.5.2 <bad..example>: Helo command rejected: Invalid name"))
        code, msg = self.rcpt("bad.example", "alice@example.org")
        self.assertEqual((code, msg.decode()), (
            554, "5.7.1 <bad.example>: Helo command rejected: no thanks"))

    def test_sender(self):
        code, msg = self.rcpt("client.example.org", "alice@localhost")
        self.assertEqual((code, msg.decode()), (
            504, "5.5.2 <alice@localhost>: Sender address rejected: need "
                 "fully-qualified address"))
        # the client list ended with permit: the sender list still runs
        code, msg = self.rcpt("client.example.org", "joe@Spammer.Example")
        self.assertEqual((code, msg.decode()), (
            554, "5.7.1 <joe@Spammer.Example>: Sender address rejected: "
                 "not you"))
        self.server.wait_log("NOQUEUE: reject: RCPT from localhost[127.0.0.1]: "
                             "554 5.7.1 <joe@Spammer.Example>: Sender address "
                             "rejected: not you; from=<joe@Spammer.Example> "
                             "to=<bob@mx.postern.test> proto=ESMTP "
                             "helo=<client.example.org>")

    def test_client_first(self):
        # the client list comes first, before the bad HELO and sender
        code, msg = self.rcpt("bad.example", "joe@spammer.example",
                              source="127.0.0.2")
        self.assertEqual((code, msg.decode()), (
            554, "5.7.1 <unknown[127.0.0.2]>: Client host rejected: go away"))

    def serve(self, main_cf):
        return srv.serve_once(self.tmp, main_cf)

    def test_unknown_restriction_refused(self):
        r = self.serve("smtpd_sender_restrictions = "
                       "reject_unverified_sender\n")
        self.assertEqual(r.returncode, 1)
        self.assertIn("smtpd_sender_restrictions: unknown restriction "
                      "\"reject_unverified_sender\"", r.stderr)
        self.assertIn("check_sender_access", r.stderr)  # what it knows

    def test_data_restriction_refused(self):
        r = self.serve("smtpd_data_restrictions = reject_unauth_pipelining, "
                       "reject\n")
        self.assertEqual(r.returncode, 1)
        self.assertIn("smtpd_data_restrictions: \"reject\" is not supported "
                      "there", r.stderr)
        r = self.serve("smtpd_data_restrictions = reject_unauth_pipelining, "
                       "reject_bogus\n")
        self.assertIn("unknown restriction \"reject_bogus\"", r.stderr)


class AccessKeys(unittest.TestCase):
    """The keys an access table is searched with, as Postfix's access(5):
    a client address and its networks ("127.0.0"), a HELO name and its
    parent domains, an address, its domain and that domain's parents,
    then "user@".  Parent domains match as "spam.example" while
    parent_domain_matches_subdomains lists smtpd_access_maps (Postfix's
    default), as ".spam.example" otherwise."""

    TABLES = """
smtpd_client_restrictions =
    check_client_access inline:{ { 127.0.3 = REJECT net 127.0.3 } }
smtpd_helo_restrictions =
    check_helo_access inline:{ { spam.example = REJECT helo parent },
                               { .sub.example = REJECT helo dot form } }
smtpd_sender_restrictions =
    check_sender_access inline:{ { spam.example = REJECT sender parent },
                                 { .sub.example = REJECT sender dot form },
                                 { postmaster@ = OK } }
"""

    def server(self, extra=""):
        tmp = pt.tempfile.mkdtemp(prefix="postern-access-")
        port = pt.free_port()
        server = srv.Server(os.path.join(tmp, "conf"), self.TABLES + extra,
                            [("smtp", port, [])], workers=1)
        server.start()
        self.addCleanup(srv.stop_and_clean, server, tmp)
        return port

    def rcpt(self, port, helo, sender, source="127.0.0.1"):
        with smtplib.SMTP("127.0.0.1", port, timeout=60,
                          source_address=(source, 0)) as s:
            s.ehlo(helo)
            s.mail(sender)
            code, msg = s.rcpt("bob@mx.postern.test")
            return code, msg.decode()

    def test_parents_and_networks(self):
        port = self.server()
        self.assertEqual(self.rcpt(port, "c.example.org", "a@example.org",
                                   source="127.0.3.9"),
                         (554, "5.7.1 <unknown[127.0.3.9]>: Client host "
                               "rejected: net 127.0.3"))
        self.assertEqual(self.rcpt(port, "host.spam.example",
                                   "a@example.org")[1],
                         "5.7.1 <host.spam.example>: Helo command "
                         "rejected: helo parent")
        self.assertEqual(self.rcpt(port, "c.example.org",
                                   "a@mail.spam.example")[1],
                         "5.7.1 <a@mail.spam.example>: Sender address "
                         "rejected: sender parent")
        # "postmaster@" after the domains: an OK for any postmaster
        self.assertEqual(self.rcpt(port, "c.example.org",
                                   "postmaster@elsewhere.example")[0], 250)
        # the dot form is not used while parents match without it
        self.assertEqual(self.rcpt(port, "c.example.org",
                                   "a@x.sub.example")[0], 250)

    def test_dot_form_without_parent_matching(self):
        port = self.server("parent_domain_matches_subdomains = "
                           "relay_domains\n")
        self.assertEqual(self.rcpt(port, "c.example.org",
                                   "a@mail.spam.example")[0], 250)
        self.assertEqual(self.rcpt(port, "c.example.org",
                                   "a@x.sub.example")[1],
                         "5.7.1 <a@x.sub.example>: Sender address "
                         "rejected: sender dot form")
        self.assertEqual(self.rcpt(port, "h.sub.example",
                                   "a@example.org")[1],
                         "5.7.1 <h.sub.example>: Helo command rejected: "
                         "helo dot form")



class AccessActions(unittest.TestCase):
    """The access(5) actions that do not decide alone (also what policy
    services answer): DEFER_IF_PERMIT and DEFER_IF_REJECT change a later
    verdict, PREPEND adds a header above Received:, WARN and INFO are
    logged, and a DSN at the start of a REJECT text is used."""

    def test_actions(self):
        tmp = pt.tempfile.mkdtemp(prefix="postern-actions-")
        port = pt.free_port()
        server = srv.Server(os.path.join(tmp, "conf"), """
smtpd_sender_restrictions = check_sender_access inline:{
    { dip.example = DEFER_IF_PERMIT 4.7.0 not yet },
    { dir.example = DEFER_IF_REJECT 4.7.0 ask later },
    { warn.example = WARN looks odd },
    { info.example = INFO seen },
    { pre.example = PREPEND X-Checked: yes },
    { dsn.example = REJECT 5.7.9 no such thing } }
smtpd_recipient_restrictions = reject_unauth_destination,
    check_recipient_access inline:{ { never@mx.postern.test = REJECT } }
""", [("smtp", port, [])], workers=1).start()
        self.addCleanup(srv.stop_and_clean, server, tmp)

        def rcpt(sender, rcpt="bob@mx.postern.test", body=None):
            with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
                s.ehlo("client.example")
                s.mail(sender)
                code, msg = s.rcpt(rcpt)
                if code == 250 and body:
                    s.data(body)
                return code, msg.decode()

        self.assertEqual(rcpt("a@dip.example"), (
            450, "4.7.0 <a@dip.example>: Sender address rejected: not yet"))
        # a later explicit reject wins over DEFER_IF_PERMIT ...
        self.assertEqual(rcpt("a@dip.example", "never@mx.postern.test")[0],
                         554)
        # ... and DEFER_IF_REJECT turns it into a deferral
        self.assertEqual(rcpt("a@dir.example", "never@mx.postern.test"), (
            450, "4.7.0 <a@dir.example>: Sender address rejected: ask "
                 "later"))
        self.assertEqual(rcpt("a@dir.example")[0], 250)
        self.assertEqual(rcpt("a@warn.example")[0], 250)
        self.assertEqual(rcpt("a@info.example")[0], 250)
        server.wait_log("NOQUEUE: warn: RCPT from localhost[127.0.0.1]: looks "
                        "odd; from=<a@warn.example>")
        server.wait_log("NOQUEUE: info: RCPT from localhost[127.0.0.1]: seen;")
        self.assertEqual(rcpt("a@dsn.example"), (
            554, "5.7.9 <a@dsn.example>: Sender address rejected: no such "
                 "thing"))
        self.assertEqual(rcpt("a@pre.example",
                              body=b"Subject: p\r\n\r\nprepended\r\n")[0],
                         250)
        data = server.find_message("prepended")
        self.assertIn(b"\nX-Checked: yes\r\nReceived: from client.example",
                      data)


if __name__ == "__main__":
    pt.main()
