#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Trust anchors for the verify and secure levels: smtp_tls_trust_anchor_file
and the policy attribute tafile=.

When trust anchors are given, their certificates are the only ones
trusted: smtp_tls_CAfile no longer counts, and an anchor may be an
intermediate or the server's own certificate.  One postern receiver
listens on four ports (one policy each, keyed by next hop); the relay's
CAfile is a CA that never signed the receiver's certificate, its
smtp_tls_trust_anchor_file the CA that did:

  port 1  secure                         -> Verified (the global anchor)
  port 2  secure tafile=<server cert>    -> Verified (an end-entity anchor)
  port 3  secure tafile=<other CA>       -> deferred, not verified, although
                                            the global anchor would verify
  port 4  secure tafile=<a public key>   -> deferred: bare keys are not
                                            supported, it holds no certificate

Before, both were accepted and ignored (the CAfile decided), so pinning a
destination to a private anchor silently trusted every CA in CAfile.
"""
import os
import smtplib

import pki
import pt
import qmgrfix
import srv


class TrustAnchors(pt.TempDirTest):

    def test_anchors_replace_the_cas(self):
        real = pki.PKI(os.path.join(self.tmp, "real"), "Real CA")
        other = pki.PKI(os.path.join(self.tmp, "other"), "Other CA")
        crt, key = real.issue("mx.postern.test", ["mx.postern.test"])
        pub = os.path.join(self.tmp, "pub.pem")
        pt.run(["openssl", "pkey", "-in", key, "-pubout", "-out", pub],
               check=True)
        os.chmod(pub, 0o644)
        ports = [pt.free_port() for _ in range(4)]
        mx = srv.Server(os.path.join(self.tmp, "mx"), (
            "smtpd_tls_security_level = may\n"
            "smtpd_tls_cert_file = %s\nsmtpd_tls_key_file = %s\n"
            % (crt, key)),
            [("p%d" % i, p, []) for i, p in enumerate(ports)], workers=1)
        mx.start()
        self.addCleanup(mx.stop)
        pol = ["secure match=mx.postern.test",
               "secure match=mx.postern.test tafile=%s" % crt,
               "secure match=mx.postern.test tafile=%s" % other.ca_crt,
               "secure match=mx.postern.test tafile=%s" % pub]
        relay = qmgrfix.Mta(os.path.join(self.tmp, "relay"), (
            "myhostname = relay.postern.test\n"
            "mydestination = relay.postern.test\n"
            "transport_maps = inline:{ %s }\n"
            "smtp_tls_policy_maps = inline:{ %s }\n"
            "smtp_tls_security_level = may\n"
            "smtp_tls_CAfile = %s\n"
            "smtp_tls_trust_anchor_file = %s\n"
            "smtp_tls_loglevel = 1\n" % (
                ", ".join("d%d.test=smtp:[127.0.0.1]:%d" % (i, p)
                          for i, p in enumerate(ports)),
                ", ".join("{ [127.0.0.1]:%d = %s }" % (p, pol[i])
                          for i, p in enumerate(ports)),
                other.ca_crt, real.ca_crt)))
        relay.start()
        self.addCleanup(relay.stop)

        ids = []
        for i in range(4):
            with smtplib.SMTP("127.0.0.1", relay.port, timeout=60) as s:
                s.ehlo("client.test")
                s.mail("alice@relay.postern.test")
                s.rcpt("bob@d%d.test" % i)
                code, msg = s.data(b"Subject: anchors\r\n\r\nx\r\n")
                self.assertEqual(code, 250, msg)
                ids.append(msg.decode().split()[-1])
        for i, qid in enumerate(ids):
            relay.wait_log("%s: to=<bob@d%d.test>" % (qid, i))

        def outcome(i):
            return [ln for ln in relay.logtext().splitlines()
                    if "%s: to=<bob@d%d.test>" % (ids[i], i) in ln][0]

        log = relay.logtext()
        for i in (0, 1):
            self.assertIn("status=sent", outcome(i))
            self.assertIn("Verified TLS connection established to "
                          "127.0.0.1[127.0.0.1]:%d" % ports[i], log)
        self.assertIn("status=deferred", outcome(2))
        self.assertIn("Server certificate not verified", outcome(2))
        self.assertIn("status=deferred", outcome(3))
        self.assertIn("cannot load trust anchor file %s" % pub, log)
        self.assertEqual(len(mx.queued()), 2)


if __name__ == "__main__":
    pt.main()
