#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Certificates from postern ca, used end to end through postern serve.

The seed 003 workflow without openssl by hand: a CA, a server certificate
served by postern, a client certificate exported to PKCS#12 for a mail
client, converted back with postern certs convert (Python's ssl module
cannot read PKCS#12), and relaying accepted because the line `postern ca
issue client` printed is in relay_clientcerts.
"""
import os
import smtplib
import ssl
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import pfpeer  # noqa: E402
import pt  # noqa: E402
import srv  # noqa: E402


class CertsEndToEnd(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = pt.tempfile.mkdtemp(prefix="postern-certs-e2e-")
        ca = cls.ca = os.path.join(cls.tmp, "ca")
        pt.postern("ca", "--dir", ca, "init", "--name", "Mail CA",
                   check=True)
        pt.postern("ca", "--dir", ca, "issue", "server", "mx.postern.test",
                   "127.0.0.1", check=True)
        issued = pt.postern("ca", "--dir", ca, "issue", "client",
                            "laptop.example", check=True).stdout
        # the line to paste into relay_clientcerts, as the command says
        cls.line = [l for l in issued.splitlines()
                    if l.count(":") >= 31][0].strip()
        pt.postern("ca", "--dir", ca, "export", "laptop.example", "--out",
                   os.path.join(cls.tmp, "laptop.p12"), "--passout",
                   "pass:secret", check=True)
        pt.postern("certs", "convert", "--passin", "pass:secret",
                   "--key-out", os.path.join(cls.tmp, "laptop.key"),
                   os.path.join(cls.tmp, "laptop.p12"),
                   os.path.join(cls.tmp, "laptop.pem"), check=True)
        conf = os.path.join(cls.tmp, "conf")
        os.makedirs(conf)
        with open(os.path.join(conf, "clientcerts"), "w") as f:
            f.write(cls.line + "\n")
        pt.postern("map", "lmdb:" + os.path.join(conf, "clientcerts"),
                   check=True)
        main_cf = """
mynetworks = 192.0.2.0/24
smtpd_tls_security_level = may
smtpd_tls_cert_file = {ca}/mx.postern.test.crt
smtpd_tls_key_file = {ca}/mx.postern.test.key
smtpd_tls_CAfile = {ca}/ca.crt
smtpd_tls_ask_ccert = yes
smtpd_tls_loglevel = 1
relay_clientcerts = hash:{conf}/clientcerts
smtpd_relay_restrictions = permit_mynetworks permit_tls_clientcerts
    reject_unauth_destination
""".format(ca=ca, conf=conf)
        cls.port = pt.free_port()
        cls.server = srv.Server(conf, main_cf,
                                [("smtp", cls.port, [])]).start()

    @classmethod
    def tearDownClass(cls):
        srv.stop_and_clean(cls.server, cls.tmp)

    def session(self, cert=None, key=None):
        ctx = ssl.create_default_context(
            cafile=os.path.join(self.ca, "ca.crt"))
        if cert:
            ctx.load_cert_chain(cert, key)
        s = smtplib.SMTP("127.0.0.1", self.port, timeout=60)
        self.addCleanup(s.close)
        s.ehlo()
        s.starttls(context=ctx)  # verifies the postern ca server cert
        s.ehlo()
        s.mail("owner@laptop.example")
        return s

    def test_exported_client_certificate_relays(self):
        s = self.session(os.path.join(self.tmp, "laptop.pem"),
                         os.path.join(self.tmp, "laptop.key"))
        self.assertEqual(s.rcpt("friend@elsewhere.example")[0], 250)
        code, text = s.data("Subject: via p12\r\n\r\nrelayed\r\n")
        self.assertEqual(code, 250, text)
        self.server.wait_log("Trusted TLS connection established from "
                             "localhost[127.0.0.1]")

    def test_without_certificate_relay_is_denied(self):
        s = self.session()
        code, text = s.rcpt("friend@elsewhere.example")
        self.assertEqual(code, 554)
        self.assertIn(b"Relay access denied", text)

    def test_printed_line_is_the_certificate_fingerprint(self):
        fp = pt.postern("certs", "fingerprint",
                        os.path.join(self.tmp, "laptop.pem"),
                        check=True).stdout.split()[0]
        self.assertEqual(self.line.split()[0], fp)
        ossl = pt.run(["openssl", "x509", "-noout", "-fingerprint",
                       "-sha256", "-in", os.path.join(self.tmp,
                                                      "laptop.pem")],
                      check=True).stdout.strip().split("=", 1)[1]
        self.assertEqual(fp, ossl)


@unittest.skipUnless(pt.have("postfix") and os.geteuid() == 0,
                     "needs Postfix and root for a private instance")
class PostfixServesPosternCertificates(pt.TempDirTest):
    """A server certificate from postern ca, exported to PKCS#12 and
    converted back by postern certs convert into one file with the key and
    the chain (seed 004's layout), served by a real Postfix smtpd."""

    def test_postfix_serves_converted_certificate(self):
        os.chmod(self.tmp, 0o755)
        ca = os.path.join(self.tmp, "ca")
        pt.postern("ca", "--dir", ca, "init", check=True)
        pt.postern("ca", "--dir", ca, "issue", "server", "mx.postern.test",
                   check=True)
        p12 = os.path.join(self.tmp, "mx.p12")
        pem = os.path.join(self.tmp, "mx-key-and-chain.pem")
        pt.postern("ca", "--dir", ca, "export", "mx.postern.test", "--out",
                   p12, "--passout", "pass:x", check=True)
        pt.postern("certs", "convert", "--passin", "pass:x", p12, pem,
                   check=True)
        self.assertEqual(os.stat(pem).st_mode & 0o777, 0o600)
        pf = pfpeer.Postfix(os.path.join(self.tmp, "pf"), {
            "myhostname": "mx.postern.test",
            "smtpd_tls_security_level": "may",
            "smtpd_tls_cert_file": pem,
            "smtpd_tls_key_file": "$smtpd_tls_cert_file",
            "smtpd_tls_loglevel": "1",
        }).start()
        self.addCleanup(pf.stop)
        cafile = os.path.join(ca, "ca.crt")
        # postern's own probe verifies Postfix's certificate by name
        r = pt.postern("finger", "-c", self.tmp, "-l", "secure", "-F",
                       cafile, "[127.0.0.1]:%d" % pf.port, "mx.postern.test")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("Verified TLS connection established to "
                      "127.0.0.1[127.0.0.1]:%d" % pf.port, r.stdout)
        # and so does openssl
        r = pt.run(["openssl", "s_client", "-connect",
                    "127.0.0.1:%d" % pf.port, "-starttls", "smtp", "-CAfile",
                    cafile, "-verify_hostname", "mx.postern.test",
                    "-verify_return_error", "-quiet"],
                   input="QUIT\r\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("TLS connection established from",
                      pt.wait_for(lambda: pf.read(("TLS connection "
                                                   "established",)),
                                  "Postfix's TLS log line"))


if __name__ == "__main__":
    pt.main()
