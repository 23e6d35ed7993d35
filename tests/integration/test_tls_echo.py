#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""TLS session layer against real peers: Python's ssl module and openssl
s_client talk to tests/tools/tls_echo (postern's tls layer as a server on
loopback).  Protocols allowed and refused as configured, client
certificates and their fingerprints as openssl prints them, resumption by
ticket across two server processes sharing ticket keys, renegotiation
refused, garbage instead of a ClientHello."""
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import shutil
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pt  # noqa: E402

ECHO = os.path.join(os.path.dirname(pt.BIN), "tls_echo")

PKI = r"""
set -e
cat >srv.ext <<E
basicConstraints=CA:false
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost
E
cat >cli.ext <<E
basicConstraints=CA:false
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
E
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem \
  -days 30 -subj '/CN=Echo Test Root'
openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr \
  -subj '/CN=localhost'
openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
  -out srv.pem -days 30 -extfile srv.ext
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout cli.key -out cli.csr -subj '/CN=relay-client.example.org'
openssl x509 -req -in cli.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
  -out cli.pem -days 30 -extfile cli.ext
openssl req -x509 -newkey rsa:2048 -nodes -keyout self.key -out self.pem \
  -days 30 -subj '/CN=self-signed.example.org'
chmod 600 *.key
"""


class Echo:
    """One tls_echo process; its stdout lines collected by a thread."""

    def __init__(self, test, *args):
        self.lines = []
        self.lock = threading.Lock()
        self.proc = subprocess.Popen([ECHO] + list(args), cwd=test.pki,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        test.addCleanup(self.stop)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        ready = pt.wait_for(lambda: self.find("ready "), "tls_echo ready")
        self.port = int(ready.split()[1])

    def _read(self):
        for line in self.proc.stdout:
            with self.lock:
                self.lines.append(line.rstrip("\n"))

    def find(self, prefix, n=1):
        """The n-th line starting with prefix, or None."""
        if self.proc.poll() is not None and self.proc.returncode != 0:
            raise AssertionError("tls_echo exited %d: %s" %
                                 (self.proc.returncode,
                                  self.proc.stderr.read()))
        with self.lock:
            hits = [x for x in self.lines if x.startswith(prefix)]
        return hits[n - 1] if len(hits) >= n else None

    def count(self, prefix):
        with self.lock:
            return len([x for x in self.lines if x.startswith(prefix)])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()


def openssl_fp(path, digest, pkey=False):
    """A fingerprint as the openssl command line prints it."""
    if pkey:
        pub = subprocess.run(["openssl", "x509", "-in", path, "-noout",
                              "-pubkey"], capture_output=True, check=True)
        der = subprocess.run(["openssl", "pkey", "-pubin", "-outform",
                              "DER"], input=pub.stdout,
                             capture_output=True, check=True)
        out = subprocess.run(["openssl", "dgst", "-" + digest, "-c"],
                             input=der.stdout, capture_output=True,
                             check=True).stdout.decode()
        return out.split("=")[-1].strip().upper()
    out = pt.run(["openssl", "x509", "-noout", "-fingerprint",
                  "-" + digest, "-in", path], check=True).stdout
    return out.split("=", 1)[1].strip()


class TlsEchoTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if not os.path.exists(ECHO):
            raise unittest.SkipTest("tls_echo not built: " + ECHO)
        cls.pki = tempfile.mkdtemp(prefix="postern-tls-echo-")
        pt.run(["sh", "-c", PKI], cwd=cls.pki, check=True)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.pki, True)

    def path(self, name):
        return os.path.join(self.pki, name)

    def server(self, *args):
        return Echo(self, "-c", "srv.pem", "-k", "srv.key", *args)

    def client_ctx(self, cert=None, minv=None, maxv=None):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(self.path("ca.pem"))
        if cert:
            ctx.load_cert_chain(self.path(cert + ".pem"),
                                self.path(cert + ".key"))
        if minv:
            ctx.minimum_version = minv
        if maxv:
            ctx.maximum_version = maxv
        return ctx

    def talk(self, echo, ctx, payload=b"EHLO client.example.org\r\n"):
        """Connect, check the echo, return (version, cipher)."""
        with socket.create_connection(("127.0.0.1", echo.port)) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                s.sendall(payload)
                got = b""
                while len(got) < len(payload):
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    got += chunk
                self.assertEqual(got, payload)
                return s.version(), s.cipher()

    def s_client(self, port, *args, input="Q\n"):
        return pt.run(["openssl", "s_client", "-connect",
                       "127.0.0.1:%d" % port, "-CAfile",
                       self.path("ca.pem")] + list(args), input=input,
                      timeout=60)

    def test_tls13_by_default(self):
        echo = self.server()
        version, cipher = self.talk(echo, self.client_ctx())
        self.assertEqual(version, "TLSv1.3")
        line = pt.wait_for(lambda: echo.find("summary: "), "summary")
        self.assertEqual(
            line, "summary: Anonymous TLS connection established from "
            "localhost[127.0.0.1]: TLSv1.3 with cipher %s (%d/%d bits) "
            "key-exchange X25519 server-signature RSA-PSS (2048 bits) "
            "server-digest SHA256" % (cipher[0], cipher[2], cipher[2]))

    def test_tls12_as_configured(self):
        echo = self.server("-p", "!SSLv2, !SSLv3, !TLSv1, !TLSv1.1, "
                           "!TLSv1.3")
        version, cipher = self.talk(echo, self.client_ctx())
        self.assertEqual(version, "TLSv1.2")
        line = pt.wait_for(lambda: echo.find("summary: "), "summary")
        self.assertEqual(
            line, "summary: Anonymous TLS connection established from "
            "localhost[127.0.0.1]: TLSv1.2 with cipher %s (256/256 bits)"
            % cipher[0])
        # openssl s_client insisting on TLS 1.3 is refused.
        r = self.s_client(echo.port, "-tls1_3")
        self.assertIn("Cipher is (NONE)", r.stdout)
        pt.wait_for(lambda: echo.find("error: SSL_accept error from "
                                      "localhost[127.0.0.1]"),
                    "refused TLS 1.3 logged")

    def test_protocol_floor_refuses_older(self):
        echo = self.server("-p", ">=TLSv1.3")
        with self.assertRaises(ssl.SSLError):
            self.talk(echo, self.client_ctx(
                maxv=ssl.TLSVersion.TLSv1_2))
        r = self.s_client(echo.port, "-tls1_2")
        self.assertIn("Cipher is (NONE)", r.stdout)
        err = pt.wait_for(lambda: echo.find("error: ", 2), "two errors")
        self.assertIn("unsupported protocol", err)
        self.assertIsNone(echo.find("summary: "))
        # The server is still up and speaks TLS 1.3.
        self.assertEqual(self.talk(echo, self.client_ctx())[0], "TLSv1.3")

    def check_ccert(self, digest):
        echo = self.server("-a", "-C", "ca.pem", "-d", digest)
        self.talk(echo, self.client_ctx(cert="cli"))
        peer = pt.wait_for(lambda: echo.find("peer: "), "peer line")
        want = openssl_fp(self.path("cli.pem"), digest)
        want_pk = openssl_fp(self.path("cli.pem"), digest, pkey=True)
        self.assertIn(" fingerprint=%s " % want, peer)
        self.assertTrue(peer.endswith(" pkey_fingerprint=%s" % want_pk))
        self.assertIn("cert=1 trusted=1", peer)
        self.assertIn("CN=relay-client.example.org issuer=Echo Test Root",
                      peer)
        line = echo.find("summary: ")
        self.assertTrue(line.startswith(
            "summary: Trusted TLS connection established from "
            "localhost[127.0.0.1]: TLSv1.3"), line)
        self.assertIn(" client-signature ECDSA (prime256v1) "
                      "client-digest SHA256", line)
        # openssl s_client presenting the same certificate: same print.
        self.s_client(echo.port, "-cert", self.path("cli.pem"), "-key",
                      self.path("cli.key"))
        peer2 = pt.wait_for(lambda: echo.find("peer: ", 2), "2nd peer")
        self.assertEqual(peer2, peer)

    def test_client_certificate_sha256(self):
        self.check_ccert("sha256")

    def test_client_certificate_sha1(self):
        self.check_ccert("sha1")

    def test_client_certificate_md5(self):
        self.check_ccert("md5")

    def test_untrusted_and_absent_client_certificates(self):
        echo = self.server("-a", "-C", "ca.pem")
        self.talk(echo, self.client_ctx(cert="self"))
        line = pt.wait_for(lambda: echo.find("summary: "), "summary")
        self.assertTrue(line.startswith("summary: Untrusted TLS connection "
                                        "established from"), line)
        self.talk(echo, self.client_ctx())
        line = pt.wait_for(lambda: echo.find("summary: ", 2), "summary 2")
        self.assertTrue(line.startswith("summary: Anonymous TLS connection "
                                        "established from"), line)

    def resume(self, first, second, *proto):
        """s_client to first saving the session, then to second reusing
        it; returns the second s_client output."""
        sess = os.path.join(self.pki, "sess-%d" % first.port)
        p = subprocess.Popen(["openssl", "s_client", "-connect",
                              "127.0.0.1:%d" % first.port, "-CAfile",
                              self.path("ca.pem"), "-sess_out", sess] +
                             list(proto), stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
        # The echo comes back after the session ticket, so once it is
        # read the ticket has been too.
        p.stdin.write("hello-ticket\n")
        p.stdin.flush()
        for line in p.stdout:
            if line.strip() == "hello-ticket":
                break
        p.stdin.close()
        p.stdout.read()
        p.stdout.close()
        p.wait()
        self.assertTrue(os.path.exists(sess))
        return self.s_client(second.port, "-sess_in", sess, *proto).stdout

    def test_resumption_across_processes(self):
        keys = self.path("tickets.key")
        pt.run([ECHO, "-K", keys], check=True)
        self.assertEqual(os.stat(keys).st_mode & 0o777, 0o600)
        a = self.server("-t", keys)
        b = self.server("-t", keys)
        for proto in ([], ["-tls1_2"]):
            out = self.resume(a, b, *proto)
            self.assertIn("Reused, TLSv1.", out)
        self.assertIn("reused=1", pt.wait_for(
            lambda: b.find("peer: ", 2), "two sessions on b"))
        # A process with other keys cannot decrypt the ticket.
        c = self.server()
        out = self.resume(a, c)
        self.assertIn("New, TLSv1.3", out)
        self.assertNotIn("Reused,", out)

    def test_renegotiation_refused(self):
        echo = self.server("-p", "TLSv1.2")
        p = subprocess.Popen(["openssl", "s_client", "-connect",
                              "127.0.0.1:%d" % echo.port, "-CAfile",
                              self.path("ca.pem"), "-tls1_2"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        p.stdin.write("R\n")
        p.stdin.flush()
        out = []
        for line in p.stdout:
            out.append(line)
            if "no renegotiation" in line or "Verify return code" in line \
                    and any("RENEGOTIATING" in x for x in out):
                break
        p.stdin.close()
        out.append(p.stdout.read())
        p.stdout.close()
        p.wait()
        text = "".join(out)
        self.assertIn("RENEGOTIATING", text)
        self.assertIn("no renegotiation", text)
        # One handshake only, and the server goes on serving.  The echo's
        # summary line reaches its reader thread a moment after the client
        # saw the refusal: wait for it before counting.
        pt.wait_for(lambda: echo.count("summary: ") >= 1,
                    "the echo's summary of the handshake")
        self.assertEqual(echo.count("summary: "), 1)
        self.assertIsNone(echo.proc.poll())
        self.assertEqual(self.talk(echo, self.client_ctx())[0], "TLSv1.2")

    def test_garbage_instead_of_client_hello(self):
        echo = self.server()
        for junk in (b"EHLO example.org\r\n",
                     b"GET / HTTP/1.0\r\n\r\n",
                     b"\x16\x03\x01\x00\x04\x01\x00\x00\x00" * 3,
                     os.urandom(3000)):
            with socket.create_connection(("127.0.0.1", echo.port)) as s:
                # The server may close (and reset) before reading it all.
                try:
                    s.sendall(junk)
                    s.shutdown(socket.SHUT_WR)
                    while s.recv(4096):
                        pass
                except OSError:
                    pass
        pt.wait_for(lambda: echo.count("error: SSL_accept error from "
                                       "localhost[127.0.0.1]") == 4,
                    "four refused handshakes")
        self.assertIsNone(echo.proc.poll())
        self.assertEqual(self.talk(echo, self.client_ctx())[0], "TLSv1.3")


if __name__ == "__main__":
    pt.main()
