#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""postern serve against hostile clients.

A 10 MB command line, 4 MB messages (plain and STARTTLS) read in many
budgets, 10,000 recipients in one transaction, an idle
client, a TLS 1.2 renegotiation attempt with openssl s_client, and SMTP
smuggling variants in DATA and BDAT over raw sockets.  After each attack
the server must still answer a new client, and no smuggled message may
ever reach the queue.
"""
import os
import queue
import smtplib
import socket
import ssl
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import pt  # noqa: E402
import srv  # noqa: E402
from pki import PKI  # noqa: E402



def vm_kb(pid, key):
    """VmRSS / VmHWM of a process in kB (0 when it is gone)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Hostile(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = pt.tempfile.mkdtemp(prefix="postern-hostile-")
        cls.pki = PKI(os.path.join(cls.tmp, "pki"))
        cls.crt, cls.key = cls.pki.issue("mx.postern.test",
                                         ["mx.postern.test", "127.0.0.1"])
        main_cf = """
mynetworks = 192.0.2.0/24
smtpd_tls_security_level = may
smtpd_tls_cert_file = {crt}
smtpd_tls_key_file = {key}
smtpd_recipient_limit = 100
smtpd_hard_error_limit = 1000
smtpd_error_sleep_time = 0
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
""".format(crt=cls.crt, key=cls.key)
        cls.ports = {n: pt.free_port()
                     for n in ("smtp", "idle", "excl", "smtps")}
        # one worker: the memory of the process that served the attack
        # is the one measured
        cls.server = srv.Server(os.path.join(cls.tmp, "conf"), main_cf, [
            ("smtp", cls.ports["smtp"], []),
            ("idle", cls.ports["idle"], ["smtpd_timeout=2s"]),
            # smtpd_forbid_bare_newline_exclusions = $mynetworks (default)
            ("excl", cls.ports["excl"], ["mynetworks=127.0.0.0/8"]),
            ("smtps", cls.ports["smtps"], ["smtpd_tls_wrappermode=yes"]),
        ], workers=1).start()

    @classmethod
    def tearDownClass(cls):
        srv.stop_and_clean(cls.server, cls.tmp)

    # -- helpers -------------------------------------------------------------

    def raw(self, port="smtp"):
        return srv.raw_session(self, self.ports[port], timeout=120)

    @staticmethod
    def reply(f):
        return srv.read_reply(f)

    def cmd(self, sock, f, line):
        sock.sendall(line + b"\r\n")
        return self.reply(f)

    def still_serving(self):
        sock, f = self.raw()
        self.assertEqual(self.cmd(sock, f, b"NOOP")[0][:4], b"250 ")
        self.cmd(sock, f, b"QUIT")

    def workers(self):
        # the listener accepts before the worker is forked: wait for it
        return pt.wait_for(lambda: srv.children(self.server.proc.pid),
                           "a worker process")

    def transaction(self, sock, f):
        self.assertEqual(self.cmd(sock, f, b"EHLO hostile.example")[-1][:4],
                         b"250 ")
        self.assertEqual(self.cmd(sock, f, b"MAIL FROM:<a@example.net>")[0]
                         [:4], b"250 ")
        self.assertEqual(self.cmd(sock, f, b"RCPT TO:<bob@mx.postern.test>")
                         [0][:4], b"250 ")

    def read_to_eof(self, f):
        out = []
        while True:
            r = self.reply(f)
            if not r:
                return b"".join(out)
            out.extend(r)

    # -- tests ---------------------------------------------------------------

    def test_ten_megabyte_command_line(self):
        pids = self.workers()
        before = sum(vm_kb(p, "VmHWM") for p in pids)
        sock, f = self.raw()
        chunk = b"X" * (1 << 20)
        try:
            sock.sendall(b"HELO ")
            for _ in range(10):
                sock.sendall(chunk)
            sock.sendall(b"\r\nNOOP\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed on us: allowed
        first = self.reply(f)
        if first:
            # the line is skipped as it streams in and refused, never
            # truncated and run
            self.assertEqual(first, [b"500 5.5.0 Error: line too long\r\n"])
            # the session goes on: the NOOP behind it is answered
            self.assertEqual(self.reply(f)[0][:4], b"250 ")
        after = sum(vm_kb(p, "VmHWM") for p in pids)
        # the line was never held whole: peak memory grew by much less
        # than the 10 MB that were sent
        self.assertLess(after - before, 8 * 1024,
                        "worker peak RSS grew %d kB" % (after - before))
        self.assertEqual(srv.children(self.server.proc.pid), pids,
                         "the worker did not survive")
        self.still_serving()

    def big_message(self, tls):
        token = os.urandom(8).hex()
        line = ("%s " % token) + "y" * 60 + "\r\n"
        body = "Subject: big\r\n\r\n" + line * (4 * 1024 * 1024 //
                                                  len(line))
        with smtplib.SMTP("127.0.0.1", self.ports["smtp"],
                          timeout=120) as c:
            c.ehlo("big.example")
            if tls:
                c.starttls(context=ssl.create_default_context(
                    cafile=self.pki.ca_crt))
                c.ehlo("big.example")
            c.mail("alice@example.net")
            self.assertEqual(c.rcpt("bob@mx.postern.test")[0], 250)
            code, text = c.data(body)
            self.assertEqual(code, 250, text)
        qid = text.decode().split()[-1]
        data = self.server.queue_file(qid)
        # every line arrived, in order, across many read budgets
        self.assertIn(body.split("\r\n\r\n", 1)[1].encode(), data)

    def test_large_message_plain(self):
        self.big_message(tls=False)

    def test_large_message_over_starttls(self):
        self.big_message(tls=True)

    def test_ten_thousand_recipients(self):
        n = 10000 if not pt.SANITIZE else 3000
        sock, f = self.raw()
        self.transaction(sock, f)  # recipient 1
        # pipeline them all at once, then read every reply
        data = b"".join(b"RCPT TO:<r%d@mx.postern.test>\r\n" % i
                        for i in range(2, n + 1))
        def send():
            try:
                sock.sendall(data)
            except OSError:
                pass  # closed after the hard error limit
        sender = threading.Thread(target=send)
        sender.start()
        codes = []
        for _ in range(2, n + 1):
            r = self.reply(f)
            if not r:
                break
            codes.append(r[0])
        sender.join()
        ok = sum(1 for c in codes if c.startswith(b"250 "))
        self.assertEqual(ok, 99)  # smtpd_recipient_limit = 100 in all
        self.assertEqual(codes[99], b"452 4.5.3 Error: too many "
                                    b"recipients\r\n")
        if len(codes) < n - 1:
            # past smtpd_recipient_overshoot_limit each one is an error:
            # the hard error limit may end the session, with a 421
            self.assertTrue(codes[-1].startswith(b"421 4.7.0 "), codes[-1])
            self.assertIn(b"Error: too many errors", codes[-1])
            codes.pop()
        self.assertTrue(all(c.startswith(b"452 4.5.3") for c in codes[99:]))
        self.still_serving()


    def test_idle_client_times_out(self):
        sock, f = self.raw("idle")
        self.assertEqual(self.cmd(sock, f, b"EHLO idle.example")[-1][:4],
                         b"250 ")
        # say nothing more; the server must speak first
        r = self.reply(f)
        self.assertEqual(r, [b"421 4.4.2 mx.postern.test Error: timeout "
                             b"exceeded\r\n"])
        self.assertEqual(f.read(), b"")  # and then close
        self.server.wait_log("timeout after EHLO from localhost[127.0.0.1]")

    def test_tls12_renegotiation_refused(self):
        p = subprocess.Popen(
            ["openssl", "s_client", "-connect",
             "127.0.0.1:%d" % self.ports["smtp"], "-starttls", "smtp",
             "-tls1_2", "-CAfile", self.pki.ca_crt],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, bufsize=0)
        self.addCleanup(p.stdout.close)
        self.addCleanup(p.wait)
        self.addCleanup(p.kill)
        lines = queue.Queue()

        def reader():
            for line in p.stdout:
                lines.put(line)
            lines.put(None)
        threading.Thread(target=reader, daemon=True).start()
        seen = []

        def expect(needle):
            while True:
                line = lines.get(timeout=120)
                if line is None:
                    return False
                seen.append(line)
                if needle in line:
                    return True

        self.assertTrue(expect(b"Protocol  : TLSv1.2") or
                        expect(b"TLSv1.2"), b"".join(seen))
        self.assertTrue(expect(b"250 "), b"".join(seen))  # EHLO by s_client
        p.stdin.write(b"R\n")
        self.assertTrue(expect(b"RENEGOTIATING"), b"".join(seen))
        # the server refuses (no_renegotiation alert) and s_client gives up
        self.assertTrue(expect(b"no renegotiation"), b"".join(seen))
        try:
            p.stdin.write(b"NOOP\r\n")
            p.stdin.close()
        except BrokenPipeError:
            pass
        # nothing is answered over a renegotiated session
        self.assertFalse(expect(b"250 "), b"".join(seen))
        self.still_serving()

    def smuggle(self, data_cmd, payload_end, port="smtp"):
        before = set(self.server.queued())
        sock, f = self.raw(port)
        self.transaction(sock, f)
        outer = os.urandom(6).hex()
        inner = os.urandom(6).hex()
        smuggled = (b"MAIL FROM:<x@example.net>\r\n"
                    b"RCPT TO:<bob@mx.postern.test>\r\nDATA\r\n"
                    b"Subject: smuggled\r\n\r\nsmuggled-" + inner.encode() +
                    b"\r\n.\r\n")
        content = (b"Subject: outer\r\n\r\nouter-" + outer.encode() +
                   payload_end + smuggled)
        if data_cmd == b"DATA":
            self.assertEqual(self.cmd(sock, f, b"DATA")[0][:4], b"354 ")
            sock.sendall(content + b"tail\r\n.\r\nQUIT\r\n")
        else:
            sock.sendall(b"BDAT %d LAST\r\n" % len(content) + content +
                         b"QUIT\r\n")
        try:
            self.read_to_eof(f)
        except OSError:
            pass
        new = set(self.server.queued()) - before
        self.assertLessEqual(len(new), 1, new)
        for q in new:
            data = self.server.queue_file(q)
            # whatever was accepted is the outer message, never the
            # smuggled one on its own
            self.assertIn(outer.encode(), data)
        self.still_serving()

    def test_smuggling_data_lf_dot_lf(self):
        self.smuggle(b"DATA", b"\n.\n")

    def test_smuggling_data_cr_dot_lf(self):
        self.smuggle(b"DATA", b"\r.\n")

    def test_smuggling_data_lf_dot_crlf(self):
        self.smuggle(b"DATA", b"\n.\r\n")

    def test_smuggling_data_cr_dot_cr(self):
        self.smuggle(b"DATA", b"\r.\r")

    def test_smuggling_bdat_lf_dot_lf(self):
        self.smuggle(b"BDAT", b"\n.\n")

    def test_smuggling_bdat_crlf_dot_crlf(self):
        # in BDAT a CRLF.CRLF is content, never an end of message
        self.smuggle(b"BDAT", b"\r\n.\r\n")

    def test_smuggling_bdat_lf_dot_crlf(self):
        self.smuggle(b"BDAT", b"\n.\r\n")

    def test_smuggling_excluded_client(self):
        # a client in smtpd_forbid_bare_newline_exclusions gets bare LF
        # normalized, never a bare LF counted towards the end of DATA
        for end in (b"\n.\n", b"\r.\n", b"\n.\r\n"):
            self.smuggle(b"DATA", end, port="excl")
            self.smuggle(b"BDAT", end, port="excl")

    def test_bare_lf_normalized_for_excluded_client(self):
        sock, f = self.raw("excl")
        self.transaction(sock, f)
        self.assertEqual(self.cmd(sock, f, b"DATA")[0][:4], b"354 ")
        sock.sendall(b"Subject: lf\r\n\r\nline-one\nline-two\r\n.\r\n")
        r = self.reply(f)[0]
        self.assertTrue(r.startswith(b"250 2.0.0 Ok: queued as "), r)
        data = self.server.queue_file(r.split()[-1].decode())
        self.assertIn(b"line-one\r\nline-two\r\n", data)
        # the same bytes from a client outside the exclusions: refused
        sock, f = self.raw("smtp")
        self.transaction(sock, f)
        self.assertEqual(self.cmd(sock, f, b"DATA")[0][:4], b"354 ")
        sock.sendall(b"Subject: lf\r\n\r\nline-one\nline-two\r\n.\r\n")
        self.assertEqual(self.reply(f), [b"550 5.5.2 mx.postern.test Error: "
                                         b"bare <LF> received\r\n"])

    def test_wrapper_mode_log_lines(self):
        # one "connect from" per connection, and a failed handshake logged
        # once as the TLS layer words it.  First a barrier: the one worker
        # writes its log lines at the end of a loop turn, so the start-up
        # probes' and earlier tests' lines may still be coming; once this
        # session's disconnect is in the log, they are too.
        mark = "disconnect from localhost[127.0.0.1] helo=1 noop=2 quit=1"
        before = self.server.logtext().count(mark)
        with smtplib.SMTP("127.0.0.1", self.ports["smtp"], timeout=120) as c:
            c.helo("barrier.test")
            c.noop()
            c.noop()
        pt.wait_for(lambda: self.server.logtext().count(mark) > before,
                    "the barrier session's disconnect")
        start = len(self.server.logtext())
        ctx = ssl.create_default_context(cafile=self.pki.ca_crt)
        with smtplib.SMTP_SSL("127.0.0.1", self.ports["smtps"], timeout=120,
                              context=ctx) as c:
            self.assertEqual(c.noop()[0], 250)
        sock = socket.create_connection(("127.0.0.1", self.ports["smtps"]),
                                        timeout=120)
        sock.sendall(b"EHLO not-tls\r\n")
        try:
            sock.recv(100)
        except OSError:
            pass
        sock.close()
        pt.wait_for(lambda: "SSL_accept error from" in
                    self.server.logtext()[start:], "the handshake error")
        pt.wait_for(lambda: "disconnect from" in
                    self.server.logtext()[start:], "the disconnect")
        new = self.server.logtext()[start:]
        self.assertEqual(new.count(": connect from localhost[127.0.0.1]"), 2,
                         new)
        self.assertEqual(new.count(": disconnect from localhost[127.0.0.1]"),
                         1, new)
        line = [x for x in new.splitlines() if "SSL_accept error" in x][0]
        self.assertEqual(line.count("SSL_accept error from"), 1, line)


if __name__ == "__main__":
    pt.main()
