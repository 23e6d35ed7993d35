#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""hopcount_limit: a message that has been through too many hops (a mail
loop) is refused at the end of DATA, as Postfix refuses it.

The same messages go to a private Postfix 3.7 and to postern serve, side
by side (pfpeer.side_by_side), and both must answer alike: with the
default limit of 50, a message that already carries 49 Received: headers
is refused (554 5.4.0 Error: too many hops), one with 48 is accepted.
The header name is matched without regard to case; X-Received and
Received-SPF are other headers; Received: lines in the body do not
count.  With a limit of one's own (a second listener, -o
hopcount_limit=5) postern counts the same way.
"""
import os
import smtplib
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import pfpeer  # noqa: E402
import pt  # noqa: E402
import srv  # noqa: E402


def message(received, name="Received", body=""):
    """A message with that many name: headers on top."""
    hdrs = "".join("%s: from hop%d.example by mx%d.example; "
                   "Sun, 29 Nov 2026 05:00:%02d +0000\r\n" %
                   (name, i, i, i % 60) for i in range(received))
    return (hdrs + "From: a@client.example\r\nTo: b@known.example\r\n"
            "Subject: hops %d %s\r\n\r\nbody\r\n%s" %
            (received, name, body)).encode()


def send(port, raw):
    """The DATA reply (code, text) for raw."""
    with smtplib.SMTP("127.0.0.1", port, timeout=120) as s:
        s.ehlo("client.example")
        s.mail("a@client.example")
        s.rcpt("b@known.example")
        try:
            code, text = s.data(raw)
        except smtplib.SMTPDataError as e:
            code, text = e.smtp_code, e.smtp_error
        return code, text.decode()


@unittest.skipUnless(pt.have("postfix") and os.geteuid() == 0,
                     "needs Postfix and root for a private instance")
class SameAsPostfix(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = pfpeer.tmpdir("postern-hops-pf-")
        cls.pf, cls.server, cls.port = pfpeer.side_by_side(
            cls.tmp, {"myhostname": "mx.postern.test",
                      "mydestination": "mx.postern.test",
                      "relay_domains": "known.example",
                      "local_recipient_maps": ""},
            "relay_domains = known.example\n")

    @classmethod
    def tearDownClass(cls):
        pfpeer.stop_side_by_side(cls.pf, cls.server, cls.tmp)

    def both(self, raw):
        ours, theirs = send(self.port, raw), send(self.pf.port, raw)
        self.assertEqual(ours[0], theirs[0], (ours, theirs))
        return ours, theirs

    def test_limit(self):
        ours, theirs = self.both(message(49))
        self.assertEqual(ours, (554, "5.4.0 Error: too many hops"))
        self.assertEqual(ours, theirs)
        self.server.wait_log(": message rejected: hopcount exceeded")
        ours, _ = self.both(message(48))
        self.assertEqual(ours[0], 250)

    def test_what_counts(self):
        self.assertEqual(self.both(message(49, "rEcEiVeD"))[0][0], 554)
        for name in ("X-Received", "Received-SPF"):
            self.assertEqual(self.both(message(100, name))[0][0], 250, name)
        body = "".join("Received: in the body %d\r\n" % i for i in range(60))
        self.assertEqual(self.both(message(10, body=body))[0][0], 250)


class OwnLimit(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="postern-hops-")
        self.ports = pt.free_ports(("default", "five"))
        self.server = srv.Server(
            os.path.join(self.tmp, "s"), "relay_domains = known.example\n",
            [("default", self.ports["default"], []),
             ("five", self.ports["five"], ["hopcount_limit=5"])],
            workers=1).start()
        self.addCleanup(srv.stop_and_clean, self.server, self.tmp)

    def test_own_limit(self):
        self.assertEqual(send(self.ports["five"], message(4)),
                         (554, "5.4.0 Error: too many hops"))
        self.assertEqual(send(self.ports["five"], message(3))[0], 250)
        self.assertEqual(send(self.ports["default"], message(4))[0], 250)
        # refused, nothing queued: only the accepted two are there
        self.assertEqual(len(self.server.queued()), 2)


if __name__ == "__main__":
    pt.main()
