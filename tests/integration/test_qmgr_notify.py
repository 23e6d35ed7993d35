#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""smtpd wakes the queue manager after each commit with a datagram on
queue_directory/qmgr.sock.  The workers run as mail_owner, so the socket
is named through their open queue directory: the datagram must arrive
even when a parent of queue_directory is closed to mail_owner (here a
0700 directory of root's), where the full path cannot be resolved.

Read from an strace of postern serve: every smtpd sendto to qmgr.sock
succeeds (= 1, not -1 EACCES), and the message is delivered to the peer.
Without the datagram the queue manager would still find the message by
its periodic scan of ready/, which is why the trace is the evidence."""
import os
import smtplib

import pt
import qmgrfix
from stracefix import parse, traces, wrap
import stracefix


class QmgrNotify(pt.TempDirTest):

    def setUp(self):
        super().setUp()
        if not stracefix.available():
            self.skipTest("strace is not installed")
        if os.geteuid() != 0:
            self.skipTest("needs root: the workers drop to mail_owner")

    def test_notify_through_closed_parent(self):
        os.chmod(self.tmp, 0o700)
        peer = qmgrfix.FakeSmtp()
        self.addCleanup(peer.close)
        tdir = os.path.join(self.tmp, "trace")
        os.makedirs(tdir)
        # Mta opens mta/ and its parent to mail_owner, not self.tmp
        self.mta = qmgrfix.Mta(os.path.join(self.tmp, "inner", "mta"),
                               qmgrfix.relay_cf(peer.port))
        self.mta.wrap = wrap(os.path.join(tdir, "t"), "sendto")
        self.mta.start()
        with smtplib.SMTP("127.0.0.1", self.mta.port, timeout=120) as s:
            s.mail("alice@relay.postern.test")
            s.rcpt("bob@mx.postern.test")
            code, msg = s.data(b"Subject: wake up\r\n\r\nbody\r\n")
            self.assertEqual(code, 250, msg)
            qid = msg.decode().split()[-1]
        self.mta.wait_log("%s: removed" % qid)
        rc = self.mta.stop()
        self.assertEqual(rc, 0, self.mta.stderr())
        self.assertEqual(self.mta.problems(), [])

        results = []
        for trace in traces(os.path.join(tdir, "t")):
            for _, call, args, res in parse(trace):
                if call == "sendto" and "qmgr.sock" in args:
                    results.append(res)
        self.assertTrue(results, "no sendto to qmgr.sock in the trace")
        self.assertEqual(set(results), {1}, results)


if __name__ == "__main__":
    pt.main()
