#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""postern serve against real SMTP clients nobody here wrote.

Python's smtplib/ssl (STARTTLS, implicit TLS, client certificates), swaks
and openssl s_client talk to a running postern with three listeners from
master.cf: smtp (STARTTLS offered), smtps (wrapper mode) and submission
(TLS required).  Relaying is allowed only by a client certificate whose
fingerprint is in relay_clientcerts (seed 003), never by address: the
tests' own address is kept out of mynetworks.
"""
import os
import smtplib
import socket
import ssl
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import pt  # noqa: E402
import srv  # noqa: E402
from pki import PKI  # noqa: E402


class Clients(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = pt.tempfile.mkdtemp(prefix="postern-smtpd-")
        cls.pki = PKI(os.path.join(cls.tmp, "pki"))
        cls.crt, cls.key = cls.pki.issue("mx.postern.test",
                                         ["mx.postern.test", "127.0.0.1"])
        cls.ccrt, cls.ckey = cls.pki.issue("relay-client", client=True)
        cls.ocrt, cls.okey = cls.pki.issue("other-client", client=True)
        conf = os.path.join(cls.tmp, "conf")
        os.makedirs(conf)
        fp = PKI.fingerprint(cls.ccrt)
        with open(os.path.join(conf, "clientcerts"), "w") as f:
            f.write("# relay_clientcerts, as seed 003 builds it\n"
                    "%s relay-client\n" % fp)
        main_cf = """
mynetworks = 192.0.2.0/24
smtpd_tls_security_level = may
smtpd_tls_cert_file = {crt}
smtpd_tls_key_file = {key}
smtpd_tls_CAfile = {ca}
smtpd_tls_ask_ccert = yes
smtpd_tls_loglevel = 1
smtpd_tls_received_header = yes
relay_clientcerts = texthash:{conf}/clientcerts
smtpd_relay_restrictions = permit_mynetworks, permit_tls_clientcerts,
    reject_unauth_destination
""".format(crt=cls.crt, key=cls.key, ca=cls.pki.ca_crt, conf=conf)
        cls.ports = {n: pt.free_port()
                     for n in ("smtp", "smtps", "sub", "req")}
        other = PKI(os.path.join(cls.tmp, "other-ca"), "Other CA")
        cls.xcrt, cls.xkey = other.issue("stranger", client=True)
        cls.server = srv.Server(conf, main_cf, [
            ("smtp", cls.ports["smtp"], []),
            ("smtps", cls.ports["smtps"], ["smtpd_tls_wrappermode=yes"]),
            ("sub", cls.ports["sub"], ["smtpd_tls_security_level=encrypt"]),
            ("req", cls.ports["req"], ["smtpd_tls_wrappermode=yes",
                                       "smtpd_tls_req_ccert=yes"]),
        ]).start()

    @classmethod
    def tearDownClass(cls):
        srv.stop_and_clean(cls.server, cls.tmp)

    def client_ctx(self, cert=None, key=None):
        ctx = ssl.create_default_context(cafile=self.pki.ca_crt)
        if cert:
            ctx.load_cert_chain(cert, key)
        return ctx

    def smtp(self, port="smtp"):
        s = smtplib.SMTP("127.0.0.1", self.ports[port], timeout=60)
        self.addCleanup(self._quit, s)
        return s

    @staticmethod
    def _quit(s):
        try:
            s.quit()
        except Exception:
            pass

    def queued_id(self, reply):
        code, text = reply
        self.assertEqual(code, 250, text)
        text = text.decode()
        self.assertTrue(text.startswith("2.0.0 Ok: queued as "), text)
        return text.split()[-1]

    def send(self, s, rcpt, body, sender="alice@example.net"):
        s.mail(sender)
        code, text = s.rcpt(rcpt)
        if code != 250:
            return code, text
        return s.data(body)

    # -- plain and STARTTLS ------------------------------------------------

    def test_plain_local_delivery_is_queued(self):
        s = self.smtp()
        s.ehlo("client.example")
        self.assertIn("starttls", s.esmtp_features)
        qid = self.queued_id(self.send(s, "bob@mx.postern.test",
                                       "Subject: plain\r\n\r\nplain-body\r\n"))
        self.assertIn(qid, self.server.queued())
        data = self.server.queue_file(qid)
        self.assertIn(b"plain-body", data)
        self.assertIn(b"Received: from client.example", data)

    def test_starttls_verified_by_python(self):
        s = self.smtp()
        s.ehlo("tls.example")
        s.starttls(context=self.client_ctx())
        # RFC 3207: state reset, EHLO again, no second STARTTLS offered
        s.ehlo("tls.example")
        self.assertNotIn("starttls", s.esmtp_features)
        qid = self.queued_id(self.send(s, "bob@mx.postern.test",
                                       "Subject: tls\r\n\r\ntls-body\r\n"))
        data = self.server.queue_file(qid)
        self.assertIn(b"(using TLSv1.3 with cipher", data)
        self.assertIn(b"with ESMTPS", data)
        self.server.wait_log("Anonymous TLS connection established from "
                             "localhost[127.0.0.1]: TLSv1.3 with cipher")

    def test_second_starttls_refused(self):
        s = self.smtp()
        s.ehlo()
        s.starttls(context=self.client_ctx())
        s.ehlo()
        code, text = s.docmd("STARTTLS")
        self.assertEqual((code, text), (554, b"5.5.1 Error: TLS already "
                                              b"active"))

    def test_implicit_tls(self):
        s = smtplib.SMTP_SSL("127.0.0.1", self.ports["smtps"], timeout=60,
                             context=self.client_ctx())
        self.addCleanup(self._quit, s)
        s.ehlo("wrapper.example")
        self.assertNotIn("starttls", s.esmtp_features)
        qid = self.queued_id(self.send(s, "bob@mx.postern.test",
                                       "Subject: 465\r\n\r\nimplicit\r\n"))
        self.assertIn(b"(using TLSv1.3", self.server.queue_file(qid))

    def test_encrypt_level_requires_starttls(self):
        s = self.smtp("sub")
        s.ehlo()
        code, text = s.mail("alice@example.net")
        self.assertEqual(code, 530)
        self.assertIn(b"5.7.0 Must issue a STARTTLS command first", text)
        s.starttls(context=self.client_ctx())
        s.ehlo()
        self.queued_id(self.send(s, "bob@mx.postern.test",
                                 "Subject: sub\r\n\r\nsubmission\r\n"))

    def test_req_ccert(self):
        # a certificate from the trusted CA: a session
        s = smtplib.SMTP_SSL("127.0.0.1", self.ports["req"], timeout=60,
                             context=self.client_ctx(self.ccrt, self.ckey))
        self.addCleanup(self._quit, s)
        self.assertEqual(s.noop()[0], 250)
        # one from a CA the server does not trust: 421, no session
        with self.assertRaises((smtplib.SMTPServerDisconnected,
                                smtplib.SMTPConnectError, ssl.SSLError,
                                ConnectionError)) as cm:
            smtplib.SMTP_SSL("127.0.0.1", self.ports["req"], timeout=60,
                             context=self.client_ctx(self.xcrt, self.xkey))
        self.server.wait_log("NOQUEUE: abort: TLS from localhost[127.0.0.1]: "
                             "client certificate not trusted")
        del cm
        # none at all: the handshake itself fails
        with self.assertRaises((smtplib.SMTPServerDisconnected,
                                ssl.SSLError, ConnectionError)):
            s2 = smtplib.SMTP_SSL("127.0.0.1", self.ports["req"], timeout=60,
                                  context=self.client_ctx())
            s2.noop()

    # -- relay control by client certificate (seed 003) --------------------

    def test_relay_denied_without_certificate(self):
        s = self.smtp()
        s.ehlo()
        s.starttls(context=self.client_ctx())
        s.ehlo()
        s.mail("alice@example.net")
        code, text = s.rcpt("carol@elsewhere.example")
        self.assertEqual(code, 554)
        self.assertEqual(text, b"5.7.1 <carol@elsewhere.example>: Relay "
                               b"access denied")

    def test_relay_allowed_by_listed_certificate(self):
        s = self.smtp()
        s.ehlo()
        s.starttls(context=self.client_ctx(self.ccrt, self.ckey))
        s.ehlo()
        qid = self.queued_id(self.send(s, "carol@elsewhere.example",
                                       "Subject: relay\r\n\r\nrelayed\r\n"))
        self.assertIn(qid, self.server.queued())
        self.server.wait_log("Trusted TLS connection established from "
                             "localhost[127.0.0.1]")

    def test_relay_denied_for_unlisted_certificate(self):
        s = self.smtp()
        s.ehlo()
        s.starttls(context=self.client_ctx(self.ocrt, self.okey))
        s.ehlo()
        s.mail("alice@example.net")
        code, _ = s.rcpt("carol@elsewhere.example")
        self.assertEqual(code, 554)

    def test_relay_denied_in_plaintext(self):
        s = self.smtp()
        s.ehlo()
        s.mail("alice@example.net")
        code, _ = s.rcpt("carol@elsewhere.example")
        self.assertEqual(code, 554)

    # -- swaks and openssl s_client ------------------------------------------

    def swaks(self, *args):
        if not pt.have("swaks"):
            self.fail("swaks is not installed (scripts/install-deps)")
        return pt.run(["swaks", "--server", "127.0.0.1", "--from",
                       "alice@example.net", "--timeout", "60"] + list(args))

    def test_swaks_starttls_with_client_cert_relays(self):
        r = self.swaks("--port", str(self.ports["smtp"]), "--to",
                       "dave@elsewhere.example", "--tls", "--tls-cert",
                       self.ccrt, "--tls-key", self.ckey)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("250 2.0.0 Ok: queued as", r.stdout)

    def test_swaks_tls_on_connect(self):
        r = self.swaks("--port", str(self.ports["smtps"]), "--to",
                       "bob@mx.postern.test", "--tls-on-connect")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("250 2.0.0 Ok: queued as", r.stdout)

    def test_swaks_relay_refused_without_cert(self):
        r = self.swaks("--port", str(self.ports["smtp"]), "--to",
                       "dave@elsewhere.example", "--tls")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("554 5.7.1 <dave@elsewhere.example>: Relay access "
                      "denied", r.stdout)

    def test_openssl_s_client_starttls(self):
        r = pt.run(["openssl", "s_client", "-connect",
                    "127.0.0.1:%d" % self.ports["smtp"], "-starttls", "smtp",
                    "-CAfile", self.pki.ca_crt, "-verify_hostname",
                    "mx.postern.test", "-verify_return_error", "-quiet"],
                   input="EHLO s-client.example\r\nQUIT\r\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("250-mx.postern.test", r.stdout)
        self.assertIn("221 2.0.0 Bye", r.stdout)
        self.assertNotIn("STARTTLS", r.stdout)

    # -- hostile clients ---------------------------------------------------

    def raw(self, port="smtp"):
        return srv.raw_session(self, self.ports[port], timeout=60)

    @staticmethod
    def reply(f):
        return srv.read_reply(f)

    def test_starttls_command_injection_not_executed(self):
        before = self.server.queued()
        sock, f = self.raw()
        sock.sendall(b"EHLO x\r\n")
        self.reply(f)
        # CVE-2011-0411: commands behind STARTTLS in the same packet
        sock.sendall(b"STARTTLS\r\nMAIL FROM:<evil@example.net>\r\n"
                     b"RCPT TO:<bob@mx.postern.test>\r\nDATA\r\n")
        self.assertEqual(self.reply(f)[0][:4], b"220 ")
        # postern closes instead of starting TLS, never answers MAIL
        rest = f.read()
        self.assertNotIn(b"250", rest)
        self.assertEqual(self.server.queued(), before)

    def test_smuggling_bare_lf_rejected(self):
        sock, f = self.raw()
        sock.sendall(b"EHLO x\r\n")
        self.reply(f)
        sock.sendall(b"MAIL FROM:<a@example.net>\r\n")
        self.reply(f)
        sock.sendall(b"RCPT TO:<bob@mx.postern.test>\r\n")
        self.reply(f)
        sock.sendall(b"DATA\r\n")
        self.assertEqual(self.reply(f)[0][:4], b"354 ")
        sock.sendall(b"Subject: outer\r\n\r\nouter\n.\nMAIL FROM:<x@y>\r\n"
                     b"RCPT TO:<bob@mx.postern.test>\r\nDATA\r\n"
                     b"Subject: smuggled\r\n\r\nsmuggled-body\r\n.\r\n")
        first = self.reply(f)[0]
        self.assertTrue(first.startswith(b"521 5.5.2") or
                        first.startswith(b"550 5.5.2"), first)
        self.assertIsNone(self.server.find_message("smuggled-body"))

    def test_garbage_instead_of_client_hello(self):
        sock = socket.create_connection(("127.0.0.1", self.ports["smtps"]),
                                        timeout=60)
        self.addCleanup(sock.close)
        sock.sendall(b"\x16\x03\x01\x00\x05hello" + os.urandom(300))
        sock.settimeout(60)
        try:
            data = sock.recv(4096)
        except ConnectionResetError:
            data = b""
        self.assertNotIn(b"220", data)
        # the server is still up and serving
        s = self.smtp()
        self.assertEqual(s.noop()[0], 250)

    def test_queue_holds_only_acknowledged_messages(self):
        # every message in ready/ was acknowledged by some test, and every
        # acknowledgement left a file: count both through one session
        before = set(self.server.queued())
        s = self.smtp()
        s.ehlo()
        ids = {self.queued_id(self.send(s, "bob@mx.postern.test",
                                        "Subject: n%d\r\n\r\nx\r\n" % i))
               for i in range(5)}
        s.mail("alice@example.net")
        s.rcpt("bob@mx.postern.test")
        s.putcmd("DATA")
        s.getreply()
        s.send(b"Subject: half\r\n\r\nnever finished")
        s.close()
        pt.wait_for(lambda: "lost connection after DATA" in
                    self.server.logtext(), "lost connection")
        self.assertEqual(set(self.server.queued()) - before, ids)
        self.assertIsNone(self.server.find_message("never finished"))


class StartupErrors(pt.TempDirTest):

    def serve(self, main_cf):
        return srv.serve_once(self.tmp, main_cf)

    def test_key_readable_by_others_is_refused(self):
        pki = PKI(os.path.join(self.tmp, "pki"))
        crt, key = pki.issue("mx.postern.test")
        os.chmod(key, 0o644)
        r = self.serve("smtpd_tls_security_level = may\n"
                       "smtpd_tls_cert_file = %s\nsmtpd_tls_key_file = %s\n"
                       % (crt, key))
        self.assertEqual(r.returncode, 1)
        self.assertIn(key, r.stderr)
        self.assertIn("chmod", r.stderr)

    def test_tls_without_certificate(self):
        r = self.serve("smtpd_tls_security_level = encrypt\n")
        self.assertEqual(r.returncode, 1)
        self.assertIn("smtpd_tls_cert_file", r.stderr)

    def test_open_relay_configuration_refused(self):
        r = self.serve("smtpd_relay_restrictions = permit_mynetworks\n"
                       "smtpd_recipient_restrictions = permit\n")
        self.assertEqual(r.returncode, 1)
        self.assertIn("open relay", r.stderr)

    def test_unknown_restriction(self):
        r = self.serve("smtpd_recipient_restrictions = permit_mynetworks "
                       "reject_everything\n")
        self.assertEqual(r.returncode, 1)
        self.assertIn("unknown restriction \"reject_everything\"", r.stderr)


if __name__ == "__main__":
    pt.main()
