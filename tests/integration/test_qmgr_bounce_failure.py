#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A bounce that cannot be queued is not lost.

A recipient fails (the peer answers 550) at a moment when the queue
manager cannot create the non-delivery notification: its queue file
cannot be created because queue/tmp/ is gone, as with a full or failing
disk.  The failed recipient must then stay in the queue, deferred, with
both reasons, and the notification must reach the sender once queue
files can be created again.  Before, the message was removed and the
sender never heard of the failure.
"""
import os
import smtplib

import pt
import qmgrfix


class BounceFailure(qmgrfix.PeerMtaTest):

    reply = "451 4.3.0 not yet"

    def answer(self, rcpt):
        return self.reply

    def test_bounce_waits_until_it_can_be_queued(self):
        with smtplib.SMTP("127.0.0.1", self.mta.port, timeout=60) as s:
            s.ehlo("client.test")
            s.mail("alice@mx.postern.test")
            s.rcpt("gone@peer.test")
            code, msg = s.data(b"Subject: doomed\r\n\r\nthe doomed body\r\n")
            self.assertEqual(code, 250, msg)
            qid = msg.decode().split()[-1]
        self.mta.wait_log("%s: to=<gone@peer.test>" % qid)
        self.assertIn("status=deferred", self.mta.logtext())
        pt.wait_for(lambda: qid in self.mta.queued("deferred"),
                    "%s in deferred/" % qid)

        # no queue file can be created from now on; the next attempt fails
        tmpdir = os.path.join(self.mta.queue, "tmp")
        st = os.stat(tmpdir)
        os.rmdir(tmpdir)
        self.reply = "550 5.1.1 <gone@peer.test>: no such user"
        self.mta.wait_log("%s: cannot queue delivery status notification"
                          % qid)
        kept = "%s: to=<gone@peer.test>, relay=none" % qid
        line = pt.wait_for(
            lambda: next((ln for ln in self.mta.logtext().splitlines()
                          if kept in ln and "status=deferred" in ln), None),
            "the recipient kept as deferred")
        self.assertIn("dsn=4.3.0", line)
        self.assertIn("cannot return a non-delivery notification", line)
        self.assertIn("no such user", line)  # the failure it was about
        pt.wait_for(lambda: qid in self.mta.queued("deferred"),
                    "%s back in deferred/" % qid)
        self.assertNotIn("%s: removed" % qid, self.mta.logtext())
        self.assertEqual(self.mta.maildir("alice"), {})

        # queue files can be created again: the bounce goes out
        self.assertEqual(self.mta.stop(), 0)
        os.mkdir(tmpdir, st.st_mode & 0o7777)
        os.chown(tmpdir, st.st_uid, st.st_gid)
        self.mta.start()
        self.mta.wait_log("%s: removed" % qid)
        self.assertRegex(self.mta.logtext(),
                         r"%s: sender non-delivery notification: [0-9A-VZ]+"
                         % qid)
        msgs = self.mta.wait_mail("alice")
        self.assertEqual(len(msgs), 1)
        dsn = qmgrfix.parse(list(msgs.values())[0])
        self.assertIn("X-Postfix-Queue-ID: %s" % qid, dsn.as_string())
        _, groups = qmgrfix.dsn_fields(dsn)
        self.assertEqual(groups[1]["final-recipient"],
                         "rfc822; gone@peer.test")
        self.assertEqual(groups[1]["action"], "failed")
        self.assertEqual(groups[1]["status"], "5.1.1")
        self.assertIn("no such user", groups[1]["diagnostic-code"])
        self.assertEqual(self.peer.messages, [])


if __name__ == "__main__":
    pt.main()
