#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""LMTP delivery (lmtp: transports) against a real Dovecot LMTP server,
the usual Postfix + Dovecot set-up: virtual_transport =
lmtp:unix:private/dovecot-lmtp (a path under queue_directory), and
transport_maps entries lmtp:inet:host:port and lmtp:[addr] (lmtp_tcp_port).
Mail comes in through postern serve; what Dovecot saved is read from its
Maildirs.  Each recipient has its own outcome: an unknown user (550 at
RCPT) bounces alone, a full mailbox (452 or 552 among the end-of-data
replies) defers or bounces alone, the others of the same message are
delivered once.  A Dovecot that is down (no socket, port closed) defers,
and the mail goes once it is up."""
import os
import re
import shutil
import smtplib
import tempfile
import unittest

import dovecotfix
import pt
import qmgrfix

LMTPD = "/usr/lib/dovecot/lmtp"
SIZE_OVER_1K = b"".join(b"line %04d of a body longer than one kilobyte\r\n" % i
                        for i in range(60))


def submit(port, sender, rcpts, body):
    """One message into postern serve; its queue ID."""
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
        s.ehlo("client.test")
        s.mail(sender)
        for r in rcpts:
            code, msg = s.rcpt(r)
            assert code == 250, msg
        code, msg = s.data(body)
        assert code == 250, msg
        return msg.decode().split()[-1]


class Lmtp(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if not dovecotfix.available() or not os.path.exists(LMTPD):
            raise AssertionError("a private Dovecot LMTP server needs root, "
                                 "dovecot-core and dovecot-lmtpd "
                                 "(scripts/install-deps)")
        cls.tmp = tempfile.mkdtemp(prefix="postern-lmtp-")
        ports = pt.free_ports(["smtp", "lmtp", "late"])
        cls.late_port = ports["late"]
        cls.late_sock = os.path.join(cls.tmp, "late", "lmtp")
        d = os.path.join(cls.tmp, "mta")
        cls.mta = qmgrfix.Mta(d, (
            "smtpd_reject_unlisted_recipient = no\n"
            "virtual_mailbox_domains = lmtp.test\n"
            "virtual_transport = lmtp:unix:private/dovecot-lmtp\n"
            "lmtp_tcp_port = %d\n"
            "transport_maps = inline:{ inet.test=lmtp:inet:127.0.0.1:%d, "
            "bare.test=lmtp:[127.0.0.1], late.test=lmtp:unix:%s, "
            "lateinet.test=lmtp:inet:127.0.0.1:%d }\n"
            % (ports["lmtp"], ports["lmtp"], cls.late_sock, ports["late"])),
            port=ports["smtp"])
        # Dovecot's socket where Postfix's would be: in queue_directory
        private = os.path.join(cls.mta.queue, "private")
        os.makedirs(private)
        os.chmod(cls.mta.queue, 0o755)
        dd = os.path.join(cls.tmp, "dovecot")
        os.makedirs(dd)
        cls.dove = dovecotfix.DovecotLmtp(
            dd, {"alice@lmtp.test": None, "bob@lmtp.test": None,
                 "full@lmtp.test": "*:storage=1", "carol@inet.test": None,
                 "dave@bare.test": None},
            os.path.join(private, "dovecot-lmtp"), ports["lmtp"])
        cls.dove.start()
        try:
            cls.mta.start()
        except BaseException:
            cls.dove.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        rc = cls.mta.stop()
        cls.dove.stop()
        problems = cls.mta.problems()
        shutil.rmtree(cls.tmp, True)
        if problems or rc != 0:
            raise AssertionError("postern serve exit %s: %s" %
                                 (rc, "\n".join(problems)))

    def saved(self, dove, user, marker, count=1):
        """The messages in user's Maildir at Dovecot that hold marker, once
        there are count of them."""
        def look():
            got = [m for m in dove.maildir(user).values() if marker in m]
            return got if len(got) >= count else None
        return pt.wait_for(look, "%d message(s) with %r for %s" %
                           (count, marker, user))

    def line(self, qid, rcpt):
        """The delivery agent's log line about rcpt of message qid."""
        m = re.search(r"postern/lmtp\[\d+\]: %s: to=<%s>, .*" %
                      (qid, re.escape(rcpt)), self.mta.logtext())
        return m.group(0) if m else None

    def wait_line(self, qid, rcpt, status):
        return pt.wait_for(
            lambda: (self.line(qid, rcpt) or "").find("status=" + status) > 0
            and self.line(qid, rcpt),
            "an lmtp line: %s to=<%s> status=%s" % (qid, rcpt, status))

    def test_unix_socket_under_queue_directory(self):
        qid = submit(self.mta.port, "sender@example.org",
                     ["alice@lmtp.test", "Bob@lmtp.test"],
                     b"Subject: over lmtp\r\n\r\nunix socket body\r\n")
        a = self.saved(self.dove, "alice@lmtp.test", b"unix socket body")[0]
        b = self.saved(self.dove, "bob@lmtp.test", b"unix socket body")[0]
        for raw in (a, b):
            self.assertIn(b"Return-Path: <sender@example.org>", raw)
            # Dovecot's trace of the LHLO name (lmtp_lhlo_name)
            self.assertRegex(raw, rb"Received: from mx\.postern\.test\n"
                                  rb"\tby \S+ with LMTP")
            self.assertIn(b"Subject: over lmtp", raw)
        self.mta.wait_log("%s: removed" % qid)
        # Postfix's shape for a unix-domain socket: myhostname[path]
        for rcpt in ("alice@lmtp.test", "Bob@lmtp.test"):
            self.assertRegex(
                self.line(qid, rcpt),
                r"to=<%s>, relay=mx\.postern\.test\[private/dovecot-lmtp\], "
                r"delay=[0-9.]+, delays=[0-9./]+, dsn=2\.0\.0, status=sent "
                r"\(250 2\.0\.0 <%s> \S+ Saved\)$" % (rcpt, rcpt))
        self.assertIn("postern/lmtp", self.mta.logtext())

    def test_inet_host_port_and_bracketed_address(self):
        qid = submit(self.mta.port, "sender@example.org",
                     ["carol@inet.test", "dave@bare.test"],
                     b"Subject: inet\r\n\r\ninet body\r\n")
        self.saved(self.dove, "carol@inet.test", b"inet body")
        self.saved(self.dove, "dave@bare.test", b"inet body")
        self.mta.wait_log("%s: removed" % qid)
        relay = "relay=127.0.0.1[127.0.0.1]:%d," % self.dove.port
        for rcpt in ("carol@inet.test", "dave@bare.test"):
            self.assertIn(relay, self.line(qid, rcpt))
            self.assertIn("status=sent", self.line(qid, rcpt))

    def test_unknown_user_bounces_alone(self):
        qid = submit(self.mta.port, "sender@mx.postern.test",
                     ["nosuch@lmtp.test", "alice@lmtp.test"],
                     b"Subject: half known\r\n\r\nhalf known body\r\n")
        self.saved(self.dove, "alice@lmtp.test", b"half known body")
        dsn = qmgrfix.find_dsn(self.mta, "sender", qid)
        self.mta.wait_log("%s: removed" % qid)
        self.assertIn("status=sent", self.line(qid, "alice@lmtp.test"))
        self.assertRegex(
            self.line(qid, "nosuch@lmtp.test"),
            r"relay=mx\.postern\.test\[private/dovecot-lmtp\], .*"
            r"dsn=5\.1\.1, status=bounced \(host mx\.postern\.test"
            r"\[private/dovecot-lmtp\] said: 550 5\.1\.1 <nosuch@lmtp\.test> "
            r"User doesn't exist: nosuch@lmtp\.test \(in reply to RCPT TO "
            r"command\)\)$")
        parts, groups = qmgrfix.dsn_fields(dsn)
        self.assertEqual(len(groups), 2)  # the message, one recipient
        self.assertEqual(groups[1]["final-recipient"],
                         "rfc822; nosuch@lmtp.test")
        self.assertEqual(groups[1]["action"], "failed")
        self.assertEqual(groups[1]["status"], "5.1.1")
        self.assertTrue(groups[1]["diagnostic-code"].startswith(
            "smtp; 550 5.1.1"), groups[1]["diagnostic-code"])

    def test_full_mailbox_defers_alone(self):
        qid = submit(self.mta.port, "sender@example.org",
                     ["full@lmtp.test", "bob@lmtp.test"],
                     b"Subject: big\r\n\r\nquota body\r\n" + SIZE_OVER_1K)
        self.saved(self.dove, "bob@lmtp.test", b"quota body")
        line = self.wait_line(qid, "full@lmtp.test", "deferred")
        self.assertRegex(
            line, r"dsn=4\.2\.2, status=deferred \(host mx\.postern\.test"
            r"\[private/dovecot-lmtp\] said: 452 4\.2\.2 <full@lmtp\.test> "
            r"Quota exceeded \(mailbox for user is full\) \(in reply to end "
            r"of DATA command\)\)$")
        self.assertIn("status=sent", self.line(qid, "bob@lmtp.test"))
        # the retry is for the deferred recipient only
        pt.wait_for(lambda: len(re.findall(
            r"%s: to=<full@lmtp\.test>.*status=deferred" % qid,
            self.mta.logtext())) >= 2, "a second attempt for full@")
        self.assertEqual(len(re.findall(r"%s: to=<bob@lmtp\.test>" % qid,
                                        self.mta.logtext())), 1)
        self.assertEqual(len([m for m in self.dove.maildir(
            "bob@lmtp.test").values() if b"quota body" in m]), 1)
        self.assertEqual(self.dove.maildir("full@lmtp.test"), {})
        self.assertIn(qid, self.mta.queued("deferred"))

    def test_server_down_defers_until_up(self):
        q1 = submit(self.mta.port, "sender@example.org", ["erin@late.test"],
                    b"Subject: late\r\n\r\nlate unix body\r\n")
        q2 = submit(self.mta.port, "sender@example.org",
                    ["frank@lateinet.test"],
                    b"Subject: late\r\n\r\nlate inet body\r\n")
        l1 = self.wait_line(q1, "erin@late.test", "deferred")
        l2 = self.wait_line(q2, "frank@lateinet.test", "deferred")
        self.assertIn("status=deferred (connect to mx.postern.test[%s]: "
                      "No such file or directory)" % self.late_sock, l1)
        self.assertIn("status=deferred (connect to 127.0.0.1[127.0.0.1]:%d: "
                      "Connection refused)" % self.late_port, l2)
        d = os.path.join(self.tmp, "late")
        os.makedirs(d)
        # this one bounces a full mailbox (552 at the end of DATA)
        late = dovecotfix.DovecotLmtp(
            d, {"erin@late.test": None, "frank@lateinet.test": None,
                "over@late.test": "*:storage=1"},
            self.late_sock, self.late_port, tempfail=False).start()
        try:
            self.saved(late, "erin@late.test", b"late unix body")
            self.saved(late, "frank@lateinet.test", b"late inet body")
            self.mta.wait_log("%s: removed" % q1)
            self.mta.wait_log("%s: removed" % q2)
            q3 = submit(self.mta.port, "sender@mx.postern.test",
                        ["over@late.test", "erin@late.test"],
                        b"Subject: big\r\n\r\nover body\r\n" + SIZE_OVER_1K)
            self.saved(late, "erin@late.test", b"over body")
            dsn = qmgrfix.find_dsn(self.mta, "sender", q3)
            self.mta.wait_log("%s: removed" % q3)
        finally:
            late.stop()
        self.assertRegex(
            self.line(q3, "over@late.test"),
            r"dsn=5\.2\.2, status=bounced \(host mx\.postern\.test\[%s\] "
            r"said: 552 5\.2\.2 <over@late\.test> Quota exceeded \(mailbox "
            r"for user is full\) \(in reply to end of DATA command\)\)$"
            % re.escape(self.late_sock))
        parts, groups = qmgrfix.dsn_fields(dsn)
        self.assertEqual([g.get("final-recipient") for g in groups[1:]],
                         ["rfc822; over@late.test"])
        self.assertEqual(groups[1]["status"], "5.2.2")


if __name__ == "__main__":
    unittest.main(verbosity=2)
