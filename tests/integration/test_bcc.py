#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""always_bcc, sender_bcc_maps and recipient_bcc_maps: blind copies added
to the envelope as a message is queued, by postern serve (mail from
Python's smtplib) and by postern send (a local submission), as Postfix's
cleanup adds them:

- always_bcc gets a copy of every message, the sender's map (address,
  then @domain) and each recipient's map add theirs;
- every copy has NOTIFY=NEVER, so its fate never reaches the sender;
- an address that already is a recipient is not added again, and keeps
  the client's own NOTIFY;
- a BCC table that does not open refuses the start, naming it.

Before, each of the three refused the start: an archiving setup could not
move to postern."""
import os
import smtplib
import tempfile
import unittest

import pt
import queuefile
import srv

ARCHIVE = "archive@mx.postern.test"


class Bcc(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="postern-bcc-")
        cls.port = pt.free_port()
        cls.server = srv.Server(os.path.join(cls.tmp, "srv"), (
            "always_bcc = %s\n"
            "sender_bcc_maps = inline:{ alice@two.test=<alice-copy@"
            "mx.postern.test>, @one.test=sent@mx.postern.test }\n"
            "recipient_bcc_maps = inline:{ @watched.test="
            "watch@mx.postern.test }\n" % ARCHIVE),
            [("smtp", cls.port, [])], workers=1).start()

    @classmethod
    def tearDownClass(cls):
        srv.stop_and_clean(cls.server, cls.tmp)

    def queued(self, sender, rcpts, token, rcpt_options=()):
        with smtplib.SMTP("127.0.0.1", self.port, timeout=60) as s:
            s.ehlo("client.test")
            s.mail(sender)
            for r in rcpts:
                code, msg = s.rcpt(r, list(rcpt_options))
                self.assertEqual(code, 250, msg)
            code, msg = s.data("Subject: %s\r\n\r\n%s\r\n" % (token, token))
            self.assertEqual(code, 250, msg)
        data = self.server.find_message(token)
        self.assertIsNotNone(data, token)
        return queuefile.rcpt_fields(data)

    def test_sender_and_always(self):
        got = self.queued("alice@two.test", ["bob@remote.test"], "bcc-one")
        self.assertEqual([a for a, _ in got], [
            "bob@remote.test", ARCHIVE, "alice-copy@mx.postern.test"])
        self.assertNotIn("notify", got[0][1])
        for addr, fields in got[1:]:
            self.assertEqual(fields.get("notify"), "never", addr)

    def test_domain_recipient_and_no_duplicates(self):
        # the archive is a recipient already: not added again, and its
        # NOTIFY stays the client's
        got = self.queued("x@One.Test", ["carol@watched.test", ARCHIVE],
                          "bcc-two", rcpt_options=["NOTIFY=SUCCESS,FAILURE"])
        self.assertEqual([a for a, _ in got], [
            "carol@watched.test", ARCHIVE, "sent@mx.postern.test",
            "watch@mx.postern.test"])
        self.assertEqual(got[1][1].get("notify"), "success,failure")
        self.assertEqual(got[2][1].get("notify"), "never")
        self.assertEqual(got[3][1].get("notify"), "never")

    def test_local_submission(self):
        p = pt.postern("send", "-c", self.server.d, "-f", "alice@two.test",
                       "dave@remote.test",
                       input="Subject: bcc-local\n\nlocal\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        qid = pt.wait_for(lambda: (self.server.queued("maildrop") or
                                   self.server.queued("ready")),
                          "the submission to be queued")[0]
        for state in ("maildrop", "ready"):
            if qid in self.server.queued(state):
                data = self.server.queue_file(qid, state)
        got = queuefile.rcpt_fields(data)
        self.assertEqual([a for a, _ in got], [
            "dave@remote.test", ARCHIVE, "alice-copy@mx.postern.test"])
        self.assertEqual(got[1][1].get("notify"), "never")


class BccTables(pt.TempDirTest):

    def test_table_that_does_not_open(self):
        missing = os.path.join(self.tmp, "nothere")
        r = srv.serve_once(os.path.join(self.tmp, "s"),
                           "sender_bcc_maps = texthash:%s\n" % missing)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("sender_bcc_maps", r.stderr)
        self.assertIn(missing, r.stderr)


if __name__ == "__main__":
    pt.main()
