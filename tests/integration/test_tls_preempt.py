#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""tls_preempt_cipherlist: whose cipher order decides.

openssl s_client offers AES-128 before AES-256 (TLS 1.3 suites, and TLS
1.2 ciphers).  With the default (no) postern follows the client and
picks AES-128; with yes it uses its own order, which puts AES-256 first.
Before, the parameter was accepted and had no effect.
"""
import os
import re

import pki
import pt
import srv


class Preempt(pt.TempDirTest):

    def negotiated(self, preempt, tls12):
        ca = pki.PKI(os.path.join(self.tmp, "pki-%s-%s" % (preempt, tls12)))
        crt, key = ca.issue("mx.postern.test")
        port = pt.free_port()
        server = srv.Server(
            os.path.join(self.tmp, "s-%s-%s" % (preempt, tls12)), (
                "smtpd_tls_security_level = may\n"
                "smtpd_tls_cert_file = %s\nsmtpd_tls_key_file = %s\n"
                "tls_preempt_cipherlist = %s\n" % (crt, key, preempt)),
            [("smtp", port, [])], workers=1)
        server.start()
        self.addCleanup(server.stop)
        args = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
                "-starttls", "smtp", "-brief"]
        if tls12:
            args += ["-tls1_2", "-cipher",
                     "ECDHE-ECDSA-AES128-GCM-SHA256:"
                     "ECDHE-ECDSA-AES256-GCM-SHA384"]
        else:
            args += ["-ciphersuites",
                     "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384"]
        r = pt.run(args, input="QUIT\n", timeout=60)
        m = re.search(r"Ciphersuite: (\S+)", r.stderr + r.stdout)
        self.assertIsNotNone(m, r.stdout + r.stderr)
        return m.group(1)

    def test_client_order_by_default(self):
        self.assertEqual(self.negotiated("no", False),
                         "TLS_AES_128_GCM_SHA256")
        self.assertEqual(self.negotiated("no", True),
                         "ECDHE-ECDSA-AES128-GCM-SHA256")

    def test_server_order_when_preempting(self):
        self.assertEqual(self.negotiated("yes", False),
                         "TLS_AES_256_GCM_SHA384")
        self.assertEqual(self.negotiated("yes", True),
                         "ECDHE-ECDSA-AES256-GCM-SHA384")


if __name__ == "__main__":
    pt.main()
