#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The SMTP client authenticates to its relay host (smtp_sasl_auth_enable,
smtp_sasl_password_maps), as Postfix's does for a smarthost.

A scripted relay offers AUTH and refuses MAIL before it.  Through it:

- with credentials for "[127.0.0.1]:PORT" (the next hop as written in
  relayhost) and smtp_sasl_security_options = noanonymous, the client
  sends AUTH PLAIN with the right user and password and the mail goes
  out; with smtp_sasl_mechanism_filter = login it uses LOGIN;
- with Postfix's default options (noplaintext) the client sends no
  password over a plaintext connection at all: the mail is deferred,
  "no mechanism available";
- a wrong password gets the relay's 535, deferred (soft bounce);
- without an entry for the relay, no AUTH: the relay's 530 is what the
  mail gets; a relay that offers no AUTH gets the mail without it;
- with smtp_sender_dependent_authentication the credentials follow the
  envelope sender (its address, then @domain, then the relay's entry),
  and a connection authenticated for one sender is not reused for the
  next one.

Before, smtp_sasl_auth_enable refused the start, and earlier it was an
unknown parameter: mail to such a relay host was never authenticated."""
import os
import smtplib

import pt
import qmgrfix


class SaslClient(pt.TempDirTest):

    def relay(self, main_cf, users={"alice": "s3cret"}, mechs="PLAIN LOGIN"):
        peer = qmgrfix.FakeSmtp(auth=(mechs, users))
        self.addCleanup(peer.close)
        key = main_cf.pop("key", "[127.0.0.1]:%d" % peer.port)
        pw = self.write("sasl_passwd_%d" % peer.port, "%s alice:%s\n" % (
            key, main_cf.pop("password", "s3cret")))
        cf = ("relayhost = [127.0.0.1]:%d\n"
              "smtp_tls_security_level = none\n"
              "smtp_sasl_auth_enable = yes\n"
              "smtp_sasl_password_maps = texthash:%s\n" % (peer.port, pw))
        cf += "".join("%s = %s\n" % kv for kv in main_cf.items())
        mta = qmgrfix.Mta(os.path.join(self.tmp, "mta%d" % peer.port), cf)
        mta.start()
        self.addCleanup(mta.stop)
        return mta, peer

    def send(self, mta, sender="sender@mx.postern.test"):
        with smtplib.SMTP("127.0.0.1", mta.port, timeout=60) as s:
            s.mail(sender)
            s.rcpt("bob@remote.example")
            code, msg = s.data(b"Subject: sasl\r\n\r\nbody\r\n")
            self.assertEqual(code, 250, msg)
            qid = msg.decode().split()[-1]
        mta.wait_log("%s: to=<bob@remote.example>" % qid)
        return [ln for ln in mta.logtext().splitlines()
                if "%s: to=<bob@remote.example>" % qid in ln][0]

    def test_plain_then_login(self):
        mta, peer = self.relay({"smtp_sasl_security_options": "noanonymous"})
        line = self.send(mta)
        self.assertIn("status=sent", line)
        self.assertEqual(peer.auth_log, [("PLAIN", "alice", True)])
        self.assertEqual(len(peer.messages), 1)
        mta, peer = self.relay({"smtp_sasl_security_options": "noanonymous",
                                "smtp_sasl_mechanism_filter": "login"})
        self.assertIn("status=sent", self.send(mta))
        self.assertEqual(peer.auth_log, [("LOGIN", "alice", True)])

    def test_no_password_in_the_clear_by_default(self):
        mta, peer = self.relay({})
        line = self.send(mta)
        self.assertIn("status=deferred (SASL authentication failed; cannot "
                      "authenticate to server 127.0.0.1[127.0.0.1]: no "
                      "mechanism available)", line)
        self.assertEqual(peer.auth_log, [])
        self.assertEqual(peer.messages, [])

    def test_wrong_password_defers(self):
        mta, peer = self.relay({"smtp_sasl_security_options": "noanonymous",
                                "password": "guess"})
        line = self.send(mta)
        self.assertIn("dsn=4.7.8, status=deferred (SASL authentication "
                      "failed; server 127.0.0.1[127.0.0.1] said: 535 5.7.8 "
                      "Error: authentication failed)", line)
        self.assertEqual(peer.auth_log, [("PLAIN", "alice", False)])

    def test_no_entry_no_auth(self):
        mta, peer = self.relay({"smtp_sasl_security_options": "noanonymous",
                                "key": "[other.example]:587"})
        line = self.send(mta)
        self.assertIn("status=bounced (host 127.0.0.1[127.0.0.1] said: 530 "
                      "5.7.0 Authentication required", line)
        self.assertEqual(peer.auth_log, [])

    def test_server_without_auth(self):
        mta, peer = self.relay({"smtp_sasl_security_options": "noanonymous"})
        peer.auth = None  # offers no AUTH, requires none
        self.assertIn("status=sent", self.send(mta))
        self.assertEqual(peer.auth_log, [])


    def test_sender_dependent_authentication(self):
        users = {"alice": "pw-a", "carol": "pw-c", "bob": "pw-b"}
        peer = qmgrfix.FakeSmtp(auth=("PLAIN", users))
        self.addCleanup(peer.close)
        pw = self.write("sasl_sender", "alice@one.test alice:pw-a\n"
                        "@one.test carol:pw-c\n"
                        "[127.0.0.1]:%d bob:pw-b\n" % peer.port)
        mta = qmgrfix.Mta(os.path.join(self.tmp, "mta-sd"), (
            "relayhost = [127.0.0.1]:%d\n"
            "smtp_tls_security_level = none\n"
            "smtp_sasl_auth_enable = yes\n"
            "smtp_sasl_security_options = noanonymous\n"
            "smtp_sender_dependent_authentication = yes\n"
            "smtp_sasl_password_maps = texthash:%s\n" % (peer.port, pw)))
        mta.start()
        self.addCleanup(mta.stop)
        for sender in ("alice@one.test", "dave@one.test", "erin@two.test",
                       "alice@one.test"):
            self.assertIn("status=sent", self.send(mta, sender))
        self.assertEqual(peer.auth_log, [
            ("PLAIN", "alice", True), ("PLAIN", "carol", True),
            ("PLAIN", "bob", True), ("PLAIN", "alice", True)])
        self.assertEqual([m[0] for m in peer.messages], [
            "alice@one.test", "dave@one.test", "erin@two.test",
            "alice@one.test"])


if __name__ == "__main__":
    pt.main()
