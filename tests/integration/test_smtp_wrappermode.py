#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""smtp_tls_wrappermode: the queue manager's SMTP client speaks SMTPS
(TLS from the first byte, as to a relayhost on port 465).

A relay with smtp_tls_wrappermode = yes delivers to a postern receiver's
smtps listener (smtpd_tls_wrappermode = yes): the handshake comes first,
the greeting inside TLS, and no STARTTLS is sent.  The same relay pointed
at the receiver's STARTTLS port fails the handshake (the server speaks
plaintext first) and defers, never falling back to plaintext even though
its level is may; with a policy of none it refuses before connecting.
Before, the parameter was accepted and ignored: the client waited for a
plaintext greeting that an SMTPS server never sends.
"""
import os
import re
import smtplib

import pki
import pt
import qmgrfix
import srv


class WrapperMode(pt.TempDirTest):

    def submit(self, port, rcpt):
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
            s.ehlo("client.test")
            s.mail("alice@relay.postern.test")
            s.rcpt(rcpt)
            code, msg = s.data(b"Subject: smtps\r\n\r\nover port 465\r\n")
            self.assertEqual(code, 250, msg)
            return msg.decode().split()[-1]

    def test_smtps_client(self):
        ca = pki.PKI(os.path.join(self.tmp, "pki"))
        crt, key = ca.issue("mx.postern.test", ["mx.postern.test"])
        plain, smtps = pt.free_port(), pt.free_port()
        mx = srv.Server(os.path.join(self.tmp, "mx"), (
            "smtpd_tls_security_level = may\n"
            "smtpd_tls_cert_file = %s\nsmtpd_tls_key_file = %s\n"
            "smtpd_tls_loglevel = 1\n" % (crt, key)),
            [("smtp", plain, []),
             ("smtps", smtps, ["smtpd_tls_wrappermode=yes"])], workers=1)
        mx.start()
        self.addCleanup(mx.stop)
        relay = qmgrfix.Mta(os.path.join(self.tmp, "relay"), (
            "myhostname = relay.postern.test\n"
            "mydestination = relay.postern.test\n"
            "transport_maps = inline:{ "
            "{ mx.postern.test = smtp:[127.0.0.1]:%d }, "
            "{ plain.test = smtp:[127.0.0.1]:%d }, "
            "{ none.test = smtp:[127.0.0.3]:25 } }\n"
            "smtp_tls_policy_maps = inline:{ { [127.0.0.3]:25 = none } }\n"
            "smtp_tls_security_level = may\n"
            "smtp_tls_wrappermode = yes\n"
            "smtp_tls_CAfile = %s\n"
            "smtp_tls_loglevel = 1\n"
            # the client's groups (tls_eecdh_auto_curves) decide too
            "tls_eecdh_auto_curves = secp384r1\n" % (smtps, plain,
                                                      ca.ca_crt)))
        relay.start()
        self.addCleanup(relay.stop)

        q1 = self.submit(relay.port, "bob@mx.postern.test")
        q2 = self.submit(relay.port, "carol@plain.test")
        q3 = self.submit(relay.port, "dave@none.test")
        relay.wait_log("%s: removed" % q1)
        relay.wait_log("%s: to=<carol@plain.test>" % q2)
        relay.wait_log("%s: to=<dave@none.test>" % q3)
        log = relay.logtext()
        self.assertRegex(
            log, r"postern/smtp\[\d+\]: Trusted TLS connection established "
            r"to 127\.0\.0\.1\[127\.0\.0\.1\]:%d: TLSv1\.3 .* "
            r"key-exchange ECDHE \(secp384r1\)" % smtps)
        self.assertRegex(log, r"%s: to=<bob@mx\.postern\.test>, relay=127\."
                         r"0\.0\.1\[127\.0\.0\.1\]:%d, .*status=sent" %
                         (q1, smtps))
        # the receiver: TLS from the start, and no STARTTLS command
        # (its disconnect line comes when the relay's cached connection
        # is closed)
        disc = pt.wait_for(
            lambda: [ln for ln in mx.logtext().splitlines()
                     if "disconnect from" in ln and "data=1" in ln],
            "the receiver's session to end")
        mxlog = mx.logtext()
        self.assertIn("Anonymous TLS connection established from", mxlog)
        self.assertEqual(len(disc), 1, mxlog)
        self.assertNotIn("starttls", disc[0])
        self.assertEqual(len(mx.queued()), 1)
        self.assertIn(b"over port 465", mx.queue_file(mx.queued()[0]))

        # the STARTTLS port: no handshake, deferred, never plaintext
        line = [ln for ln in log.splitlines()
                if "%s: to=<carol@plain.test>" % q2 in ln][0]
        self.assertIn("status=deferred", line)
        self.assertNotIn("retrying in plaintext", log)
        self.assertEqual(len(re.findall(
            r"postern/smtpd\[\d+\]: [0-9A-VZ]+: client=", mxlog)), 1, mxlog)

        # a policy of none cannot be met
        line = [ln for ln in log.splitlines()
                if "%s: to=<dave@none.test>" % q3 in ln][0]
        self.assertIn("status=deferred", line)
        self.assertIn("smtp_tls_wrappermode requires TLS", line)


if __name__ == "__main__":
    pt.main()
