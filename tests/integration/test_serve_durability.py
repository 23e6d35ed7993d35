#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""postern serve keeps every acknowledged message through worker crashes.

Several smtplib clients send a load of messages, each with its own token,
while workers are killed with SIGKILL at random points of the load.  Each
client records the queue ID of every "250 2.0.0 Ok: queued as ID" it saw,
and the messages whose final reply it never got (the connection died after
the end of data: SMTP's own duplicate window, RFC 1047).  Afterwards, and
again after a SIGTERM and a restart on the same queue:

  - every acknowledged message is in ready/ under its ID with its body
    intact;
  - every other file in ready/ is one of the unanswered ones, never a
    message that was rejected, cut short or never sent;
  - no other committed state holds anything;
  - the supervisor logged each kill and kept serving.
"""
import os
import random
import signal
import smtplib
import socket
import sys
import threading

sys.path.insert(0, os.path.dirname(__file__))
import pt  # noqa: E402
import srv  # noqa: E402

MESSAGES = 60 if pt.SANITIZE else 200
CLIENTS = 4
KILLS = 4



def body_of(token):
    lines = ["Subject: durability %s" % token, ""]
    lines += ["%s line %03d %s" % (token, i, "x" * (i % 70))
              for i in range(40)]
    return "\r\n".join(lines) + "\r\n"


class Client(threading.Thread):
    """Sends its share of messages, reconnecting after a lost worker."""

    def __init__(self, port, n, progress):
        super().__init__(daemon=True)
        self.port = port
        self.n = n
        self.progress = progress
        self.acked = {}       # token -> queue ID
        self.unanswered = set()  # tokens sent to the end, no final reply
        self.errors = []

    def run(self):
        s = None
        sent = 0
        attempts = 0
        while sent < self.n and attempts < self.n * 20:
            attempts += 1
            token = "tok%s" % os.urandom(8).hex()
            ended = False
            try:
                if s is None:
                    s = smtplib.SMTP("127.0.0.1", self.port, timeout=120)
                    s.ehlo("durable.example")
                code, text = s.mail("alice@example.net")
                if code != 250:
                    raise smtplib.SMTPResponseException(code, text)
                code, text = s.rcpt("bob@mx.postern.test")
                if code != 250:
                    raise smtplib.SMTPResponseException(code, text)
                code, text = s.docmd("DATA")
                if code != 354:
                    raise smtplib.SMTPResponseException(code, text)
                s.send((body_of(token) + ".\r\n").encode())
                ended = True
                code, text = s.getreply()
            except (OSError, smtplib.SMTPException):
                if ended:
                    self.unanswered.add(token)
                try:
                    if s:
                        s.close()
                except OSError:
                    pass
                s = None
                continue
            if code != 250:
                self.errors.append((code, text))
                continue
            text = text.decode()
            if not text.startswith("2.0.0 Ok: queued as "):
                self.errors.append((code, text))
                continue
            self.acked[token] = text.split()[-1]
            sent += 1
            with self.progress:
                self.progress.count += 1
                self.progress.notify_all()
        if s is not None:
            try:
                s.quit()
            except (OSError, smtplib.SMTPException):
                pass


class Progress(threading.Condition):
    count = 0


class Durability(pt.TempDirTest):

    def start(self):
        main_cf = ("mynetworks = 192.0.2.0/24\n"
                   "smtpd_relay_restrictions = reject_unauth_destination\n")
        self.server = srv.Server(os.path.join(self.tmp, "conf"), main_cf,
                                 [("smtp", self.port, [])], workers=2)
        self.server.start()
        self.addCleanup(self.server.stop)

    def check_queue(self, acked, unanswered):
        ready = set(self.server.queued())
        for token, qid in acked.items():
            self.assertIn(qid, ready, "acknowledged %s lost" % qid)
            data = self.server.queue_file(qid).replace(b"\r\n", b"\n")
            self.assertIn(body_of(token).replace("\r\n", "\n").encode(),
                          data, "body of %s damaged" % qid)
        by_qid = set(acked.values())
        for qid in ready - by_qid:
            data = self.server.queue_file(qid)
            tokens = [t for t in unanswered if t.encode() in data]
            self.assertEqual(len(tokens), 1,
                             "%s in ready/ was never acknowledged" % qid)
            self.assertIn(body_of(tokens[0]).replace("\r\n", "\n").encode(),
                          data.replace(b"\r\n", b"\n"))
        self.assertLessEqual(len(ready - by_qid), len(unanswered))
        for state in ("deferred", "hold", "corrupt", "maildrop"):
            self.assertEqual(self.server.queued(state), [], state)

    def test_acknowledged_messages_survive_kill_9(self):
        self.port = pt.free_port()
        self.start()
        sup = self.server.proc.pid
        progress = Progress()
        per = MESSAGES // CLIENTS
        clients = [Client(self.port, per, progress) for _ in range(CLIENTS)]
        for c in clients:
            c.start()
        # kill points: random positions in the load, in order
        points = sorted(random.sample(range(5, MESSAGES - 5), KILLS))
        rng = random.Random()
        for i, point in enumerate(points):
            with progress:
                progress.wait_for(lambda: progress.count >= point or
                                  not any(c.is_alive() for c in clients),
                                  timeout=600)
            workers = pt.wait_for(lambda: srv.children(sup) or None,
                                  "a worker to kill")
            victim = rng.choice(workers)
            os.kill(victim, signal.SIGKILL)
            self.server.wait_log("process smtpd pid %d killed by signal 9"
                                 % victim)
        for c in clients:
            c.join(timeout=900)
            self.assertFalse(c.is_alive(), "client hung")
        acked, unanswered = {}, set()
        for c in clients:
            self.assertEqual(c.errors, [])
            acked.update(c.acked)
            unanswered |= c.unanswered
        self.assertEqual(len(acked), per * CLIENTS)
        self.assertEqual(len(set(acked.values())), len(acked))
        log = self.server.logtext()
        self.assertEqual(log.count("killed by signal 9"), KILLS)
        # the supervisor started a replacement every time and still serves
        pt.wait_for(lambda: len(srv.children(sup)) == 2, "two workers again")
        with smtplib.SMTP("127.0.0.1", self.port, timeout=120) as s:
            self.assertEqual(s.noop()[0], 250)
        self.check_queue(acked, unanswered)

        # SIGTERM, then a new supervisor on the same queue
        self.assertEqual(self.server.stop(), 0)
        self.assertEqual(srv.children(sup), [])
        self.assertFalse(pt.sanitizer_report(self.server.stderr()),
                         self.server.stderr())
        self.start()
        self.check_queue(acked, unanswered)
        self.assertEqual(self.server.stop(), 0)

    def test_killed_worker_leaves_no_connection_counts(self):
        # one worker holds the limit of connections from 127.0.0.1 and is
        # killed: its successor must not inherit counts of sockets that
        # died with it, or the client would be locked out for good
        self.port = pt.free_port()
        limit = 3
        self.server = srv.Server(
            os.path.join(self.tmp, "conf"),
            "mynetworks = 192.0.2.0/24\n"
            "smtpd_relay_restrictions = reject_unauth_destination\n",
            [("smtp", self.port,
              ["smtpd_client_connection_count_limit=%d" % limit])],
            workers=1)
        self.server.start()
        self.addCleanup(self.server.stop)
        sup = self.server.proc.pid

        def greet(n):
            socks = [socket.create_connection(("127.0.0.1", self.port),
                                              timeout=120) for _ in range(n)]
            lines = [s.makefile("rb").readline() for s in socks]
            return socks, lines

        socks, lines = greet(limit)
        self.assertTrue(all(x.startswith(b"220 ") for x in lines), lines)
        extra, over = greet(1)
        self.assertIn(b"421 4.7.0", over[0])  # the limit is in force
        worker = pt.wait_for(lambda: srv.children(sup), "the worker")[0]
        os.kill(worker, signal.SIGKILL)
        self.server.wait_log("process smtpd pid %d killed by signal 9"
                             % worker)
        for s in socks + extra:
            s.close()
        pt.wait_for(lambda: srv.children(sup), "a new worker")
        socks, lines = greet(limit)
        self.assertTrue(all(x.startswith(b"220 ") for x in lines), lines)
        for s in socks:
            s.close()


if __name__ == "__main__":
    pt.main()
