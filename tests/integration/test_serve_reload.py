#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""postern serve reloads on SIGHUP without refusing a connection, and stops
cleanly on SIGTERM.

A client loop connects continuously through every reload: each connection
must get a 220 greeting.  A changed smtpd_banner shows on new connections
after the reload, a session that was open across the reload still
finishes its message, a broken main.cf is logged and the running
configuration keeps serving, and SIGTERM ends the supervisor (exit 0) and
every worker.
"""
import os
import signal
import smtplib
import socket
import sys
import threading

sys.path.insert(0, os.path.dirname(__file__))
import pt  # noqa: E402
import srv  # noqa: E402



def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


class Connector(threading.Thread):
    """Connects again and again; records every greeting or failure."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.greetings = []
        self.failures = []

    def run(self):
        while not self.stop.is_set():
            try:
                with socket.create_connection(("127.0.0.1", self.port),
                                              timeout=120) as s:
                    f = s.makefile("rb")
                    g = f.readline()
                    if g.startswith(b"220 "):
                        s.sendall(b"QUIT\r\n")
                        f.readline()
                    f.close()
            except OSError as e:
                g = repr(e).encode()
            with self.lock:
                if g.startswith(b"220 "):
                    self.greetings.append(g)
                else:
                    self.failures.append(g)

    def seen(self, needle):
        with self.lock:
            return any(needle in g for g in self.greetings[-5:])

    def count(self):
        with self.lock:
            return len(self.greetings)


class Reload(pt.TempDirTest):

    def set_main(self, old, new):
        path = os.path.join(self.conf, "main.cf")
        with open(path) as f:
            text = f.read()
        self.assertIn(old, text)
        with open(path, "w") as f:
            f.write(text.replace(old, new))

    @staticmethod
    def greeting(port):
        with socket.create_connection(("127.0.0.1", port),
                                      timeout=120) as s:
            with s.makefile("rb") as f:
                return f.readline()

    def test_sighup_reload_and_sigterm(self):
        self.conf = os.path.join(self.tmp, "conf")
        port = pt.free_port()
        main_cf = ("mynetworks = 192.0.2.0/24\n"
                   "smtpd_relay_restrictions = reject_unauth_destination\n"
                   "smtpd_banner = $myhostname ESMTP first\n")
        braces = pt.free_port()
        server = srv.Server(self.conf, main_cf, [
            ("smtp", port, []),
            # Postfix 3's { } syntax: a per-service value with spaces
            ("braces", braces,
             ["{ smtpd_banner = $myhostname ESMTP braces }"]),
        ], workers=2).start()
        self.addCleanup(server.stop)
        sup = server.proc.pid
        loop = Connector(port)
        loop.start()
        self.addCleanup(loop.stop.set)
        pt.wait_for(lambda: loop.seen(b"ESMTP first"), "first banner")
        self.assertEqual(self.greeting(braces),
                         b"220 mx.postern.test ESMTP braces\r\n")

        # a session that stays open across the reload
        held = smtplib.SMTP("127.0.0.1", port, timeout=120)
        self.addCleanup(held.close)
        held.ehlo("held.example")
        held.mail("alice@example.net")
        self.assertEqual(held.rcpt("bob@mx.postern.test")[0], 250)
        old_workers = srv.children(sup)
        self.assertEqual(len(old_workers), 2)

        self.set_main("ESMTP first", "ESMTP second")
        n = loop.count()
        os.kill(sup, signal.SIGHUP)
        server.wait_log("reload -- version")
        pt.wait_for(lambda: loop.seen(b"ESMTP second"),
                    "the new banner on new connections")
        # the service's own -o { } value still wins over main.cf
        self.assertEqual(self.greeting(braces),
                         b"220 mx.postern.test ESMTP braces\r\n")
        # the old generation drains: the held session is still served
        code, text = held.data("Subject: across\r\n\r\nacross-reload\r\n")
        self.assertEqual(code, 250, text)
        held.quit()
        self.assertIsNotNone(server.find_message("across-reload"))
        pt.wait_for(lambda: not any(alive(p) for p in old_workers),
                    "the old workers to exit")

        # a storm of reloads, each right behind the last: every generation
        # but the newest drains, none dies of the signal it gets while
        # still starting (problems() below finds "killed by signal")
        for i in range(10):
            n = server.logtext().count("reload -- version")
            os.kill(sup, signal.SIGHUP)
            pt.wait_for(lambda: server.logtext().count("reload -- version")
                        > n, "reload %d" % i)
        pt.wait_for(lambda: len(srv.children(sup)) == 2,
                    "only the newest generation left")

        # a broken main.cf (and a new service in master.cf): logged, the
        # running configuration stays, and the new port is not left bound
        # with nobody to accept on it
        self.set_main("smtpd_relay_restrictions = reject_unauth_destination",
                      "smtpd_relay_restrictions = permit_nothing_at_all")
        extra = pt.free_port()
        with open(os.path.join(self.conf, "master.cf"), "a") as f:
            f.write("127.0.0.1:%d inet n - n - - smtpd\n" % extra)
        new_workers = srv.children(sup)
        os.kill(sup, signal.SIGHUP)
        server.wait_log("reload failed, keeping the running configuration")
        self.assertIn("permit_nothing_at_all", server.logtext())
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", extra), timeout=120)
        n = loop.count()
        pt.wait_for(lambda: loop.count() > n + 20, "more connections")
        self.assertTrue(loop.seen(b"ESMTP second"))
        self.assertEqual(sorted(srv.children(sup)), sorted(new_workers))
        with smtplib.SMTP("127.0.0.1", port, timeout=120) as s:
            s.ehlo("after.example")
            s.sendmail("alice@example.net", ["bob@mx.postern.test"],
                       "Subject: after\r\n\r\nafter-bad-reload\r\n")
        loop.stop.set()
        loop.join()
        self.assertEqual(loop.failures, [])
        self.assertGreater(loop.count(), 40)

        # SIGTERM: the supervisor exits 0 and takes every worker with it
        workers = srv.children(sup)
        self.assertTrue(workers)
        self.assertEqual(server.stop(), 0)
        for p in workers:
            self.assertFalse(alive(p), "worker %d left behind" % p)
        self.assertEqual(srv.children(sup), [])
        self.assertIn("terminating on signal", server.logtext())
        self.assertEqual(server.problems(), [])

    def test_sigterm_right_after_start(self):
        # the listeners accept before the supervisor waits for signals: a
        # SIGTERM in between must still end it cleanly
        port = pt.free_port()
        for i in range(5):
            server = srv.Server(os.path.join(self.tmp, "c%d" % i),
                                "mynetworks = 192.0.2.0/24\n",
                                [("smtp", port, [])], workers=1).start()
            self.assertEqual(server.stop(), 0, server.stderr())
            self.assertEqual(server.problems(), [])


if __name__ == "__main__":
    pt.main()
