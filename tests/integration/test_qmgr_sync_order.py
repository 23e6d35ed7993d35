#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The queue manager's syncs, read from an strace of postern serve:

- a message whose every recipient is delivered is deleted without an
  fdatasync of its file first (a crash can only bring it back with older
  recipient states: a duplicate, never a loss);
- a message bounced by its peer (550) is deleted only after its
  non-delivery notification is committed: the DSN file synced, renamed
  into ready/ and ready/ fsynced, all before the unlink of the original,
  which is not fdatasync'd either;
- a message with a deferred recipient (451) stays: its file is
  fdatasync'd before it is moved to deferred/.

A kill -9 cannot show the order (the page cache outlives a process); the
trace does.  The test needs strace."""
import os
import re
import smtplib

import pt
import qmgrfix
from stracefix import fd_path, parse, traces, wrap
import stracefix


class QmgrSyncOrder(pt.TempDirTest):

    def setUp(self):
        super().setUp()
        if not stracefix.available():
            self.skipTest("strace is not installed")

    def test_sync_before_delete_only_when_needed(self):
        peer = qmgrfix.FakeSmtp(answer=lambda r: (
            "550 5.1.1 no such user" if r.startswith("nobody@") else
            "451 4.3.0 try again later" if r.startswith("later@") else
            "250 2.1.5 ok"))
        self.addCleanup(peer.close)
        tdir = os.path.join(self.tmp, "trace")
        os.makedirs(tdir)
        self.mta = qmgrfix.Mta(
            os.path.join(self.tmp, "mta"),
            qmgrfix.relay_cf(peer.port))
        self.mta.wrap = wrap(os.path.join(tdir, "t"),
                             "fdatasync,fsync,syncfs,renameat2,renameat,"
                             "unlinkat")
        self.mta.start()
        ids = {}
        with smtplib.SMTP("127.0.0.1", self.mta.port, timeout=120) as s:
            for who in ("ok", "nobody", "later"):
                s.mail("alice@relay.postern.test")
                s.rcpt("%s@mx.postern.test" % who)
                code, msg = s.data(b"Subject: %s\r\n\r\nbody\r\n" %
                                   who.encode())
                self.assertEqual(code, 250, msg)
                ids[who] = msg.decode().split()[-1]
        log = self.mta.logtext
        pt.wait_for(lambda: "%s: removed" % ids["ok"] in log() and
                    "%s: removed" % ids["nobody"] in log() and
                    ids["later"] in self.mta.queued("deferred") and
                    len(self.mta.maildir("alice")) == 1,
                    "the three outcomes and the bounce delivered")
        dsn = re.search(r"%s: sender non-delivery notification: (\w+)" %
                        ids["nobody"], log()).group(1)
        pt.wait_for(lambda: "%s: removed" % dsn in log(), "the DSN removed")
        rc = self.mta.stop()
        self.assertEqual(rc, 0, self.mta.stderr())
        self.assertEqual(self.mta.problems(), [])

        queue = os.path.realpath(self.mta.queue)
        ready = os.path.join(queue, "ready")
        seen = {}
        for trace in traces(os.path.join(tdir, "t")):
            calls = parse(trace)
            unlinks = {}   # ID -> index of unlinkat(ready/, ID)
            datasync = {}  # path -> [indexes]
            renames = []   # (index, from dir, from name, to dir, to name)
            dirsync = []   # indexes of fsync(ready/)
            for i, call, args, res in calls:
                if res != 0:
                    continue
                path = os.path.realpath(fd_path(args)) if fd_path(
                    args) else ""
                if call == "fdatasync":
                    datasync.setdefault(path, []).append(i)
                elif call == "fsync" and path == ready:
                    dirsync.append(i)
                elif call == "unlinkat":
                    a = [x.strip() for x in args.split(",")]
                    if os.path.realpath(fd_path(a[0])) == ready:
                        unlinks[a[1].strip('"')] = i
                elif call in ("renameat2", "renameat"):
                    a = [x.strip() for x in args.split(",")]
                    renames.append((i, os.path.realpath(fd_path(a[0])),
                                    a[1].strip('"'),
                                    os.path.realpath(fd_path(a[2])),
                                    a[3].strip('"')))
            if ids["ok"] not in unlinks:
                continue
            # this is the queue manager's trace
            seen["qmgr"] = True
            for who in ("ok", "nobody"):
                self.assertNotIn(os.path.join(ready, ids[who]), datasync,
                                 "%s: fdatasync before its delete" % who)
            # the DSN: synced in tmp/, renamed into ready/, ready/
            # fsynced, then the original goes
            into_ready = [r for r in renames if r[3] == ready and
                          r[4] == dsn]
            self.assertEqual(len(into_ready), 1, renames)
            r_i, r_dir, r_name = into_ready[0][:3]
            tmpfile = os.path.join(r_dir, r_name)
            self.assertTrue(any(k < r_i for k in datasync.get(tmpfile, [])),
                            "the DSN was renamed without a sync")
            unlink = unlinks[ids["nobody"]]
            self.assertTrue(any(r_i < d < unlink for d in dirsync),
                            "original deleted before the DSN was durable")
            # the deferred message: synced, then moved
            moved = [r[0] for r in renames if r[1] == ready and
                     r[2] == ids["later"] and
                     r[3] == os.path.join(queue, "deferred")]
            self.assertTrue(moved, renames)
            synced = datasync.get(os.path.join(ready, ids["later"]), [])
            self.assertTrue(synced and synced[0] < moved[0],
                            "deferred without a sync of its outcome")
        self.assertTrue(seen, "no trace of the queue manager's deletes")


if __name__ == "__main__":
    pt.main()
