#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""postern's SMTP client against hostile fake servers (fakesmtp.py):
response injection after STARTTLS, STARTTLS stripped or refused, a
connection dropped in DATA, per-recipient 4xx/5xx, a server that never
answers, pipelining, dot-stuffing, DSN pass-through and connection
reuse."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakesmtp  # noqa: E402
import pki  # noqa: E402
import pt  # noqa: E402
import smtpsend  # noqa: E402


class SmtpFake(pt.TempDirTest):
    def setUp(self):
        super().setUp()
        self.pki = pki.PKI(os.path.join(self.tmp, "pki"))
        self.crt, self.key = self.pki.issue("localhost", sans=["localhost"])

    def server(self, **kw):
        kw.setdefault("cert", (self.crt, self.key))
        s = fakesmtp.FakeSMTP(**kw)
        self.addCleanup(s.close)
        return s

    def conf(self, level, **kw):
        d = os.path.join(self.tmp, "c-" + level)
        kw.setdefault("smtp_tls_CAfile", self.pki.ca_crt)
        return smtpsend.write_main_cf(d, smtp_tls_security_level=level, **kw)

    def send(self, conf, srv, rcpts=("a@x.test",), extra=()):
        return smtpsend.send(conf, "[127.0.0.1]:%d" % srv.port, rcpts, extra)

    def test_injection_after_starttls_is_discarded(self):
        # The injected 554 must not be read as the reply to the EHLO sent
        # inside TLS: the client must go on and deliver.
        for level in ("may", "encrypt"):
            s = self.server(inject=b"554 5.7.1 injected reply\r\n")
            res, log = self.send(self.conf(level), s)
            r = res["a@x.test"][0]
            self.assertEqual(r["status"], "sent", log)
            self.assertNotIn("injected", r["text"])
            self.assertIn("discarding 26 bytes of plaintext", log)
            self.assertIn("tls EHLO client.test", s.commands)
            self.assertTrue(s.messages[0]["tls"])

    def test_starttls_stripped_encrypt_never_plaintext(self):
        s = self.server(starttls=False)
        res, log = self.send(self.conf("encrypt"), s)
        r = res["a@x.test"][0]
        self.assertEqual(r["status"], "deferred")
        self.assertEqual(r["dsn"], "4.7.4")
        self.assertIn("TLS is required, but was not offered by host "
                      "127.0.0.1[127.0.0.1]", r["text"])
        self.assertFalse(any(c.startswith("MAIL") for c in s.commands))
        self.assertEqual(s.messages, [])

    def test_starttls_stripped_may_plaintext(self):
        s = self.server(starttls=False)
        res, log = self.send(self.conf("may"), s)
        self.assertEqual(res["a@x.test"][0]["status"], "sent")
        self.assertFalse(s.messages[0]["tls"])

    def test_starttls_454(self):
        s = self.server(starttls_reply="454 4.7.0 TLS not available")
        res, log = self.send(self.conf("verify"), s)
        r = res["a@x.test"][0]
        self.assertEqual(r["status"], "deferred")
        self.assertIn("TLS is required, but host 127.0.0.1[127.0.0.1] "
                      "refused to start TLS: 454 4.7.0", r["text"])
        self.assertEqual(s.messages, [])
        s2 = self.server(starttls_reply="454 4.7.0 TLS not available")
        res, log = self.send(self.conf("may"), s2)
        self.assertEqual(res["a@x.test"][0]["status"], "sent")

    def test_handshake_failure(self):
        # may: a new connection in plaintext (and no STARTTLS on it);
        # encrypt: deferred, nothing sent.
        s = self.server(break_tls=True)
        res, log = self.send(self.conf("may"), s)
        self.assertEqual(res["a@x.test"][0]["status"], "sent", log)
        self.assertEqual(s.connections, 2)
        self.assertEqual(s.commands.count("STARTTLS"), 1)
        self.assertFalse(s.messages[0]["tls"])
        self.assertIn("retrying in plaintext", log)
        s2 = self.server(break_tls=True)
        res, log = self.send(self.conf("encrypt"), s2)
        r = res["a@x.test"][0]
        self.assertEqual(r["status"], "deferred", log)
        self.assertEqual(r["text"], "Cannot start TLS: handshake failure")
        self.assertEqual(s2.messages, [])

    def test_policy_maps_parent_domain(self):
        # ".x.test encrypt" covers sub.x.test (policy key), not other.test.
        s = self.server(starttls=False)
        pol = self.write("policy", ".x.test encrypt\nother.test may\n")
        conf = self.conf("may", smtp_tls_policy_maps="texthash:" + pol)
        res, log = self.send(conf, s, ("a@sub.x.test",),
                             ["-k", "sub.x.test"])
        self.assertEqual(res["a@sub.x.test"][0]["status"], "deferred")
        self.assertEqual(res["a@sub.x.test"][0]["dsn"], "4.7.4")
        res, log = self.send(conf, s, ("a@other.test",), ["-k", "other.test"])
        self.assertEqual(res["a@other.test"][0]["status"], "sent")
        # the nexthop key form: "[127.0.0.1]:PORT" matches exactly
        pol2 = self.write("policy2", "[127.0.0.1]:%d encrypt\n" % s.port)
        conf2 = self.conf("none", smtp_tls_policy_maps="texthash:" + pol2)
        res, log = self.send(conf2, s, ("a@y.test",))
        self.assertEqual(res["a@y.test"][0]["status"], "deferred")

    def test_invalid_policy_defers(self):
        s = self.server()
        pol = self.write("policy", "[127.0.0.1]:%d secure bogus=1\n" % s.port)
        conf = self.conf("may", smtp_tls_policy_maps="texthash:" + pol)
        res, log = self.send(conf, s)
        r = res["a@x.test"][0]
        self.assertEqual(r["status"], "deferred")
        self.assertIn("invalid TLS policy attribute", r["text"])
        self.assertEqual(s.connections, 0)

    def test_drop_in_data_defers(self):
        s = self.server(drop_in_data=True)
        res, log = self.send(self.conf("none"), s)
        r = res["a@x.test"][0]
        self.assertEqual(r["status"], "deferred", log)
        self.assertIn("lost connection with 127.0.0.1[127.0.0.1] while",
                      r["text"])

    def test_corrupt_body_never_ends_data(self):
        # The body checksum fails on the read that reaches the end: the
        # final "." must never be sent, so the server discards the data.
        s = self.server()
        msg = self.write("msg", "Subject: x\n\nCORRUPTME body\n")
        res, log = self.send(self.conf("none"), s, ("a@x.test",),
                             ["-m", msg, "-X", "CORRUPTME"])
        r = res["a@x.test"][0]
        self.assertEqual(r["status"], "deferred", log)
        self.assertEqual(r["dsn"], "4.3.0")
        self.assertIn("error reading the queue file", r["text"])
        self.assertIn("checksum mismatch", r["text"])
        self.assertIn("DATA", s.commands)
        self.assertEqual(s.messages, [])

    def test_per_recipient_status(self):
        s = self.server(rcpt={"bad@x.test": "550 5.1.1 No such user",
                              "later@x.test": "451 4.3.0 Try later"})
        for pipelining in (True, False):
            s.pipelining = pipelining
            res, log = self.send(self.conf("none"), s,
                                 ("ok@x.test", "bad@x.test", "later@x.test"))
            self.assertEqual(res["ok@x.test"][0]["status"], "sent")
            self.assertEqual(res["bad@x.test"][0]["status"], "bounced")
            self.assertEqual(res["bad@x.test"][0]["dsn"], "5.1.1")
            self.assertIn("(in reply to RCPT TO command)",
                          res["bad@x.test"][0]["text"])
            self.assertEqual(res["later@x.test"][0]["status"], "deferred")
            self.assertEqual(res["later@x.test"][0]["dsn"], "4.3.0")
            self.assertRegex(log, r"to=<bad@x.test>, relay=127.0.0.1"
                             r"\[127.0.0.1\]:\d+, delay=[\d.]+, "
                             r"delays=[\d.]+/0/[\d.]+/[\d.]+, dsn=5.1.1, "
                             r"status=bounced \(host 127.0.0.1\[127.0.0.1\] "
                             r"said: 550 5.1.1 No such user")
            self.assertEqual(s.messages[-1]["rcpts"], ["ok@x.test"])

    def test_all_recipients_rejected_no_data(self):
        s = self.server(rcpt={"bad@x.test": "550 5.1.1 No such user"},
                        pipelining=False)
        res, log = self.send(self.conf("none"), s, ("bad@x.test",))
        self.assertEqual(res["bad@x.test"][0]["status"], "bounced")
        self.assertNotIn("DATA", s.commands)

    def test_never_answers_times_out(self):
        s = self.server(silent=True)
        conf = self.conf("may", smtp_helo_timeout="2s")
        res, log = self.send(conf, s)
        r = res["a@x.test"][0]
        self.assertEqual(r["status"], "deferred")
        self.assertIn("conversation with 127.0.0.1[127.0.0.1] timed out "
                      "while receiving the initial server greeting",
                      r["text"])

    def test_ipv6_and_bind_address(self):
        s = self.server(host="::1")
        conf = self.conf("none", smtp_bind_address6="::1")
        res, log = smtpsend.send(conf, "[::1]:%d" % s.port, ["a@x.test"])
        self.assertEqual(res["a@x.test"][0]["status"], "sent", log)
        self.assertIn("relay=::1[::1]:%d" % s.port, log)
        # a source address that is not ours: the connection fails
        conf = self.conf("none", smtp_bind_address="192.0.2.1")
        s4 = self.server()
        res, log = self.send(conf, s4)
        self.assertEqual(res["a@x.test"][0]["status"], "deferred")
        self.assertIn("Cannot assign requested address",
                      res["a@x.test"][0]["text"])

    def test_smtputf8(self):
        s = self.server()
        res, log = self.send(self.conf("none"), s, ("a@x.test",), ["-u"])
        r = res["a@x.test"][0]
        self.assertEqual(r["status"], "bounced")
        self.assertEqual(r["dsn"], "5.6.7")
        self.assertEqual(r["text"], "SMTPUTF8 is required, but was not "
                         "offered by host 127.0.0.1[127.0.0.1]")
        s2 = self.server(extra_ehlo=["SMTPUTF8"])
        res, log = self.send(self.conf("none"), s2, ("a@x.test",), ["-u"])
        self.assertEqual(res["a@x.test"][0]["status"], "sent")
        mail = [c for c in s2.commands if c.startswith("MAIL")][0]
        self.assertTrue(mail.endswith(" SMTPUTF8"), mail)

    def test_dane_levels_until_dane_exists(self):
        # dane without TLSA support is may (never weaker); dane-only never
        # delivers.
        s = self.server()
        res, log = self.send(self.conf("dane"), s)
        self.assertEqual(res["a@x.test"][0]["status"], "sent")
        self.assertTrue(s.messages[0]["tls"])
        s2 = self.server()
        res, log = self.send(self.conf("dane-only"), s2)
        self.assertEqual(res["a@x.test"][0]["status"], "deferred")
        self.assertEqual(s2.connections, 0)

    def test_note_starttls_offer(self):
        s = self.server()
        res, log = self.send(self.conf(
            "none", smtp_tls_note_starttls_offer="yes"), s)
        self.assertEqual(res["a@x.test"][0]["status"], "sent")
        self.assertIn("Host offered STARTTLS: [127.0.0.1]", log)
        self.assertNotIn("STARTTLS", s.commands)

    def test_connection_refused(self):
        port = pt.free_port()
        res, log = smtpsend.send(self.conf("may"), "[127.0.0.1]:%d" % port,
                                 ["a@x.test"])
        r = res["a@x.test"][0]
        self.assertEqual(r["status"], "deferred")
        self.assertEqual(r["dsn"], "4.4.1")
        self.assertIn("Connection refused", r["text"])

    def test_greeting_5xx(self):
        s = self.server(greeting="554 5.7.1 go away")
        res, log = self.send(self.conf("none", smtp_skip_5xx_greeting="no"),
                             s)
        self.assertEqual(res["a@x.test"][0]["status"], "bounced")
        self.assertIn("refused to talk to me: 554 5.7.1 go away",
                      res["a@x.test"][0]["text"])
        res, log = self.send(self.conf("none", smtp_skip_5xx_greeting="yes"),
                             s)
        self.assertEqual(res["a@x.test"][0]["status"], "deferred")

    def test_dot_stuffing_and_dsn(self):
        s = self.server()
        msg = self.write("msg", "Subject: x\n\n.one\n..two\nlast line")
        res, log = self.send(self.conf("none"), s, ("a@x.test",),
                             ["-m", msg, "-8", "-E", "id+1 x", "-N",
                              "SUCCESS,FAILURE", "-R", "HDRS"])
        self.assertEqual(res["a@x.test"][0]["status"], "sent")
        self.assertEqual(s.messages[0]["data"],
                         b"Subject: x\r\n\r\n..one\r\n...two\r\nlast line\r\n")
        mail = [c for c in s.commands if c.startswith("MAIL")][0]
        self.assertIn(" BODY=8BITMIME", mail)
        self.assertIn(" RET=HDRS", mail)
        self.assertIn(" ENVID=id+2B1+20x", mail)
        rcpt = [c for c in s.commands if c.startswith("RCPT")][0]
        self.assertIn(" NOTIFY=SUCCESS,FAILURE", rcpt)

    def test_long_lines_broken(self):
        s = self.server()
        msg = self.write("msg", "Subject: x\n\n" + "a" * 25 + "\n")
        res, log = self.send(self.conf("none",
                                       smtp_line_length_limit="10"), s,
                             ("a@x.test",), ["-m", msg])
        self.assertEqual(res["a@x.test"][0]["status"], "sent")
        self.assertEqual(s.messages[0]["data"],
                         b"Subject: x\r\n\r\n" + b"a" * 10 +
                         b"\r\n " + b"a" * 9 + b"\r\n " + b"a" * 6 +
                         b"\r\n")

    def test_connection_reuse(self):
        s = self.server()
        res, log = self.send(self.conf("encrypt"), s, ("a@x.test",),
                             ["-n", "3"])
        self.assertEqual([r["status"] for r in res["a@x.test"]],
                         ["sent"] * 3)
        self.assertEqual(s.connections, 1)
        self.assertEqual(s.commands.count("tls RSET"), 2)
        self.assertEqual(len(s.messages), 3)

    def test_reuse_keyed_on_policy(self):
        # Same server, two policy keys with different policies: the
        # plaintext connection of "none" must not carry "encrypt" mail.
        s = self.server()
        pol = self.write("policy", "a.test none\nb.test encrypt\n")
        conf = self.conf("may", smtp_tls_policy_maps="texthash:" + pol)
        res, log = self.send(conf, s, ("u@x.test",),
                             ["-n", "3", "-k", "a.test", "-k", "b.test"])
        self.assertEqual([r["status"] for r in res["u@x.test"]],
                         ["sent"] * 3)
        self.assertEqual([m["tls"] for m in s.messages],
                         [False, True, False])
        # the third round (a.test again) reused the first connection
        self.assertEqual(s.connections, 2)
        self.assertEqual(s.commands.count("RSET"), 1)

    def test_tls_session_resumption(self):
        s = self.server()
        conf = self.conf("encrypt", smtp_connection_reuse_count_limit="1")
        res, log = self.send(conf, s, ("a@x.test",), ["-n", "2", "-v"])
        self.assertEqual([r["status"] for r in res["a@x.test"]],
                         ["sent"] * 2)
        self.assertEqual(s.connections, 2)
        self.assertEqual(s.resumed, [False, True])
        self.assertIn("TLS session resumed", log)


if __name__ == "__main__":
    pt.main()
