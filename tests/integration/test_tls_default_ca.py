#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""tls_append_default_CA: OpenSSL's default CA store counts only when asked.

OpenSSL's default store is pointed at a private CA with SSL_CERT_FILE (as
an administrator's system store would be).  Two relays send to the same
receiver, whose certificate that CA signed, with smtp_tls_security_level
= secure and no smtp_tls_CAfile:

  tls_append_default_CA = no (Postfix's default) -> deferred: nothing
                                                     configured trusts it
  tls_append_default_CA = yes                    -> Verified, delivered

Before, the parameter was unknown and the first case's behaviour was all
there was."""
import os
import smtplib

import pki
import pt
import qmgrfix
import srv


class DefaultCA(pt.TempDirTest):

    def relay(self, name, append, port):
        r = qmgrfix.Mta(os.path.join(self.tmp, name), (
            "myhostname = %s.postern.test\n"
            "mydestination = %s.postern.test\n"
            "transport_maps = inline:{ mx.postern.test=smtp:[127.0.0.1]:%d }\n"
            "smtp_tls_security_level = secure\n"
            "smtp_tls_secure_cert_match = mx.postern.test\n"
            "smtp_tls_loglevel = 1\n"
            "tls_append_default_CA = %s\n" % (name, name, port, append)))
        r.start()
        self.addCleanup(r.stop)
        return r

    def send(self, relay):
        with smtplib.SMTP("127.0.0.1", relay.port, timeout=60) as s:
            s.ehlo("client.test")
            s.mail("alice@client.test")
            s.rcpt("bob@mx.postern.test")
            code, msg = s.data(b"Subject: default CA\r\n\r\nx\r\n")
            self.assertEqual(code, 250, msg)
            qid = msg.decode().split()[-1]
        relay.wait_log("%s: to=<bob@mx.postern.test>" % qid)
        return [ln for ln in relay.logtext().splitlines()
                if "%s: to=<bob@mx.postern.test>" % qid in ln][0]

    def test_default_store_only_when_appended(self):
        ca = pki.PKI(os.path.join(self.tmp, "pki"), "System CA")
        crt, key = ca.issue("mx.postern.test")
        port = pt.free_port()
        mx = srv.Server(os.path.join(self.tmp, "mx"), (
            "smtpd_tls_security_level = may\n"
            "smtpd_tls_cert_file = %s\nsmtpd_tls_key_file = %s\n"
            % (crt, key)), [("smtp", port, [])], workers=1)
        mx.start()
        self.addCleanup(mx.stop)
        # the relays (started below) inherit the environment
        old = os.environ.get("SSL_CERT_FILE")
        os.environ["SSL_CERT_FILE"] = ca.ca_crt
        self.addCleanup(lambda: os.environ.__setitem__("SSL_CERT_FILE", old)
                        if old is not None
                        else os.environ.pop("SSL_CERT_FILE", None))

        strict = self.relay("strict", "no", port)
        out = self.send(strict)
        self.assertIn("status=deferred", out)
        self.assertIn("Server certificate not verified", out)

        trusting = self.relay("trusting", "yes", port)
        out = self.send(trusting)
        self.assertIn("status=sent", out)
        self.assertIn("Verified TLS connection established to "
                      "127.0.0.1[127.0.0.1]:%d" % port, trusting.logtext())
        self.assertEqual(len(mx.queued()), 1)


if __name__ == "__main__":
    pt.main()
