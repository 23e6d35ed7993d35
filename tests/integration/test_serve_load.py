#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""postern serve under load from Postfix's smtp-source and many sockets.

- smtp-source with many parallel sessions: every message is accepted and
  lands in ready/.
- 1,000 connections held open at once by one worker started with a soft
  descriptor limit of 256 (the supervisor raises it to the hard limit),
  while a new client is still served.
- smtpd_client_connection_count_limit for a client outside mynetworks:
  the connection over the limit gets "421 4.7.0 ... too many connections",
  and the limit is per service, as with Postfix's anvil.
"""
import os
import resource
import smtplib
import socket
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import pt  # noqa: E402
import srv  # noqa: E402

HOLD = 1000
SESSIONS, MESSAGES = (10, 40) if pt.SANITIZE else (50, 200)
LIMIT = 5


class Load(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = pt.tempfile.mkdtemp(prefix="postern-load-")
        main_cf = ("mynetworks = 192.0.2.0/24\n"
                   "smtpd_relay_restrictions = reject_unauth_destination\n")
        cls.ports = {n: pt.free_port()
                     for n in ("smtp", "many", "few", "few2")}
        # the server starts with a soft limit of 256 descriptors and a high
        # hard limit: holding 1,000 clients in its one worker needs more,
        # so the supervisor must raise it
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        cls.hard = hard
        if hard != resource.RLIM_INFINITY and hard < HOLD + 200:
            raise unittest.SkipTest("hard RLIMIT_NOFILE %d too low" % hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
        try:
            cls.server = srv.Server(os.path.join(cls.tmp, "conf"), main_cf, [
                ("smtp", cls.ports["smtp"], []),
                ("many", cls.ports["many"],
                 ["smtpd_client_connection_count_limit=0"]),
                ("few", cls.ports["few"],
                 ["smtpd_client_connection_count_limit=%d" % LIMIT]),
                ("few2", cls.ports["few2"],
                 ["smtpd_client_connection_count_limit=%d" % LIMIT]),
            ], workers=1).start()
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    @classmethod
    def tearDownClass(cls):
        srv.stop_and_clean(cls.server, cls.tmp)

    def connect(self, port):
        sock = socket.create_connection(("127.0.0.1", self.ports[port]),
                                        timeout=120)
        self.addCleanup(sock.close)
        return sock

    @staticmethod
    def line(sock):
        buf = b""
        while not buf.endswith(b"\n"):
            try:
                b = sock.recv(1)
            except ConnectionResetError:
                return buf
            if not b:
                return buf
            buf += b
        return buf

    def test_smtp_source_parallel_sessions(self):
        smtp_source = pt.which("smtp-source")
        self.assertIsNotNone(smtp_source, "smtp-source (postfix) missing")
        before = set(self.server.queued())
        r = pt.run([smtp_source, "-c", "-s", str(SESSIONS), "-m",
                    str(MESSAGES), "-l", "4096", "-f", "alice@example.net",
                    "-t", "bob@mx.postern.test", "-M", "source.example",
                    "127.0.0.1:%d" % self.ports["many"]])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotIn("fatal", r.stderr)
        new = set(self.server.queued()) - before
        self.assertEqual(len(new), MESSAGES)
        # each one is a whole smtp-source message: 4096 bytes of body
        for q in new:
            data = self.server.queue_file(q)
            self.assertIn(b"From: <alice@example.net>", data)
            self.assertGreater(len(data), 4096, q)
            self.assertGreater(data.count(b"X"), 3500, q)

    def test_thousand_connections_held_open(self):
        socks = []
        for _ in range(HOLD):
            socks.append(self.connect("many"))
        # every one of them gets its greeting
        for i, s in enumerate(socks):
            g = self.line(s)
            self.assertTrue(g.startswith(b"220 mx.postern.test ESMTP"),
                            "connection %d: %r" % (i, g))
        # and a new client is served while they are all open
        with smtplib.SMTP("127.0.0.1", self.ports["smtp"],
                          timeout=120) as c:
            c.ehlo("new.example")
            refused = c.sendmail("alice@example.net",
                                 ["bob@mx.postern.test"],
                                 "Subject: while busy\r\n\r\nbusy\r\n")
            self.assertEqual(refused, {})
            self.assertEqual(c.noop()[0], 250)
        self.assertNotIn("accept: Too many open files",
                         self.server.logtext())
        for s in socks:
            s.close()

    def test_connection_count_limit(self):
        held = []
        for _ in range(LIMIT):
            s = self.connect("few")
            self.assertTrue(self.line(s).startswith(b"220 "))
            held.append(s)
        s = self.connect("few")
        self.assertEqual(self.line(s),
                         b"421 4.7.0 mx.postern.test Error: too many "
                         b"connections from 127.0.0.1\r\n")
        self.assertEqual(s.recv(10), b"")  # closed
        # the service is named as in master.cf's first column
        self.server.wait_log("Connection concurrency limit exceeded: %d "
                             "from localhost[127.0.0.1] for service "
                             "127.0.0.1:%d" % (LIMIT + 1, self.ports["few"]))
        # another service with the same limit counts its own connections
        other = self.connect("few2")
        self.assertTrue(self.line(other).startswith(b"220 "))
        # a slot frees up when one client leaves
        held[0].sendall(b"QUIT\r\n")
        self.assertTrue(self.line(held[0]).startswith(b"221 "))
        self.assertEqual(held[0].recv(10), b"")
        pt.wait_for(lambda: self.try_few(), "a free connection slot")

    def try_few(self):
        s = self.connect("few")
        ok = self.line(s).startswith(b"220 ")
        s.close()
        return ok


if __name__ == "__main__":
    pt.main()
