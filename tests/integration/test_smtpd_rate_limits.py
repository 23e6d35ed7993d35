#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Client rate limits, as Postfix's anvil applies them, over real SMTP
(Python's smtplib and ssl) against postern serve:

- smtpd_client_connection_rate_limit: the connection past the limit gets
  "421 4.7.0 HOST Error: too many connections from ADDR";
- smtpd_client_message_rate_limit: the MAIL FROM past it gets "450 4.7.1
  Error: too much mail from ADDR", also in a later session;
- smtpd_client_recipient_rate_limit: the RCPT TO past it gets "450 4.7.1
  Error: too many recipients from ADDR";
- smtpd_client_new_tls_session_rate_limit: the full handshake past the
  limit ends with "421 4.7.0 HOST Error: too many new TLS sessions from
  NAME[ADDR]" inside TLS, and the next STARTTLS is refused with 454 4.7.0
  before any handshake;
- smtpd_client_event_limit_exceptions (default $mynetworks): exempt
  clients are not limited;

each with Postfix's warning in the log.  Every listener counts its own
events (Postfix's per-service anvil keys), so each case has its own
port.  anvil_rate_time_unit is an hour: no case depends on timing."""
import os
import smtplib
import ssl
import tempfile
import unittest

import pki
import pt
import srv

NOEXEMPT = ["smtpd_client_event_limit_exceptions=",
            "anvil_rate_time_unit=3600s"]


class RateLimits(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.ports = {n: pt.free_port() for n in
                     ("conn", "mail", "rcpt", "tls", "exempt")}
        cls.dir = tempfile.mkdtemp(prefix="postern-rates-")
        ca = pki.PKI(os.path.join(cls.dir, "pki"))
        crt, key = ca.issue("mx.postern.test")
        cls.server = srv.Server(
            os.path.join(cls.dir, "srv"), (
                "smtpd_tls_security_level = may\n"
                "smtpd_tls_cert_file = %s\nsmtpd_tls_key_file = %s\n"
                % (crt, key)),
            [("conn", cls.ports["conn"],
              NOEXEMPT + ["smtpd_client_connection_rate_limit=2"]),
             ("mail", cls.ports["mail"],
              NOEXEMPT + ["smtpd_client_message_rate_limit=2"]),
             ("rcpt", cls.ports["rcpt"],
              NOEXEMPT + ["smtpd_client_recipient_rate_limit=3"]),
             ("tls", cls.ports["tls"],
              NOEXEMPT + ["smtpd_client_new_tls_session_rate_limit=1"]),
             ("exempt", cls.ports["exempt"],
              ["smtpd_client_connection_rate_limit=1",
               "smtpd_client_message_rate_limit=1",
               "anvil_rate_time_unit=3600s"])],
            workers=2).start()

    @classmethod
    def tearDownClass(cls):
        srv.stop_and_clean(cls.server, cls.dir)

    def smtp(self, name):
        s = smtplib.SMTP("127.0.0.1", self.ports[name], timeout=60)
        self.addCleanup(s.close)
        return s

    def service(self, name):
        return "127.0.0.1:%d" % self.ports[name]

    def test_connection_rate(self):
        # srv.Server's start-up probe was this listener's first connection
        accepted = 0
        with self.assertRaises(smtplib.SMTPConnectError) as cm:
            for _ in range(10):
                with self.smtp("conn") as s:
                    self.assertEqual(s.noop()[0], 250)
                accepted += 1
        self.assertIn(accepted, (1, 2))
        self.assertEqual(cm.exception.smtp_code, 421)
        self.assertEqual(cm.exception.smtp_error.decode(),
                         "4.7.0 mx.postern.test Error: too many connections "
                         "from 127.0.0.1")
        self.server.wait_log("warning: Connection rate limit exceeded: 3 "
                             "from localhost[127.0.0.1] for service %s" %
                             self.service("conn"))

    def test_message_rate(self):
        with self.smtp("mail") as s:
            s.ehlo("client.test")
            for _ in range(2):
                self.assertEqual(s.mail("a@example.org")[0], 250)
                self.assertEqual(s.rset()[0], 250)
            code, msg = s.mail("a@example.org")
            self.assertEqual((code, msg.decode()), (
                450, "4.7.1 Error: too much mail from 127.0.0.1"))
        # the count belongs to the client, not to the session
        with self.smtp("mail") as s:
            s.ehlo("client.test")
            self.assertEqual(s.mail("a@example.org")[0], 450)
        # log lines are written at the end of a worker's loop turn: after
        # the reply went out
        self.server.wait_log("warning: Message delivery request rate limit "
                             "exceeded: 3 from localhost[127.0.0.1] for "
                             "service %s" % self.service("mail"))
        self.server.wait_log("exceeded: 4 from localhost[127.0.0.1] for "
                             "service %s" % self.service("mail"))
        # a refusal by rate is no restriction: no "reject:" line for it
        self.assertNotIn("reject: MAIL", self.server.logtext())

    def test_recipient_rate(self):
        with self.smtp("rcpt") as s:
            s.ehlo("client.test")
            self.assertEqual(s.mail("a@example.org")[0], 250)
            for i in range(3):
                self.assertEqual(s.rcpt("u%d@mx.postern.test" % i)[0], 250)
            code, msg = s.rcpt("u3@mx.postern.test")
            self.assertEqual((code, msg.decode()), (
                450, "4.7.1 Error: too many recipients from 127.0.0.1"))
        self.server.wait_log("warning: Recipient address rate limit "
                             "exceeded: 4 from localhost[127.0.0.1] for "
                             "service %s" % self.service("rcpt"))

    def test_new_tls_session_rate(self):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        # the first full handshake is within the limit
        with self.smtp("tls") as s:
            self.assertEqual(s.starttls(context=ctx)[0], 220)
            self.assertEqual(s.ehlo("client.test")[0], 250)
        # the second is made, counted, and answered with a 421 in TLS
        with self.smtp("tls") as s:
            self.assertEqual(s.starttls(context=ctx)[0], 220)
            code, msg = s.getreply()
            self.assertEqual((code, msg.decode()), (
                421, "4.7.0 mx.postern.test Error: too many new TLS "
                "sessions from localhost[127.0.0.1]"))
        # the third client is refused before any handshake
        with self.smtp("tls") as s:
            s.ehlo("client.test")
            code, msg = s.docmd("STARTTLS")
            self.assertEqual((code, msg.decode()), (
                454, "4.7.0 Error: too many new TLS sessions from "
                "localhost[127.0.0.1]"))
            self.assertEqual(s.noop()[0], 250)  # still in plaintext SMTP
        self.server.wait_log("warning: New TLS session rate limit "
                             "exceeded: 2 from localhost[127.0.0.1] for "
                             "service %s" % self.service("tls"))
        self.server.wait_log("warning: Refusing STARTTLS request from "
                             "localhost[127.0.0.1] for service %s" %
                             self.service("tls"))

    def test_exceptions(self):
        # loopback is in mynetworks, the default exceptions
        for _ in range(3):
            with self.smtp("exempt") as s:
                s.ehlo("client.test")
                self.assertEqual(s.mail("a@example.org")[0], 250)
        self.assertNotIn("service %s" % self.service("exempt"),
                         self.server.logtext())


if __name__ == "__main__":
    pt.main()
