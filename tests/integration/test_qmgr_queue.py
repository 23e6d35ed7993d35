#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""postern send and postern queue: submission while the daemon is down
(picked up when it starts), sendmail's -t/-f/-i/-F, added headers, and
postern queue list/show/hold/release/delete/flush both through a running
queue manager and on the files when it is stopped."""
import os
import re

import pt
import qmgrfix

ID = r"[0-9A-VZ]{13,25}"


class SendAndQueue(pt.TempDirTest):

    def setUp(self):
        super().setUp()
        self.mta = qmgrfix.Mta(os.path.join(self.tmp, "mta"), (
            "myorigin = mx.postern.test\n"
            "transport_maps = inline:{ "
            "{ slow.test = retry:4.4.1 the slow path is closed } }\n"))

    def tearDown(self):
        if self.mta.proc:
            self.mta.check_clean(self)

    def send(self, args, text, check=True):
        p = self.mta.postern("send", *args, input=text)
        if check:
            self.assertEqual(p.returncode, 0, p.stderr)
        return p

    def qlist(self):
        p = self.mta.postern("queue", "list", check=True)
        return p.stdout

    def ids(self, listing):
        return re.findall(r"^(%s)[*! ]" % ID, listing, re.M)

    def test_send_while_down_then_start(self):
        self.send(["-f", "alice", "bob@mx.postern.test"],
                  "Subject: one\n\nfirst body\n.\nnot read\n")
        self.send(["-t", "-oi", "-F", "Carol Q"],
                  "To: Dave <dave@mx.postern.test>, erin\n"
                  "Bcc: frank@mx.postern.test\n"
                  "Subject: two\n\nsecond body\n.\nafter the dot\n")
        listing = self.qlist()
        self.assertEqual(len(self.ids(listing)), 2, listing)
        self.assertIn("alice@mx.postern.test", listing)
        self.assertIn("erin@mx.postern.test", listing)
        self.assertRegex(listing, r"-- \d+ Kbytes in 2 Requests\.\n$")
        self.mta.start()
        bob = self.mta.wait_mail("bob")
        raw = list(bob.values())[0]
        self.assertIn(b"first body", raw)
        self.assertNotIn(b"not read", raw)  # a lone dot ends without -i
        msg = qmgrfix.parse(raw)
        self.assertEqual(msg["Return-Path"], "<alice@mx.postern.test>")
        self.assertEqual(msg["From"], "alice@mx.postern.test")
        self.assertTrue(msg["Date"])
        self.assertRegex(msg["Message-Id"], r"^<%s@mx.postern.test>$" % ID)
        self.assertIn("from userid", msg["Received"])
        for user in ("dave", "erin", "frank"):
            raw = list(self.mta.wait_mail(user).values())[0]
            self.assertIn(b"after the dot", raw)  # -oi
            self.assertNotIn(b"Bcc:", raw)
            self.assertIn(b"From: Carol Q <root@mx.postern.test>", raw)
        pt.wait_for(self.mta.queue_empty, "an empty queue")
        self.assertEqual(self.qlist(), "Mail queue is empty\n")

    def test_send_usage_errors(self):
        p = self.send([], "Subject: nobody\n\nx\n", check=False)
        self.assertEqual(p.returncode, 64)
        self.assertIn("no recipients", p.stderr)
        p = self.send(["-N", "sometimes", "a@b"], "x\n", check=False)
        self.assertEqual(p.returncode, 2)

    def test_queue_commands_stopped(self):
        for i in range(3):
            self.send(["-f", "alice", "bob@mx.postern.test"],
                      "Subject: m%d\n\nbody %d\n" % (i, i))
        ids = self.ids(self.qlist())
        self.assertEqual(len(ids), 3)
        p = self.mta.postern("queue", "hold", ids[0], check=True)
        self.assertIn("Placed on hold: 1 message", p.stdout)
        listing = self.qlist()
        self.assertRegex(listing, r"(?m)^%s!" % ids[0])
        self.assertEqual(self.mta.queued("hold"), [ids[0]])
        p = self.mta.postern("queue", "show", ids[1], check=True)
        self.assertIn("sender: alice@mx.postern.test", p.stdout)
        self.assertIn("recipient: bob@mx.postern.test (pending)", p.stdout)
        self.assertIn("body 1", p.stdout)
        self.assertNotIn("\r", p.stdout)
        p = self.mta.postern("queue", "delete", ids[1], check=True)
        self.assertIn("Deleted: 1 message", p.stdout)
        p = self.mta.postern("queue", "show", ids[1])
        self.assertNotEqual(p.returncode, 0)
        p = self.mta.postern("queue", "delete", "NOTANID")
        self.assertNotEqual(p.returncode, 0)
        # started: the held message stays, the other is delivered
        self.mta.start()
        self.mta.wait_mail("bob", 1)
        pt.wait_for(lambda: not self.mta.queued("maildrop") and
                    not self.mta.queued("ready"), "delivery")
        self.assertEqual(self.mta.queued("hold"), [ids[0]])
        p = self.mta.postern("queue", "release", "ALL", check=True)
        self.assertIn("Released from hold: 1 message", p.stdout)
        self.mta.wait_mail("bob", 2)
        bodies = b"".join(self.mta.maildir("bob").values())
        self.assertIn(b"body 0", bodies)
        self.assertIn(b"body 2", bodies)
        self.assertNotIn(b"body 1", bodies)

    def test_queue_commands_running(self):
        self.mta.start()
        self.send(["-f", "alice", "x@slow.test"], "Subject: s\n\nslow\n")
        pt.wait_for(lambda: self.mta.queued("deferred"), "a deferral")
        qid = self.mta.queued("deferred")[0]
        listing = self.qlist()
        self.assertIn("(4.4.1 the slow path is closed)", listing)
        self.assertIn("x@slow.test", listing)
        self.assertRegex(listing, r"-- 1 Kbytes in 1 Request\.\n$")
        # hold through the queue manager: it stops retrying
        p = self.mta.postern("queue", "hold", qid, check=True)
        self.assertIn("Placed on hold: 1 message", p.stdout)
        pt.wait_for(lambda: self.mta.queued("hold") == [qid], "the hold")
        self.mta.wait_log("%s: placed on hold" % qid)
        p = self.mta.postern("queue", "release", qid, check=True)
        self.assertIn("Released from hold: 1 message", p.stdout)
        pt.wait_for(lambda: self.mta.queued("deferred") == [qid],
                    "another deferral")
        # flush: the next attempt happens now
        before = self.mta.logtext().count("%s: to=<x@slow.test>" % qid)
        p = self.mta.postern("queue", "flush", check=True)
        self.assertEqual(p.stdout, "")
        pt.wait_for(lambda: self.mta.logtext().count(
            "%s: to=<x@slow.test>" % qid) > before, "a flushed attempt")
        p = self.mta.postern("queue", "delete", "ALL", check=True)
        self.assertIn("Deleted: 1 message", p.stdout)
        pt.wait_for(self.mta.queue_empty, "an empty queue")
        self.mta.wait_log("%s: removed" % qid)
        self.assertEqual(self.qlist(), "Mail queue is empty\n")


if __name__ == "__main__":
    pt.main()
