#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""check_policy_service: postern serve asks a real policy server, Debian's
postgrey (greylisting), over Postfix's policy delegation protocol, with
Python's smtplib as the client:

- the first attempt of a sender/recipient pair is greylisted: postgrey
  answers DEFER_IF_PERMIT, the client gets "450 4.2.0 <rcpt>: Recipient
  address rejected: Greylisted, see ..." and the log has Postfix's
  NOQUEUE: reject line;
- after postgrey's delay the same pair passes, and postgrey's PREPEND
  header (X-Greylist: delayed N seconds by postgrey...) is in the queued
  message above postern's Received: header;
- a DEFER_IF_PERMIT does not turn a later explicit reject into a defer;
- a policy server that is not there gets the client
  smtpd_policy_service_default_action ("451 4.3.5 <rcpt>: Recipient
  address rejected: Server configuration problem"), with a warning naming
  the service;
- the worker keeps one connection to postgrey for its sessions;
- a server that closes the connection instead of answering is asked
  again on a new connection, twice at most (Postfix's
  smtpd_policy_service_try_limit), before the default action (tested
  with a scripted server: postgrey cannot be made to do that on cue).

Before, check_policy_service refused the start: a Postfix main.cf with
greylisting, SPF or any other policy daemon could not be used."""
import os
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import pt
import srv

POSTGREY = pt.which("postgrey")


@unittest.skipUnless(POSTGREY and os.geteuid() == 0,
                     "postgrey (as root) not available")
class Policy(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="postern-policy-")
        pg = os.path.join(cls.tmp, "postgrey")
        os.makedirs(pg)
        empty = os.path.join(pg, "none")
        open(empty, "w").close()
        cls.pg_port = pt.free_port()
        cls.pg = subprocess.Popen(
            [POSTGREY, "--inet=127.0.0.1:%d" % cls.pg_port, "--dbdir=" + pg,
             "--pidfile=" + os.path.join(pg, "pid"), "--delay=1",
             "--user=root", "--group=root", "--whitelist-clients=" + empty,
             "--whitelist-recipients=" + empty, "--auto-whitelist-clients=0",
             "--hostname=mx.postern.test"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        pt.wait_for(lambda: srv.Server._accepts(cls.pg_port),
                    "postgrey to listen")
        cls.ports = {}
        for n in ("grey", "grey_reject", "down"):
            p = pt.free_port()
            while p in cls.ports.values() or p == cls.pg_port:
                p = pt.free_port()
            cls.ports[n] = p
        dead = pt.free_port()
        grey = "check_policy_service,inet:127.0.0.1:%d" % cls.pg_port
        cls.server = srv.Server(
            os.path.join(cls.tmp, "srv"), "mynetworks = 192.0.2.0/24\n",
            [("grey", cls.ports["grey"],
              ["smtpd_recipient_restrictions=reject_unauth_destination,"
               + grey]),
             ("grey_reject", cls.ports["grey_reject"],
              ["smtpd_recipient_restrictions=reject_unauth_destination,"
               + grey + ",check_recipient_access,"
               "inline:{never@mx.postern.test=REJECT}"]),
             ("down", cls.ports["down"],
              ["smtpd_recipient_restrictions=reject_unauth_destination,"
               "check_policy_service,inet:127.0.0.1:%d" % dead])],
            workers=1).start()

    @classmethod
    def tearDownClass(cls):
        problems = srv.stop_all([cls.server])
        cls.pg.send_signal(signal.SIGTERM)
        cls.pg.wait(timeout=60)
        shutil.rmtree(cls.tmp, ignore_errors=True)
        assert not problems, problems

    def send(self, port, sender, rcpt, body=None):
        """(code, text) of RCPT, and of the end of DATA when it passed."""
        s = smtplib.SMTP("127.0.0.1", self.ports[port], timeout=120)
        self.addCleanup(s.close)
        s.ehlo("client.example")
        self.assertEqual(s.mail(sender)[0], 250)
        code, msg = s.rcpt(rcpt)
        if code == 250 and body:
            self.assertEqual(s.data(body)[0], 250)
        s.quit()
        return code, msg.decode()

    def test_greylisting(self):
        code, msg = self.send("grey", "a@client.example",
                              "alice@mx.postern.test")
        self.assertEqual((code, msg), (
            450, "4.2.0 <alice@mx.postern.test>: Recipient address "
                 "rejected: Greylisted, see "
                 "http://postgrey.schweikert.ch/help/mx.postern.test.html"))
        self.server.wait_log("NOQUEUE: reject: RCPT from localhost[127.0.0.1]: "
                             "450 4.2.0 <alice@mx.postern.test>: Recipient "
                             "address rejected: Greylisted")
        # as a real client would: try again until the delay is over
        for _ in range(600):
            time.sleep(0.5)
            code, msg = self.send("grey", "a@client.example",
                                  "alice@mx.postern.test",
                                  b"Subject: grey\r\n\r\nafter the delay\r\n")
            if code == 250:
                break
            self.assertEqual(code, 450, msg)
        self.assertEqual(code, 250, msg)
        data = self.server.find_message("after the delay")
        self.assertIsNotNone(data)
        head = data[data.index(b"X-Greylist:"):]
        self.assertRegex(head, rb"^X-Greylist: delayed \d+ seconds by "
                               rb"postgrey-[0-9.]+ at mx\.postern\.test; ")
        self.assertLess(data.index(b"X-Greylist:"), data.index(b"Received:"))

    def test_defer_if_permit_yields_to_reject(self):
        code, msg = self.send("grey_reject", "b@client.example",
                              "never@mx.postern.test")
        self.assertEqual(code, 554, msg)

    def test_service_down(self):
        self.assertEqual(self.send("down", "c@client.example",
                                   "bob@mx.postern.test"),
                         (451, "4.3.5 <bob@mx.postern.test>: Recipient "
                               "address rejected: Server configuration "
                               "problem"))
        self.server.wait_log("warning: policy service inet:127.0.0.1:")



class Dropper:
    """A policy server that reads a request and closes the connection
    without answering, the first `drops` times (all of them: None); after
    that it answers "action=REJECT retried"."""

    def __init__(self, drops):
        self.drops, self.conns = drops, 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns += 1
            # the file object too: the socket closes with the last of them
            with c, c.makefile("rb") as f:
                while True:
                    req = []
                    for line in f:
                        if line in (b"\n", b""):
                            break
                        req.append(line)
                    if not req:
                        break
                    if self.drops is None or self.conns <= self.drops:
                        break  # close without an answer
                    c.sendall(b"action=REJECT retried\n\n")

    def close(self):
        self.sock.close()


class Retry(unittest.TestCase):

    def serve(self, drops):
        tmp = tempfile.mkdtemp(prefix="postern-policy-retry-")
        self.addCleanup(shutil.rmtree, tmp, True)
        peer = Dropper(drops)
        self.addCleanup(peer.close)
        port = pt.free_port()
        server = srv.Server(
            os.path.join(tmp, "srv"),
            "smtpd_recipient_restrictions = reject_unauth_destination, "
            "check_policy_service inet:127.0.0.1:%d\n" % peer.port,
            [("smtp", port, [])], workers=1).start()
        self.addCleanup(lambda: self.assertEqual(srv.stop_all([server]), []))
        with smtplib.SMTP("127.0.0.1", port, timeout=120) as s:
            s.ehlo("client.example")
            s.mail("a@client.example")
            code, msg = s.rcpt("bob@mx.postern.test")
        return code, msg.decode(), peer, server

    def test_asked_again_on_a_new_connection(self):
        code, msg, peer, server = self.serve(drops=1)
        self.assertEqual((code, msg), (
            554, "5.7.1 <bob@mx.postern.test>: Recipient address rejected: "
                 "retried"))
        self.assertEqual(peer.conns, 2)
        server.wait_log("policy service inet:127.0.0.1:%d: connection "
                        "closed" % peer.port)

    def test_two_tries_at_most(self):
        code, msg, peer, server = self.serve(drops=None)
        self.assertEqual((code, msg), (
            451, "4.3.5 <bob@mx.postern.test>: Recipient address rejected: "
                 "Server configuration problem"))
        self.assertEqual(peer.conns, 2)


if __name__ == "__main__":
    pt.main()
