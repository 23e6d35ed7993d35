#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""non_smtpd_milters: mail submitted with postern send goes, from
maildrop/, through the milters before the queue manager queues it, as
Postfix's pickup and cleanup send it (the client is
localhost[127.0.0.1]).  With Debian's opendkim and a pymilter milter
scripted per test:

- a local submission From: the signing domain reaches the Maildir signed:
  python3-dkim verifies the signature, which fails once the Subject is
  changed; the log says the edited message was queued under a new ID;
- a milter that defers leaves the message in maildrop/ and it is tried
  again after queue_run_delay, then delivered;
- a milter that rejects: nobody is there to refuse it to, so the message
  is placed on hold, never delivered as it is; discard removes it.

Before, non_smtpd_milters refused the start, so the usual OpenDKIM setup
(non_smtpd_milters = $smtpd_milters) could not be carried over."""
import os
import re
import shutil
import tempfile
import unittest

import milterfix
import pt
import qmgrfix
import srv


@unittest.skipUnless(milterfix.scripted_available() and
                     milterfix.opendkim_available(),
                     "python3-milter, opendkim or python3-dkim missing")
class LocalMilters(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="postern-lmilter-")
        os.chmod(cls.tmp, 0o755)
        cls.peers = []
        try:
            cls.dkim = milterfix.OpenDkim(os.path.join(cls.tmp, "dkim"))
            cls.dkim.start()
            cls.peers.append(cls.dkim)
            cls.m = milterfix.Scripted(os.path.join(cls.tmp, "m"),
                                       name="m").start()
            cls.peers.append(cls.m)
            cls.mta = qmgrfix.Mta(os.path.join(cls.tmp, "mta"), (
                "non_smtpd_milters = %s, %s\n"
                % (cls.dkim.postern, cls.m.postern)))
            cls.mta.start()
        except BaseException:
            for p in cls.peers:
                p.stop()
            shutil.rmtree(cls.tmp, True)
            raise

    @classmethod
    def tearDownClass(cls):
        rc = cls.mta.stop()
        problems = cls.mta.problems()
        for p in cls.peers:
            p.stop()
        shutil.rmtree(cls.tmp, True)
        if problems or rc != 0:
            raise AssertionError("postern serve exit %s: %s" %
                                 (rc, "\n".join(problems)))

    def setUp(self):
        self.m.plan()

    def submit(self, user, token, frm="a@example.com"):
        p = self.mta.postern("send", "-f", frm, "%s@mx.postern.test" % user,
                             input="From: %s\nTo: %s@mx.postern.test\n"
                                   "Subject: %s\nMessage-ID: <%s@example.com>"
                                   "\n\n%s body\n" % (frm, user, token, token,
                                                      token))
        self.assertEqual(p.returncode, 0, p.stderr)

    def delivered(self, user, token):
        msgs = self.mta.wait_mail(user)
        got = [m for m in msgs.values() if token.encode() in m]
        self.assertEqual(len(got), 1)
        return got[0]

    def test_signed(self):
        self.submit("bob", "lm-signed")
        raw = self.delivered("bob", "lm-signed")
        # the Maildir copy has LF line ends and local delivery's own
        # headers on top, which the signature does not cover
        msg = raw.replace(b"\n", b"\r\n")
        self.assertIn(b"\r\nDKIM-Signature: ", msg)
        ok, detail = self.dkim.verify(msg)
        self.assertTrue(ok, detail)
        ok, _ = self.dkim.verify(msg.replace(b"Subject: lm-signed",
                                             b"Subject: lm-changed"))
        self.assertFalse(ok)
        self.assertIn("milter edits applied, queued as ", self.mta.logtext())

    def test_tempfail_then_delivered(self):
        self.m.plan(eom="tempfail")
        before = self.m.count()
        self.submit("carol", "lm-later")
        self.m.wait_session(before)
        self.mta.wait_log("milter-reject: END-OF-MESSAGE from "
                          "localhost[127.0.0.1]: 4.7.1 Service unavailable")
        # still in maildrop/, untouched
        self.assertTrue(any(b"lm-later" in self.mta.queue_file(q, "maildrop")
                            for q in self.mta.queued("maildrop")))
        self.m.plan()
        self.delivered("carol", "lm-later")

    def test_reject_holds(self):
        self.m.plan(eom="reject")
        self.submit("dave", "lm-reject")
        self.mta.wait_log("placed on hold")
        held = pt.wait_for(lambda: [q for q in self.mta.queued("hold")
                                    if b"lm-reject" in
                                    self.mta.queue_file(q, "hold")],
                           "the rejected message on hold")
        self.assertEqual(len(held), 1)
        self.assertIn("%s: milter-reject: END-OF-MESSAGE from "
                      "localhost[127.0.0.1]: 5.7.1 Command rejected; "
                      "from=<a@example.com> to=<dave@mx.postern.test>"
                      % held[0], self.mta.logtext())

    def test_discard(self):
        self.m.plan(eom="discard")
        before = self.m.count()
        self.submit("erin", "lm-discard")
        self.m.wait_session(before)
        self.mta.wait_log("milter-discard: END-OF-MESSAGE from "
                          "localhost[127.0.0.1]: milter triggers DISCARD "
                          "action; from=<a@example.com> "
                          "to=<erin@mx.postern.test>")
        pt.wait_for(lambda: not self.mta.queued("maildrop"),
                    "maildrop/ to be empty")
        self.assertEqual(self.mta.maildir("erin"), {})
        # removed from maildrop/ itself: a message moved on instead would
        # be logged "removed" only after its delivery ("to=<...>")
        qid = re.search(r"(\S+): milter-discard: .*to=<erin@",
                        self.mta.logtext()).group(1)
        self.mta.wait_log("%s: removed" % qid)
        self.assertNotIn("%s: to=<" % qid, self.mta.logtext())



class LocalMilterSettings(pt.TempDirTest):

    def test_malformed_list_refuses_the_start(self):
        # refused by postern serve itself, not by a queue manager that
        # would exit and be restarted over and over
        r = srv.serve_once(os.path.join(self.tmp, "s"),
                           "non_smtpd_milters = { inet:127.0.0.1:1, "
                           "nope = 1 }\n")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("non_smtpd_milters: milter inet:127.0.0.1:1: unknown "
                      "setting \"nope\"", r.stderr)


if __name__ == "__main__":
    pt.main()
