#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The queue manager end to end through postern serve: local and virtual
Maildir delivery, RFC 3464 bounces (transport_maps error: and a peer
answering 550) read back with Python's email package, NOTIFY=NEVER, no
bounce of a bounce, and retries with back-off against a peer that
answers 451 before it accepts."""
import os
import shutil
import smtplib
import tempfile
import unittest

import pt
import qmgrfix


class Delivery(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="postern-qmgr-")
        cls.peer = qmgrfix.FakeSmtp(answer=cls.peer_answer)
        cls.tries = {}
        d = os.path.join(cls.tmp, "mta")
        vbase = os.path.join(cls.tmp, "vmail")
        os.makedirs(vbase)
        os.chmod(vbase, 0o777)
        vmaps = os.path.join(cls.tmp, "vmailbox")
        with open(vmaps, "w") as f:
            f.write("carol@virt.test   virt.test/carol/\n"
                    "dave@virt.test    virt.test/dave\n")
        cls.vbase = vbase
        cls.mta = qmgrfix.Mta(d, (
            # unknown virtual users are bounced by the queue manager here,
            # not refused at RCPT (test_smtpd_unlisted covers that)
            "smtpd_reject_unlisted_recipient = no\n"
            "virtual_mailbox_domains = virt.test\n"
            "virtual_mailbox_maps = texthash:%s\n"
            "virtual_mailbox_base = %s\n"
            "transport_maps = inline:{ "
            "{ dead.test = error:5.1.2 this domain is gone }, "
            "peer.test=smtp:[127.0.0.1]:%d }\n" % (vmaps, vbase,
                                                    cls.peer.port)))
        cls.mta.start()

    @classmethod
    def tearDownClass(cls):
        rc = cls.mta.stop()
        cls.peer.close()
        problems = cls.mta.problems()
        shutil.rmtree(cls.tmp, True)
        if problems or rc != 0:
            raise AssertionError("postern serve exit %s: %s" %
                                 (rc, "\n".join(problems)))

    @classmethod
    def peer_answer(cls, rcpt):
        if rcpt.startswith("nobody@"):
            return "550 5.1.1 <%s>: Recipient address rejected" % rcpt
        if rcpt.startswith("later@"):
            n = cls.tries.get(rcpt, 0) + 1
            cls.tries[rcpt] = n
            if n <= 2:
                return "451 4.3.0 try again later"
        return "250 2.1.5 ok"

    def submit(self, sender, rcpts, body, mail_options=(), rcpt_options=()):
        with smtplib.SMTP("127.0.0.1", self.mta.port, timeout=60) as s:
            s.ehlo("client.test")
            s.mail(sender, list(mail_options))
            for r in rcpts:
                code, msg = s.rcpt(r, list(rcpt_options))
                self.assertEqual(code, 250, msg)
            code, msg = s.data(body)
            self.assertEqual(code, 250, msg)
            return msg.decode().split()[-1]

    def log_has(self, text):
        return text in self.mta.logtext()

    def test_local_delivery(self):
        qid = self.submit("sender@example.org", ["Bob@mx.postern.test"],
                          b"Subject: local\r\n\r\nhello local body\r\n")
        msgs = self.mta.wait_mail("bob")
        raw = [m for m in msgs.values() if b"hello local body" in m]
        self.assertEqual(len(raw), 1)
        self.assertTrue(raw[0].startswith(
            b"Return-Path: <sender@example.org>\nDelivered-To: "
            b"Bob@mx.postern.test\n"), raw[0][:200])
        self.assertNotIn(b"\r\n", raw[0])
        self.mta.wait_log("%s: removed" % qid)
        log = self.mta.logtext()
        self.assertRegex(log, r"%s: from=<sender@example.org>, size=\d+, "
                         r"nrcpt=1 \(queue active\)" % qid)
        self.assertRegex(log, r"%s: to=<Bob@mx.postern.test>, relay=local, "
                         r"delay=[0-9.e-]+, delays=[0-9.e/-]+, dsn=2.0.0, "
                         r"status=sent \(delivered to maildir\)" % qid)
        # the Maildir convention: tmp/ is left empty
        tmpd = os.path.join(self.mta.data, "mail", "bob", "Maildir", "tmp")
        self.assertEqual(os.listdir(tmpd), [])

    def test_virtual_delivery_and_unknown_user(self):
        qid = self.submit("alice@mx.postern.test",
                          ["carol@virt.test", "eve@virt.test"],
                          b"Subject: virtual\r\n\r\nvirtual body\r\n")
        base = os.path.join(self.vbase, "virt.test", "carol")
        msgs = self.mta.wait_mail("carol", base=base)
        self.assertIn(b"virtual body", list(msgs.values())[0])
        self.mta.wait_log("%s: to=<carol@virt.test>, relay=virtual" % qid)
        self.mta.wait_log("%s: removed" % qid)
        self.assertIn("%s: to=<eve@virt.test>, relay=virtual" % qid,
                      self.mta.logtext())
        self.assertIn("dsn=5.1.1, status=bounced (unknown user: "
                      "\"eve@virt.test\")", self.mta.logtext())
        dsn = self.find_dsn("alice", qid)
        parts, groups = qmgrfix.dsn_fields(dsn)
        rcpt = groups[1]
        self.assertEqual(rcpt["final-recipient"], "rfc822; eve@virt.test")
        self.assertEqual(rcpt["action"], "failed")
        self.assertEqual(rcpt["status"], "5.1.1")

    def find_dsn(self, user, qid):
        """The DSN about qid in user's Maildir."""
        return qmgrfix.find_dsn(self.mta, user, qid)

    def dsns_about(self, user, qid):
        return [raw for raw in self.mta.maildir(user).values()
                if ("X-Postfix-Queue-ID: %s" % qid).encode() in raw]

    def test_error_transport_bounce(self):
        body = (b"Subject: doomed\r\nMessage-ID: <doomed@example>\r\n\r\n"
                b"the doomed body\r\n")
        qid = self.submit(
            "alice@mx.postern.test", ["who@dead.test"], body,
            mail_options=["RET=HDRS", "ENVID=QQ314"],
            rcpt_options=["NOTIFY=FAILURE",
                          "ORCPT=rfc822;Who@Dead.test"])
        dsn = self.find_dsn("alice", qid)
        self.mta.wait_log("%s: removed" % qid)
        self.assertIn("%s: to=<who@dead.test>, relay=none" % qid,
                      self.mta.logtext())
        self.assertRegex(self.mta.logtext(),
                         r"%s: sender non-delivery notification: [0-9A-VZ]+"
                         % qid)
        self.assertEqual(dsn["To"], "<alice@mx.postern.test>")
        self.assertIn("MAILER-DAEMON@", dsn["From"])
        self.assertEqual(dsn.get_param("report-type"), "delivery-status")
        parts, groups = qmgrfix.dsn_fields(dsn)
        self.assertEqual(len(parts), 3)
        self.assertEqual(parts[0].get_content_type(), "text/plain")
        self.assertIn("<who@dead.test>: 5.1.2 this domain is gone",
                      parts[0].get_payload())
        msgf, rcpt = groups[0], groups[1]
        self.assertEqual(msgf["reporting-mta"], "dns; mx.postern.test")
        self.assertEqual(msgf["original-envelope-id"], "QQ314")
        self.assertIn("arrival-date", msgf)
        self.assertEqual(rcpt["final-recipient"], "rfc822; who@dead.test")
        self.assertEqual(rcpt["original-recipient"], "rfc822;Who@Dead.test")
        self.assertEqual(rcpt["action"], "failed")
        self.assertEqual(rcpt["status"], "5.1.2")
        self.assertIn("this domain is gone", rcpt["diagnostic-code"])
        # RET=HDRS: the headers come back, the body does not
        self.assertEqual(parts[2].get_content_type(), "text/rfc822-headers")
        raw = dsn.as_bytes()
        self.assertIn(b"Message-ID: <doomed@example>", raw)
        self.assertNotIn(b"the doomed body", raw)
        self.assertEqual(len(self.dsns_about("alice", qid)), 1)

    def test_peer_550_returns_full_message(self):
        qid = self.submit("alice@mx.postern.test",
                          ["nobody@peer.test", "somebody@peer.test"],
                          b"Subject: half\r\n\r\nhalf delivered body\r\n")
        dsn = self.find_dsn("alice", qid)
        self.mta.wait_log("%s: removed" % qid)
        parts, groups = qmgrfix.dsn_fields(dsn)
        self.assertEqual(len(groups), 2)  # one recipient failed
        rcpt = groups[1]
        self.assertEqual(rcpt["final-recipient"], "rfc822; nobody@peer.test")
        self.assertEqual(rcpt["action"], "failed")
        self.assertEqual(rcpt["status"], "5.1.1")
        self.assertTrue(rcpt["diagnostic-code"].startswith("smtp;"),
                        rcpt["diagnostic-code"])
        self.assertIn("Recipient address rejected", rcpt["diagnostic-code"])
        self.assertEqual(parts[2].get_content_type(), "message/rfc822")
        self.assertIn(b"half delivered body", dsn.as_bytes())
        got = [m for m in self.peer.messages if b"half delivered" in m[2]]
        self.assertEqual(len(got), 1)
        self.assertEqual(got[0][1], ["somebody@peer.test"])

    def test_notify_never_and_no_bounce_of_bounce(self):
        q1 = self.submit("alice@mx.postern.test", ["x@dead.test"],
                         b"Subject: never\r\n\r\nn\r\n",
                         rcpt_options=["NOTIFY=NEVER"])
        q2 = self.submit("", ["y@dead.test"],
                         b"Subject: a bounce\r\n\r\nb\r\n")
        self.mta.wait_log("%s: removed" % q1)
        self.mta.wait_log("%s: removed" % q2)
        log = self.mta.logtext()
        self.assertIn("%s: to=<x@dead.test>" % q1, log)
        self.assertIn("%s: to=<y@dead.test>" % q2, log)
        self.assertNotIn("%s: sender non-delivery" % q1, log)
        self.assertNotIn("%s: sender non-delivery" % q2, log)
        self.assertEqual(self.dsns_about("alice", q1), [])

    def test_retry_with_backoff(self):
        qid = self.submit("alice@mx.postern.test", ["later@peer.test"],
                          b"Subject: later\r\n\r\neventually\r\n")
        self.mta.wait_log("%s: removed" % qid)
        log = [ln for ln in self.mta.logtext().splitlines()
               if "%s: to=<later@peer.test>" % qid in ln]
        self.assertEqual(len(log), 3, "\n".join(log))
        self.assertIn("status=deferred", log[0])
        self.assertIn("try again later", log[0])
        self.assertIn("status=deferred", log[1])
        self.assertIn("status=sent", log[2])
        self.assertEqual(self.tries["later@peer.test"], 3)
        got = [m for m in self.peer.messages if b"eventually" in m[2]]
        self.assertEqual(len(got), 1)
        # deferred means no DSN: the sender hears nothing
        self.assertEqual(self.dsns_about("alice", qid), [])


if __name__ == "__main__":
    pt.main()
