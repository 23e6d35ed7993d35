#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""TLS settings of the server that openssl s_client can see.

tls_preempt_cipherlist: s_client offers AES-128 before AES-256 (TLS 1.3
suites, and TLS 1.2 ciphers).  With the default (no) postern follows the
client and picks AES-128; with yes it uses its own order, which puts
AES-256 first.

tls_eecdh_auto_curves: with only secp384r1 (and a name OpenSSL does not
have, which is skipped) the key exchange is P-384 although the client
prefers X25519; a list with no usable name refuses the start.

tls_server_sni_maps: a client that names mail.other.test by SNI gets that
name's certificate, one that names x.wild.test the one listed for
.wild.test (a parent domain), any other name or none the default; a
client certificate is still verified for a session that switched.

Before, these parameters were accepted and had no effect.
"""
import os
import re

import pki
import pt
import srv


class ServerSettings(pt.TempDirTest):

    def handshake(self, extra_cf, args):
        """s_client's -brief report of a handshake with a fresh server."""
        name = "s%d" % len(os.listdir(self.tmp))
        ca = pki.PKI(os.path.join(self.tmp, name + "-pki"))
        crt, key = ca.issue("mx.postern.test")
        server, port = srv.starttls_server(os.path.join(self.tmp, name),
                                           crt, key, extra_cf)
        self.addCleanup(server.stop)
        r = pt.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
                    "-starttls", "smtp", "-brief"] + args,
                   input="QUIT\n", timeout=60)
        return r.stdout + r.stderr

    def negotiated(self, preempt, tls12):
        args = []
        if tls12:
            args += ["-tls1_2", "-cipher",
                     "ECDHE-ECDSA-AES128-GCM-SHA256:"
                     "ECDHE-ECDSA-AES256-GCM-SHA384"]
        else:
            args += ["-ciphersuites",
                     "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384"]
        out = self.handshake("tls_preempt_cipherlist = %s\n" % preempt, args)
        m = re.search(r"Ciphersuite: (\S+)", out)
        self.assertIsNotNone(m, out)
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


    def test_groups(self):
        out = self.handshake("tls_eecdh_auto_curves = no_such_curve "
                             "secp384r1\n", ["-groups", "X25519:secp384r1"])
        self.assertRegex(out, r"Server Temp Key: ECDH, secp384r1")
        out = self.handshake("", ["-groups", "X25519:secp384r1"])
        self.assertIn("Server Temp Key: X25519", out)

    def test_no_usable_group_refused(self):
        crt, key = pki.PKI(os.path.join(self.tmp, "pki")).issue(
            "mx.postern.test")
        r = srv.serve_once(self.tmp, "tls_eecdh_auto_curves = nope1 nope2\n"
                           "smtpd_tls_security_level = may\n"
                           "smtpd_tls_cert_file = %s\n"
                           "smtpd_tls_key_file = %s\n" % (crt, key))
        self.assertEqual(r.returncode, 1)
        self.assertIn("tls_eecdh_auto_curves: no usable group in "
                      "\"nope1 nope2\"", r.stderr)


    def test_sni_maps(self):
        ca = pki.PKI(os.path.join(self.tmp, "sni-pki"))
        crt, key = ca.issue("mx.postern.test")
        files = {}
        for n in ("mail.other.test", "wild.test"):
            c, k = ca.issue(n, [n, "*." + n])
            pem = os.path.join(self.tmp, n + ".pem")
            with open(pem, "w") as f, open(k) as kf, open(c) as cf:
                f.write(kf.read() + cf.read())  # key, then chain
            os.chmod(pem, 0o600)
            files[n] = pem
        ccrt, ckey = ca.issue("client.test", client=True)
        port = pt.free_port()
        server = srv.Server(os.path.join(self.tmp, "sni"), (
            "smtpd_tls_security_level = may\n"
            "smtpd_tls_cert_file = %s\nsmtpd_tls_key_file = %s\n"
            "smtpd_tls_CAfile = %s\nsmtpd_tls_ask_ccert = yes\n"
            "smtpd_tls_loglevel = 1\n"
            "tls_server_sni_maps = inline:{ mail.other.test=%s, "
            ".wild.test=%s }\n" % (crt, key, ca.ca_crt,
                                      files["mail.other.test"],
                                      files["wild.test"])),
            [("smtp", port, [])], workers=1)
        server.start()
        self.addCleanup(server.stop)

        def subject(sni, *extra):
            args = ["openssl", "s_client", "-connect",
                    "127.0.0.1:%d" % port, "-starttls", "smtp", "-brief"]
            if sni:
                args += ["-servername", sni]
            r = pt.run(args + list(extra), input="QUIT\n", timeout=60)
            m = re.search(r"Peer certificate: CN ?= ?(\S+)",
                          r.stdout + r.stderr)
            self.assertIsNotNone(m, r.stdout + r.stderr)
            return m.group(1)

        self.assertEqual(subject("mail.other.test"), "mail.other.test")
        self.assertEqual(subject("MAIL.Other.Test"), "mail.other.test")
        self.assertEqual(subject("x.wild.test"), "wild.test")
        self.assertEqual(subject("a.b.wild.test"), "wild.test")
        self.assertEqual(subject("unknown.test"), "mx.postern.test")
        self.assertEqual(subject(None), "mx.postern.test")
        self.assertEqual(subject("mail.other.test", "-cert", ccrt, "-key",
                                 ckey), "mail.other.test")
        server.wait_log("Trusted TLS connection established from")

    def test_sni_maps_bad_files(self):
        # loaded at start, before the workers drop privileges: a file
        # that does not load stops the start, naming the key and file
        crt, key = pki.PKI(os.path.join(self.tmp, "p")).issue(
            "mx.postern.test")
        r = srv.serve_once(self.tmp, (
            "smtpd_tls_security_level = may\n"
            "smtpd_tls_cert_file = %s\nsmtpd_tls_key_file = %s\n"
            "tls_server_sni_maps = inline:{ a.test=/nonexistent.pem }\n"
            % (crt, key)))
        self.assertEqual(r.returncode, 1)
        self.assertIn("tls_server_sni_maps: a.test: ", r.stderr)
        self.assertIn("/nonexistent.pem", r.stderr)


if __name__ == "__main__":
    pt.main()
