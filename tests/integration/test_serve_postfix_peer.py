#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Seed 003 end to end: a real Postfix relays to postern with a client
certificate.

A private Postfix instance (Debian's package) takes a message on its own
smtpd port and relays everything to postern through relayhost, with
smtp_tls_security_level = secure and the test CA.  postern allows relaying
only for client certificates listed in relay_clientcerts (never by
address: mynetworks is elsewhere).  With the listed certificate the
message lands in postern's queue; without it Postfix gets "554 5.7.1 ...
Relay access denied" and bounces.
"""
import os
import smtplib
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import pfpeer  # noqa: E402
import pt  # noqa: E402
import srv  # noqa: E402
from pki import PKI  # noqa: E402

@unittest.skipUnless(pt.have("postfix") and os.geteuid() == 0,
                     "needs Postfix and root for a private instance")
class PostfixRelaysToPostern(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = pfpeer.tmpdir("postern-pfpeer-")
        cls.pki = PKI(os.path.join(cls.tmp, "pki"))
        os.chmod(cls.pki.d, 0o755)
        cls.crt, cls.key = cls.pki.issue("mx.postern.test",
                                         ["mx.postern.test", "127.0.0.1"])
        cls.ccrt, cls.ckey = cls.pki.issue("relay-client", client=True)
        conf = os.path.join(cls.tmp, "postern")
        os.makedirs(conf)
        with open(os.path.join(conf, "clientcerts"), "w") as f:
            f.write("%s relay-client\n" % PKI.fingerprint(cls.ccrt))
        main_cf = """
mynetworks = 192.0.2.0/24
smtpd_tls_security_level = may
smtpd_tls_cert_file = {crt}
smtpd_tls_key_file = {key}
smtpd_tls_CAfile = {ca}
smtpd_tls_ask_ccert = yes
smtpd_tls_loglevel = 1
relay_clientcerts = texthash:{conf}/clientcerts
smtpd_relay_restrictions = permit_mynetworks, permit_tls_clientcerts,
    reject_unauth_destination
""".format(crt=cls.crt, key=cls.key, ca=cls.pki.ca_crt, conf=conf)
        cls.port = pt.free_port()
        cls.server = srv.Server(conf, main_cf,
                                [("smtp", cls.port, [])]).start()

    @classmethod
    def tearDownClass(cls):
        srv.stop_and_clean(cls.server, cls.tmp)

    # -- a private Postfix instance ------------------------------------------

    def start_postfix(self, name, with_cert):
        base = os.path.join(self.tmp, name)
        os.makedirs(base)
        policy = os.path.join(base, "tls_policy")
        with open(policy, "w") as f:
            # the relayhost is an address: name the certificate we expect
            f.write("[127.0.0.1]:%d secure match=mx.postern.test\n" %
                    self.port)
        params = {
            "myhostname": "postfix-peer.test",
            "mydestination": "",
            "relayhost": "[127.0.0.1]:%d" % self.port,
            "smtp_tls_security_level": "secure",
            "smtp_tls_policy_maps": "texthash:" + policy,
            "smtp_tls_CAfile": self.pki.ca_crt,
            "smtp_tls_loglevel": "1",
            "smtp_tls_session_cache_database": "",
        }
        if with_cert:
            params["smtp_tls_cert_file"] = self.ccrt
            params["smtp_tls_key_file"] = self.ckey
        self.pf = pfpeer.Postfix(base, params).start()
        self.addCleanup(self.pf.stop)
        self.pf_port = self.pf.port

    def pf_read(self, words):
        """Postfix's log once it holds one of words, else None."""
        return self.pf.read(words)

    def submit(self, rcpt, token):
        with smtplib.SMTP("127.0.0.1", self.pf_port, timeout=60) as s:
            s.sendmail("alice@example.net", [rcpt],
                       "From: alice@example.net\r\nTo: %s\r\n"
                       "Subject: seed 003\r\n\r\nbody %s\r\n" % (rcpt, token))

    # -- tests ---------------------------------------------------------------

    def test_relay_with_listed_client_certificate(self):
        self.start_postfix("pf-cert", with_cert=True)
        token = os.urandom(8).hex()
        self.submit("carol@elsewhere.example", token)
        text = pt.wait_for(lambda: self.pf_read(("status=sent",
                                                 "status=bounced",
                                                 "status=deferred")),
                           "Postfix delivery attempt")
        self.assertIn("status=sent", text)
        self.assertIn("Verified TLS connection established to "
                      "127.0.0.1[127.0.0.1]:%d" % self.port, text)
        self.assertIn("250 2.0.0 Ok: queued as ", text)
        self.server.wait_log("Trusted TLS connection established from "
                             "localhost[127.0.0.1]")
        data = pt.wait_for(lambda: self.server.find_message(token),
                           "the relayed message in postern's ready/")
        self.assertIn(b"carol@elsewhere.example", data)
        self.assertIn(b"Subject: seed 003", data)
        # the queue ID Postfix was given is the file in ready/
        qid = text.split("250 2.0.0 Ok: queued as ", 1)[1].split(")")[0]
        self.assertIn(qid.strip(), self.server.queued())

    def test_relay_without_client_certificate_bounces(self):
        self.start_postfix("pf-nocert", with_cert=False)
        before = set(self.server.queued())
        token = os.urandom(8).hex()
        self.submit("dave@elsewhere.example", token)
        text = pt.wait_for(lambda: self.pf_read(("status=sent",
                                                 "status=bounced",
                                                 "status=deferred")),
                           "Postfix delivery attempt")
        self.assertIn("Verified TLS connection established to "
                      "127.0.0.1[127.0.0.1]:%d" % self.port, text)
        self.assertIn("554 5.7.1 <dave@elsewhere.example>: Relay access "
                      "denied", text)
        self.assertIn("status=bounced", text)
        self.assertNotIn("status=sent", text)
        self.server.wait_log("NOQUEUE: reject: RCPT from localhost[127.0.0.1]: "
                             "554 5.7.1 <dave@elsewhere.example>: Relay "
                             "access denied")
        self.assertIsNone(self.server.find_message(token))
        # the bounce to alice goes the same way and is refused as well:
        # nothing new may sit in ready/
        self.assertEqual(set(self.server.queued()) - before, set())


if __name__ == "__main__":
    pt.main()
