#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""postern ca: certificates checked by openssl verify, PKCS#12 read by
openssl pkcs12, and a real mutual-TLS handshake on loopback with Python's
ssl module using what postern issued."""
import hashlib
import os
import re
import socket
import ssl
import stat
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pt  # noqa: E402


def ossl(*args, check=False):
    return pt.run(["openssl"] + list(args), check=check)


class CATest(pt.TempDirTest):

    def setUp(self):
        super().setUp()
        self.ca = os.path.join(self.tmp, "ca")
        p = pt.postern("ca", "--dir", self.ca, "init", "--name",
                       "Test Mail CA")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.srv = pt.postern("ca", "--dir", self.ca, "issue", "server",
                              "mx.example.org", "smtp.example.org",
                              "127.0.0.1", check=True)
        self.cli = pt.postern("ca", "issue", "client", "alice", "--dir",
                              self.ca, "--days", "30", check=True)

    def f(self, name):
        return os.path.join(self.ca, name)

    def verify(self, cert, *extra):
        return ossl("verify", "-CAfile", self.f("ca.crt"), *extra, cert)

    def test_files_and_modes(self):
        for key in ("ca.key", "mx.example.org.key", "alice.key"):
            self.assertEqual(stat.S_IMODE(os.stat(self.f(key)).st_mode),
                             0o600, key)
        txt = ossl("x509", "-in", self.f("ca.crt"), "-noout", "-text",
                   check=True).stdout
        self.assertIn("CA:TRUE", txt)
        self.assertIn("Certificate Sign, CRL Sign", txt)
        self.assertIn("ASN1 OID: prime256v1", txt)
        self.assertIn("CN = Test Mail CA", txt)
        # The same CA again is refused.
        p = pt.postern("ca", "--dir", self.ca, "init")
        self.assertEqual(p.returncode, 1)
        self.assertIn("--force", p.stderr)

    def test_purposes(self):
        mx, alice = self.f("mx.example.org.crt"), self.f("alice.crt")
        self.assertEqual(self.verify(mx, "-purpose", "sslserver").returncode,
                         0)
        self.assertNotEqual(
            self.verify(mx, "-purpose", "sslclient").returncode, 0)
        self.assertEqual(
            self.verify(alice, "-purpose", "sslclient").returncode, 0)
        self.assertNotEqual(
            self.verify(alice, "-purpose", "sslserver").returncode, 0)
        txt = ossl("x509", "-in", mx, "-noout", "-text", check=True).stdout
        self.assertIn("DNS:mx.example.org, DNS:smtp.example.org, "
                      "IP Address:127.0.0.1", txt)
        self.assertIn("CA:FALSE", txt)
        self.assertIn("X509v3 Subject Key Identifier", txt)
        self.assertIn("X509v3 Authority Key Identifier", txt)
        self.assertIn("TLS Web Server Authentication", txt)
        txt = ossl("x509", "-in", alice, "-noout", "-text",
                   check=True).stdout
        self.assertIn("DNS:alice", txt)
        self.assertIn("TLS Web Client Authentication", txt)
        self.assertNotIn("TLS Web Server Authentication", txt)

    def test_serials(self):
        serials = set()
        for i in range(4):
            pt.postern("ca", "--dir", self.ca, "issue", "client",
                       "c%d@example.org" % i, check=True)
        for name in ["mx.example.org", "alice"] + [
                "c%d@example.org" % i for i in range(4)]:
            s = ossl("x509", "-in", self.f(name + ".crt"), "-noout",
                     "-serial", check=True).stdout.strip().split("=")[1]
            v = int(s, 16)
            self.assertGreaterEqual(v.bit_length(), 120)
            self.assertLessEqual(v.bit_length(), 128)
            serials.add(v)
        self.assertEqual(len(serials), 6)
        p = pt.postern("ca", "--dir", self.ca, "list", check=True)
        self.assertEqual(len(p.stdout.splitlines()), 7)
        self.assertRegex(p.stdout, r"\n[0-9A-F]+ +client +\d{4}-\d\d-\d\d "
                         r"+valid +alice\n")

    def test_relay_clientcerts_line(self):
        line = self.cli.stdout.strip().splitlines()[-1]
        fp = ossl("x509", "-in", self.f("alice.crt"), "-noout",
                  "-fingerprint", "-sha256", check=True).stdout
        self.assertEqual(line, fp.strip().split("=")[1] + " alice")

    def test_export_pkcs12(self):
        for legacy in (False, True):
            out = os.path.join(self.tmp, "alice%d.p12" % legacy)
            args = ["ca", "--dir", self.ca, "export", "alice", "--out", out,
                    "--passout", "pass:pw 1"]
            if legacy:
                args.append("--legacy")
            pt.postern(*args, check=True)
            self.assertEqual(stat.S_IMODE(os.stat(out).st_mode), 0o600)
            p = ossl("pkcs12", "-info", "-noout", "-in", out, "-passin",
                     "pass:pw 1")
            self.assertEqual(p.returncode, 0, p.stderr)
            if legacy:
                self.assertIn("pbeWithSHA1And3-KeyTripleDES-CBC", p.stderr)
                self.assertIn("MAC: sha1", p.stderr)
            else:
                self.assertIn("AES-256-CBC", p.stderr)
                self.assertIn("MAC: sha256", p.stderr)
            p = ossl("pkcs12", "-info", "-noout", "-in", out, "-passin",
                     "pass:wrong")
            self.assertNotEqual(p.returncode, 0)
            # Back to PEM with postern and with openssl: same key and cert.
            pem = out + ".pem"
            pt.postern("certs", "convert", "--passin", "pass:pw 1", out, pem,
                       check=True)
            self.assertEqual(
                ossl("x509", "-in", pem, "-noout", "-fingerprint",
                     check=True).stdout,
                ossl("x509", "-in", self.f("alice.crt"), "-noout",
                     "-fingerprint", check=True).stdout)
            self.assertEqual(
                ossl("pkey", "-in", pem, "-pubout", check=True).stdout,
                ossl("pkey", "-in", self.f("alice.key"), "-pubout",
                     check=True).stdout)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.load_cert_chain(pem)

    def test_revoke_and_crl(self):
        alice, mx = self.f("alice.crt"), self.f("mx.example.org.crt")
        crl = ["-crl_check", "-CRLfile", self.f("crl.pem")]
        self.assertEqual(self.verify(alice, *crl).returncode, 0)
        p = pt.postern("ca", "--dir", self.ca, "revoke", "alice")
        self.assertEqual(p.returncode, 0, p.stderr)
        v = self.verify(alice, *crl)
        self.assertNotEqual(v.returncode, 0)
        self.assertIn("revoked", v.stdout + v.stderr)
        self.assertEqual(self.verify(mx, *crl).returncode, 0)
        p = pt.postern("ca", "--dir", self.ca, "list", check=True)
        self.assertRegex(p.stdout, r"client +\S+ +revoked +alice")
        # By serial, with colons.
        s = ossl("x509", "-in", mx, "-noout", "-serial",
                 check=True).stdout.strip().split("=")[1]
        colon = ":".join(s[i:i + 2] for i in range(0, len(s), 2))
        pt.postern("ca", "--dir", self.ca, "revoke", colon, check=True)
        self.assertNotEqual(self.verify(mx, *crl).returncode, 0)
        p = pt.postern("ca", "--dir", self.ca, "revoke", "nobody")
        self.assertEqual(p.returncode, 1)
        self.assertIn("nobody", p.stderr)

    def test_rsa(self):
        d = os.path.join(self.tmp, "rsa")
        pt.postern("ca", "--dir", d, "init", "--rsa", "2048", check=True)
        pt.postern("ca", "--dir", d, "issue", "server", "mx.test",
                   check=True)
        for f in ("ca.crt", "mx.test.crt"):
            txt = ossl("x509", "-in", os.path.join(d, f), "-noout", "-text",
                       check=True).stdout
            self.assertIn("Public-Key: (2048 bit)", txt)
            self.assertIn("rsaEncryption", txt)
        p = ossl("verify", "-CAfile", os.path.join(d, "ca.crt"), "-purpose",
                 "sslserver", os.path.join(d, "mx.test.crt"))
        self.assertEqual(p.returncode, 0, p.stdout)

    def handshake(self, client_cert, client_key):
        """A TLS server requiring client certificates from the CA; returns
        (client error or None, DER of the client cert the server saw)."""
        sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        sctx.load_cert_chain(self.f("mx.example.org.crt"),
                             self.f("mx.example.org.key"))
        sctx.load_verify_locations(self.f("ca.crt"))
        sctx.verify_mode = ssl.CERT_REQUIRED
        lsock = socket.socket()
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(1)
        port = lsock.getsockname()[1]
        seen = {}

        def serve():
            conn, _ = lsock.accept()
            try:
                with sctx.wrap_socket(conn, server_side=True) as s:
                    seen["der"] = s.getpeercert(binary_form=True)
                    s.sendall(b"220 ok\r\n")
            except (ssl.SSLError, OSError) as e:
                seen["error"] = e
            finally:
                lsock.close()

        t = threading.Thread(target=serve)
        t.start()
        cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        cctx.load_verify_locations(self.f("ca.crt"))
        cctx.load_cert_chain(client_cert, client_key)
        err = None
        try:
            with socket.create_connection(("127.0.0.1", port)) as raw:
                with cctx.wrap_socket(raw,
                                      server_hostname="mx.example.org") as c:
                    c.recv(100)
        except (ssl.SSLError, OSError) as e:
            err = e
        t.join()
        return err, seen

    def test_mutual_tls(self):
        err, seen = self.handshake(self.f("alice.crt"), self.f("alice.key"))
        self.assertIsNone(err)
        self.assertIn("der", seen, seen)
        line = self.cli.stdout.strip().splitlines()[-1]
        fp = hashlib.sha256(seen["der"]).hexdigest().upper()
        self.assertEqual(line.split()[0].replace(":", ""), fp)
        # A server certificate is not a client certificate.
        err, seen = self.handshake(self.f("mx.example.org.crt"),
                                   self.f("mx.example.org.key"))
        self.assertIn("error", seen)
        # Nor is one from another CA.
        other = os.path.join(self.tmp, "other")
        pt.postern("ca", "--dir", other, "init", check=True)
        pt.postern("ca", "--dir", other, "issue", "client", "mallory",
                   check=True)
        err, seen = self.handshake(os.path.join(other, "mallory.crt"),
                                   os.path.join(other, "mallory.key"))
        self.assertIn("error", seen)

    def test_errors_and_help(self):
        p = pt.postern("ca", "--dir", os.path.join(self.tmp, "none"), "issue",
                       "server", "x.test")
        self.assertEqual(p.returncode, 1)
        self.assertIn("ca.key", p.stderr)
        p = pt.postern("ca", "--dir", self.ca, "issue", "server", "bad name")
        self.assertEqual(p.returncode, 1)
        p = pt.postern("ca", "--dir", self.ca, "issue", "client", "alice")
        self.assertEqual(p.returncode, 1)
        self.assertIn("--force", p.stderr)
        os.chmod(self.f("ca.key"), 0o644)
        p = pt.postern("ca", "--dir", self.ca, "issue", "client", "bob")
        self.assertEqual(p.returncode, 1)
        self.assertIn("chmod 600", p.stderr)
        p = pt.postern("ca", "--help", check=True)
        for w in ("init", "issue", "export", "list", "revoke", "--dir"):
            self.assertIn(w, p.stdout)
        for sub in ("init", "issue", "export", "list", "revoke", "crl"):
            p = pt.postern("ca", sub, "--help", check=True)
            self.assertTrue(re.match(r"usage: postern ca \[--dir DIR\] " + sub,
                                     p.stdout), p.stdout)


if __name__ == "__main__":
    pt.main()
