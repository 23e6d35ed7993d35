#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""smtpd_reject_unlisted_recipient: unknown users of a virtual mailbox
domain are refused at RCPT TO, as Postfix does by default, instead of
being accepted and bounced later (backscatter to forged senders).

virt.test lists carol; catch.test has an "@catch.test" catch-all.  eve at
virt.test gets 550 5.1.1 (RCPT and VRFY), carol and anyone at catch.test
are accepted, other domains are left to relay control, and with the
parameter set to no eve is accepted again.  The restriction
reject_unlisted_recipient does the same inside a list.

local_recipient_maps does the same for the local domain mx.postern.test
(lookups as user+ext@domain, user@domain, user+ext, user, with
recipient_delimiter = +): listed users and their +extensions are
accepted, others get unknown_local_recipient_reject_code with Postfix's
"User unknown in local recipient table"; unset, any local user is
accepted (postern has no passwd lookups); a table type postern lacks
(Postfix's default unix:passwd.byname) refuses the start.
"""
import os
import smtplib

import pt
import srv


class Unlisted(pt.TempDirTest):

    def server(self, extra=""):
        vmaps = os.path.join(self.tmp, "vmailbox")
        with open(vmaps, "w") as f:
            f.write("carol@virt.test   virt.test/carol/\n"
                    "@catch.test       catch.test/all/\n")
        port = pt.free_port()
        s = srv.Server(os.path.join(self.tmp, "s%d" % port), (
            "mynetworks = 127.0.0.0/8\n"
            "virtual_mailbox_domains = virt.test, catch.test\n"
            "virtual_mailbox_maps = texthash:%s\n"
            "virtual_mailbox_base = %s\n" % (vmaps, self.tmp)) + extra,
            [("smtp", port, [])], workers=1)
        s.start()
        self.addCleanup(s.stop)
        return s, port

    def rcpts(self, port, *addrs):
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
            s.ehlo("client.example.org")
            s.mail("alice@example.org")
            return [(c, m.decode()) for c, m in (s.rcpt(a) for a in addrs)]

    def test_unknown_virtual_user_refused(self):
        server, port = self.server()
        got = self.rcpts(port, "eve@virt.test", "Carol@Virt.Test",
                         "anyone@catch.test", "bob@elsewhere.example")
        self.assertEqual(got[0], (550, "5.1.1 <eve@virt.test>: Recipient "
                                       "address rejected: User unknown in "
                                       "virtual mailbox table"))
        self.assertEqual(got[1][0], 250)
        self.assertEqual(got[2][0], 250)
        self.assertEqual(got[3][0], 250)  # mynetworks may relay
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
            s.ehlo("client.example.org")
            code, _ = s.verify("eve@virt.test")
            self.assertEqual(code, 550)
        server.wait_log("NOQUEUE: reject: RCPT from localhost[127.0.0.1]: "
                        "550 5.1.1 <eve@virt.test>")

    def test_off_and_as_a_restriction(self):
        _, port = self.server("smtpd_reject_unlisted_recipient = no\n")
        self.assertEqual(self.rcpts(port, "eve@virt.test")[0][0], 250)
        _, port = self.server(
            "smtpd_reject_unlisted_recipient = no\n"
            "smtpd_recipient_restrictions = reject_unlisted_recipient\n")
        self.assertEqual(self.rcpts(port, "eve@virt.test")[0][0], 550)

    def test_local_recipient_maps(self):
        users = os.path.join(self.tmp, "local_users")
        with open(users, "w") as f:
            f.write("bob ok\npostmaster ok\nfred@mx.postern.test ok\n")
        server, port = self.server("recipient_delimiter = +\n"
                                   "local_recipient_maps = texthash:%s\n"
                                   % users)
        got = self.rcpts(port, "bob@mx.postern.test", "Bob+lists@MX.postern."
                         "test", "fred@mx.postern.test", "postmaster",
                         "mallory@mx.postern.test", "fred+x@mx.postern.test")
        self.assertEqual([c for c, _ in got], [250, 250, 250, 250, 550, 250])
        self.assertEqual(got[4][1], "5.1.1 <mallory@mx.postern.test>: "
                                    "Recipient address rejected: User "
                                    "unknown in local recipient table")
        server.wait_log("NOQUEUE: reject: RCPT from localhost[127.0.0.1]: "
                        "550 5.1.1 <mallory@mx.postern.test>")
        # a temporary code, as Postfix allows for a table being rebuilt
        _, port = self.server("local_recipient_maps = texthash:%s\n"
                              "unknown_local_recipient_reject_code = 450\n"
                              % users)
        self.assertEqual(self.rcpts(port, "mallory@mx.postern.test")[0],
                         (450, "4.1.1 <mallory@mx.postern.test>: Recipient "
                               "address rejected: User unknown in local "
                               "recipient table"))
        # unset: every local part is accepted
        _, port = self.server()
        self.assertEqual(self.rcpts(port, "mallory@mx.postern.test")[0][0],
                         250)
        r = srv.serve_once(os.path.join(self.tmp, "once"),
                           "local_recipient_maps = unix:passwd.byname\n")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("local_recipient_maps", r.stderr)
        self.assertIn("list the local users in a table", r.stderr)


if __name__ == "__main__":
    pt.main()
