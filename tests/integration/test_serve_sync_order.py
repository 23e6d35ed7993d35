#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Every "250 ... queued as ID" follows the system calls that make the
message durable, in the right order.

A kill -9 cannot show this (the page cache outlives a process); a power
failure would.  So `postern serve` runs under strace (-ff: one trace per
process, -y: paths of descriptors) while several clients end their DATA at
the same moment, so the worker commits batches of several messages (the
syncfs path) as well as single ones (the fdatasync path).  For each
acknowledged ID, in the trace of the process that sent the 250:

  1. the last write to its file in tmp/ (pwrite64 / pwritev);
  2. then a sync covering it: fdatasync of that file, or syncfs;
  3. then the rename of tmp/NAME to ready/ID;
  4. then an fsync of ready/;
  5. then the 250 reply naming ID.

Any reordering (syncing after the rename, acknowledging before the
directory fsync) or a missing sync fails.

The same trace shows two things the worker leaves out to stay cheap:
while a session waits for its commit it keeps its socket watch (no
EPOLL_CTL_DEL and re-add per message), and log lines of one loop turn go
to the log file in one write (test_log_lines_of_a_turn_share_one_write).
The test needs strace.
"""
import os
import re
import smtplib
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import pt  # noqa: E402
import srv  # noqa: E402
import stracefix  # noqa: E402
from stracefix import fd_path, parse, traces, wrap  # noqa: E402

CLIENTS = 6
ROUNDS = 4

QUEUED = re.compile(r"250 2\.0\.0 Ok: queued as ([0-9A-Z]+)")


class SyncOrder(pt.TempDirTest):

    def setUp(self):
        super().setUp()
        if not stracefix.available():
            self.skipTest("strace is not installed")

    def send_together(self, port):
        """CLIENTS sessions send ROUNDS messages each; in every round all
        of them send their final dot at once."""
        barrier = threading.Barrier(CLIENTS)
        acked, errors = [], []

        def client(k):
            try:
                with smtplib.SMTP("127.0.0.1", port, timeout=120) as s:
                    s.ehlo("sync.test")
                    for r in range(ROUNDS):
                        s.mail("a@sync.test")
                        s.rcpt("b@mx.postern.test")
                        code, _ = s.docmd("DATA")
                        self.assertEqual(code, 354)
                        s.send(("Subject: %d.%d\r\n\r\nbody %d %d\r\n"
                                % (k, r, k, r)).encode())
                        barrier.wait()
                        s.send(b".\r\n")
                        code, msg = s.getreply()
                        self.assertEqual(code, 250, msg)
                        acked.append(re.search(r"queued as (\S+)",
                                              msg.decode()).group(1))
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(repr(e))
                barrier.abort()

        threads = [threading.Thread(target=client, args=(k,))
                   for k in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        return acked

    def test_acknowledged_only_after_data_rename_and_directory_are_durable(
            self):
        port = pt.free_port()
        tdir = os.path.join(self.tmp, "trace")
        os.makedirs(tdir)
        server = srv.Server(
            # no client name lookups: the resolver's own watches (its
            # thread's, and the result pipe's between queries) would be
            # counted with the sessions'
            os.path.join(self.tmp, "srv"),
            "mynetworks = 127.0.0.0/8\nsmtpd_peername_lookup = no\n",
            [("smtp", port, [])], workers=1,
            wrap=wrap(os.path.join(tdir, "t"),
                      "pwrite64,pwritev,fdatasync,syncfs,fsync,renameat2,"
                      "sendto,write,epoll_ctl", strsize=200)).start()
        try:
            acked = self.send_together(port)
        finally:
            server.stop()
        self.assertEqual(server.problems(), [])
        self.assertEqual(len(acked), CLIENTS * ROUNDS)
        self.assertEqual(sorted(server.queued()), sorted(acked))

        ready = os.path.realpath(os.path.join(server.queue, "ready"))
        checked = set()
        syncfs_batches = 0
        watch_drops = 0
        for trace in traces(os.path.join(tdir, "t")):
            calls = parse(trace)
            watch_drops += sum(1 for _, call, args, _ in calls
                               if call == "epoll_ctl"
                               and "EPOLL_CTL_DEL" in args)
            last_write = {}   # tmp path -> index
            synced = {}       # tmp path -> index of the sync after it
            renamed = {}      # ID -> (index, tmp path)
            dirsync = []      # indexes of fsync(ready/)
            for i, call, args, res in calls:
                if call in ("pwrite64", "pwritev") and "/tmp/" in fd_path(
                        args):
                    last_write[fd_path(args)] = i
                elif call == "fdatasync" and res == 0:
                    synced[fd_path(args)] = i
                elif call == "syncfs" and res == 0:
                    syncfs_batches += 1
                    for p, w in last_write.items():
                        if w < i:
                            synced[p] = i
                elif call == "renameat2" and res == 0:
                    a = [x.strip() for x in args.split(",")]
                    src = os.path.join(fd_path(a[0]), a[1].strip('"'))
                    if os.path.realpath(fd_path(a[2])) == ready:
                        renamed[a[3].strip('"')] = (i, src)
                elif call == "fsync" and res == 0 and os.path.realpath(
                        fd_path(args)) == ready:
                    dirsync.append(i)
                elif call in ("sendto", "write"):
                    m = QUEUED.search(args)
                    if not m:
                        continue
                    qid = m.group(1)
                    self.assertIn(qid, renamed,
                                  "%s acknowledged before its rename" % qid)
                    r, src = renamed[qid]
                    self.assertIn(src, last_write, "no write to " + src)
                    self.assertIn(src, synced,
                                  "%s renamed without a sync" % qid)
                    self.assertLess(last_write[src], synced[src],
                                    "%s: written after its sync" % qid)
                    self.assertLess(synced[src], r,
                                    "%s: synced after its rename" % qid)
                    self.assertTrue(
                        any(r < d < i for d in dirsync),
                        "%s acknowledged before ready/ was fsynced" % qid)
                    checked.add(qid)
        self.assertEqual(sorted(checked), sorted(acked))
        # the batch path ran (single messages may or may not occur)
        self.assertGreater(syncfs_batches, 0,
                           "no batch of several messages was committed")
        # a watch is dropped when its connection closes (CLIENTS, and the
        # connection srv.Server makes to see the port open, unless the
        # worker found it closed before it watched it: timing) and at the
        # stop (the listener, the signal pipe), not once per message
        # (CLIENTS * ROUNDS) while the session waits for its commit
        self.assertLessEqual(watch_drops, CLIENTS + 3,
                             "socket watches dropped per message")

    def test_log_lines_of_a_turn_share_one_write(self):
        """Three refused recipients pipelined in one packet are handled in
        one loop turn: their three log lines (one each, as Postfix logs
        them) reach maillog in one write."""
        port = pt.free_port()
        tdir = os.path.join(self.tmp, "trace")
        os.makedirs(tdir)
        server = srv.Server(
            os.path.join(self.tmp, "srv"), "mynetworks = 192.0.2.0/24\n",
            [("smtp", port, [])], workers=1,
            wrap=wrap(os.path.join(tdir, "t"), "sendto,write",
                      strsize=4000)).start()
        try:
            sock, rf = srv.raw_session(self, port)
            sock.sendall(b"EHLO turn.test\r\n")
            while not rf.readline().startswith(b"250 "):
                pass
            sock.sendall(b"MAIL FROM:<a@turn.test>\r\n"
                         b"RCPT TO:<r1@elsewhere.test>\r\n"
                         b"RCPT TO:<r2@elsewhere.test>\r\n"
                         b"RCPT TO:<r3@elsewhere.test>\r\n")
            replies = [rf.readline() for _ in range(4)]
            self.assertTrue(replies[0].startswith(b"250"), replies)
            for r in replies[1:]:
                self.assertIn(b"Relay access denied", r, replies)
            sock.sendall(b"QUIT\r\n")
            rf.readline()
        finally:
            server.stop()
        self.assertEqual(server.problems(), [])
        with open(server.log) as f:
            rejects = [ln for ln in f if "reject: RCPT" in ln]
        self.assertEqual(len(rejects), 3, rejects)
        found = False
        for trace in traces(os.path.join(tdir, "t")):
            calls = parse(trace)
            for _, call, args, _ in calls:
                if call != "write" or "reject: RCPT" not in args:
                    continue
                # all three lines in this one write, whole lines only
                self.assertEqual(args.count("reject: RCPT"), 3, args)
                data = args.split(', "', 1)[1].rsplit('", ', 1)[0]
                self.assertTrue(data.endswith("\\n"), args)
                found = True
        self.assertTrue(found, "no write with the reject lines")


if __name__ == "__main__":
    unittest.main()
