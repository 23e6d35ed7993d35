#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""postern certs against Postfix itself: the fingerprints postern prints
for relay_clientcerts are the ones Postfix's TLS code computes (read from
posttls-finger's peercert log line), and a CApath indexed by postern certs
rehash makes posttls-finger report a Verified connection."""
import os
import shutil
import socket
import ssl
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pt  # noqa: E402


class SMTPStartTLS(threading.Thread):
    """A one-connection SMTP server offering STARTTLS with a given cert."""

    def __init__(self, cert, key):
        super().__init__(daemon=True)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(1)
        self.port = self.lsock.getsockname()[1]

    def run(self):
        try:
            c, _ = self.lsock.accept()
        except OSError:
            return
        try:
            self.session(c)
        except (OSError, ssl.SSLError):
            pass
        finally:
            c.close()
            self.lsock.close()

    def session(self, c):
        f = c.makefile("rb")
        c.sendall(b"220 mx.example.org ESMTP\r\n")
        f.readline()
        c.sendall(b"250-mx.example.org\r\n250 STARTTLS\r\n")
        if not f.readline().upper().startswith(b"STARTTLS"):
            return
        c.sendall(b"220 go ahead\r\n")
        with self.ctx.wrap_socket(c, server_side=True) as s:
            self.dialogue(s)

    def dialogue(self, s):
        f = s.makefile("rb")
        while True:
            line = f.readline().upper()
            if not line:
                return
            if line.startswith(b"QUIT"):
                s.sendall(b"221 bye\r\n")
                return
            if line.startswith(b"EHLO"):
                s.sendall(b"250-mx.example.org\r\n250 OK\r\n")
            else:
                s.sendall(b"250 ok\r\n")


@pt.unittest.skipUnless(pt.have("posttls-finger"), "needs Postfix")
class PostfixTest(pt.TempDirTest):

    def setUp(self):
        super().setUp()
        # posttls-finger started as root reads the CApath after dropping
        # privileges to mail_owner: the directory must be searchable.
        os.chmod(self.tmp, 0o755)
        self.cfg = os.path.join(self.tmp, "pf")
        os.mkdir(self.cfg)
        self.write("pf/main.cf", "compatibility_level = 3.6\n")
        self.ca = os.path.join(self.tmp, "ca")

    def finger(self, cert, key, *args):
        srv = SMTPStartTLS(cert, key)
        srv.start()
        p = pt.run([pt.which("posttls-finger"), "-c"] + list(args) +
                   ["[127.0.0.1]:%d" % srv.port, "mx.example.org"],
                   env={"MAIL_CONFIG": self.cfg}, timeout=120)
        srv.join()
        return p.stdout + p.stderr

    def test_fingerprints_as_postfix(self):
        for kind in ("ec", "rsa"):
            d = self.ca + kind
            init = ["ca", "--dir", d, "init"]
            if kind == "rsa":
                init += ["--rsa", "2048"]
            pt.postern(*init, check=True)
            pt.postern("ca", "--dir", d, "issue", "server", "mx.example.org",
                       check=True)
            cert = os.path.join(d, "mx.example.org.crt")
            key = os.path.join(d, "mx.example.org.key")
            for digest in ("sha256", "sha1", "md5"):
                out = self.finger(cert, key, "-l", "may", "-L",
                                  "summary,peercert", "-d", digest)
                line = [l for l in out.splitlines() if "fingerprint=" in l]
                self.assertEqual(len(line), 1, out)
                fields = dict(kv.split("=", 1) for kv in
                              line[0].split(": ", 2)[-1].split(", "))
                want = pt.postern("certs", "fingerprint", "--digest", digest,
                                  cert, check=True).stdout.split()[0]
                self.assertEqual(fields["fingerprint"], want, digest)
                want = pt.postern("certs", "fingerprint", "--digest", digest,
                                  "--pubkey", cert,
                                  check=True).stdout.split()[0]
                self.assertEqual(fields["pkey_fingerprint"], want, digest)

    def test_rehashed_capath_verifies(self):
        pt.postern("ca", "--dir", self.ca, "init", check=True)
        pt.postern("ca", "--dir", self.ca, "issue", "server",
                   "mx.example.org", check=True)
        cert = os.path.join(self.ca, "mx.example.org.crt")
        key = os.path.join(self.ca, "mx.example.org.key")
        capath = os.path.join(self.tmp, "capath")
        os.mkdir(capath)
        shutil.copy(os.path.join(self.ca, "ca.crt"),
                    os.path.join(capath, "mail-ca.pem"))
        out = self.finger(cert, key, "-l", "secure", "-P", capath)
        self.assertNotIn("Verified TLS connection", out)
        pt.postern("certs", "rehash", capath, check=True)
        out = self.finger(cert, key, "-l", "secure", "-P", capath)
        self.assertIn("Verified TLS connection established", out)


if __name__ == "__main__":
    pt.main()
